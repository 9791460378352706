"""A one-line progress display on stderr, shown only when stderr is a terminal (never in pipes or logs)."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Redraws ``label: done/total ...`` at most ten times a second; silent when the stream is no terminal."""

    def __init__(
        self, label: str, stream: TextIO | None, total: int | None = None, total_bytes: int = 0
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None and _is_tty(stream) else None
        self.total = total
        self.total_bytes = total_bytes
        self.bytes_read = 0
        self.extra = ""
        self._last = 0.0
        self._count = 0

    @property
    def active(self) -> bool:
        return self.stream is not None

    def step(self, count: int, total: int | None = None) -> None:
        self._count = count
        if total is not None:
            self.total = total
        if self.stream is None:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        self._draw()

    def _draw(self) -> None:
        assert self.stream is not None
        if self.total:
            frac = self._count / self.total
            text = f"{self._count}/{self.total}"
        elif self.total_bytes:
            frac = self.bytes_read / self.total_bytes
            text = f"{self._count} lines"
        else:
            frac = 0.0
            text = f"{self._count}"
        bar = "#" * int(frac * 30)
        self.stream.write(
            f"\r{self.label}: [{bar:<30}] {frac * 100:5.1f}% {text} {self.extra}".rstrip() + " "
        )
        self.stream.flush()

    def done(self) -> None:
        if self.stream is not None:
            if self.total_bytes:
                self.bytes_read = self.total_bytes
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
