"""With a real local Ray: published metrics reach the metrics agent's Prometheus endpoint
under the names the dashboard queries (``ray_blobrl_...``, counters with ``_total``)."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
import uuid

import pytest

from blobrl.telemetry import METRICS, Telemetry, exported_names, names

from .conftest import FakeStatus, sample_metrics

pytestmark = pytest.mark.ray

SCRAPE_WAIT_S = 40.0  # Ray's workers report metrics to the agent every few seconds
LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray (reused when one is already up; then left running). One started here
    reports metrics every second, not every ten, so the scrape finds them sooner."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    ray.init(
        num_cpus=1,
        include_dashboard=False,
        log_to_driver=False,
        _system_config={"metrics_report_interval_ms": 1000},
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def metrics_port(ray) -> int:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    port = int(nodes[0].get("MetricsExportPort") or 0) if nodes else 0
    if port <= 0:
        pytest.skip("this Ray node has no metrics export port")
    return port


def scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            return reply.read().decode()
    except (urllib.error.URLError, OSError):
        return None


def samples(body: str, run: str) -> dict[tuple[str, str], float]:
    """``(name, state tag or "") -> value`` for the series tagged with ``run``."""
    found = {}
    for line in body.splitlines():
        match = LINE.match(line)
        if not match or line.startswith("#"):
            continue
        labels = dict(LABEL.findall(match.group(2) or ""))
        if labels.get(names.RUN_TAG) == run:
            found[(match.group(1), labels.get(names.STATE_TAG, ""))] = float(match.group(3))
    return found


def test_published_metrics_appear_under_the_exported_names(ray_local):
    run = f"test-{uuid.uuid4().hex[:8]}"
    telemetry = Telemetry(run)
    assert telemetry.publish(sample_metrics(games_played=5), FakeStatus(state="running"))
    assert telemetry.publish(sample_metrics(games_played=12), FakeStatus(state="running"))
    port = metrics_port(ray_local)

    deadline = time.monotonic() + SCRAPE_WAIT_S
    reached = False
    found: dict[tuple[str, str], float] = {}
    while time.monotonic() < deadline:
        body = scrape(port)
        if body is not None:
            reached = True
            found = samples(body, run)
            if {name for name, _ in found} >= exported_names():
                break
        time.sleep(1.0)
    if not reached:
        pytest.skip(f"the metrics agent's endpoint on port {port} is not reachable here")

    missing = exported_names() - {name for name, _ in found}
    assert not missing, f"not exported within {SCRAPE_WAIT_S:.0f} s: {sorted(missing)}"
    by_name = {m.name: m.exported_name for m in METRICS}
    assert found[(by_name[names.SELFPLAY_GAMES_PLAYED], "")] == 12.0
    assert found[(by_name[names.EVAL_ELO], "")] == 1040.0
    assert found[(by_name[names.REPLAY_BUFFER_POSITIONS], "")] == 4096.0
    assert found[(by_name[names.RUN_STATE], "running")] == 1.0
    assert found[(by_name[names.RUN_STATE], "paused")] == 0.0
