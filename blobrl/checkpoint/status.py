"""What ``python -m blobrl.status`` prints: a run directory's summary as a table or JSON."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from blobrl.checkpoint.gamelog import GameLogError
from blobrl.checkpoint.rundir import RunDir, RunDirError, RunSummary
from blobrl.checkpoint.store import CheckpointError

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def render(summary: RunSummary) -> str:
    """A human table of the summary."""

    def opt(value: object, fmt: str = "{}") -> str:
        return "-" if value is None else fmt.format(value)

    games = str(summary.games_this_iteration)
    if summary.games_total_this_iteration is not None:
        games += f" / {summary.games_total_this_iteration}"
    updated = (
        "-"
        if summary.last_update is None
        else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(summary.last_update))
    )
    checkpoint = opt(summary.latest_checkpoint)
    rows = [
        ("run directory", summary.run_dir),
        ("iteration", opt(summary.iteration)),
        ("iterations done", str(summary.iterations_done)),
        ("games this iteration", games),
        ("games completed", f"{summary.games_completed:,}"),
        ("replay buffer", f"{summary.buffer_positions:,} positions"),
        ("best model", opt(summary.best_iteration, "iteration {}")),
        ("Elo", opt(summary.elo, "{:.1f}")),
        ("latest checkpoint", checkpoint),
        ("last update", updated),
    ]
    if summary.torn_tail_bytes:
        rows.append(("torn log tail", f"{summary.torn_tail_bytes} bytes (dropped on resume)"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    import argparse

    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(
        prog="python -m blobrl.status",
        description="Show what a run directory has saved, without starting anything.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        summary = RunDir(args.run_dir).summary()
    except (RunDirError, GameLogError, CheckpointError) as e:
        print(f"error: {e}", file=err)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2), file=out)
    else:
        print(render(summary), file=out)
    return EXIT_OK
