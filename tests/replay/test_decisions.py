"""Card decisions for the learned rollout rule: recomputed from a record's deal and actions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from blobrl.game import core as k
from blobrl.game import new_game
from blobrl.mcts import SearchSettings, rollout, uniform_evaluator
from blobrl.replay import CardDecisionBuffer, card_decisions
from blobrl.replay.decisions import RecordMismatch
from blobrl.selfplay import GameSpec, SelfPlayWorker


@pytest.fixture(scope="module", params=["rotation", "turn_up"])
def played(request):
    """Real self-play games of an information-set search with learned rollouts."""
    settings = SearchSettings(
        tree="information_set", simulations=40, rollout="learned", reward="margin"
    )
    worker = SelfPlayWorker(
        uniform_evaluator, settings=settings, games_in_flight=6, trump_mode=request.param
    )
    specs = [GameSpec(*size, seed=s, game_id=s) for s, size in enumerate([(5, 7), (4, 6)] * 3)]
    return request.param, worker.play(specs)


def test_every_recorded_card_play_becomes_one_row_with_the_search_s_visit_shares(played):
    trump_mode, records = played
    for record in records:
        rows = card_decisions(record, trump_mode=trump_mode)
        # replay the deal: the rows are the recorded positions taken in the play phase
        state = new_game(
            record.num_players, record.num_cards, seed=record.seed, trump_mode=trump_mode
        ).vector.copy()
        buf = np.zeros(k.NUM_ACTIONS, np.int64)
        cards = np.zeros(rollout.MAX_LEGAL, np.int64)
        feats = np.zeros((rollout.MAX_LEGAL, rollout.BASE))
        position = row = 0
        for action in record.actions:
            if k.legal_actions(state, buf) > 1:
                if state[k.F_PHASE] == k.PHASE_PLAY:
                    m, block, share = rollout.card_features(state, cards, feats)
                    np.testing.assert_allclose(rows.features[row, :m], feats[:m], rtol=1e-6)
                    assert rows.legal[row].sum() == m and rows.block[row] == block
                    assert rows.share[row] == pytest.approx(share)
                    visits = record.policy[position, cards[:m]].astype(np.float64)
                    np.testing.assert_allclose(
                        rows.target[row, :m], visits / visits.sum(), atol=1e-6
                    )
                    row += 1
                position += 1
            k.apply_unchecked(state, int(action))
        assert row == len(rows) > 0
        assert (rows.target[~rows.legal] == 0).all()


def test_a_record_whose_positions_do_not_follow_its_deal_is_refused(played):
    trump_mode, records = played
    record = records[0]
    shifted = dataclasses.replace(record, players=(record.players + 1) % record.num_players)
    with pytest.raises(RecordMismatch):
        card_decisions(shifted, trump_mode=trump_mode)
    with pytest.raises(RecordMismatch):
        card_decisions(dataclasses.replace(record, seed=record.seed + 1), trump_mode=trump_mode)


def test_the_buffer_keeps_the_newest_decisions(played):
    trump_mode, records = played
    per_game = [len(card_decisions(r, trump_mode=trump_mode)) for r in records]
    capacity = sum(per_game[-2:]) + 3
    buffer = CardDecisionBuffer(capacity, trump_mode=trump_mode)
    for record in records:
        buffer.add_game(record)
    assert len(buffer) == capacity and buffer.added == sum(per_game)
    held = buffer.held()
    newest = [card_decisions(r, trump_mode=trump_mode) for r in records[-3:]]
    expected = np.concatenate([d.target for d in newest])[-capacity:]
    got = np.sort(held.target.round(3), axis=0)
    np.testing.assert_allclose(got, np.sort(expected.round(3), axis=0), atol=2e-3)
