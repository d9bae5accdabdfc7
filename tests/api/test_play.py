"""Playing a checkpoint through the API over real HTTP: whole hands and games to their scores,
refusals with the engine's reason that change nothing, unknown and evicted sessions, the token."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import torch

from blobrl.api import create_app
from blobrl.api.play import PlayService
from blobrl.api.play.models import ModelView, PlayState
from blobrl.checkpoint import CheckpointStore
from blobrl.game import BID_BASE, new_game
from blobrl.nn import NetworkConfig, build_network

from .conftest import TOKEN
from .fakes import FakeCoordinator
from .server import serving

AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUICK = "1x8"  # a real search, small enough for many hands on a busy CPU


def write_run(run_dir: Path, *, iterations=(1, 2), config: NetworkConfig | None = None) -> Path:
    """A run directory as a run leaves it: iteration checkpoints and ``best_model.pt`` of a
    freshly built network (the default one unless ``config``), saved by the checkpoint store."""
    torch.manual_seed(0)
    config = config or NetworkConfig()
    weights = build_network(config).state_dict()
    network = {"arch": config.arch, "hidden": config.hidden, "blocks": config.blocks}
    store = CheckpointStore(run_dir)
    for iteration in iterations:
        learner = {"learner": {"model": weights}}
        store.save(iteration, {"learner_state": learner, "config": {"network": network}})
    store.save_best(iterations[-1], weights, {"elo": 0.0})
    (run_dir / "config.json").write_text(json.dumps({"network": network}))
    return run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("run"))


@pytest.fixture
def api(run_dir):
    app = create_app(FakeCoordinator(), run_dir=run_dir)
    with serving(app) as base, httpx.Client(base_url=base, timeout=120) as client:
        yield client


def deal(api, **request):
    response = api.post("/api/play/sessions", json={"search": QUICK, **request})
    assert response.status_code == 201, response.text
    return PlayState.model_validate(response.json())


def move(api, state: PlayState, action: int) -> httpx.Response:
    return api.post(f"/api/play/sessions/{state.session_id}/moves", json={"action": action})


def play_out(api, state: PlayState, choose=lambda s: s.legal[0]) -> PlayState:
    """Play the person's moves (``choose``) to the end of the hand: at most C + 1 of them."""
    for _ in range(state.cards + 1):
        if state.finished:
            return state
        assert state.your_turn and state.to_act == state.seat and state.legal
        answer = move(api, state, choose(state))
        assert answer.status_code == 200, answer.text
        state = PlayState.model_validate(answer.json())
    assert state.finished
    return state


def test_checkpoints_are_listed_best_first_then_newest(api, run_dir):
    listing = api.get("/api/play/checkpoints").json()
    assert listing["run_dir"] == str(run_dir) and listing["default"] == "best_model.pt"
    names = [c["name"] for c in listing["checkpoints"]]
    assert names == ["best_model.pt", "iter_000002.pt", "iter_000001.pt"]
    assert [c["iteration"] for c in listing["checkpoints"]] == [2, 2, 1]
    assert [c["best"] for c in listing["checkpoints"]] == [True, False, False]


@pytest.mark.parametrize("seat", [0, 2])
def test_a_whole_hand_through_http_ends_with_its_scores(api, seat):
    state = deal(api, players=4, cards=3, seat=seat, seed=11)
    assert state.checkpoint == "best_model.pt" and state.agent == f"best_model.pt@{QUICK}"
    assert state.phase == "bidding" and state.your_turn and state.seat == seat
    # The model seats before the person have bid already; the person's hand is theirs.
    eldest = (state.dealer + 1) % 4
    assert [m.seat for m in state.moves] == [(eldest + i) % 4 for i in range(len(state.moves))]
    deck = new_game(4, 3, seed=11)  # the seed's deal
    assert sorted(c.id for c in state.hand) == sorted(deck.hand(seat))
    assert state.dealer == deck.dealer and state.trump == deck.trump

    final = play_out(api, state)
    assert final.phase == "over" and final.to_act is None and not final.your_turn
    assert final.legal == [] and final.hand == [] and final.trick is None
    assert len(final.moves) == 4 + 4 * 3 and len(final.tricks) == 3
    assert sum(s.tricks for s in final.seats) == 3
    assert [t.winner for t in final.tricks].count(None) == 0
    for seat_info, score in zip(final.seats, final.scores, strict=True):
        exact = seat_info.bid == seat_info.tricks
        assert score == seat_info.score == (10 + seat_info.bid if exact else 0)
    # Every move was the engine's: replaying them on the seed's deal gives the same scores.
    for m in final.moves:
        deck.apply(m.action)
    assert deck.is_terminal() and deck.scores() == final.scores
    # What the server holds is what the last answer said.
    again = api.get(f"/api/play/sessions/{final.session_id}")
    assert again.status_code == 200 and PlayState.model_validate(again.json()) == final


def test_the_hand_is_sorted_by_suit_trump_first_high_to_low(api):
    for seed in range(4):
        state = deal(api, players=3, cards=8, seed=seed)
        suits = [c.suit for c in state.hand]
        order = list(dict.fromkeys(suits))  # suits in the order shown
        assert suits == sorted(suits, key=order.index)  # grouped
        if state.trump is not None and state.trump in suits:
            assert order[0] == state.trump
        for suit in order:
            ranks = [c.rank for c in state.hand if c.suit == suit]
            assert ranks == sorted(ranks, reverse=True)


def test_a_full_game_plays_every_round_and_adds_up_the_scores(api):
    state = deal(api, players=3, cards=2, full_game=True, seed=5, search="raw")
    assert state.game is not None and state.game.rounds == 3 and state.game.round == 1
    assert [state.cards] == [2]
    refused = api.post(f"/api/play/sessions/{state.session_id}/next")
    assert refused.status_code == 409 and "still being played" in refused.json()["detail"]
    cards_per_round = []
    for round_number in (1, 2, 3):
        assert state.game.round == round_number
        cards_per_round.append(state.cards)
        state = play_out(api, state)
        assert state.game.totals == [sum(r.scores[p] for r in state.game.results) for p in range(3)]
        assert [s.total for s in state.seats] == state.game.totals
        if round_number < 3:
            assert not state.game.over
            answer = api.post(f"/api/play/sessions/{state.session_id}/next")
            assert answer.status_code == 200, answer.text
            state = PlayState.model_validate(answer.json())
            assert state.dealer == (state.game.results[-1].dealer + 1) % 3
    assert cards_per_round == [2, 1, 2] and state.game.over
    assert [r.round for r in state.game.results] == [1, 2, 3]
    over = api.post(f"/api/play/sessions/{state.session_id}/next")
    assert over.status_code == 409 and "the game is over" in over.json()["detail"]


def test_one_hand_has_no_next_round(api):
    state = play_out(api, deal(api, players=3, cards=1, search="raw"))
    answer = api.post(f"/api/play/sessions/{state.session_id}/next")
    assert answer.status_code == 409 and "single hand" in answer.json()["detail"]


@pytest.mark.parametrize("session_id", ["0" * 32, "not-a-session", "x" * 300, "..."])
def test_unknown_session_ids_are_404(api, session_id):
    base = f"/api/play/sessions/{session_id}"
    for response in (
        api.get(base),
        api.post(base + "/moves", json={"action": 52}),
        api.post(base + "/next"),
        api.get(base + "/view"),
        api.delete(base),
    ):
        assert response.status_code == 404, response.text
        assert "no play session" in response.json()["detail"]


def test_a_session_id_is_never_a_path(api):
    for path in ("/api/play/sessions/%2e%2e%2fconfig.json", "/api/play/sessions/a%2Fb/moves"):
        assert api.get(path).status_code == 404


def test_a_deleted_session_is_gone(api):
    state = deal(api, players=3, cards=2)
    assert api.delete(f"/api/play/sessions/{state.session_id}").status_code == 204
    assert api.get(f"/api/play/sessions/{state.session_id}").status_code == 404
    assert api.delete(f"/api/play/sessions/{state.session_id}").status_code == 404


def _refused_and_unchanged(api, state: PlayState, action: int, reason: str) -> None:
    before = api.get(f"/api/play/sessions/{state.session_id}").json()
    answer = move(api, state, action)
    assert answer.status_code == 409, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith(f"illegal action {action} ") and reason in detail, detail
    assert api.get(f"/api/play/sessions/{state.session_id}").json() == before


def test_illegal_moves_are_refused_with_the_engines_reason_and_change_nothing(api):
    state = deal(api, players=4, cards=4, seed=3)
    held = state.hand[0].id
    _refused_and_unchanged(api, state, held, "cards are played only after everyone has bid")
    _refused_and_unchanged(api, state, BID_BASE + 4 + 1, "bids are 0..4")  # no such bid
    answer = move(api, state, BID_BASE + 1)
    assert answer.status_code == 200
    state = PlayState.model_validate(answer.json())
    assert state.phase == "play"
    _refused_and_unchanged(api, state, BID_BASE + 1, "bidding is over")
    others = sorted(set(range(52)) - {c.id for c in state.hand})
    _refused_and_unchanged(api, state, others[0], "does not hold")
    # out of the action space altogether: refused by validation
    for bad in (-1, 65, "AS", None):
        assert move(api, state, bad).status_code == 422


def test_the_dealer_is_refused_the_bid_that_makes_the_bids_add_up(api):
    players, cards = 3, 3
    seed = next(s for s in range(100) if new_game(players, cards, seed=s).dealer == 1)
    state = deal(api, players=players, cards=cards, seat=1, seed=seed)
    assert state.dealer == 1 and len(state.moves) == 2  # the dealer bids last
    bids = [m.action - BID_BASE for m in state.moves]
    hooked = cards - sum(bids)
    if 0 <= hooked <= cards:
        assert BID_BASE + hooked not in state.legal
        _refused_and_unchanged(api, state, BID_BASE + hooked, "the dealer may not bid")
    else:
        assert len(state.legal) == cards + 1


def test_a_card_that_does_not_follow_suit_is_refused(api):
    """Seeds are tried in turn (bounded) until the person must follow and holds another suit."""
    for seed in range(40):
        state = deal(api, players=3, cards=5, seat=1, seed=seed, search="raw")
        state = PlayState.model_validate(move(api, state, state.legal[0]).json())
        while not state.finished:
            off = [c.id for c in state.hand if c.id not in state.legal]
            if state.trick is not None and off:
                led = state.trick.cards[0].card.suit
                _refused_and_unchanged(api, state, off[0], "must follow")
                assert all(c.suit == led for c in state.hand if c.id in state.legal)
                return
            state = PlayState.model_validate(move(api, state, state.legal[0]).json())
    pytest.fail("no deal of 40 had a card that does not follow")


def test_a_move_on_a_finished_hand_is_409_and_changes_nothing(api):
    state = play_out(api, deal(api, players=3, cards=2, seed=1))
    for action in (0, 13, BID_BASE):
        before = api.get(f"/api/play/sessions/{state.session_id}").json()
        answer = move(api, state, action)
        assert answer.status_code == 409 and "the hand is over" in answer.json()["detail"]
        assert api.get(f"/api/play/sessions/{state.session_id}").json() == before
    assert api.get(f"/api/play/sessions/{state.session_id}/view").status_code == 409


def test_the_model_view_reads_the_persons_decision(api):
    state = deal(api, players=4, cards=3, seed=2)
    view = ModelView.model_validate(api.get(f"/api/play/sessions/{state.session_id}/view").json())
    assert view.phase == "bidding" and view.seat == state.seat
    assert sorted(o.action for o in view.policy) == sorted(state.legal)
    assert sum(o.probability for o in view.policy) == pytest.approx(1.0)
    probabilities = [o.probability for o in view.policy]
    assert probabilities == sorted(probabilities, reverse=True)
    assert view.tricks is not None and len(view.tricks) == 4
    assert sum(view.tricks) == pytest.approx(1.0)
    assert 0.0 <= view.value <= 1.0 and view.expected_score == pytest.approx(13 * view.value)
    # reading the view changes nothing
    again = api.get(f"/api/play/sessions/{state.session_id}").json()
    assert PlayState.model_validate(again) == state


def test_deal_sizes_seats_and_searches_are_validated(api):
    def refused(**request):
        response = api.post("/api/play/sessions", json=request)
        assert response.status_code == 422, response.text
        return json.dumps(response.json()["detail"])

    assert "6 players x 9 cards needs 54 cards" in refused(players=6, cards=9)
    assert "seat must be 0..2" in refused(players=3, cards=2, seat=3)
    assert "at most 4096" in refused(search="64x100")
    refused(players=2)
    refused(cards=0)
    refused(checkpoint="../config.json")
    refused(search="fast")
    refused(colour="red")  # unknown fields are refused, not ignored
    unknown = api.post("/api/play/sessions", json={"checkpoint": "iter_000099.pt"})
    assert unknown.status_code == 404 and "iter_000002.pt" in unknown.json()["detail"]


def test_an_older_checkpoint_can_be_played(api):
    state = deal(api, checkpoint="iter_000001.pt", players=3, cards=2)
    assert state.checkpoint == "iter_000001.pt"
    assert play_out(api, state).finished


def test_sessions_are_bounded_and_the_least_recently_used_goes_first(run_dir):
    app = create_app(FakeCoordinator(), play_service=PlayService(run_dir, max_sessions=3))
    with serving(app) as base, httpx.Client(base_url=base, timeout=60) as api:
        a, b, c = (deal(api, players=3, cards=1, search="raw") for _ in range(3))
        assert api.get(f"/api/play/sessions/{a.session_id}").status_code == 200  # a is used
        d = deal(api, players=3, cards=1, search="raw")
        alive = {s.session_id: api.get(f"/api/play/sessions/{s.session_id}").status_code
                 for s in (a, b, c, d)}  # fmt: skip
        assert alive == {a.session_id: 200, b.session_id: 404, c.session_id: 200,
                         d.session_id: 200}  # fmt: skip
        assert len(app.state.play) == 3


def test_without_a_run_directory_there_is_nothing_to_play(tmp_path):
    for run_dir in (None, tmp_path):
        with serving(create_app(FakeCoordinator(), run_dir=run_dir)) as base:
            listing = httpx.get(base + "/api/play/checkpoints").json()
            assert listing["checkpoints"] == [] and listing["default"] is None
            answer = httpx.post(base + "/api/play/sessions", json={})
            assert answer.status_code == 404
            assert "no checkpoint to play" in answer.json()["detail"]


def test_a_damaged_checkpoint_is_refused_with_the_reason(tmp_path):
    write_run(tmp_path, iterations=(1,), config=NetworkConfig(hidden=16, blocks=1))
    (tmp_path / "checkpoints" / "best_model.pt").write_bytes(b"damaged")
    with serving(create_app(FakeCoordinator(), run_dir=tmp_path)) as base:
        answer = httpx.post(base + "/api/play/sessions", json={})
        assert answer.status_code == 409
        assert "best_model.pt cannot be played" in answer.json()["detail"]
        assert "checksum" in answer.json()["detail"]
        older = httpx.post(base + "/api/play/sessions", json={"checkpoint": "iter_000001.pt"})
        assert older.status_code == 201


def test_play_routes_need_the_token_when_one_is_set(run_dir):
    app = create_app(FakeCoordinator(), token=TOKEN, run_dir=run_dir)
    with serving(app) as base, httpx.Client(base_url=base, timeout=60) as api:
        created = api.post("/api/play/sessions", json={"search": "raw"}, headers=AUTH)
        assert created.status_code == 201
        sid = created.json()["session_id"]
        calls = [
            ("GET", "/api/play/checkpoints", None),
            ("POST", "/api/play/sessions", {"search": "raw"}),
            ("GET", f"/api/play/sessions/{sid}", None),
            ("POST", f"/api/play/sessions/{sid}/moves", {"action": created.json()["legal"][0]}),
            ("POST", f"/api/play/sessions/{sid}/next", None),
            ("GET", f"/api/play/sessions/{sid}/view", None),
            ("DELETE", f"/api/play/sessions/{sid}", None),
        ]
        before = api.get(f"/api/play/sessions/{sid}", headers=AUTH).json()
        for method, path, body in calls:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                answer = api.request(method, path, json=body, headers=headers)
                assert answer.status_code == 401, (method, path, headers)
                assert answer.headers["www-authenticate"] == "Bearer"
        assert len(app.state.play) == 1  # nothing was created, moved or deleted
        assert api.get(f"/api/play/sessions/{sid}", headers=AUTH).json() == before
        for method, path, body in calls:
            answer = api.request(method, path, json=body, headers=AUTH)
            assert answer.status_code in (200, 201, 204, 409), (method, path, answer.text)
        assert api.get("/play").status_code == 200  # the page itself is open, as / is


def test_the_play_page_and_its_files_are_served(api):
    page = api.get("/play")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/play.js" in page.text and "/static/play.css" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    for name in ("play.js", "play.css"):
        assert api.get(f"/static/{name}").status_code == 200
    assert 'href="/play"' in api.get("/").text  # the dashboard links to it


def test_openapi_describes_the_play_routes_with_their_models(api):
    paths = api.get("/openapi.json").json()["paths"]
    play = {p for p in paths if p.startswith("/api/play")}
    assert play == {
        "/api/play/checkpoints",
        "/api/play/sessions",
        "/api/play/sessions/{session_id}",
        "/api/play/sessions/{session_id}/moves",
        "/api/play/sessions/{session_id}/next",
        "/api/play/sessions/{session_id}/view",
    }
    created = paths["/api/play/sessions"]["post"]
    assert created["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/NewSession"
    )
    assert created["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PlayState"
    )
    moves = paths["/api/play/sessions/{session_id}/moves"]["post"]["responses"]
    assert {"200", "401", "404", "409", "422"} <= set(moves)
    session = paths["/api/play/sessions/{session_id}"]
    assert set(session) == {"get", "delete"}
    assert {"401", "404"} <= set(session["get"]["responses"])
