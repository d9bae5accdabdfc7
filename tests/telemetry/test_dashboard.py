"""The Grafana dashboard queries exactly the metrics that the code exports."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from blobrl.telemetry import METRICS, exported_names, prometheus_name, ray_name

# Any identifier that mentions our prefix, so that a name missing Ray's ``ray_`` prefix (or
# with a wrong suffix) shows up as unknown instead of slipping through.
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*blobrl_[a-zA-Z0-9_:]*|\bblobrl_[a-zA-Z0-9_:]*")


def queries(node: Any) -> Iterator[str]:
    """Every PromQL text in the dashboard: panel targets' ``expr`` and variable queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition", "query") and isinstance(value, str):
                yield value
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def referenced_names(dashboard: dict[str, Any]) -> set[str]:
    return {name for text in queries(dashboard) for name in NAME.findall(text)}


def panel_names(dashboard: dict[str, Any]) -> set[str]:
    panels = [p for p in dashboard["panels"] if p.get("type") != "row"]
    return {name for p in panels for t in p.get("targets", []) for name in NAME.findall(t["expr"])}


def test_dashboard_names_only_exported_metrics(dashboard):
    unknown = referenced_names(dashboard) - exported_names()
    assert not unknown, f"dashboard queries metrics the code does not export: {sorted(unknown)}"


def test_every_exported_metric_has_a_panel(dashboard):
    missing = exported_names() - panel_names(dashboard)
    assert not missing, f"exported metrics without a panel: {sorted(missing)}"


def test_every_panel_queries_a_metric(dashboard):
    for panel in dashboard["panels"]:
        if panel.get("type") == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert NAME.search(target["expr"]), (panel["title"], target["expr"])


def test_panel_ids_are_unique(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_namespaced_name_maps_to_prometheus_names():
    assert ray_name("selfplay/games_played") == "blobrl_selfplay_games_played"
    assert prometheus_name("selfplay/games_played", "counter") == (
        "ray_blobrl_selfplay_games_played_total"
    )
    assert prometheus_name("eval/elo", "gauge") == "ray_blobrl_eval_elo"


def test_metric_names_are_namespaced_and_unique():
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    assert len({m.ray_name for m in METRICS}) == len(METRICS)
    for name in names:
        namespace, _, leaf = name.partition("/")
        assert namespace and leaf and "/" not in leaf, name
