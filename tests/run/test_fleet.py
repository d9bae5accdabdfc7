"""The self-play fleet: what each actor holds, what a lost one gives back, and that an actor
started late is told what the others were."""

from __future__ import annotations

from blobrl.run import GameLedger, SelfPlayFleet

from .conftest import run_config
from .fakes import FakeSelfPlay, inline


def fleet_of(n, **kwargs):
    actors = [FakeSelfPlay(f"selfplay-{i}") for i in range(n)]
    return SelfPlayFleet([inline(a) for a in actors], **kwargs), actors


def test_each_actor_holds_its_games_in_flight_and_as_many_again_waiting():
    ledger = GameLedger(run_config(iterations=4, games=(40, 40)), last_iteration=4)
    fleet, actors = fleet_of(2)
    fleet.top_up(ledger, in_flight=3)
    assert [len(a.queued) for a in actors] == [6, 6]
    fleet.top_up(ledger, in_flight=3)  # nothing came back: nobody gets more
    assert [len(a.queued) for a in actors] == [6, 6]
    records = fleet.collect(ledger)
    assert len(records) == 12 and all(not a.assigned for a in fleet.actors)


def test_a_lost_actor_is_dropped_and_its_games_go_back_to_the_ledger():
    lost_calls = []
    ledger = GameLedger(run_config(iterations=1), last_iteration=1)
    fleet, actors = fleet_of(2, on_lost=lambda name, exc, games: lost_calls.append((name, games)))
    fleet.top_up(ledger, in_flight=1)
    actors[0].fail = True
    fleet.collect(ledger)
    assert lost_calls == [("selfplay-0", 2)] and len(fleet) == 1
    again = ledger.next_specs(10)
    assert {(s.iteration, s.game_id) for s in again} >= {(1, 0), (1, 1)}


def test_an_actor_started_later_gets_the_weights_settings_and_pause_of_the_others():
    spawned = []

    def spawn(index):
        actor = FakeSelfPlay(f"selfplay-{index}")
        spawned.append(actor)
        return inline(actor)

    fleet, actors = fleet_of(1, spawn=spawn)
    fleet.set_weights(b"w3", 3)
    fleet.set_settings("phase-2 settings")
    fleet.pause()
    assert fleet.grow(3) == ["selfplay-1", "selfplay-2"]
    for actor in spawned:
        assert (actor.version, actor.settings, actor.paused) == (3, "phase-2 settings", True)
    fleet.resume()
    assert not any(a.paused for a in actors + spawned)


def test_all_paused_waits_for_every_actor_to_report_it_holds():
    fleet, _ = fleet_of(2)
    assert fleet.all_paused() is False  # asked, not answered yet
    fleet.pause()
    assert fleet.all_paused() is False  # the answers were from before the pause
    assert fleet.all_paused() is False  # asked again
    assert fleet.all_paused() is True
