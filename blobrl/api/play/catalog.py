"""The checkpoints a person may play against, found in the run directory, and their agents.

A checkpoint is named by its file name (``best_model.pt``, ``iter_000012.pt``) and looked up in
the listing of ``RUN_DIR/checkpoints``: a path never comes from the request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from blobrl.agents import Agent, AgentSpecError, ModelAgent, load
from blobrl.api.play.errors import NotFound, Refused
from blobrl.checkpoint import CheckpointError, CheckpointStore
from blobrl.checkpoint.store import BEST_MODEL, iteration_file


@dataclass(frozen=True)
class CheckpointEntry:
    name: str
    path: Path
    iteration: int | None
    best: bool
    modified: float


class CheckpointCatalog:
    """The checkpoints of ``run_dir`` (none when it is None or has none yet)."""

    def __init__(self, run_dir: str | Path | None):
        self.run_dir = None if run_dir is None else Path(run_dir)

    def entries(self) -> list[CheckpointEntry]:
        """``best_model.pt`` first, then the iteration checkpoints, newest first."""
        if self.run_dir is None:
            return []
        store = CheckpointStore(self.run_dir)
        found = []
        best = store.dir / BEST_MODEL
        if best.is_file():
            try:
                best_iteration = store.best_iteration()
            except CheckpointError:
                best_iteration = None
            found.append(_entry(best, best_iteration, best=True))
        for iteration in reversed(store.iterations()):
            path = store.dir / iteration_file(iteration)
            if path.is_file():
                found.append(_entry(path, iteration, best=False))
        return [e for e in found if e is not None]

    def default(self) -> CheckpointEntry | None:
        """``best_model.pt``, else the newest iteration checkpoint."""
        entries = self.entries()
        return entries[0] if entries else None

    def find(self, name: str | None) -> CheckpointEntry:
        """The entry called ``name`` (the default for None); :class:`NotFound` saying why not."""
        entries = self.entries()
        if not entries:
            where = (
                "the API was started without a run directory"
                if self.run_dir is None
                else f"{self.run_dir}/checkpoints holds no best_model.pt or iter_*.pt yet"
            )
            raise NotFound(f"no checkpoint to play: {where}")
        if name is None:
            return entries[0]
        for entry in entries:
            if entry.name == name:
                return entry
        raise NotFound(
            f"no checkpoint {name!r} in {self.run_dir}/checkpoints "
            f"(there are: {', '.join(e.name for e in entries[:5])}"
            f"{', ...' if len(entries) > 5 else ''})"
        )


def _entry(path: Path, iteration: int | None, *, best: bool) -> CheckpointEntry | None:
    try:
        modified = path.stat().st_mtime
    except OSError:  # removed by retention since the listing
        return None
    return CheckpointEntry(path.name, path, iteration, best, modified)


class AgentCache:
    """Loads each checkpoint's agent once (``blobrl.agents.load``, as ``python -m blobrl.play
    --model PATH[@SEARCH]`` does) and gives every session an agent of its own over the same
    network. At most ``size`` networks are kept; a rewritten file (a new best model) is loaded
    again."""

    def __init__(self, size: int = 4):
        self.size = size
        self._loaded: OrderedDict[tuple[str, int, int, str], Agent] = OrderedDict()
        self._lock = threading.Lock()

    def agent(self, entry: CheckpointEntry, search: str | None, *, seed: int) -> Agent:
        spec = str(entry.path) + (f"@{search}" if search else "")
        try:
            stat = entry.path.stat()
        except OSError as e:
            raise NotFound(f"checkpoint {entry.name} is gone ({e.strerror or e})") from e
        key = (str(entry.path), stat.st_mtime_ns, stat.st_size, search or "")
        with self._lock:
            base = self._loaded.get(key)
            if base is None:
                base = _load(spec, entry.name, seed=seed)
                self._loaded[key] = base
                while len(self._loaded) > self.size:
                    self._loaded.popitem(last=False)
            self._loaded.move_to_end(key)
        if isinstance(base, ModelAgent):
            # Its own search engine and seed, the loaded network shared (read only).
            return ModelAgent(base.evaluator, settings=base.settings, seed=seed, name=base.name)
        return _load(spec, entry.name, seed=seed)  # no shared state between sessions


def _load(spec: str, name: str, *, seed: int) -> Agent:
    try:
        return load(spec, seed=seed)
    except AgentSpecError as e:
        raise Refused(f"checkpoint {name} cannot be played: {e}") from e
