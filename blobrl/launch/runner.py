"""What ``python -m blobrl.launch`` does, step by step.

Exit codes (docs/design.md): 0 finished or stopped cleanly with a checkpoint; 2 bad input (config,
flags, run directory, checkpoint) with a message naming the file, key and reason; 1 internal
error.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

log = logging.getLogger("blobrl.launch")

# How long a launch waits for another process to let go of the run's game log before it
# refuses the run directory as in use.
IN_USE_WAIT_S = 30.0


class BadInput(Exception):
    """Bad input from the user: printed as it is, exit 2, nothing touched."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m blobrl.launch",
        description="Train a Blob player by self-play on an embedded local Ray or a cluster.",
    )
    p.add_argument("config", help="run config (YAML), e.g. configs/smoke.yaml")
    p.add_argument(
        "--address",
        help="Ray cluster address (default: RAY_ADDRESS, a cluster started with `ray start`, "
        "or else an embedded local Ray; `local` always starts an embedded one)",
    )
    p.add_argument("--run-dir", help="where progress is kept (default: runs/<config name>)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run-dir from the last game recorded",
    )
    mode.add_argument("--overwrite", action="store_true", help="replace the run in --run-dir")
    p.add_argument(
        "--force-schedule",
        action="store_true",
        help="with --resume: accept a changed schedule or config",
    )
    p.add_argument("--iterations", type=int, metavar="N", help="stop after iteration N")
    p.add_argument(
        "--start-paused", action="store_true", help="start idle; begin with POST /api/control/start"
    )
    p.add_argument("--preview-schedule", action="store_true", help="print the schedule and exit")
    return p


def load(args: argparse.Namespace):
    """The validated config. ``--iterations N`` is a stop point, not a config change: the
    schedule and the learning-rate curve stay those of the whole run, so a run stopped at N
    resumes past it unchanged."""
    from blobrl.config import ConfigError, load_config

    path = Path(args.config)
    if path.is_dir():
        raise BadInput(f"{path}: a directory, not a config file")
    if not path.is_file():
        raise BadInput(f"{path}: config file not found")
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise BadInput(str(exc)) from exc
    if args.iterations is not None and not 1 <= args.iterations <= config.iterations:
        raise BadInput(
            f"--iterations must be 1..{config.iterations} (the run's length in {path}), "
            f"got {args.iterations}"
        )
    return config


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


@dataclass
class RunPlan:
    """What the launch will do to the run directory, once every check has passed."""

    run_dir: Path
    resume: bool
    reset: bool  # --overwrite of a run with progress: remove it first
    config: dict[str, Any]  # written to config.json

    def apply(self) -> None:
        """Remove the old run (``reset``), create the directory and write the config."""
        from blobrl.checkpoint import CheckpointError, GameLogError, RunDir, RunDirError

        run_dir = RunDir(self.run_dir)
        try:
            if self.reset:
                run_dir.reset()
                log.info("%s: previous run removed (--overwrite)", self.run_dir)
            run_dir.create()
            run_dir.write_config(self.config)
        except (CheckpointError, GameLogError, RunDirError, OSError) as exc:
            raise BadInput(f"{self.run_dir}: {exc}") from exc


def prepare_run_dir(args: argparse.Namespace, config) -> RunPlan:
    """Check the run directory against the rules of docs/design.md without changing anything:
    :class:`BadInput` when they are not met, else the plan that :meth:`RunPlan.apply` carries
    out once the rest of the launch's checks have passed too."""
    from blobrl.checkpoint import CheckpointError, GameLogError, RunDirError

    try:
        return _prepare_run_dir(args, config)
    except (CheckpointError, GameLogError, RunDirError, OSError) as exc:
        raise BadInput(str(exc)) from exc


def preflight(args: argparse.Namespace, config) -> RunPlan:
    """Every check of a launch that needs no Ray, in order: the run directory
    (:func:`prepare_run_dir`), the API port and the Ray address. :class:`BadInput` when one
    fails; nothing is started or changed."""
    plan = prepare_run_dir(args, config)
    _check_port_free(config.api.host, config.api.port, args.config)
    _check_address(args.address)
    return plan


def _prepare_run_dir(args: argparse.Namespace, config) -> RunPlan:
    from blobrl.checkpoint import RunDir, check_not_in_use

    path = Path(args.run_dir) if args.run_dir else Path("runs") / config.name
    run_dir = RunDir(path)
    if path.exists() and not path.is_dir():
        raise BadInput(f"{path}: run directory is a file")
    progress = path.is_dir() and run_dir.has_progress()
    if progress and not (args.resume or args.overwrite):
        summary = run_dir.summary()
        raise BadInput(
            f"{path} holds a run with progress (iteration {summary.iteration}, "
            f"{summary.games_completed} games); continue it with --resume or replace it "
            f"with --overwrite"
        )
    if args.resume and not progress:
        raise BadInput(f"{path}: nothing to resume (no game log or checkpoint there)")
    # Neither resume nor replace a run that is going on; but a run killed a moment ago holds
    # its log for a few seconds more (its Ray workers outlive the launcher), so give it time.
    check_not_in_use(
        run_dir.games_log,
        wait_s=IN_USE_WAIT_S,
        on_wait=lambda: log.info(
            "%s is held by another process; waiting up to %.0f s for it to let go (a run "
            "killed a moment ago leaves its Ray workers for a few seconds)",
            run_dir.games_log,
            IN_USE_WAIT_S,
        ),
    )
    # A run appends to the log and replaces config.json and checkpoints by renames: a place
    # it cannot write would otherwise be found by an actor, mid-run.
    run_dir.check_writable()
    new = config.to_dict()
    if args.resume:
        # Reads the game log's records (metadata only), the latest checkpoint and the best
        # model: a log damaged before its tail, a damaged or too-new checkpoint, a config.json
        # not shaped like a config are refused before any work.
        summary = run_dir.summary()
        log.info(
            "%s: resuming with %d games logged, latest checkpoint: iteration %s",
            path,
            summary.games_completed,
            summary.latest_checkpoint_iteration,
        )
        _check_started_config(args, run_dir, new, games_logged=summary.games_completed)
    return RunPlan(
        run_dir=path, resume=bool(args.resume), reset=bool(args.overwrite and progress), config=new
    )


# Keys a resume may not change without --force-schedule: they decide which games are played.
SCHEDULE_KEYS = ("schedule", "game_mix", "run.seed")


def _check_started_config(
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
    from blobrl.actors.handles import call
    from blobrl.actors.journal import RunJournalFactory
    from blobrl.launch.cluster import connect, disconnect
    from blobrl.launch.progress import ProgressPrinter

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
    run_id = f"blobrl-{config.name}-{os.getpid()}"
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

        url = start_api(f"{run_id}-coordinator", config.api, run_dir=plan.run_dir.resolve())
        api_started = True
        print(f"Control API and dashboard: {url}", flush=True)
        running = call(system.coordinator, "run")
        stop_sent = False
        last = 0.0
        while not running.done():
            if signals.requested and not stop_sent:
                call(system.coordinator, "control", "stop")
                stop_sent = True
            if time.monotonic() - last >= 1.0:
                last = time.monotonic()
                try:
                    printer.show(call(system.coordinator, "status").result(timeout=10))
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


def _check_address(address: str | None) -> None:
    """An explicit ``HOST:PORT`` must have something listening: Ray itself keeps retrying an
    address where nothing answers for minutes before it gives up."""
    import socket

    source = "--address"
    if not address and os.environ.get("RAY_ADDRESS"):
        address, source = os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
    if not address or address in ("auto", "local") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BadInput(f"{source}: expected HOST:PORT, 'auto' or 'local', got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=10):
            pass
    except OSError as exc:
        raise BadInput(
            f"{source} {address}: no Ray cluster answers there ({exc.strerror or exc}); start "
            "one with `ray start --head`, or leave --address out for an embedded local Ray"
        ) from exc


def _check_port_free(host: str, port: int, config_path: str) -> None:
    """The API's port must be free before anything starts (two runs on one machine need
    different ``api.port`` values)."""
    import socket

    if port == 0:
        return
    with socket.socket() as probe:
        # As the API server binds (uvicorn sets SO_REUSEADDR): connections of a run that just
        # stopped linger in TIME_WAIT on the port for a minute, and do not keep it busy; a
        # socket listening there still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise BadInput(
                f"{config_path}: api.port: {host}:{port} is not free ({exc.strerror}); choose "
                "another port"
            ) from exc


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        config = load(args)
        if args.preview_schedule:
            from blobrl.config import render_schedule

            print(render_schedule(config))
            return EXIT_OK
        plan = preflight(args, config)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return run(args, config, plan)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        log.exception("launch failed")
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
