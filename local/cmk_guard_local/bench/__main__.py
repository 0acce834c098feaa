"""``python -m cmk_guard_local.bench``: run every measure and write ``docs/benchmarks.md`` and ``docs/benchmarks.json``."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from cmk_guard_local.bench import burst, bundle, coldstart, paths, strategies, sweep
from cmk_guard_local.bench.pricing import PRICE_SOURCES, cost_per_1000, monthly_key_cost
from cmk_guard_local.bench.render import money, table, verdict

ROOT = Path(__file__).resolve().parents[3]
MEMORY_MB = 256  # template.yaml Globals.Function.MemorySize
STATED_SECONDS = 0.25  # stated (not measured) billed duration per invocation on AWS
BURST_EVENTS = int(os.environ.get("BENCH_BURST_EVENTS", "100"))
STRATEGY_SAMPLE = strategies.SampleEstate(int(os.environ.get("BENCH_STRATEGY_KBS", "20")), 3, 5)
FULL_ESTATE = strategies.SampleEstate(200, 3, 5)
ROUND_TRIP_TARGET, COLD_START_TARGET = 5, 1.3


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            **{name: version(name) for name in ("boto3", "botocore", "moto", "aws-lambda-powertools", "pydantic")}}


def _timed(label: str, fn: Any, *args: Any) -> Any:
    started = time.monotonic()
    print(f"bench: {label}...", file=sys.stderr, flush=True)
    result = fn(*args)
    print(f"bench: {label} done in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    return result


def collect() -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "prices": PRICE_SOURCES}
    path_results = _timed("paths", paths.run)
    results["paths"] = {}
    for p in path_results:
        entry = p.to_json()
        entry["costPer1000"] = cost_per_1000(p.counts, MEMORY_MB, STATED_SECONDS).to_json()
        results["paths"][p.name] = entry
    results["lambdaPricing"] = {"memoryMb": MEMORY_MB, "secondsPerInvocation": STATED_SECONDS,
                                "durationIs": "stated, not measured"}
    results["coldStart"] = _timed("cold start", coldstart.measure)
    results["bundle"] = _timed("bundle", bundle.build)
    results["burst"] = _timed(f"burst of {BURST_EVENTS}", burst.run, BURST_EVENTS)
    results["strategies"] = {
        "sample": vars(STRATEGY_SAMPLE),
        "measured": _timed("key strategies", strategies.run, STRATEGY_SAMPLE),
        "estate200": {s: {"keysRequired": FULL_ESTATE.required(s), "monthlyKeyCost": monthly_key_cost(FULL_ESTATE.required(s))}
                      for s in strategies.STRATEGIES},
    }
    results["sweep"] = _timed("sweep of 10,000 data sources", sweep.run)
    return results


def _sweep_total_over(w: dict[str, Any]) -> float:
    return round(100 * (w["callsTotal"] - w["minimumTotal"]) / w["minimumTotal"], 1)


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    out = ["# cmk-guard benchmarks", "",
           "Written by `make bench` on the emulated account (moto plus cmk-guard's emulation, every Lambda task run "
           "in-process). Counts (calls, transitions, keys) are exact for the emulated run; times are from a small, "
           "shared machine and only meaningful side by side. The raw numbers are in "
           "[benchmarks.json](benchmarks.json).", "",
           f"Machine: {m['cores']} cores, Python {m['python']} ({m['platform']}); boto3 {m['boto3']}, botocore "
           f"{m['botocore']}, moto {m['moto']}, Powertools {m['aws-lambda-powertools']}, pydantic {m['pydantic']}.", ""]
    p = r["paths"]
    out += ["## Targets", "", table(["Measure", "Target", "Measured", "Met"], [
        ["Critical-path round trips, key exists", f"<= {ROUND_TRIP_TARGET}",
         str(p["reused-key"]["criticalPathRoundTrips"]),
         verdict(p["reused-key"]["criticalPathRoundTrips"] <= ROUND_TRIP_TARGET)],
        ["Cold start vs bare boto3 (worst handler)", f"<= {COLD_START_TARGET}x",
         f"{max(v['ratio'] for v in r['coldStart'].values())}x",
         verdict(max(v["ratio"] for v in r["coldStart"].values()) <= COLD_START_TARGET)],
        [f"Failed remediations in a burst of {r['burst']['events']}", "0", str(r["burst"]["failedRemediations"]),
         verdict(r["burst"]["failedRemediations"] == 0)],
        ["Sweep list and data-source reads vs minimum", "within 5%", f"+{r['sweep']['overMinimumPercent']}%",
         verdict(r["sweep"]["overMinimumPercent"] <= 5)],
        ["Sweep calls in all vs minimum", "within 5%", f"+{_sweep_total_over(r['sweep'])}%",
         verdict(_sweep_total_over(r["sweep"]) <= 5)],
        ["Keys created vs required, every strategy", "no more", ", ".join(
            f"{s['strategy']} {s['keysCreated']}/{s['keysRequired']}" for s in r["strategies"]["measured"]),
         verdict(all(s["withinRequired"] for s in r["strategies"]["measured"]))],
    ]), ""]
    out += ["## API calls per remediation", "",
            "Every attempt by cmk-guard's roles, from the data source's event to the recorded outcome "
            "(`events:TestEventPattern` is the emulation matching its own rule, not a cmk-guard call).", ""]
    ops = sorted({op for v in p.values() for op in v["calls"]})
    out += [table(["Call", *p], [[op, *[v["calls"].get(op, 0) for v in p.values()]] for op in ops]
                  + [["**total**", *[v["callsTotal"] for v in p.values()]]]), ""]
    out += ["Critical path before `UpdateDataSource` (sequential round trips; calls that overlapped in time count as "
            "one):", ""]
    for name, v in p.items():
        if v["criticalPath"]:
            steps = " → ".join(" + ".join(g) for g in v["criticalPath"])
            out.append(f"- **{name}**: {v['criticalPathRoundTrips']} round trips: {steps}")
    out += ["", f"Every call takes {paths.NETWORK_LATENCY * 1000:.0f} ms more while a path is measured, as a network "
            "round trip does, so calls made at once overlap in time and count as one. The check step claims the event "
            "and reads the knowledge base, its tags and the data source at once; the key step reads the key's policy "
            "and rotation at once.", "",
            "Why the reused-key path is still above 5: it crosses three functions (check, key, apply) and each reads "
            "afresh what it acts on. What remains is what a safe fix needs in order: read the state (one round trip), "
            "take the data source's lock, find the key behind the alias, read its policy (and extend it), re-read the "
            "data source just before the write so a concurrent edit is never overwritten, store that read as the "
            "previous configuration (what `cmk-guard restore` puts back), and update. Reaching 5 would mean storing "
            "the previous configuration from the check's read, which a concurrent edit between the check and the "
            "update would make wrong, or trusting the check's read at the update, which could overwrite that edit."]
    out += ["", "## State transitions and cost per 1,000 remediations", "",
            f"Transitions are the `*StateEntered` events of the execution history. Lambda is priced at {MEMORY_MB} MB "
            f"and a **stated** {STATED_SECONDS * 1000:.0f} ms per invocation (in-emulation times are not AWS times). "
            "KMS requests are cmk-guard's own. Keys are monthly and listed apart. Not priced: DynamoDB on-demand, "
            "SNS, CloudWatch metrics, and the KMS requests Bedrock itself makes while ingesting on a customer key.", ""]
    out += [table(["Path", "Outcome", "Transitions", "Lambda invocations", "KMS requests", "Step Functions",
                   "Lambda", "KMS", "Total per 1,000", "New keys per 1,000 (per month)"],
                  [[n, v["outcome"], v["stateTransitions"], v["lambdaInvocations"], v["kmsRequests"],
                    money(v["costPer1000"]["stepFunctions"]),
                    money(v["costPer1000"]["lambdaRequests"] + v["costPer1000"]["lambdaCompute"]),
                    money(v["costPer1000"]["kmsRequests"]), money(v["costPer1000"]["oneOffPer1000"]),
                    money(v["costPer1000"]["keysPerMonthPer1000"])] for n, v in p.items()]), "",
            "Ingestion and CloudTrail polls loop (`WaitForIngestion`, `WaitForCloudTrail`): each extra poll adds "
            "transitions, so AWS runs with slower ingestion cost a little more than the emulated run.", "",
            "Prices (us-east-1, as of writing):", ""]
    out += [f"- {label}: {url}" for label, url in r["prices"].items()]
    out += ["", "## Cold start", "",
            "A fresh interpreter per run imports the handler module and creates the clients its role may use; the "
            "baseline imports only boto3 and creates the same clients. Alternating runs, medians.", ""]
    out += [table(["Function", "Clients", "Baseline ms", "Handler ms", "Ratio", "Target"],
                  [[k, ", ".join(v["clients"]), v["baselineMedianMs"], v["handlerMedianMs"], v["ratio"],
                    verdict(v["ratio"] <= COLD_START_TARGET)] for k, v in r["coldStart"].items()]), ""]
    b = r["bundle"]
    out += ["Where the time goes (`python -X importtime`): the X-Ray SDK's recorder creates its own botocore "
            "clients at import (about half of the extra time), then Powertools and pydantic. They serve `Tracing: "
            "Active`, structured logs and metrics, and step payload validation, so they were left as they are.", "",
            "## Deployment bundle", ""]
    if b.get("built"):
        out += [f"Built as `sam build` would ({b['how']}): **{b['zippedBytes'] / 1e6:.1f} MB zipped, "
                f"{b['unzippedBytes'] / 1e6:.1f} MB unzipped** (cmk-guard's own code {b['cmkGuardBytes'] / 1e3:.0f} kB). "
                f"Test or emulation code found: {', '.join(b['testOrEmulationCode']) or 'none'}.", "",
                table(["Largest part", "MB"], [[x["name"], round(x["bytes"] / 1e6, 1)] for x in b["largestParts"]]), "",
                "botocore arrives as a dependency of aws-xray-sdk although the runtime already provides it.", ""]
    else:
        out += [f"Not built: {b.get('error')}", ""]
    u = r["burst"]
    out += ["## Burst", "",
            f"{u['events']} data sources in {u['knowledgeBases']} knowledge bases, created without a key, their "
            "events delivered together, with throttles injected on UpdateDataSource, GetKnowledgeBase, CreateKey and "
            "LookupEvents.", "",
            table(["Measure", "Value"], [[k, v if not isinstance(v, dict) else json.dumps(v)] for k, v in u.items()]),
            "", f"1,000 events are not run here: each verification needs at least one LookupEvents call and the "
            "quota allows two per second, so 1,000 take at least 550 s of look-ups alone, in AWS as in the emulation, "
            "more than this benchmark's budget. `python -m cmk_guard_local.burst --data-sources 1000` runs the full "
            "size with the same code (README, Reliability). **Extrapolated, linearly, from this run:** about "
            f"{u['calls'] * 1000 // u['events']:,} calls for 1,000 events.", ""]
    s = r["strategies"]
    out += ["## Keys and money per strategy", "",
            f"Measured: {s['sample']['knowledge_bases']} knowledge bases (3 roles, 5 tenant tag values, every "
            f"{s['sample']['untagged_every']}th untagged), one data source each without a key, all events delivered "
            "together, through the real workflow under each `KeyStrategy`.", "",
            table(["Strategy", "Remediated", "Keys created", "Keys required", "Keys in use", "Scheduled for deletion",
                   "KMS per month", "No more than required"],
                  [[x["strategy"], x["remediated"], x["keysCreated"], x["keysRequired"], x["keysInUse"],
                    x["keysScheduledForDeletion"], money(x["monthlyKeyCost"]), verdict(x["withinRequired"])]
                   for x in s["measured"]]), "",
            "Executions for data sources that share a key scope, run at once, create one key: the key step claims "
            "the scope in the ledger before CreateKey and the others wait for the alias. A key still made beside "
            "the claim (a claim that expired mid-create) loses to the alias and is scheduled for deletion (the column "
            "above).",
            "",
            "For the 200-knowledge-base estate (same proportions), what each strategy requires:", "",
            table(["Strategy", "Keys", "KMS per month"],
                  [[k, v["keysRequired"], money(v["monthlyKeyCost"])] for k, v in s["estate200"].items()]), ""]
    w = r["sweep"]
    out += ["## Sweep", "",
            f"The scheduled sweep state machine over {w['dataSources']:,} data sources in {w['knowledgeBases']:,} "
            "knowledge bases (every 20th with 29 data sources, so two pages; every 100th tagged exempt; 50 without a "
            "key), in notify mode. Calls are those of the four sweep functions' roles; the minimum is one list call "
            "per page (50 knowledge bases, 25 data sources to a page) and one read per data source.", "",
            table(["Call", "Made", "Minimum"],
                  [[op, n, w["minimumByOperation"].get(op, "")] for op, n in w["callsByOperation"].items()]
                  + [["**total**", w["callsTotal"], w["minimumTotal"]]]), "",
            f"Status {w['status']} in {w['wallSecondsInEmulation']} s in the emulation; verdicts {json.dumps(w['verdicts'])}"
            f" (as built: {'yes' if w['verdictsAsExpected'] else '**no**'}); {w['workflowsStarted']} remediate "
            f"workflows started; the sweep's own history has {w['sweepHistoryEvents']} events.", "",
            f"Lists and data-source reads are {w['overMinimumPercent']}% over the minimum. The rest is what a "
            f"verdict needs beyond them: {w['perKnowledgeBaseReads']:,} knowledge-base reads (GetKnowledgeBase for "
            "its status and type, ListTagsForResource for its mode; once per page, so twice for a two-page knowledge "
            "base), one DescribeKey per key per page (answers are not kept across pages, so a key disabled mid-sweep "
            "is seen), and the start step's ledger reads and StartExecution for each data source without a key.", ""]
    return "\n".join(out)


def main() -> None:
    docs = ROOT / "docs"
    if sys.argv[1:] == ["--render"]:  # rewrite the Markdown from the last JSON without measuring again
        (docs / "benchmarks.md").write_text(markdown(json.loads((docs / "benchmarks.json").read_text())))
        return
    results = collect()
    (docs / "benchmarks.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (docs / "benchmarks.md").write_text(markdown(results))
    print(f"wrote {docs / 'benchmarks.md'} and {docs / 'benchmarks.json'}")


if __name__ == "__main__":
    main()
