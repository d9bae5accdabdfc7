"""Rollout policies: legal to the end of every hand, and greedy ones steer to the bid."""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.game import BID_BASE, from_deal, new_game, parse_card
from blobrl.game import core as k
from blobrl.game import rng as _rng
from blobrl.mcts import rollout

_RANDOM_WEIGHTS = np.random.default_rng(5).normal(size=rollout.NUM_WEIGHTS)


def _cards(text: str) -> list[int]:
    return [parse_card(c) for c in text.split()]


@pytest.mark.parametrize("policy", [rollout.RANDOM, rollout.GREEDY, rollout.LEARNED])
@pytest.mark.parametrize("n,c", [(3, 1), (4, 6), (5, 7), (8, 6), (3, 12)])
def test_playouts_finish_every_hand_legally(policy, n, c):
    rs = _rng.seed_streams([n * 100 + c])
    for game in range(60):
        state = new_game(n, c, seed=game).vector.copy()
        replay = new_game(n, c, seed=game)
        rollout.playout(state, policy, 0.1, _RANDOM_WEIGHTS, rs, 0)
        assert state[k.F_PHASE] == k.PHASE_TERMINAL
        # every action taken is legal when replayed through the checked API
        for action in state[k.F_HIST : k.F_HIST + state[k.F_HISTLEN]]:
            replay.apply(int(action))
        assert replay.is_terminal()
        assert sum(replay.tricks_won) == c


def _trick_position(need: int):
    """Seat 2 is last to play to a heart trick led by seat 0 (KH) and followed by seat 1 (3H),
    holding AH, 2H and QH, spades trumps. It bid ``need`` and has no tricks yet."""
    hands = [_cards("KH 4C 5C"), _cards("3H 6C 7C"), _cards("AH 2H QH")]
    state = from_deal(hands, dealer=2, trump=3)
    bids = {0: 1, 1: 1, 2: need}
    for seat in (0, 1, 2):
        state.apply(BID_BASE + bids[seat])
    state.apply(parse_card("KH"))
    state.apply(parse_card("3H"))
    return state


def test_greedy_takes_a_needed_trick_with_the_cheapest_winner():
    state = _trick_position(need=2).vector.copy()
    assert rollout._greedy_card(state) == parse_card("AH")  # only the ace beats the king


def test_greedy_ducks_with_the_highest_loser_once_its_bid_is_made():
    state = _trick_position(need=0).vector.copy()
    assert rollout._greedy_card(state) == parse_card("QH")


def test_greedy_bids_its_sure_winners_and_respects_the_hook():
    hands = [_cards("AS KS QS AH"), _cards("2C 3C 4C 5C"), _cards("2D 3D 4D 5D")]
    state = from_deal(hands, dealer=2, trump=3)
    assert rollout._greedy_bid(state.vector) == BID_BASE + 4
    weak = from_deal([hands[1], hands[0], hands[2]], dealer=0, trump=3)
    weak.apply(BID_BASE + 0)  # seat 1 (the strong hand here) bids 0, seat 2 next
    weak.apply(BID_BASE + 4)
    # dealer, weak hand: it would bid 0, which the hook bars (0 + 4 + 0 = 4 cards)
    assert rollout._greedy_bid(weak.vector) == BID_BASE + 1


# ---- the learned card rule ------------------------------------------------------------------


def _play_states(games: int, seed: int, sizes=((5, 7), (4, 6), (3, 12), (8, 6))):
    """Every play-phase state of ``games`` random games (trump and no-trump deals)."""
    rs = _rng.seed_streams([seed])
    for game in range(games):
        n, c = sizes[game % len(sizes)]
        state = new_game(n, c, seed=seed * 1000 + game).vector.copy()
        while state[k.F_PHASE] != k.PHASE_TERMINAL:
            if state[k.F_PHASE] == k.PHASE_PLAY:
                yield state
            k.apply_unchecked(state, k.random_action(state, rs, 0))


def _scratch():
    return np.zeros(rollout.MAX_LEGAL, np.int64), np.zeros((rollout.MAX_LEGAL, rollout.BASE))


def test_the_greedy_weights_play_the_greedy_card_everywhere():
    cards, feats = _scratch()
    checked = 0
    for state in _play_states(400, seed=1):
        learned = rollout._learned_card(state, rollout.GREEDY_WEIGHTS, cards, feats)
        assert learned == rollout._greedy_card(state)
        checked += 1
    assert checked > 5000


def test_the_learned_card_is_the_best_scored_legal_card():
    weights = np.random.default_rng(2).normal(size=rollout.NUM_WEIGHTS)
    cards, feats = _scratch()
    out = np.zeros(rollout.MAX_LEGAL)
    for state in _play_states(200, seed=2):
        m = rollout.card_scores(state, weights, cards, feats, out)
        legal = k.legal_card_mask(state)
        assert sorted(cards[:m]) == [c for c in range(52) if (legal >> c) & 1]
        # the scores are the features times the context's weight block plus the shared terms
        _, block, share = rollout.card_features(state, cards, feats)
        b = weights[block * rollout.BASE : (block + 1) * rollout.BASE]
        e = weights[rollout.BASE * rollout.CONTEXTS :]
        shared = feats[:m][:, [rollout.F_WINS, rollout.F_HIGHEST, rollout.F_RANK]] @ e
        np.testing.assert_allclose(out[:m], feats[:m] @ b + share * shared)
        best = cards[int(np.argmax(out[:m]))]
        assert rollout._learned_card(state, weights, cards, feats) == best


def test_card_features_read_only_what_the_acting_seat_knows():
    """Another world consistent with the seat's view gives the same features."""
    from blobrl.game.determinize import determinize_into

    rs = _rng.seed_streams([3])
    cards, feats = _scratch()
    other_cards, other_feats = _scratch()
    world = np.zeros(k.STATE_SIZE, np.int64)
    for state in _play_states(100, seed=3):
        determinize_into(state, state[k.F_PLAYER], rs, 0, world)
        assert rollout.card_features(state, cards, feats) == rollout.card_features(
            world, other_cards, other_feats
        )
        np.testing.assert_array_equal(feats, other_feats)


def _search(rollout_name: str, evaluator=None, sims: int = 400):
    from blobrl.mcts import InformationSetSearch, SearchSettings

    settings = SearchSettings(
        tree="information_set", simulations=sims, rollout=rollout_name, reward="margin",
        belief_pool=0,
    )  # fmt: skip
    search = InformationSetSearch(evaluator, max_games=4, settings=settings)
    states = np.stack([new_game(5, 7, seed=s).vector for s in range(4)])
    for row in states:  # into the play: every seat bids greedily
        while row[k.F_PHASE] == k.PHASE_BID:
            k.apply_unchecked(row, rollout._greedy_bid(row))
    return search.run(states, np.ones(4, np.bool_), _rng.seed_streams([11, 12, 13, 14])).visits


class _Rule:
    """An evaluator that is only a learned rollout rule (belief_pool 0: never called)."""

    def __init__(self, weights):
        self.rollout_weights = weights


def test_a_learned_search_plays_the_network_rule_and_greedy_until_one_is_fitted():
    greedy = _search("greedy")
    np.testing.assert_array_equal(_search("learned"), greedy)  # no network: the greedy rule
    np.testing.assert_array_equal(_search("learned", _Rule(rollout.GREEDY_WEIGHTS)), greedy)
    fitted = _search("learned", _Rule(_RANDOM_WEIGHTS))
    assert not np.array_equal(fitted, greedy)
    np.testing.assert_array_equal(_search("learned", _Rule(_RANDOM_WEIGHTS)), fitted)
