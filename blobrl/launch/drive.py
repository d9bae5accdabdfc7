"""The launch once every check has passed: start (or join) Ray, build the actors, serve the
control API, show progress until the run ends or is stopped, and shut everything down."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blobrl.actors.names import actor_name, run_id_for
from blobrl.launch.errors import EXIT_INTERNAL, EXIT_OK, BadInput

if TYPE_CHECKING:
    from blobrl.launch.runner import RunPlan

log = logging.getLogger("blobrl.launch")


class StopSignals:
    """First SIGINT/SIGTERM/SIGHUP asks for a clean stop; a second forces the exit (the log
    is append-only and checkpoints are atomic, so nothing is corrupted either way)."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            sys.stderr.write(
                f"\n{name} again: forcing exit; the game log and checkpoints are "
                "intact, resume with --resume\n"
            )
            os._exit(130)
        self.requested = True
        self.signal_name = name
        sys.stderr.write(f"\n{name}: stopping (recording progress; {name} again to force)\n")


def run(args: argparse.Namespace, config, plan: RunPlan) -> int:
    """Start (or join) Ray, build the actors, drive the run to its end or a stop."""
    from blobrl.actors.compose import Resources, build
    from blobrl.actors.journal import RunJournalFactory
    from blobrl.launch.cluster import connect, disconnect
    from blobrl.launch.progress import ProgressPrinter
    from blobrl.remote import Remote
    from blobrl.run import CoordinatorPort

    signals = StopSignals()
    info = connect(args.address)
    # After ray.init, which installs a SIGTERM handler of its own in the driver.
    signals.install()
    print(f"Ray dashboard: {info.dashboard_url or 'not available'}", flush=True)
    if info.cpus < 1:
        raise BadInput(
            f"the Ray cluster has no free CPU for self-play ({info.total_cpus:.0f} CPUs, all "
            "reserved by other jobs)"
        )
    plan.apply()  # every check passed: now the run directory may change
    journal = RunJournalFactory(
        str(plan.run_dir.resolve()),
        fsync_interval_s=config.checkpoint.fsync_interval_s,
        keep_all=config.checkpoint.keep_all,
        min_free_disk_gb=config.checkpoint.min_free_disk_gb,
    )
    run_id = run_id_for(config.name, os.getpid())
    tensorboard = None
    if config.telemetry.tensorboard:
        from blobrl.checkpoint import RunDir
        from blobrl.telemetry.tensorboard import TensorBoardFactory

        tensorboard = TensorBoardFactory(str(RunDir(plan.run_dir.resolve()).tensorboard))
    system = build(
        config,
        journal,
        remote=True,
        resources=Resources(info.cpus, info.gpus),
        resume=plan.resume,
        start_paused=args.start_paused,
        stop_after=args.iterations,
        run_id=run_id,
        tensorboard=tensorboard,
    )
    printer = ProgressPrinter()
    outcome = EXIT_OK
    api_started = False
    try:
        from blobrl.api import start_api

        url = start_api(
            actor_name(run_id, "coordinator"), config.api, run_dir=plan.run_dir.resolve()
        )
        api_started = True
        print(f"Control API and dashboard: {url}", flush=True)
        coordinator: Remote[CoordinatorPort] = Remote(system.coordinator)
        running = coordinator.call(CoordinatorPort.run)
        stop_sent = False
        last = 0.0
        while not running.done():
            if signals.requested and not stop_sent:
                coordinator.call(CoordinatorPort.control, "stop")
                stop_sent = True
            if time.monotonic() - last >= 1.0:
                last = time.monotonic()
                try:
                    printer.show(coordinator.call(CoordinatorPort.status).result(timeout=10))
                except Exception:
                    log.debug("status not available", exc_info=True)
            time.sleep(0.1)
        final = running.result()
        printer.show(final, force=True)
        printer.end()
        if final.error:
            print(f"error: {final.error}", file=sys.stderr)
            outcome = EXIT_INTERNAL
        else:
            stopped_by = signals.signal_name if signals.requested else None
            line = outcome_line(
                final, stopped_by=stopped_by, config_path=args.config, run_dir=plan.run_dir
            )
            print(line, flush=True)
    except Exception as exc:
        printer.end()
        print(f"error: {exc}", file=sys.stderr)
        outcome = EXIT_INTERNAL
    finally:
        try:
            if api_started:  # Serve first: its replica holds a handle to the Coordinator
                from blobrl.launch.serving import shutdown_serve

                shutdown_serve()
            system.shutdown()
        finally:
            if info.embedded:
                disconnect(info)
    return outcome


def outcome_line(final: Any, *, stopped_by: str | None, config_path: str, run_dir: Path) -> str:
    """The launch's last line from the Coordinator's final status: ``finished: ...`` once
    every iteration it was to play is trained, else how it stopped (``stopped_by``: a signal's
    name; None: POST /api/control/stop, the other way a run ends early) and the command that
    resumes it."""
    if stopped_by is None and final.trained_iterations >= final.iterations:
        return (
            f"finished: {final.games_played:,} games, {final.trained_iterations} "
            f"iterations; run directory {run_dir}"
        )
    by = stopped_by or "POST /api/control/stop"
    return (
        f"stopped by {by} at iteration {final.iteration} with {final.games_played:,} games "
        f"({final.trained_iterations} iterations trained); resume with --resume: "
        f"python -m blobrl.launch {config_path} --run-dir {run_dir} --resume"
    )
