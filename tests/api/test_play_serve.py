"""The play routes on a real Ray Serve: the replica finds the run's checkpoints from the
run directory ``start_api`` is given, and a hand is played to its end through the proxy."""

from __future__ import annotations

import httpx
import pytest

from blobrl.api import start_api
from blobrl.config import ApiConfig

from .conftest import TOKEN
from .test_play import write_run

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_a_hand_is_played_through_serve(tmp_path, ray_serve, serve_port):
    run_dir = write_run(tmp_path / "run")

    @ray_serve.remote(num_cpus=0)
    class NoCoordinator:  # the play routes never call the Coordinator
        pass

    url = start_api(
        NoCoordinator.remote(), ApiConfig(port=serve_port, token=TOKEN), run_dir=run_dir
    )
    with httpx.Client(base_url=url, timeout=120, headers=AUTH) as api:
        listing = api.get("/api/play/checkpoints").json()
        assert (
            listing["run_dir"] == str(run_dir.resolve()) and listing["default"] == "best_model.pt"
        )
        assert httpx.post(url + "api/play/sessions", json={}).status_code == 401
        answer = api.post("/api/play/sessions", json={"players": 3, "cards": 3, "search": "1x8"})
        assert answer.status_code == 201, answer.text
        state = answer.json()
        for _ in range(4):
            if state["finished"]:
                break
            answer = api.post(
                f"/api/play/sessions/{state['session_id']}/moves",
                json={"action": state["legal"][0]},
            )
            assert answer.status_code == 200, answer.text
            state = answer.json()
        assert state["finished"] and len(state["scores"]) == 3 and len(state["tricks"]) == 3
        again = api.get(f"/api/play/sessions/{state['session_id']}").json()
        assert again == state  # the session lives in the one replica
        assert "/static/play.js" in api.get("/play").text
