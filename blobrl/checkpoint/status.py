"""What ``python -m blobrl.status`` prints: a run directory's summary as a table or JSON, and
``--repair``: a game log damaged before its end cut back to its last good record."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from blobrl.checkpoint.gamelog import (
    GameLogError,
    LogDamage,
    check_not_in_use,
    find_damage,
    repair_log,
)
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


def describe_damage(damage: LogDamage) -> str:
    """What cutting the log at its damage keeps and drops, in words."""
    kept = f"{damage.kept_games:,} games in {damage.kept_records:,} records"
    if damage.last_kept_iteration is not None:
        kept += f", through iteration {damage.last_kept_iteration}"
    lines = [
        f"{damage.path}: bad record at byte {damage.offset:,} ({damage.problem}).",
        f"  keeps:  bytes 0-{damage.offset:,}: {kept}",
        f"  drops:  {damage.dropped_bytes:,} bytes from byte {damage.offset:,} on",
    ]
    if damage.torn_tail:
        lines[-1] += ": a torn last record, which --resume drops by itself"
    else:
        lines[-1] += (
            f": the bad record and the {damage.records_after:,} intact records after it "
            f"({damage.games_after:,} games)"
        )
    lines.append(
        f"  the dropped bytes are kept in {damage.path.name}.damaged-{damage.offset} beside it"
    )
    return "\n".join(lines)


def repair(
    run_dir: RunDir,
    *,
    confirmed: bool,
    ask: Callable[[str], str] | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """``--repair``: say what cutting the game log at its first bad record keeps and drops,
    then cut it once ``confirmed`` (``--yes``) or ``ask`` (a terminal's prompt) says yes;
    without either, change nothing and exit 2."""
    try:
        run_dir.require()
        if not run_dir.games_log.exists():
            print(f"{run_dir.games_log}: no game log; nothing to repair", file=out)
            return EXIT_OK
        check_not_in_use(run_dir.games_log)
        damage = find_damage(run_dir.games_log)
    except (RunDirError, GameLogError, OSError) as e:
        print(f"error: {e}", file=err)
        return EXIT_BAD_INPUT
    if damage is None:
        print(f"{run_dir.games_log}: every record is intact; nothing to repair", file=out)
        return EXIT_OK
    print(describe_damage(damage), file=out)
    if not confirmed:
        question = f"truncate {run_dir.games_log} to {damage.offset:,} bytes? [y/N] "
        try:
            answer = ask(question) if ask is not None else ""
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print(
                "error: nothing changed; confirm with --yes (python -m blobrl.status "
                f"{run_dir.path} --repair --yes) to truncate the log",
                file=err,
            )
            return EXIT_BAD_INPUT
    try:
        check_not_in_use(run_dir.games_log)
        aside = repair_log(run_dir.games_log)
    except (GameLogError, OSError) as e:
        print(f"error: {e}", file=err)
        return EXIT_BAD_INPUT
    print(
        f"{run_dir.games_log}: truncated to {damage.offset:,} bytes; the dropped bytes are in "
        f"{aside}; continue the run with --resume",
        file=out,
    )
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    ask: Callable[[str], str] | None = None,
) -> int:
    """``ask`` answers ``--repair``'s question (default: a prompt when stdin is a terminal)."""
    import argparse

    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(
        prog="python -m blobrl.status",
        description="Show what a run directory has saved, without starting anything.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--repair",
        action="store_true",
        help="cut a game log damaged before its end back to its last good record, after "
        "saying what that drops (asks first; --yes to confirm without asking)",
    )
    parser.add_argument("--yes", action="store_true", help="with --repair: do it, do not ask")
    args = parser.parse_args(argv)
    if args.yes and not args.repair:
        parser.error("--yes goes with --repair")
    if args.repair:
        if ask is None and sys.stdin is not None and sys.stdin.isatty():
            ask = input
        return repair(RunDir(args.run_dir), confirmed=args.yes, ask=ask, out=out, err=err)
    try:
        summary = RunDir(args.run_dir).summary()
    except (RunDirError, GameLogError, CheckpointError, OSError) as e:
        print(f"error: {e}", file=err)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2), file=out)
    else:
        print(render(summary), file=out)
    return EXIT_OK
