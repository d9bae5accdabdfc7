"""Telemetry: the run's metrics for Prometheus (through ``ray.util.metrics``) and Grafana.

``names`` holds every metric name (``selfplay/games_played`` and its Prometheus form
``ray_blobrl_selfplay_games_played_total``); ``Telemetry.publish`` exports the Coordinator's
``metrics()`` and ``status()``. ``dashboards/grafana/blobrl.json`` queries exactly these names.
"""

from blobrl.telemetry import names
from blobrl.telemetry.exporter import Backend, RayBackend, Telemetry
from blobrl.telemetry.names import METRICS, Metric, exported_names, prometheus_name, ray_name

__all__ = [
    "METRICS",
    "Backend",
    "Metric",
    "RayBackend",
    "Telemetry",
    "exported_names",
    "names",
    "prometheus_name",
    "ray_name",
]
