"""Joining a Ray cluster, or starting an embedded one when there is none."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterInfo:
    embedded: bool  # True when this process started its own local Ray
    address: str
    dashboard_url: str | None
    cpus: float  # free CPUs (not reserved by other jobs' actors) when the run starts
    gpus: float
    nodes: int
    total_cpus: float


def connect(address: str | None = None) -> ClusterInfo:
    """Join the cluster at ``address`` (or RAY_ADDRESS, or one started with ``ray start``);
    with none to be found, or with ``address="local"``, start an embedded local Ray with its
    dashboard on 127.0.0.1."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray Serve gives its HTTP proxy 5 s to come up, which a busy laptop can miss; an embedded
    # Ray inherits this from here (a cluster started with `ray start` takes it from its shell).
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    embedded = False
    if address == "local":
        embedded = True
        context = ray.init(
            address="local", include_dashboard=True, dashboard_host="127.0.0.1", log_to_driver=True
        )
    elif address or os.environ.get("RAY_ADDRESS"):
        context = ray.init(address=address, log_to_driver=True)
    else:
        try:
            context = ray.init(address="auto", log_to_driver=True)
        except ConnectionError:
            embedded = True
            context = ray.init(
                include_dashboard=True, dashboard_host="127.0.0.1", log_to_driver=True
            )
    resources = ray.cluster_resources()
    free = ray.available_resources()
    url = context.dashboard_url
    if url and not url.startswith("http"):
        url = f"http://{url}"
    info = ClusterInfo(
        embedded=embedded,
        address=str(getattr(context, "address_info", {}).get("address", "")),
        dashboard_url=url or None,
        cpus=float(free.get("CPU", 0)),
        gpus=float(resources.get("GPU", 0)),
        nodes=len([n for n in ray.nodes() if n.get("Alive")]),
        total_cpus=float(resources.get("CPU", 0)),
    )
    log.info(
        "%s Ray: %d node(s), %.0f CPUs (%.0f free), %.0f GPUs",
        "embedded" if embedded else "joined",
        info.nodes,
        info.total_cpus,
        info.cpus,
        info.gpus,
    )
    return info


def disconnect(info: ClusterInfo) -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
