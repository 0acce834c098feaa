"""The ``cmk-guard`` command: one subcommand per module, each registering itself on the parser."""

from __future__ import annotations

import argparse
import sys

from cmk_guard_local import scan


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmk-guard",
        description="cmk-guard keeps every Amazon Bedrock knowledge base data source on a customer-managed KMS key.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scan.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
