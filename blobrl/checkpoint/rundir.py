"""A run directory: where one training run keeps everything it must not lose.

    RUN_DIR/
      games.log          every finished game, progress and iteration markers (gamelog/)
      config.json        the resolved config of the run (Config.to_dict()), written atomically
      checkpoints/       iter_*.pt (+ .sha256), latest.json, best_model.pt, best.json (store.py)
      tb/                TensorBoard event files (blobrl.telemetry.tensorboard)

Reading a summary needs no torch unless a checkpoint is there to read the Elo from.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from blobrl.checkpoint import atomic
from blobrl.checkpoint.gamelog import (
    FILE_MAGIC,
    ITERATION_DONE,
    PROGRESS,
    LogScanner,
    Progress,
)
from blobrl.checkpoint.store import CHECKPOINTS_DIR, Checkpoint, CheckpointStore

GAMES_LOG = "games.log"
CONFIG = "config.json"
TENSORBOARD = "tb"
# The one section of a resolved config that is a list; every other one is an object.
LIST_SECTIONS = ("game_mix",)


class RunDirError(Exception):
    """The path is not a usable run directory."""


@dataclass(frozen=True)
class RunSummary:
    """What a run has saved, as ``python -m blobrl.status`` shows it."""

    run_dir: str
    iteration: int | None  # the iteration in progress (or last seen)
    iterations_done: int  # iterations whose self-play finished (iteration_done markers)
    games_this_iteration: int  # games logged for ``iteration``
    games_total_this_iteration: int | None  # its target, from the last progress entry
    games_completed: int  # every game in the log
    buffer_positions: int  # replay buffer size in positions when the log was last written
    best_iteration: int | None
    elo: float | None  # the latest checkpoint's last Elo entry
    last_update: float | None  # unix time of the newest write to the run
    latest_checkpoint: str | None  # file name in checkpoints/
    latest_checkpoint_iteration: int | None
    torn_tail_bytes: int  # bytes of a torn last log record (dropped on resume)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RunDir:
    """Paths and queries of one run directory (nothing is created until asked)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.games_log = self.path / GAMES_LOG
        self.config_path = self.path / CONFIG
        self.checkpoints = self.path / CHECKPOINTS_DIR
        self.tensorboard = self.path / TENSORBOARD

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def create(self) -> RunDir:
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        return self

    def require(self) -> None:
        """Raise :class:`RunDirError` naming the path unless it is an existing run directory."""
        if not self.path.exists():
            raise RunDirError(f"{self.path}: run directory does not exist")
        if not self.path.is_dir():
            raise RunDirError(f"{self.path}: not a directory")
        if not (self.games_log.exists() or self.checkpoints.is_dir() or self.config_path.exists()):
            raise RunDirError(
                f"{self.path}: not a blobrl run directory (no {GAMES_LOG}, {CHECKPOINTS_DIR}/ "
                f"or {CONFIG})"
            )

    def store(self, *, keep_all: bool = False, min_free_disk_gb: float = 2.0) -> CheckpointStore:
        return CheckpointStore(self.path, keep_all=keep_all, min_free_disk_gb=min_free_disk_gb)

    def has_progress(self) -> bool:
        """Whether anything a run must not lose is here: a game or event, or a checkpoint."""
        if self.games_log.exists() and self.games_log.stat().st_size > len(FILE_MAGIC):
            return True
        store = self.store()
        return bool(store.iterations()) or (self.checkpoints / "best_model.pt").exists()

    def write_config(self, config: dict[str, Any]) -> None:
        """Snapshot the resolved config (``Config.to_dict()``), atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic.write_json_atomic(self.config_path, config)

    def read_config(self) -> dict[str, Any] | None:
        """``config.json``, None when there is none; :class:`RunDirError` naming the file when
        it is not JSON or not shaped like a resolved config (only the shape is checked here:
        the values are the launcher's to compare)."""
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise RunDirError(f"{self.config_path}: unreadable ({e.strerror or e})") from e
        except (ValueError, RecursionError) as e:  # not JSON, not UTF-8, nested too deeply
            raise RunDirError(f"{self.config_path}: not valid JSON ({e})") from e
        problem = _config_shape_problem(data)
        if problem is not None:
            raise RunDirError(
                f"{self.config_path}: {problem}, so it is not the resolved config of a run; "
                "restore it, or remove it to resume with the config recorded in the latest "
                "checkpoint"
            )
        return data

    def latest_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, loaded and verified (:class:`CheckpointError` when it is
        damaged); None when there is none."""
        store = self.store()
        return None if store.latest_path() is None else store.load()

    def check_writable(self) -> None:
        """Raise :class:`RunDirError` naming the first place a run could not write: the
        directory (or, before it exists, the folder it is created in), the game log (appended
        to), ``config.json``, ``checkpoints/`` and every file in it (all replaced by renames
        or pruned as the run goes on). Changes nothing."""
        if not self.path.exists():
            parent = next(p for p in self.path.absolute().parents if p.exists())
            if not parent.is_dir():
                raise RunDirError(f"{parent}: not a directory, so {self.path} cannot be made")
            _require_writable(parent, f"the run directory {self.path} is to be made in it")
            return
        paths = [self.path, self.games_log, self.config_path, self.checkpoints]
        if self.checkpoints.is_dir():
            paths += sorted(p for p in self.checkpoints.iterdir() if p.is_file())
        for path in paths:
            if path.exists():
                _require_writable(path, "a run writes there")

    def reset(self) -> None:
        """Delete what a run wrote here (for ``--overwrite``); other files are left alone."""
        self.games_log.unlink(missing_ok=True)
        self.config_path.unlink(missing_ok=True)
        for folder in (self.checkpoints, self.tensorboard):
            if folder.exists():
                shutil.rmtree(folder)

    def summary(self) -> RunSummary:
        """Scan the game log (metadata only) and the checkpoints. Raises :class:`RunDirError`
        for a missing or invalid directory, :class:`GameLogError` for a log damaged before its
        end and :class:`CheckpointError` for a damaged latest checkpoint."""
        self.require()
        log = _scan_log(self.games_log) if self.games_log.exists() else _LogScan()
        store = self.store()
        latest = store.latest_path()
        ckpt_iteration = elo = None
        if latest is not None:
            ckpt = store.load(latest)
            ckpt_iteration = ckpt.iteration
            elo = _last_elo(ckpt.payload.get("elo_history"))
        store.verify_best()  # a resume loads the best model too
        iteration = log.iteration if log.iteration is not None else ckpt_iteration
        progress = log.last_progress
        games_total = (
            progress.games_total if progress is not None and progress.iteration == iteration
            else None
        )  # fmt: skip
        buffer = log.buffer_positions()
        config = self.read_config()
        if config is not None and "replay" in config:
            buffer = min(buffer, int(config["replay"].get("capacity", buffer)))
        times = [p.stat().st_mtime for p in (self.games_log, store.dir / "latest.json")
                 if p.exists()]  # fmt: skip
        return RunSummary(
            run_dir=str(self.path),
            iteration=iteration,
            iterations_done=log.iterations_done,
            games_this_iteration=log.games_by_iteration.get(iteration, 0)
            if iteration is not None
            else 0,
            games_total_this_iteration=games_total,
            games_completed=log.games,
            buffer_positions=buffer,
            best_iteration=store.best_iteration(),
            elo=elo,
            last_update=max(times) if times else None,
            latest_checkpoint=latest.name if latest is not None else None,
            latest_checkpoint_iteration=ckpt_iteration,
            torn_tail_bytes=log.torn_bytes,
        )


@dataclass
class _LogScan:
    games: int = 0
    positions: int = 0
    iteration: int | None = None
    iterations_done: int = 0
    last_progress: Progress | None = None
    positions_since_progress: int = 0
    torn_bytes: int = 0

    def __post_init__(self) -> None:
        self.games_by_iteration: dict[int, int] = {}

    def buffer_positions(self) -> int:
        if self.last_progress is None:
            return self.positions
        return self.last_progress.buffer_size + self.positions_since_progress


def _scan_log(path: Path) -> _LogScan:
    out = _LogScan()
    scan = LogScanner(path, meta_only=True)
    for entry in scan:
        data = entry.data
        if entry.is_game:
            meta = data["meta"]
            it, n = int(meta["iteration"]), int(meta["positions"])
            out.games += 1
            out.positions += n
            out.positions_since_progress += n
            out.games_by_iteration[it] = out.games_by_iteration.get(it, 0) + 1
            out.iteration = it if out.iteration is None else max(out.iteration, it)
        elif entry.type == PROGRESS:
            out.last_progress = Progress.from_dict(data)
            out.positions_since_progress = 0
            it = out.last_progress.iteration
            out.iteration = it if out.iteration is None else max(out.iteration, it)
        elif entry.type == ITERATION_DONE:
            out.iterations_done = max(out.iterations_done, int(data["iteration"]))
    if scan.torn_at is not None:
        out.torn_bytes = scan.file_size - scan.good_end
    return out


def _config_shape_problem(data: Any) -> str | None:
    """What keeps ``data`` from having the shape of ``Config.to_dict()``; None when nothing."""
    if not isinstance(data, dict):
        return f"expected a JSON object of sections, got {json.dumps(data)[:40]}"
    for key, value in data.items():
        kind = list if key in LIST_SECTIONS else dict
        if not isinstance(value, kind):
            what = "a list" if kind is list else "an object"
            return f"{key}: expected {what}, got {json.dumps(value)[:40]}"
    capacity = data.get("replay", {}).get("capacity", 1)
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        return f"replay.capacity: expected a whole number >= 1, got {json.dumps(capacity)[:40]}"
    return None


def _require_writable(path: Path, why: str) -> None:
    # os.access, not the mode bits: it also sees read-only mounts and immutable files, and
    # that root may write anyway.
    mode = os.W_OK | (os.X_OK if path.is_dir() else 0)
    if not os.access(path, mode):
        kind = "folder" if path.is_dir() else "file"
        raise RunDirError(
            f"{path}: {kind} not writable ({why}); check its permissions and attributes "
            "(ls -ld, lsattr -d)"
        )


def _last_elo(history: Any) -> float | None:
    """The newest rating in an Elo history: a list of numbers, of (iteration, elo) pairs or of
    maps with an ``elo`` key; None when there is none."""
    if not history:
        return None
    last = history[-1] if isinstance(history, list | tuple) else None
    if isinstance(last, dict):
        last = last.get("elo")
    elif isinstance(last, list | tuple):
        last = last[-1] if last else None
    try:
        return float(last) if last is not None else None
    except (TypeError, ValueError):
        return None
