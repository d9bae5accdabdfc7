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
