"""Unit prices and the arithmetic that turns counts per execution into dollars (pure: no AWS, no emulation)."""

from __future__ import annotations

from dataclasses import dataclass

STEP_FUNCTIONS_PER_TRANSITION = 0.025 / 1_000  # Standard workflows, us-east-1
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667  # first tier, x86; arm64 (the template's architecture) is 20% lower
KMS_PER_REQUEST = 0.03 / 10_000  # symmetric requests beyond the free tier
KMS_KEY_PER_MONTH = 1.00

PRICE_SOURCES = {
    "Step Functions Standard: $0.025 per 1,000 state transitions": "https://aws.amazon.com/step-functions/pricing/",
    "Lambda: $0.20 per 1M requests, $0.0000166667 per GB-second (first tier, x86; arm64 $0.0000133334)":
        "https://aws.amazon.com/lambda/pricing/",
    "KMS: $0.03 per 10,000 symmetric requests, $1 per key per month": "https://aws.amazon.com/kms/pricing/",
}


@dataclass(frozen=True)
class ExecutionCounts:
    """What one execution of one path used."""

    transitions: int
    lambda_invocations: int
    kms_requests: int
    keys_created: int


@dataclass(frozen=True)
class Cost:
    """Dollars per 1,000 executions (one-off) and the monthly cost of the keys they create."""

    step_functions: float
    lambda_requests: float
    lambda_compute: float
    kms_requests: float
    keys_per_month: float

    @property
    def per_1000(self) -> float:
        """One-off cost of 1,000 executions (keys excluded: they are billed monthly)."""
        return self.step_functions + self.lambda_requests + self.lambda_compute + self.kms_requests

    def to_json(self) -> dict[str, float]:
        return {
            "stepFunctions": round(self.step_functions, 6),
            "lambdaRequests": round(self.lambda_requests, 6),
            "lambdaCompute": round(self.lambda_compute, 6),
            "kmsRequests": round(self.kms_requests, 6),
            "oneOffPer1000": round(self.per_1000, 6),
            "keysPerMonthPer1000": round(self.keys_per_month, 2),
        }


def cost_per_1000(counts: ExecutionCounts, memory_mb: int, seconds_per_invocation: float) -> Cost:
    """The cost of 1,000 executions like ``counts`` with functions of ``memory_mb`` running ``seconds`` each."""
    if memory_mb <= 0 or seconds_per_invocation < 0:
        raise ValueError("memory must be positive and duration not negative")
    n = 1_000
    gb_seconds = counts.lambda_invocations * n * (memory_mb / 1024) * seconds_per_invocation
    return Cost(
        step_functions=counts.transitions * n * STEP_FUNCTIONS_PER_TRANSITION,
        lambda_requests=counts.lambda_invocations * n * LAMBDA_PER_REQUEST,
        lambda_compute=gb_seconds * LAMBDA_PER_GB_SECOND,
        kms_requests=counts.kms_requests * n * KMS_PER_REQUEST,
        keys_per_month=counts.keys_created * n * KMS_KEY_PER_MONTH,
    )


def monthly_key_cost(keys: int) -> float:
    return keys * KMS_KEY_PER_MONTH


def round_trips(intervals: list[tuple[float, float]]) -> int:
    """Sequential round trips: calls whose intervals overlap ran concurrently and count as one."""
    count, reach = 0, float("-inf")
    for start, end in sorted(intervals):
        if start >= reach:
            count += 1
            reach = end
        else:
            reach = max(reach, end)
    return count
