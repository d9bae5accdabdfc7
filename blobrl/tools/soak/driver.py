"""One soak, start to end: a copy of the config that runs long enough, a local Ray head in this
process, ``python -m blobrl.launch`` against it, a self-play actor killed every ``kill_every``
seconds and every actor's RSS sampled, SIGTERM after ``minutes`` (counted from when the run's
actors are up), then the run directory read back for :class:`~.report.SoakReport`."""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from blobrl.actors.names import actor_kind, run_id_for
from blobrl.tools.soak.actors import RunActors, sample_rss
from blobrl.tools.soak.checks import MIB, duplicate_games, logged_games, status_games
from blobrl.tools.soak.report import Kill, SoakReport

log = logging.getLogger("blobrl.soak")

SOAK_ITERATIONS = 10_000  # the run's length in the soak's copy of the config


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
                    self._drive(proc, RunActors(run_id_for(run_name, proc.pid), address=address))
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
