"""Rollout policies of the information-set search: how a world is played out after the tree.

``RANDOM``: uniformly random legal actions (the plain ISMCTS baseline). ``GREEDY``: every seat
steers to its bid, as Blob players do: it bids the cards that look like winners, and in play a
seat that still needs tricks wins as cheaply as it can (and leads its best card), one that has
made its bid plays the highest card that still loses (and leads its lowest). With probability
``epsilon`` a move is random instead, so rollouts of one world still differ. Under random play a
hand's trick count is mostly luck, so random rollouts value bids and plays by outcomes that no
real table produces; greedy ones are about twice as slow and far closer to play.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from blobrl.game import core as k
from blobrl.game import rng as _rng

RANDOM = 0
GREEDY = 1
ROLLOUTS = {"random": RANDOM, "greedy": GREEDY}


@njit(cache=True, inline="always")
def _strength(card: int, trump: int) -> int:
    """Order of cards for a player's own choices: rank, trumps above every other suit."""
    rank = card % k.NUM_RANKS
    return rank + (k.NUM_RANKS if card // k.NUM_RANKS == trump else 0)


@njit(cache=True, inline="always")
def _beats(card: int, best: int, trump: int) -> bool:
    """Whether ``card`` takes the trick from ``best``, the card now winning it."""
    suit, best_suit = card // k.NUM_RANKS, best // k.NUM_RANKS
    if suit == best_suit:
        return card > best
    return suit == trump


@njit(cache=True)
def _greedy_bid(state: np.ndarray) -> int:
    """Bid the likely winners: aces and kings of side suits, trumps from the jack up, and long
    trumps; the hook moves a barred bid one away."""
    p = state[k.F_PLAYER]
    hand = state[k.F_HANDS + p]
    trump = state[k.F_TRUMP]
    n = state[k.F_N]
    c = state[k.F_C]
    expect = 0.0
    trumps = 0
    for card in range(k.NUM_CARDS):
        if (hand >> card) & 1 == 0:
            continue
        rank = card % k.NUM_RANKS
        if card // k.NUM_RANKS == trump:
            trumps += 1
            if rank >= 9:
                expect += 1.0
            elif rank >= 6:
                expect += 0.5
        elif rank == 12:
            expect += 1.0 if n <= 5 else 0.8
        elif rank == 11:
            expect += 0.5 if n <= 4 else 0.3
    if trump < k.NUM_SUITS and trumps >= 3:
        expect += 0.5 * (trumps - 2)
    bid = int(expect + 0.5)
    if bid > c:
        bid = c
    barred = k.hook_bid(state)
    if bid == barred:
        bid = bid - 1 if bid > 0 else bid + 1
    return k.BID_BASE + bid


@njit(cache=True)
def _greedy_card(state: np.ndarray) -> int:
    p = state[k.F_PLAYER]
    trump = state[k.F_TRUMP]
    legal = k.legal_card_mask(state)
    need = state[k.F_BIDS + p] - state[k.F_TRICKS + p]
    ntrick = state[k.F_NTRICK]
    best = -1
    if ntrick > 0:
        best = state[k.F_TRICK]
        for i in range(1, ntrick):
            card = state[k.F_TRICK + i]
            if _beats(card, best, trump):
                best = card
    # cheapest winner, highest loser, lowest and highest card overall
    cheap_win, cheap_win_s = -1, 1000
    high_lose, high_lose_s = -1, -1
    low, low_s = -1, 1000
    high, high_s = -1, -1
    for card in range(k.NUM_CARDS):
        if (legal >> card) & 1 == 0:
            continue
        s = _strength(card, trump)
        if s < low_s:
            low, low_s = card, s
        if s > high_s:
            high, high_s = card, s
        if best >= 0:
            if _beats(card, best, trump):
                if s < cheap_win_s:
                    cheap_win, cheap_win_s = card, s
            elif s > high_lose_s:
                high_lose, high_lose_s = card, s
    if best < 0:  # leading
        return high if need > 0 else low
    if need > 0:
        return cheap_win if cheap_win >= 0 else low
    return high_lose if high_lose >= 0 else high


@njit(cache=True)
def playout(state: np.ndarray, policy: int, epsilon: float, rs: np.ndarray, stream: int) -> None:
    """Play ``state`` to the end of the hand in place with ``policy``."""
    while state[k.F_PHASE] != k.PHASE_TERMINAL:
        if policy == RANDOM or _rng.uniform(rs, stream) < epsilon:
            action = k.random_action(state, rs, stream)
        elif state[k.F_PHASE] == k.PHASE_BID:
            action = _greedy_bid(state)
        else:
            action = _greedy_card(state)
        k.apply_unchecked(state, action)
