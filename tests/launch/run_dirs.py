"""A small real run directory and the launcher run in this process (local actors, no Ray): what
the damaged-run-directory tests copy, damage and resume."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from blobrl.checkpoint import CheckpointStore, GameLogError, iter_log

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "configs" / "smoke.yaml"
GAMES_PER_ITERATION = 24
ITERATIONS = 2


def tiny_config_file(directory: Path, name: str = "tiny", **changes) -> Path:
    """The smoke config made tiny: 2 iterations of 24 games at 1 x 4 simulations on 3- and
    4-card deals, a 16-unit network, 2 training steps and a 2-deal arena that promotes at 50%.
    ``changes``: dotted keys and their values."""
    config = yaml.safe_load(SMOKE.read_text())
    config["run"]["iterations"] = ITERATIONS
    config["schedule"]["phases"] = [
        {"first": 1, "last": ITERATIONS, "determinizations": 1, "simulations": 4,
         "games_per_iteration": GAMES_PER_ITERATION},
    ]  # fmt: skip
    config["game_mix"] = [
        {"players": 4, "cards": 3, "weight": 0.5},
        {"players": 3, "cards": 4, "weight": 0.5},
    ]
    config["search"] = {}
    config["network"] = {"arch": "mlp", "hidden": 16, "blocks": 1}
    config["learner"] = {"batch_size": 32, "steps_per_iteration": 2, "warmup_iterations": 1,
                         "replay_ratio": None}  # fmt: skip
    config["selfplay"] = {"actors": 1, "games_in_flight": 8}
    config["inference"] = {"device": "cpu", "placement": "auto"}
    config["replay"] = {"capacity": 4000, "min_positions_to_train": 10}
    config["evaluation"] = {"arena_deals": 2, "promote_threshold": 0.5, "gauntlet_every": 0,
                            "search": {"determinizations": 1, "simulations": 4}}  # fmt: skip
    config["checkpoint"] = {"keep_all": True, "min_free_disk_gb": 0, "fsync_interval_s": 0.2}
    config["api"] = {"host": "127.0.0.1", "port": 0}
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def launch_here(config: Path, run_dir: Path, *flags: str) -> tuple[int, str]:
    """``python -m blobrl.launch CONFIG --run-dir RUN_DIR FLAGS`` in this process, on local
    actors: the launcher's own checks and plan (:func:`runner.preflight`), then the Coordinator
    to the end. (exit code, message); no API and no Ray."""
    from blobrl.actors.compose import Resources, build
    from blobrl.actors.journal import RunJournalFactory
    from blobrl.launch import runner
    from blobrl.remote import call_now

    args = runner.build_parser().parse_args([str(config), "--run-dir", str(run_dir), *flags])
    try:
        loaded = runner.load(args)
        plan = runner.preflight(args, loaded)
    except runner.BadInput as exc:
        return runner.EXIT_BAD_INPUT, str(exc)
    plan.apply()
    journal = RunJournalFactory(
        str(plan.run_dir.resolve()),
        fsync_interval_s=loaded.checkpoint.fsync_interval_s,
        keep_all=loaded.checkpoint.keep_all,
    )
    system = build(
        loaded,
        journal,
        remote=False,
        resources=Resources(1, 0),
        resume=plan.resume,
        stop_after=args.iterations,
    )
    try:
        final = call_now(system.coordinator, "run", timeout=600)
    finally:
        system.shutdown()
    if final.error:
        return runner.EXIT_INTERNAL, final.error
    return runner.EXIT_OK, f"{final.trained_iterations} iterations, {final.games_played} games"


def logged_games(run_dir: Path) -> list[tuple[int, int]]:
    """(iteration, game id) of every game the log holds, in order; [] without a log."""
    if not (run_dir / "games.log").exists():
        return []
    out = []
    for entry in iter_log(run_dir / "games.log", meta_only=True):
        if entry.is_game:
            meta = entry.data["meta"]
            out.append((meta["iteration"], meta["game_id"]))
    return out


def readable_games(run_dir: Path) -> list[tuple[int, int]] | None:
    """The games a resume keeps (the log less a torn tail); None when the log is refused."""
    try:
        return logged_games(run_dir)
    except (GameLogError, OSError):
        return None


def build_finished_run(directory: Path) -> tuple[Path, Path]:
    """(config, run directory): iteration 1 of 2 played, trained, checkpointed and promoted,
    written by the launcher's code (config.json by its plan, the rest by the Coordinator)."""
    config = tiny_config_file(directory)
    run_dir = directory / "run"
    code, message = launch_here(config, run_dir, "--iterations", "1")
    assert code == 0, message
    store = CheckpointStore(run_dir)
    if store.best_info() is None:  # the 2-deal arena did not promote: do what a promotion does
        from blobrl.actors.learner import LearnerService
        from blobrl.nn import bytes_to_state_dict

        payload = store.load().payload
        weights = LearnerService.state_weights(payload["learner_state"])
        store.save_best(1, bytes_to_state_dict(weights), {"iteration": 1})
    return config, run_dir


@dataclass(frozen=True)
class Unwritable:
    """A file or folder made unwritable for real: by mode bits, or for root (whom modes do not
    stop) by the immutable attribute. ``undo`` puts it back."""

    path: Path
    undo: Callable[[], None]


def make_unwritable(path: Path) -> Unwritable | None:
    """None where this process cannot make ``path`` unwritable to itself (root without a
    working ``chattr``, or a file system without the attribute)."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        return Unwritable(path, lambda: path.chmod(mode))
    chattr = shutil.which("chattr")
    if chattr is None:
        return None
    done = subprocess.run([chattr, "+i", str(path)], capture_output=True)
    if done.returncode != 0 or os.access(path, os.W_OK):
        subprocess.run([chattr, "-i", str(path)], capture_output=True)
        return None
    return Unwritable(path, lambda: subprocess.run([chattr, "-i", str(path)], check=True))


def snapshot(run_dir: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every entry under ``run_dir``: a file's bytes and mode, None for a folder."""
    out: dict[str, tuple[bytes, int] | None] = {}
    for path in sorted(run_dir.rglob("*")):
        rel = str(path.relative_to(run_dir))
        out[rel] = None if path.is_dir() else (path.read_bytes(), path.stat().st_mode)
    return out
