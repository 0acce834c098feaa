"""``cmk-guard``: the operator's command line. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cmk_guard_local import restore


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="cmk-guard", description="Operate cmk-guard from the command line.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    restore.register(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
