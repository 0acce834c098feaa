"""A one-line progress bar for long commands, drawn on a terminal stream (stderr) and silent elsewhere."""

from __future__ import annotations

from typing import TextIO

WIDTH = 30


class ProgressBar:
    """``[#########.....]  12/40 knowledge bases  us-east-1``, redrawn in place; ``done()`` ends the line.

    Draws only when ``enabled`` (by default: when the stream is a terminal), so pipes and logs stay clean.
    """

    def __init__(self, stream: TextIO, label: str, enabled: bool | None = None) -> None:
        self.stream = stream
        self.label = label
        self.enabled = stream.isatty() if enabled is None else enabled
        self.total = 0
        self.current = 0
        self.note = ""
        self._drawn = False

    def start(self, total: int, note: str = "") -> None:
        self.total, self.current, self.note = total, 0, note
        self._draw()

    def advance(self, steps: int = 1) -> None:
        self.current = min(self.total, self.current + steps)
        self._draw()

    def render(self) -> str:
        filled = WIDTH * self.current // self.total if self.total else WIDTH
        bar = "#" * filled + "." * (WIDTH - filled)
        return f"[{bar}] {self.current:>{len(str(self.total))}}/{self.total} {self.label}  {self.note}".rstrip()

    def _draw(self) -> None:
        if not self.enabled:
            return
        self.stream.write("\r\033[K" + self.render())
        self.stream.flush()
        self._drawn = True

    def done(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
