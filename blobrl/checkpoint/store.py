"""Full per-iteration checkpoints, the best model, and their retention.

Files in ``RUN_DIR/checkpoints/``:

* ``iter_000123.pt``: ``torch.save`` of ``{"format_version", "iteration", "saved_at",
  "payload"}``; the payload is the caller's (model, optimizer, scheduler, scaler, histories,
  config, RNG states, counters) and holds only tensors and plain types, so it loads with
  ``torch.load(weights_only=True)``. numpy arrays become tensors, numpy scalars Python numbers.
* ``iter_000123.pt.sha256``: its SHA-256, ``sha256sum`` format. It is written before the
  checkpoint is renamed into place, so a checkpoint file that exists is complete.
* ``latest.json``: the newest checkpoint (file, iteration, sha256, format_version, saved_at).
* ``best_model.pt`` (+ ``.sha256``) and ``best.json``: the promoted model's weights and metadata.

Every file is replaced atomically (temporary file, fsync, rename, directory fsync).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blobrl.checkpoint import atomic
from blobrl.checkpoint.retention import drop_reason, iterations_to_keep

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
CHECKPOINTS_DIR = "checkpoints"
LATEST = "latest.json"
BEST_MODEL = "best_model.pt"
BEST = "best.json"
_ITER_RE = re.compile(r"^iter_(\d+)\.pt$")
_STALE_TMP_S = 3600.0


class CheckpointError(Exception):
    """A checkpoint cannot be written or read (corrupt, incomplete, from a newer blobrl)."""


# --- format migrations --------------------------------------------------------------------------
# MIGRATIONS[v] turns a checkpoint of format v into format v + 1.


def _v0_to_v1(old: dict[str, Any]) -> dict[str, Any]:
    # Format 0 had no version key, named the counter "iter" and kept the caller's entries at the
    # top level; format 1 names it "iteration" and nests the caller's entries under "payload".
    old = dict(old)
    iteration = int(old.pop("iter"))
    saved_at = float(old.pop("saved_at", 0.0))
    return {"format_version": 1, "iteration": iteration, "saved_at": saved_at, "payload": old}


def _v1_to_v2(old: dict[str, Any]) -> dict[str, Any]:
    # Format 2 rates checkpoints from the matches kept in "rating_edges" (random = 0); format 1
    # kept none and rated by K = 32 Elo updates from 1000, another scale: those numbers stay as
    # "elo_k32" in each Elo history entry, and "elo" is None until new matches rate them.
    payload = dict(old.get("payload", {}))
    payload.setdefault("rating_edges", [])
    if "best_elo" in payload:
        payload["best_elo_k32"] = payload.pop("best_elo")
    history = payload.get("elo_history")
    if isinstance(history, list):
        payload["elo_history"] = [
            {**e, "elo": None, "ci95": None, "elo_k32": e.get("elo")} if isinstance(e, dict) else e
            for e in history
        ]
    return {**old, "format_version": 2, "payload": payload}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1, 1: _v1_to_v2}


def migrate(data: dict[str, Any], *, source: str = "<checkpoint>") -> dict[str, Any]:
    """Bring a loaded checkpoint dict to :data:`FORMAT_VERSION`."""
    version = int(data.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{source}: written by a newer blobrl (format {version} > {FORMAT_VERSION}); "
            "upgrade blobrl to read it"
        )
    while version < FORMAT_VERSION:
        data = MIGRATIONS[version](data)
        new = int(data["format_version"])
        if new != version + 1:
            raise AssertionError(f"migration from format {version} produced format {new}")
        version = new
    return data


# --- payload checks -----------------------------------------------------------------------------


def to_safe(obj: Any, where: str = "payload") -> Any:
    """``obj`` with numpy values converted, or :class:`CheckpointError` naming the first value
    that ``torch.load(weights_only=True)`` could not read back."""
    import torch

    if obj is None or isinstance(obj, str | bool | int | float | torch.Tensor | torch.dtype):
        return obj
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj, copy=True))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        items = []
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise CheckpointError(f"{where}: key {k!r} is not a str or int")
            items.append((k, to_safe(v, f"{where}[{k!r}]")))
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
    if isinstance(obj, torch.Size):
        return obj
    if isinstance(obj, list | tuple):
        seq = [to_safe(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return seq if isinstance(obj, list) else tuple(seq)
    raise CheckpointError(
        f"{where}: {type(obj).__name__} cannot be stored (tensors and plain types only)"
    )


# --- store --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A loaded, verified checkpoint, migrated to the current format."""

    path: Path
    iteration: int
    format_version: int  # as written on disk, before migration
    saved_at: float
    payload: dict[str, Any]


def iteration_file(iteration: int) -> str:
    return f"iter_{iteration:06d}.pt"


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _torch_save(obj: Any) -> Callable[[Any], None]:
    import torch

    return lambda f: torch.save(obj, f)


class CheckpointStore:
    """Checkpoints of one run directory (see the module docstring for the files)."""

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        keep_all: bool = False,
        min_free_disk_gb: float = 2.0,
    ) -> None:
        self.dir = Path(run_dir) / CHECKPOINTS_DIR
        self.keep_all = keep_all
        self.min_free_disk_gb = min_free_disk_gb

    # -- writing --

    def save(self, iteration: int, payload: Mapping[str, Any], *, prune: bool = True) -> Path:
        """Write the checkpoint of ``iteration`` atomically, point ``latest.json`` at it, and
        (unless ``prune`` is False) apply retention."""
        if iteration < 0:
            raise ValueError("iteration must be >= 0")
        data = {
            "format_version": FORMAT_VERSION,
            "iteration": int(iteration),
            "saved_at": time.time(),
            "payload": to_safe(dict(payload)),
        }
        path = self.dir / iteration_file(iteration)
        digest = self._write_verified(path, data)
        info = {
            "file": path.name,
            "iteration": int(iteration),
            "sha256": digest,
            "format_version": FORMAT_VERSION,
            "saved_at": data["saved_at"],
        }
        atomic.write_json_atomic(self.dir / LATEST, info)
        if prune:
            self.prune()
        return path

    def save_best(
        self, iteration: int, model_state: Mapping[str, Any], meta: Mapping[str, Any] | None = None
    ) -> Path:
        """Write ``best_model.pt`` (model weights + ``meta``, e.g. Elo) atomically."""
        data = {
            "format_version": FORMAT_VERSION,
            "iteration": int(iteration),
            "saved_at": time.time(),
            "model": to_safe(dict(model_state), "model_state"),
            "meta": to_safe(dict(meta or {}), "meta"),
        }
        path = self.dir / BEST_MODEL
        digest = self._write_verified(path, data)
        atomic.write_json_atomic(
            self.dir / BEST,
            {"iteration": int(iteration), "file": path.name, "sha256": digest,
             "saved_at": data["saved_at"]},
        )  # fmt: skip
        return path

    def _write_verified(self, path: Path, data: dict[str, Any]) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.warn_if_disk_low()
        tmp = atomic.temp_path(path)
        try:
            with open(tmp, "wb") as f:
                _torch_save(data)(f)
                f.flush()
                os.fsync(f.fileno())
            digest = atomic.sha256_file(tmp)
            # The checksum lands first: a checkpoint file that exists always has one.
            atomic.write_bytes_atomic(sidecar(path), f"{digest}  {path.name}\n".encode())
            atomic.commit(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return digest

    # -- reading --

    def iterations(self) -> list[int]:
        """Iterations with a complete checkpoint, ascending."""
        if not self.dir.is_dir():
            return []
        found = (_ITER_RE.match(p.name) for p in self.dir.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def latest_path(self) -> Path | None:
        """The newest checkpoint: the highest iteration on disk (``latest.json`` names it too,
        unless a crash came between the two renames)."""
        its = self.iterations()
        return self.dir / iteration_file(its[-1]) if its else None

    def best_info(self) -> dict[str, Any] | None:
        """``best.json`` (iteration, file, sha256, saved_at), or None before any promotion."""
        path = self.dir / BEST
        try:
            info = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{path}: unreadable ({e})") from e
        iteration = info.get("iteration") if isinstance(info, dict) else None
        if not isinstance(iteration, int) or isinstance(iteration, bool) or iteration < 0:
            raise CheckpointError(
                f"{path}: not a best-model record (expected an object with an iteration >= 0, "
                f"got {json.dumps(info)[:60]})"
            )
        return info

    def verify_best(self) -> None:
        """Check that ``best.json``, when there is one, describes an intact ``best_model.pt``
        (what a resume loads): :class:`CheckpointError` naming the file otherwise."""
        # best_model.pt is renamed into place before best.json, so a crash between the two
        # leaves a newer model than best.json says: a resume loads it as it is.
        if self.best_info() is None:
            return
        path = self.dir / BEST_MODEL
        if "model" not in read_verified(path):
            raise CheckpointError(f"{path}: not a best model (no 'model' entry)")

    def best_iteration(self) -> int | None:
        info = self.best_info()
        return None if info is None else int(info["iteration"])

    def load(self, path: str | os.PathLike[str] | None = None) -> Checkpoint:
        """Load and verify a checkpoint (the latest when ``path`` is None)."""
        if path is None:
            path = self.latest_path()
            if path is None:
                raise CheckpointError(f"{self.dir}: no checkpoint")
        path = Path(path)
        raw = read_verified(path)
        version = int(raw.get("format_version", 0))
        data = migrate(raw, source=str(path))
        return Checkpoint(
            path=path,
            iteration=int(data["iteration"]),
            format_version=version,
            saved_at=float(data.get("saved_at", 0.0)),
            payload=data["payload"],
        )

    def load_best(self) -> Checkpoint:
        """The best model: ``payload`` is ``{"model": state_dict, "meta": {...}}``."""
        path = self.dir / BEST_MODEL
        data = read_verified(path)
        version = int(data.get("format_version", 0))
        if version > FORMAT_VERSION:
            migrate(data, source=str(path))  # raises the newer-format error
        return Checkpoint(
            path=path,
            iteration=int(data["iteration"]),
            format_version=version,
            saved_at=float(data.get("saved_at", 0.0)),
            payload={"model": data["model"], "meta": data.get("meta", {})},
        )

    # -- retention and disk --

    def prune(self) -> list[Path]:
        """Delete the checkpoints retention does not keep (none when ``keep_all``), orphan
        checksum files and stale temporary files; returns what was deleted."""
        if self.keep_all or not self.dir.is_dir():
            return []
        its = self.iterations()
        keep = iterations_to_keep(its, its[-1] if its else None, self.best_iteration())
        deleted: list[Path] = []
        for it in its:
            if it not in keep:
                path = self.dir / iteration_file(it)
                path.unlink(missing_ok=True)  # checkpoint first: it never lacks its checksum
                sidecar(path).unlink(missing_ok=True)
                deleted.append(path)
                log.info("%s deleted by checkpoint retention: %s", path, drop_reason(it, its[-1]))
        now = time.time()
        for p in self.dir.iterdir():
            orphan = p.name.endswith(".pt.sha256") and not p.with_suffix("").exists()
            stale = p.name.endswith(atomic.TMP_SUFFIX) and now - p.stat().st_mtime > _STALE_TMP_S
            if orphan or stale:
                p.unlink(missing_ok=True)
                deleted.append(p)
                what = "checksum of no checkpoint" if orphan else "temporary file over an hour old"
                log.info("%s deleted by checkpoint retention: %s", p, what)
        if deleted:
            atomic.fsync_dir(self.dir)
        return deleted

    def free_disk_gb(self) -> float:
        target = self.dir if self.dir.exists() else self.dir.parent
        return shutil.disk_usage(target).free / 1e9

    def disk_low(self) -> bool:
        return self.free_disk_gb() < self.min_free_disk_gb

    def warn_if_disk_low(self) -> bool:
        free = self.free_disk_gb()
        if free < self.min_free_disk_gb:
            log.warning(
                "%s: only %.2f GB free, under checkpoint.min_free_disk_gb = %.2f",
                self.dir,
                free,
                self.min_free_disk_gb,
            )
            return True
        return False


def verify_checksum(path: Path) -> str:
    """The SHA-256 of the checkpoint at ``path`` once it matches its ``.sha256`` file, else
    :class:`CheckpointError` naming the file (and the checksum file, when that is at fault)."""
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    check = sidecar(path)
    try:
        expected = check.read_text(encoding="ascii").split()[0]
    except FileNotFoundError:
        raise CheckpointError(
            f"{path}: no checksum file {check.name} (the save did not finish)"
        ) from None
    except (IndexError, ValueError):  # empty, or not text
        raise CheckpointError(f"{check}: not a checksum file (empty or not text)") from None
    actual = atomic.sha256_file(path)
    if actual != expected:
        raise CheckpointError(
            f"{path}: checksum mismatch with {check.name} (file {actual[:12]}..., recorded "
            f"{expected[:12]}...); the file or its checksum is damaged"
        )
    return actual


def read_verified(path: Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` of ``path`` after checking it against its SHA-256."""
    import torch

    verify_checksum(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot be read ({type(e).__name__}: {e})") from e
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a blobrl checkpoint (a {type(data).__name__})")
    return data


def load_weights(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model weights and metadata from ``best_model.pt`` or an ``iter_*.pt`` checkpoint (whose
    payload must have a ``model`` entry): for agents that only play."""
    path = Path(path)
    raw = read_verified(path)
    if "format_version" in raw and "model" in raw and "payload" not in raw:  # best_model.pt
        migrate({"format_version": raw["format_version"]}, source=str(path))  # refuse newer
        meta = dict(raw.get("meta", {}))
        meta.setdefault("iteration", int(raw["iteration"]))
        return raw["model"], meta
    data = migrate(raw, source=str(path))
    if "model" not in data["payload"]:
        raise CheckpointError(f"{path}: the checkpoint has no 'model' entry")
    return data["payload"]["model"], {"iteration": int(data["iteration"])}
