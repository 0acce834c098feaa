"""The ``cmk-guard`` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cmk_guard_local import report, restore, scan


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="cmk-guard",
        description="cmk-guard keeps every Amazon Bedrock knowledge base data source on a customer-managed KMS key "
        "(local tools, never deployed).",
    )
    subcommands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scan.register(subcommands)
    report.register(subcommands)
    restore.register(subcommands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
