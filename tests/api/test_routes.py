"""Every endpoint answers with its model; the control state machine; the token."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from blobrl.api.models import (
    ConfigResponse,
    ControlResponse,
    EloPoint,
    GauntletPoint,
    LossPoint,
    MetricsResponse,
    StatusResponse,
    StepPoint,
    ThroughputPoint,
)
from blobrl.run.control import STATES, TRANSITIONS

from .conftest import TOKEN, make_app

ROOT = Path(__file__).resolve().parents[2]

GETS = {
    "/api/status": StatusResponse,
    "/api/metrics": MetricsResponse,
    "/api/config": ConfigResponse,
}
COMMANDS = sorted(TRANSITIONS)


@pytest.mark.parametrize("path", sorted(GETS))
def test_each_get_answers_exactly_its_model(client, path):
    response = client.get(path)
    assert response.status_code == 200
    body = response.json()
    model = GETS[path]
    assert set(body) == set(model.model_fields)
    assert model.model_validate(body).model_dump(mode="json") == body


def test_non_finite_numbers_come_out_as_null_and_unknown_fields_are_dropped(client):
    metrics = client.get("/api/metrics").json()
    assert metrics["inference_evals_per_s"] is None
    assert "something_new" not in metrics
    loss = client.get("/api/history/loss").json()
    assert [p["grad_norm"] for p in loss] == [None, None]


def test_metrics_give_the_best_rating_and_the_fixed_agents(client):
    metrics = client.get("/api/metrics").json()
    assert metrics["best_elo"] == 140.0 and metrics["best_elo_ci95"] == 30.0
    assert metrics["baselines"]["random"] == {"elo": 0.0, "ci95": 0.0}
    assert metrics["baselines"]["heuristic"] == {"elo": 180.0, "ci95": 40.0}
    assert metrics["baselines"]["ismcts:1000"] == {"elo": None, "ci95": None}


def test_metrics_and_loss_history_report_the_data_reuse(client):
    metrics = client.get("/api/metrics").json()
    assert metrics["replay_ratio"] == 2.5  # configured
    assert metrics["replay_ratio_last"] == 2.56 and metrics["replay_ratio_run"] == 2.5
    assert metrics["samples_trained"] / metrics["positions_generated"] == 2.5
    loss = client.get("/api/history/loss").json()
    assert [(p["positions"], p["samples"]) for p in loss] == [(4000, 10240), (4000, 10240)]
    assert [p["samples_total"] for p in loss] == [10240, 20480]


def test_history_series_are_in_iteration_order(client, fake):
    fake.history_data["elo"].reverse()
    elo = client.get("/api/history/elo").json()
    assert [p["iteration"] for p in elo] == [1, 2]
    assert [EloPoint.model_validate(p).elo for p in elo] == [120.0, 140.0]
    assert [p["ci95"] for p in elo] == [30.0, 30.0] and elo[0]["elo_diff"] == 20.9
    loss = client.get("/api/history/loss").json()
    assert [LossPoint.model_validate(p).iteration for p in loss] == [1, 2]


def test_gauntlet_history_gives_each_opponent_with_intervals_and_exact_bids(client):
    gauntlets = [
        GauntletPoint.model_validate(g) for g in client.get("/api/history/gauntlet").json()
    ]
    assert [g.iteration for g in gauntlets] == [1, 2]
    latest = {m.opponent: m for m in gauntlets[-1].matches}
    assert set(latest) == {"random", "heuristic", "ismcts:1000"}
    assert latest["heuristic"].score == pytest.approx(3.2) and latest["heuristic"].score_ci95 == 0.4
    assert latest["ismcts:1000"].exact_rate == 0.30 and gauntlets[0].seconds == 30.0


def test_learning_curve_gives_points_per_training_step_with_the_trick_loss(client):
    steps = [StepPoint.model_validate(p) for p in client.get("/api/history/steps").json()]
    assert [(p.iteration, p.step) for p in steps] == [(1, 5), (1, 10), (2, 15), (2, 20)]
    assert [p.trick_loss for p in steps] == [1.0, 1.0, 0.5, 0.5]
    assert all(p.lr == 5e-4 for p in steps)


def test_throughput_gives_times_games_per_minute_buffer_and_reuse(client):
    rows = [ThroughputPoint.model_validate(p) for p in client.get("/api/history/throughput").json()]
    first, second = rows
    # Iteration 1 has no previous iteration to time its self-play from.
    assert first.selfplay_seconds is None and first.games_per_min is None
    assert second.selfplay_seconds == 60.0 and second.games == 100
    assert second.games_per_min == pytest.approx(100.0)
    assert (second.train_seconds, second.arena_seconds, second.gauntlet_seconds) == (
        12.5,
        20.0,
        30.0,
    )
    assert second.buffer_positions == 8000
    assert second.replay_ratio == pytest.approx(2.56) and second.replay_ratio_run == pytest.approx(
        2.56
    )


def test_openapi_lists_every_endpoint_with_its_model(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) == {
        "/api/status",
        "/api/metrics",
        "/api/config",
        "/api/history/elo",
        "/api/history/loss",
        "/api/history/steps",
        "/api/history/gauntlet",
        "/api/history/throughput",
        *(f"/api/control/{c}" for c in COMMANDS),
        "/api/play/checkpoints",
        "/api/play/sessions",
        "/api/play/sessions/{session_id}",
        "/api/play/sessions/{session_id}/moves",
        "/api/play/sessions/{session_id}/next",
        "/api/play/sessions/{session_id}/view",
    }
    ok = paths["/api/status"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/StatusResponse")
    for command in COMMANDS:
        responses = paths[f"/api/control/{command}"]["post"]["responses"]
        assert {"200", "401", "409"} <= set(responses)
        conflict = responses["409"]["content"]["application/json"]["schema"]
        assert conflict["$ref"].endswith("/ControlResponse")


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_in_every_state_follows_the_transition_table(client, fake, state, command):
    fake.state = state
    response = client.post(f"/api/control/{command}")
    body = ControlResponse.model_validate(response.json())
    if state in TRANSITIONS[command]:
        assert response.status_code == 200
        assert body.success and body.state == TRANSITIONS[command][state] == fake.state
    else:
        assert response.status_code == 409
        assert not body.success and body.state == state == fake.state
        assert f"cannot {command} while {state}" in body.message


def test_a_whole_run_through_the_state_machine(fake):
    fake.state = "idle"
    with TestClient(make_app(fake)) as client:

        def post(command):
            response = client.post(f"/api/control/{command}")
            return response.status_code, response.json()["state"]

        assert post("pause") == (409, "idle")
        assert post("start") == (200, "running")
        assert post("start") == (409, "running")
        assert post("pause") == (200, "pausing")
        assert post("pause") == (409, "pausing")
        fake.settle()
        assert client.get("/api/status").json()["state"] == "paused"
        assert post("resume") == (200, "running")
        assert post("resume") == (409, "running")
        assert post("stop") == (200, "stopping")
        assert post("stop") == (409, "stopping")
        fake.settle()
        for command in COMMANDS:
            assert post(command) == (409, "stopped")


def test_an_unknown_command_is_not_a_route(client):
    assert client.post("/api/control/explode").status_code in (404, 405)
    assert client.get("/api/control/start").status_code == 405


@pytest.mark.parametrize("command", COMMANDS)
def test_posts_need_the_token_when_one_is_set(secured, fake, command):
    fake.state = "paused"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = secured.post(f"/api/control/{command}", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert fake.commands == []
    response = secured.post(f"/api/control/{command}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code in (200, 409)
    assert fake.commands == [command]


def test_gets_stay_open_with_a_token(secured):
    for path in [*GETS, "/api/history/elo", "/api/history/loss", "/openapi.json"]:
        assert secured.get(path).status_code == 200


def test_websocket_needs_the_token_in_a_header_or_the_query(secured):
    for url, headers in (
        ("/ws/updates", {}),
        ("/ws/updates?token=wrong", {}),
        ("/ws/updates", {"Authorization": "Bearer wrong"}),
    ):
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            secured.websocket_connect(url, headers=headers) as ws,
        ):
            ws.receive_json()
        assert refused.value.code == 1008
    with secured.websocket_connect(f"/ws/updates?token={TOKEN}") as ws:
        assert ws.receive_json()["type"] == "status"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with secured.websocket_connect("/ws/updates", headers=headers) as ws:
        assert ws.receive_json()["type"] == "status"


def test_an_unavailable_coordinator_is_a_503(fake):
    from blobrl.api.client import CoordinatorUnavailable

    async def gone():
        raise CoordinatorUnavailable("coordinator did not answer status")

    fake.status = gone
    with TestClient(make_app(fake)) as client:
        response = client.get("/api/status")
    assert response.status_code == 503
    assert "did not answer" in response.json()["detail"]


def test_the_dashboard_and_its_chart_library_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/vendor/plotly.min.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for name in ("dashboard.js", "dashboard.css"):
        assert client.get(f"/static/{name}").status_code == 200
    plotly = client.get("/static/vendor/plotly.min.js")
    assert plotly.status_code == 200 and "javascript" in plotly.headers["content-type"]
    assert len(plotly.content) > 1_000_000
    assert client.get("/static/..%2Fpyproject.toml").status_code == 404
    assert client.get("/static/vendor/other.js").status_code == 404


def test_an_install_that_is_not_a_checkout_finds_the_dashboard_under_its_prefix(tmp_path):
    from blobrl.api.assets import PAGES, dashboard_dir

    package = tmp_path / "lib" / "site-packages" / "blobrl" / "__init__.py"
    package.parent.mkdir(parents=True)
    package.touch()
    installed = tmp_path / "share" / "blobrl" / "dashboards" / "web"
    assert dashboard_dir(str(package), str(tmp_path)) == installed
    checkout = tmp_path / "lib" / "site-packages" / "dashboards" / "web"
    checkout.mkdir(parents=True)
    assert dashboard_dir(str(package), str(tmp_path)) == checkout  # a checkout comes first
    # What a regular install puts under the prefix is every page the API serves.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["data-files"]["share/blobrl/dashboards/web"]
    assert {Path(f).name for f in shipped} == PAGES
    assert {p.name for p in (ROOT / "dashboards" / "web").iterdir()} == PAGES
