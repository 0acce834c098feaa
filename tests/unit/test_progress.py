"""The CLI's progress bar: drawn in place on a terminal, silent on pipes."""

from __future__ import annotations

import io

from cmk_guard_local.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_draws_in_place_on_a_terminal_and_ends_the_line() -> None:
    stream = Terminal()
    bar = ProgressBar(stream, "knowledge bases")
    bar.start(4, "us-east-1")
    bar.advance()
    assert bar.render() == "[#######.......................] 1/4 knowledge bases  us-east-1"
    bar.advance(10)
    bar.done()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("4/4 knowledge bases  us-east-1\n")


def test_silent_when_not_a_terminal_or_disabled() -> None:
    for stream, enabled in ((io.StringIO(), None), (Terminal(), False)):
        bar = ProgressBar(stream, "knowledge bases", enabled=enabled)
        bar.start(2)
        bar.advance()
        bar.done()
        assert stream.getvalue() == ""
