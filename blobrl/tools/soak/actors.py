"""The soak's hands on a live run: its actors, found by name through Ray's state API, killed
(the faults it injects), asked for their recoveries, and measured (resident memory)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blobrl.actors.names import local_name
from blobrl.tools.soak.checks import RssSample

log = logging.getLogger("blobrl.soak")


@dataclass(frozen=True)
class ActorInfo:
    name: str  # without the run id
    full_name: str
    namespace: str
    pid: int


class RunActors:
    """The live actors of one run (named by :mod:`blobrl.actors.names`), found through Ray's
    state API of the cluster at ``address`` (its GCS ``HOST:PORT``; None: the one Ray finds,
    which fails when more than one runs on the machine)."""

    def __init__(self, run_id: str, *, address: str | None = None):
        self.run_id = run_id
        self.address = address

    def alive(self) -> list[ActorInfo]:
        from ray.util.state import list_actors

        out = []
        for a in list_actors(
            address=self.address,
            filters=[("state", "=", "ALIVE")],
            limit=10_000,
            raise_on_missing_output=False,
        ):
            full = a.name or ""
            name = local_name(self.run_id, full)
            if name is not None and a.pid:
                out.append(ActorInfo(name, full, a.ray_namespace or "", a.pid))
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
