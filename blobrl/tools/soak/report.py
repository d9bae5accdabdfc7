"""The soak's report: what it did and measured, and the checks over it, as text and as JSON.

- ``exit_code``: the launcher exited 0 (a clean stop with a checkpoint);
- ``no_duplicate_games``: no (iteration, game_id) appears twice in the game log;
- ``status_matches_log``: ``python -m blobrl.status RUN_DIR --json`` counts the games the log
  holds, so ``--resume`` would continue from exactly there;
- ``games_played``: the run logged games;
- ``kills_recovered``: the Coordinator counted a self-play recovery for every kill made at least
  ``SETTLE_S`` before the end;
- ``memory_flat``: for each kind of actor, the end RSS is within :func:`~.checks.memory_limit`
  of the baseline (the largest actor of the kind, at the first sample at least ``warmup_s``
  into the run, once imports, JIT compilation and the first training are done);
- ``no_error``: the soak itself raised nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from blobrl.actors.names import KINDS
from blobrl.tools.soak.checks import (
    GROWTH_FLOOR_BYTES,
    GROWTH_FRACTION,
    MIB,
    SETTLE_S,
    MemoryCheck,
    RssSample,
    baseline_sample,
    check_memory,
)


@dataclass
class Kill:
    t: float
    actor: str


@dataclass
class SoakReport:
    config: str
    run_dir: str
    minutes: float
    kill_every_s: float
    warmup_s: float
    exit_code: int | None = None
    kills: list[Kill] = field(default_factory=list)
    recoveries: dict[str, int] = field(default_factory=dict)
    games_logged: int = 0
    games_status: int | None = None
    duplicates: list[tuple[int, int]] = field(default_factory=list)
    samples: list[RssSample] = field(default_factory=list)
    error: str | None = None
    launch_log: str = ""
    startup_s: float | None = None  # from the launch until the run's actors were up

    def memory(self) -> list[MemoryCheck]:
        return check_memory(self.samples, warmup_s=self.warmup_s) if self.samples else []

    def settled_kills(self) -> int:
        end = self.samples[-1].t if self.samples else 0.0
        return sum(1 for k in self.kills if k.t <= end - SETTLE_S)

    def checks(self) -> dict[str, bool]:
        memory = self.memory()
        return {
            "exit_code": self.exit_code == 0,
            "no_duplicate_games": not self.duplicates,
            "status_matches_log": self.games_status == self.games_logged,
            "games_played": self.games_logged > 0,
            "kills_recovered": self.recoveries.get("selfplay", 0) >= self.settled_kills(),
            "memory_flat": bool(memory) and all(m.ok for m in memory),
            "no_error": self.error is None,
        }

    @property
    def ok(self) -> bool:
        return all(self.checks().values())

    def to_dict(self) -> dict[str, Any]:
        base = baseline_sample(self.samples, warmup_s=self.warmup_s) if self.samples else None
        return {
            "ok": self.ok,
            "checks": self.checks(),
            "config": self.config,
            "run_dir": self.run_dir,
            "launch_log": self.launch_log,
            "minutes": self.minutes,
            "kill_every_s": self.kill_every_s,
            "startup_s": self.startup_s,
            "exit_code": self.exit_code,
            "error": self.error,
            "games_logged": self.games_logged,
            "games_status": self.games_status,
            "duplicates": [list(d) for d in self.duplicates],
            "kills": [asdict(k) for k in self.kills],
            "recoveries": self.recoveries,
            "memory_rule": f"end <= baseline + max({GROWTH_FRACTION:.0%} of baseline, "
            f"{GROWTH_FLOOR_BYTES // MIB} MiB); baseline = first sample at >= "
            f"{self.warmup_s:.0f} s; largest actor of each kind",
            "memory": [{**asdict(m), "ok": m.ok} for m in self.memory()],
            "rss_first": self.samples[0].rss if self.samples else {},
            "rss_baseline": base.rss if base else {},
            "rss_end": self.samples[-1].rss if self.samples else {},
            "rss_samples": [asdict(s) for s in self.samples],
        }

    def render(self) -> str:
        lines = [
            f"soak of {self.config}: {self.minutes:g} min, a self-play actor killed every "
            f"{self.kill_every_s:g} s (t = 0 when the run's actors were up, "
            f"{self.startup_s} s after the launch); run directory {self.run_dir}",
            f"games logged {self.games_logged}, status reports {self.games_status}, "
            f"duplicates {len(self.duplicates)}, launcher exit code {self.exit_code}",
            f"kills {len(self.kills)} ({self.settled_kills()} settled), recoveries "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.recoveries.items())) or "none"),
        ]
        if self.samples:
            first, end = self.samples[0], self.samples[-1]
            base = baseline_sample(self.samples, warmup_s=self.warmup_s)
            lines.append(
                f"RSS (MiB) at {first.t:.0f} s / baseline {base.t:.0f} s / end {end.t:.0f} s:"
            )
            for name in sorted(
                first.rss.keys() | base.rss.keys() | end.rss.keys(), key=_actor_order
            ):
                cells = [
                    f"{s.rss[name] / MIB:8.1f}" if name in s.rss else f"{'-':>8}"
                    for s in (first, base, end)
                ]
                lines.append(f"  {name:<14}" + " ".join(cells))
            for m in self.memory():
                lines.append(
                    f"  {m.kind:<14}baseline {m.baseline_bytes / MIB:.1f} -> end "
                    f"{m.end_bytes / MIB:.1f} (limit {m.limit_bytes / MIB:.1f}) "
                    + ("ok" if m.ok else "GREW")
                )
        if self.error:
            lines.append(f"error: {self.error}")
        lines.append(
            "checks: "
            + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in self.checks().items())
        )
        lines.append("SOAK PASSED" if self.ok else "SOAK FAILED")
        return "\n".join(lines)


def _actor_order(name: str) -> tuple[int, int, str]:
    kind, _, index = name.partition("-")
    rank = KINDS.index(kind) if kind in KINDS else len(KINDS)
    return rank, int(index) if index.isdigit() else 0, name
