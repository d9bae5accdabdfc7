"""What a resume may change: the config it brings against the one the run was started with."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from blobrl.launch.errors import BadInput

log = logging.getLogger("blobrl.launch")

# Keys a resume may not change without --force-schedule: they decide which games are played.
SCHEDULE_KEYS = ("schedule", "game_mix", "run.seed")


def config_differences(old: Any, new: Any, where: str = "") -> list[str]:
    """Dotted keys (with list indexes) whose values differ between two resolved configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out += config_differences(
                old.get(key), new.get(key), f"{where}.{key}" if where else key
            )
        return out
    if isinstance(old, list | tuple) and isinstance(new, list | tuple) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += config_differences(a, b, f"{where}[{i}]")
        return out
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


def check_started_config(
    args: argparse.Namespace, run_dir, new: dict[str, Any], *, games_logged: int
) -> None:
    """Compare the resumed config with the one the run was started with: the one the latest
    checkpoint records (whatever ``config.json`` says: it is rewritten by every launch), else
    ``config.json``. A changed schedule, game mix or seed needs ``--force-schedule``; so does a
    run that records its config nowhere."""
    latest = run_dir.latest_checkpoint()
    saved = run_dir.read_config()
    if latest is not None and latest.payload.get("config") is not None:
        reference, where = latest.payload["config"], latest.path
        if not isinstance(reference, dict):
            raise BadInput(f"{where}: its recorded config is not a mapping")
        if saved is not None and saved != reference:
            log.warning(
                "%s differs from the config recorded in %s; the checkpoint's is the one "
                "compared (config.json is rewritten)",
                run_dir.config_path,
                where.name,
            )
    elif saved is not None:
        reference, where = saved, run_dir.config_path
    elif args.force_schedule:
        log.warning("%s: no config recorded; continuing with %s", run_dir.path, args.config)
        return
    else:
        raise BadInput(
            f"{run_dir.config_path}: missing, and no checkpoint records the config this run "
            "was started with, so a changed schedule or seed cannot be ruled out; restore it, "
            f"or resume with --force-schedule to continue with {args.config}"
        )
    diffs = config_differences(reference, new)
    if any(d.startswith(SCHEDULE_KEYS) for d in diffs) and not args.force_schedule:
        raise BadInput(
            f"{run_dir.path}: the config differs from the one this run was started with "
            f"(recorded in {where}):\n  "
            + "\n  ".join(diffs)
            + "\nresume with --force-schedule to accept the changes"
        )
    for line in diffs:
        log.warning("config changed since the run started: %s", line)
    played = latest.payload.get("games_played") if latest is not None else None
    if isinstance(played, int) and games_logged < played:
        log.warning(
            "%s holds %d games, but %s counted %d when it was saved: %d logged games are gone "
            "(the replay buffer is rebuilt without them; training goes on from the checkpoint)",
            run_dir.games_log,
            games_logged,
            latest.path.name,
            played,
            played - games_logged,
        )
