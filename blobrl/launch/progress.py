"""The live progress line of the launcher."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def progress_line(status) -> str:
    """One line: state, iteration, games done/total, games/min, ETA (and why the run paused
    itself, while it holds)."""
    iteration = min(status.iteration, status.iterations)
    notice = getattr(status, "notice", None)
    return (
        f"[{status.state}] iteration {iteration}/{status.iterations} "
        f"({status.iteration_games}/{status.iteration_games_total} games) | "
        f"games {status.games_played:,}/{status.games_total:,} ({status.progress:.1%}) | "
        f"{status.games_per_min:,.0f} games/min | ETA {format_duration(status.eta_s)} | "
        f"{status.determinizations}x{status.simulations} | weights v{status.weights_version}"
        + (f" | {notice}" if notice else "")
    )


class ProgressPrinter:
    """Rewrites one line on a terminal; prints a line every ``interval`` seconds otherwise."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 10.0):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.interval = interval
        self._last = 0.0
        self._width = 0

    def show(self, status, *, force: bool = False) -> None:
        line = progress_line(status)
        now = time.monotonic()
        if self.tty:
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self._width = len(line)
        elif force or now - self._last >= self.interval:
            self.stream.write(line + "\n")
            self._last = now
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
