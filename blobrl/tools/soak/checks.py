"""The soak's pass/fail rules, as pure functions of what it measured (unit tested), and the two
readings of the run directory they are applied to."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from blobrl.actors.names import actor_kind

log = logging.getLogger("blobrl.soak")

MIB = 1024 * 1024
GROWTH_FRACTION = 0.25  # memory rule: end RSS <= baseline + max(25 % of baseline, 100 MiB)
GROWTH_FLOOR_BYTES = 100 * MIB
SETTLE_S = 30.0  # a kill this long before the end must have been recovered from


@dataclass(frozen=True)
class RssSample:
    """The RSS of every live blobrl actor at ``t`` seconds into the soak."""

    t: float
    rss: dict[str, int]  # actor name without the run id (``selfplay-3``) -> bytes


@dataclass(frozen=True)
class MemoryCheck:
    kind: str
    baseline_bytes: int
    end_bytes: int
    limit_bytes: int

    @property
    def ok(self) -> bool:
        return self.end_bytes <= self.limit_bytes


def memory_limit(baseline_bytes: int) -> int:
    """The most an actor kind may use at the end: its baseline plus 25 % or 100 MiB, whichever
    is larger (small actors are allowed 100 MiB of allocator noise, large ones 25 %)."""
    return baseline_bytes + max(int(GROWTH_FRACTION * baseline_bytes), GROWTH_FLOOR_BYTES)


def rss_by_kind(sample: RssSample) -> dict[str, int]:
    """The largest RSS of each kind (self-play actors are many and replaced after kills)."""
    out: dict[str, int] = {}
    for name, rss in sample.rss.items():
        kind = actor_kind(name)
        out[kind] = max(out.get(kind, 0), rss)
    return out


def baseline_sample(samples: Sequence[RssSample], *, warmup_s: float) -> RssSample:
    """The first sample at least ``warmup_s`` into the soak (the last one if none is)."""
    if not samples:
        raise ValueError("no RSS samples")
    return next((s for s in samples if s.t >= warmup_s), samples[-1])


def check_memory(samples: Sequence[RssSample], *, warmup_s: float) -> list[MemoryCheck]:
    """One check per actor kind present in both the baseline and the last sample."""
    base = rss_by_kind(baseline_sample(samples, warmup_s=warmup_s))
    end = rss_by_kind(samples[-1])
    return [
        MemoryCheck(kind, base[kind], end[kind], memory_limit(base[kind]))
        for kind in sorted(base.keys() & end.keys())
    ]


def duplicate_games(games: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(iteration, game_id) pairs logged more than once."""
    seen: set[tuple[int, int]] = set()
    dups = []
    for key in games:
        if key in seen:
            dups.append(key)
        seen.add(key)
    return dups


def logged_games(run_dir: Path) -> list[tuple[int, int]]:
    """(iteration, game_id) of every game in the run's game log, in order."""
    from blobrl.checkpoint import GAMES_LOG, iter_log

    path = run_dir / GAMES_LOG
    if not path.exists():
        return []
    games = []
    for entry in iter_log(path, meta_only=True):
        if entry.is_game:
            meta = entry.data["meta"]
            games.append((int(meta["iteration"]), int(meta["game_id"])))
    return games


def status_games(run_dir: Path) -> int | None:
    """The games ``python -m blobrl.status RUN_DIR --json`` counts (what ``--resume`` continues
    from), or None when it fails."""
    out = subprocess.run(
        [sys.executable, "-m", "blobrl.status", str(run_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        log.error("blobrl.status failed (%d): %s", out.returncode, out.stderr.strip())
        return None
    return int(json.loads(out.stdout)["games_completed"])
