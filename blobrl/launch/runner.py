"""What ``python -m blobrl.launch`` does, step by step: read the command line and the config,
check the run directory, the API port and the Ray address without changing anything, then hand
the run to :func:`blobrl.launch.drive.run`.

Exit codes (docs/design.md): 0 finished or stopped cleanly with a checkpoint; 2 bad input (config,
flags, run directory, checkpoint) with a message naming the file, key and reason; 1 internal
error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blobrl.launch.drive import outcome_line, run
from blobrl.launch.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, BadInput
from blobrl.launch.resume import check_started_config

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "BadInput",
    "RunPlan",
    "build_parser",
    "load",
    "main",
    "outcome_line",
    "preflight",
    "prepare_run_dir",
]

log = logging.getLogger("blobrl.launch")

# How long a launch waits for another process to let go of the run's game log before it
# refuses the run directory as in use.
IN_USE_WAIT_S = 30.0


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
        check_started_config(args, run_dir, new, games_logged=summary.games_completed)
    return RunPlan(
        run_dir=path, resume=bool(args.resume), reset=bool(args.overwrite and progress), config=new
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
