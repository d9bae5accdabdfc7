"""``python -m blobrl.soak``: a long real run with self-play actors killed on a schedule.

It starts a local Ray head in this process, launches ``python -m blobrl.launch CONFIG
--address <head> --run-dir DIR`` against it, kills a random self-play actor every
``kill_every`` seconds, samples the resident memory (RSS) of every blobrl actor at the start and
every minute, stops the run with SIGTERM after ``minutes`` (counted from when the run's actors
are up) and then checks:

- ``exit_code``: the launcher exited 0 (a clean stop with a checkpoint);
- ``no_duplicate_games``: no (iteration, game_id) appears twice in the game log;
- ``status_matches_log``: ``python -m blobrl.status RUN_DIR --json`` counts the games the log holds,
  so ``--resume`` would continue from exactly there;
- ``games_played``: the run logged games;
- ``kills_recovered``: the Coordinator counted a self-play recovery for every kill made at least
  ``SETTLE_S`` before the end;
- ``memory_flat``: for each kind of actor, the end RSS is within the rule of :func:`memory_limit`
  of the baseline (the largest actor of the kind, measured at the first sample at least
  ``warmup_s`` into the run, once imports, JIT compilation and the first training are done).

The run's config is a copy of CONFIG whose last schedule phase is extended (``SOAK_ITERATIONS``)
so that the run never finishes before the soak does, with its control API on a free port.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("blobrl.soak")

MIB = 1024 * 1024
GROWTH_FRACTION = 0.25  # memory rule: end RSS <= baseline + max(25 % of baseline, 100 MiB)
GROWTH_FLOOR_BYTES = 100 * MIB
SETTLE_S = 30.0  # a kill this long before the end must have been recovered from
SOAK_ITERATIONS = 10_000  # the run's length in the soak's copy of the config
KINDS = ("coordinator", "selfplay", "inference", "replay", "learner", "evaluator")


# ---- the report and its checks (pure functions, unit tested) --------------------------------
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


def actor_kind(name: str) -> str:
    """``selfplay-3`` -> ``selfplay``; ``learner`` -> ``learner``."""
    return name.split("-", 1)[0]


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


# ---- the config for the soak ----------------------------------------------------------------
def free_port() -> int:
    """A TCP port free on loopback now (the control API of the soak's run listens there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def soak_config(source: Path, out_dir: Path, *, api_port: int | None = None) -> tuple[Path, str]:
    """A copy of ``source`` whose last phase runs to :data:`SOAK_ITERATIONS`, named
    ``soak-<stem>``, with its control API on ``api_port`` (so that it never collides with another
    run's); returns its path and the run name (which prefixes the actor names)."""
    data = yaml.safe_load(source.read_text())
    if api_port is not None:
        data.setdefault("api", {})["port"] = api_port
    last = data["schedule"]["phases"][-1]
    length = max(int(last["last"]), SOAK_ITERATIONS)
    last["last"] = length
    run = data.setdefault("run", {})
    run["iterations"] = length
    run["name"] = f"soak-{source.stem}"
    path = out_dir / f"soak-{source.stem}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, run["name"]


# ---- the live part: Ray, the launcher process, actors ---------------------------------------
@dataclass(frozen=True)
class ActorInfo:
    name: str  # without the run id
    full_name: str
    namespace: str
    pid: int


class RunActors:
    """The live actors of one run (named ``<run_id>-<kind>[-<i>]``), found through Ray's state
    API."""

    def __init__(self, run_id: str):
        self.prefix = f"{run_id}-"

    def alive(self) -> list[ActorInfo]:
        from ray.util.state import list_actors

        out = []
        for a in list_actors(
            filters=[("state", "=", "ALIVE")], limit=10_000, raise_on_missing_output=False
        ):
            if a.name and a.name.startswith(self.prefix) and a.pid:
                out.append(
                    ActorInfo(a.name[len(self.prefix) :], a.name, a.ray_namespace or "", a.pid)
                )
        return out

    def handle(self, actor: ActorInfo) -> Any:
        import ray

        return ray.get_actor(actor.full_name, namespace=actor.namespace)

    def kill(self, actor: ActorInfo) -> None:
        import ray

        ray.kill(self.handle(actor), no_restart=True)

    def recoveries(self) -> dict[str, int] | None:
        """The Coordinator's recovery counts, or None when it does not answer."""
        import ray

        coordinator = next((a for a in self.alive() if a.name == "coordinator"), None)
        if coordinator is None:
            return None
        try:
            metrics = ray.get(self.handle(coordinator).metrics.remote(), timeout=15)
        except Exception as exc:
            log.debug("coordinator metrics not available: %s", exc)
            return None
        return {str(k): int(v) for k, v in metrics.get("recoveries", {}).items()}


def rss_of(pid: int) -> int | None:
    """Resident memory of a local process in bytes (None once it is gone): VmRSS from
    /proc on Linux, else psutil (which Ray ships in ``ray/thirdparty_files``)."""
    status = Path(f"/proc/{pid}/status")
    if Path("/proc/self/status").exists():
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024  # reported in kB
        except OSError:
            return None
        return None
    import ray  # noqa: F401  (puts Ray's bundled psutil on sys.path)

    psutil = importlib.import_module("psutil")

    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def sample_rss(actors: Iterable[ActorInfo], t: float) -> RssSample:
    rss = {}
    for actor in actors:
        value = rss_of(actor.pid)
        if value is not None:
            rss[actor.name] = value
    return RssSample(t=round(t, 1), rss=rss)


def logged_games(run_dir: Path) -> list[tuple[int, int]]:
    from blobrl.checkpoint import iter_log

    path = run_dir / "games.log"
    if not path.exists():
        return []
    games = []
    for entry in iter_log(path, meta_only=True):
        if entry.is_game:
            meta = entry.data["meta"]
            games.append((int(meta["iteration"]), int(meta["game_id"])))
    return games


def status_games(run_dir: Path) -> int | None:
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


@dataclass(frozen=True)
class SoakOptions:
    config: Path
    minutes: float = 20.0
    kill_every: float = 60.0
    run_dir: Path | None = None
    sample_every: float = 60.0
    warmup_s: float = 60.0  # the memory baseline is the first sample at least this far in
    stop_timeout_s: float = 180.0
    startup_timeout_s: float = 300.0
    seed: int = 0


class Soak:
    """One soak: :meth:`run` returns the :class:`SoakReport`."""

    def __init__(self, options: SoakOptions, *, clock: Callable[[], float] = time.monotonic):
        self.options = options
        self.clock = clock
        self.rng = random.Random(options.seed)
        if options.run_dir is None:
            self.work = Path(tempfile.mkdtemp(prefix="blobrl-soak-"))
            self.run_dir = self.work / "run"
        else:
            self.run_dir = options.run_dir
            self.work = self.run_dir.parent
            self.work.mkdir(parents=True, exist_ok=True)
        self.report = SoakReport(
            config=str(options.config),
            run_dir=str(self.run_dir),
            minutes=options.minutes,
            kill_every_s=options.kill_every,
            warmup_s=options.warmup_s,
            launch_log=str(self.work / f"{self.run_dir.name}-launch.log"),
        )

    def run(self) -> SoakReport:
        import ray

        config, run_name = soak_config(self.options.config, self.work, api_port=free_port())
        try:
            context = ray.init(
                include_dashboard=True,
                dashboard_host="127.0.0.1",
                log_to_driver=False,
                namespace="blobrl-soak",
            )
            address = context.address_info["gcs_address"]  # type: ignore[attr-defined]
            log.info("local Ray head at %s (dashboard %s)", address, context.dashboard_url)
            with open(self.report.launch_log, "w") as out:
                proc = self._launch(config, address, out)
                try:
                    self._drive(proc, RunActors(f"blobrl-{run_name}-{proc.pid}"))
                finally:
                    self._stop(proc)
        except Exception as exc:
            log.exception("soak failed")
            self.report.error = f"{type(exc).__name__}: {exc}"
        finally:
            if ray.is_initialized():
                ray.shutdown()
        self._verify()
        return self.report

    def _launch(self, config: Path, address: str, out: Any) -> subprocess.Popen:
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
        env.pop("RAY_ADDRESS", None)
        command = [sys.executable, "-m", "blobrl.launch", str(config), "--address", address,
                   "--run-dir", str(self.run_dir)]  # fmt: skip
        log.info("launching: %s", " ".join(command))
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def _drive(self, proc: subprocess.Popen, actors: RunActors) -> None:
        opts = self.options
        launched = self.clock()
        self._wait_for_run(proc, actors, launched)
        start = self.clock()  # t = 0 once the run's actors are up
        self.report.startup_s = round(start - launched, 1)
        end = start + opts.minutes * 60.0
        next_sample = next_poll = self.clock()
        next_kill = start + opts.kill_every
        while self.clock() < end:
            if proc.poll() is not None:
                raise RuntimeError(f"the launcher exited early with code {proc.returncode}")
            now = self.clock()
            if now >= next_sample:
                self._sample(actors, now - start)
                next_sample += opts.sample_every
            if now >= next_kill:
                self._kill_one(actors, now - start)
                next_kill += opts.kill_every
            if now >= next_poll:
                self._poll_recoveries(actors)
                next_poll = now + 5.0
            time.sleep(min(1.0, max(0.0, end - self.clock())))
        self._poll_recoveries(actors)
        self._sample(actors, self.clock() - start)

    def _wait_for_run(self, proc: subprocess.Popen, actors: RunActors, start: float) -> None:
        """Until the Coordinator and a self-play actor are alive."""
        while self.clock() < start + self.options.startup_timeout_s:
            if proc.poll() is not None:
                raise RuntimeError(f"the launcher exited at start with code {proc.returncode}")
            kinds = {actor_kind(a.name) for a in actors.alive()}
            if {"coordinator", "selfplay"} <= kinds:
                return
            time.sleep(1.0)
        raise RuntimeError(f"no run actors after {self.options.startup_timeout_s:.0f} s")

    def _sample(self, actors: RunActors, t: float) -> None:
        sample = sample_rss(actors.alive(), t)
        self.report.samples.append(sample)
        total = sum(sample.rss.values()) / MIB
        log.info("t=%.0f s: %d actors, %.0f MiB in all", t, len(sample.rss), total)

    def _kill_one(self, actors: RunActors, t: float) -> None:
        selfplay = [a for a in actors.alive() if actor_kind(a.name) == "selfplay"]
        if not selfplay:
            log.warning("t=%.0f s: no self-play actor to kill", t)
            return
        victim = self.rng.choice(selfplay)
        actors.kill(victim)
        self.report.kills.append(Kill(t=round(t, 1), actor=victim.name))
        log.info("t=%.0f s: killed %s", t, victim.name)

    def _poll_recoveries(self, actors: RunActors) -> None:
        counts = actors.recoveries()
        if counts is not None:
            self.report.recoveries = counts

    def _stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            log.info("stopping the run with SIGTERM")
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.options.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.error("no exit %.0f s after SIGTERM; killing", self.options.stop_timeout_s)
                proc.kill()
                proc.wait()
        self.report.exit_code = proc.returncode

    def _verify(self) -> None:
        games = logged_games(self.run_dir)
        self.report.games_logged = len(games)
        self.report.duplicates = duplicate_games(games)
        if self.run_dir.exists():
            self.report.games_status = status_games(self.run_dir)


# ---- command line ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m blobrl.soak",
        description="Run training on a local Ray head for a while, killing self-play actors, "
        "then check exit code, game log, resume consistency and memory.",
    )
    p.add_argument("--config", type=Path, default=Path("configs/smoke.yaml"))
    p.add_argument("--minutes", type=float, default=20.0, help="how long the run goes on")
    p.add_argument(
        "--kill-every", type=float, default=60.0, metavar="S", help="seconds between kills"
    )
    p.add_argument("--run-dir", type=Path, help="run directory (default: a new temporary one)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the report as JSON here")
    p.add_argument(
        "--sample-every", type=float, default=60.0, metavar="S", help="seconds between RSS samples"
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        metavar="S",
        help="memory baseline: the first sample at least this many seconds in",
    )
    p.add_argument("--seed", type=int, default=0, help="which actors are killed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Exit codes: 0 every check passed; 1 a check failed; 2 bad arguments."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    if not args.config.is_file():
        print(f"error: {args.config}: config file not found", file=sys.stderr)
        return 2
    if args.minutes <= 0 or args.kill_every <= 0 or args.sample_every <= 0:
        print("error: --minutes, --kill-every and --sample-every must be > 0", file=sys.stderr)
        return 2
    options = SoakOptions(
        config=args.config,
        minutes=args.minutes,
        kill_every=args.kill_every,
        run_dir=args.run_dir,
        sample_every=args.sample_every,
        warmup_s=args.warmup,
        seed=args.seed,
    )
    report = Soak(options).run()
    print(report.render(), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
        print(f"report written to {args.json}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
