"""A terminal progress bar for the ``vaani`` command's long work, and a file reader that reports how far it got.

The bar is drawn only when its stream is a terminal (on ``stderr``, so the
command's report on ``stdout`` stays clean for pipes and files); anywhere
else it draws nothing. It redraws at most ten times a second whatever the
caller's update rate, so a million-row import is not slowed by its own bar.

:func:`open_tracked` opens a text file whose lines, when iterated, tell the
bar how many bytes of the file were consumed: progress is measured in bytes
of the file, known before the first row is read, without counting its rows
twice.
"""

from __future__ import annotations

import io
import os
import sys
import time
from typing import Callable, Iterator, TextIO

#: Seconds between two redraws of a bar.
REDRAW_EVERY = 0.1
#: Width of the bar itself, in characters.
BAR_WIDTH = 30


def human_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'``: a size as people read it."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover - the loop returns


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """``[#########.....]`` for ``fraction`` in 0..1 (clamped)."""
    fraction = min(1.0, max(0.0, fraction))
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"


class ProgressBar:
    """A one-line bar over ``total`` units (bytes of a file), redrawn in place on a terminal.

    ``update(done, rows)`` moves it (``rows``: lines read so far); ``close()`` draws it full and ends the line.
    On a stream that is not a terminal (or with ``enabled=False``) both do nothing.
    """

    def __init__(self, total: int, *, label: str = "", stream: TextIO | None = None,
                 enabled: bool | None = None, clock: Callable[[], float] = time.monotonic):
        self.total = max(0, int(total))
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_tty(self.stream) if enabled is None else enabled
        self._clock = clock
        self._started = clock()
        self._last_draw = 0.0
        self.done = 0
        self.rows = 0

    def update(self, done: int, rows: int | None = None) -> None:
        """Record progress (``done`` of ``total``, ``rows`` read so far); redraws when due."""
        self.done = done
        if rows is not None:
            self.rows = rows
        if not self.enabled:
            return
        now = self._clock()
        if now - self._last_draw >= REDRAW_EVERY:
            self._last_draw = now
            self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the bar's line."""
        if not self.enabled:
            return
        self.done = max(self.done, self.total)
        self._draw(self._clock())
        self.stream.write("\n")
        self.stream.flush()

    def render(self, now: float | None = None) -> str:
        """The bar's text as it would be drawn now (without the carriage return)."""
        now = self._clock() if now is None else now
        fraction = self.done / self.total if self.total else 1.0
        elapsed = max(1e-9, now - self._started)
        rate = self.rows / elapsed
        text = (f"{bar(fraction)} {fraction * 100:3.0f}%  {self.rows:,} lines  "
                f"{human_bytes(self.done)}/{human_bytes(self.total)}  {rate:,.0f} lines/s")
        return f"{self.label} {text}" if self.label else text

    def _draw(self, now: float) -> None:
        # \r back to the line's start, ESC[K clears what a longer previous draw left.
        self.stream.write("\r" + self.render(now) + "\x1b[K")
        self.stream.flush()


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or odd stream: no bar
        return False


class TrackedFile:
    """A text file opened for the CSV reader whose line iteration moves a :class:`ProgressBar`.

    Iterating it yields the file's lines (decoded as UTF-8, a BOM dropped,
    undecodable bytes replaced, newlines untouched: what ``csv`` needs) and
    updates ``progress`` with the bytes read from the disk so far.
    """

    def __init__(self, path: str, progress: ProgressBar):
        self._raw = io.FileIO(path, "r")
        self._text = io.TextIOWrapper(io.BufferedReader(self._raw), encoding="utf-8-sig", errors="replace",
                                      newline="")
        self.progress = progress
        self.lines = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._text:
            self.lines += 1
            # The raw file's position is where the buffered reader has read to: at most one
            # buffer (8 KiB) ahead of the line, which a bar cannot show anyway.
            self.progress.update(self._raw.tell(), self.lines)
            yield line

    def close(self) -> None:
        """Close the file."""
        self._text.close()

    def __enter__(self) -> "TrackedFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_tracked(path: str, *, label: str = "", stream: TextIO | None = None,
                 enabled: bool | None = None) -> TrackedFile:
    """Open ``path`` for reading with a progress bar over its size (``OSError`` when it cannot be read)."""
    size = os.path.getsize(path)
    return TrackedFile(path, ProgressBar(size, label=label, stream=stream, enabled=enabled))


__all__ = ["ProgressBar", "TrackedFile", "bar", "human_bytes", "open_tracked"]
