"""Determinization: deal the hidden cards into a world consistent with what a player knows.

The viewer knows its own hand, every card played and by whom, the turned-up card, how many cards
each seat still holds, and each seat's known voids (RULES.md, Information). Every card it has not
seen (other seats' cards and, when N * C < 52, the undealt rest of the pack alike) is re-dealt so
that every other seat keeps its hand size and gets no card of a suit it is known to be void in;
the cards left over form the stock.

Sampling is exactly uniform over consistent deals when it succeeds by rejection (shuffle, deal,
check voids; up to ``REJECTION_TRIES`` times, which almost always suffices). When voids make
rejection unlikely to succeed, a sequential dealer takes over: it assigns cards in random order to
a seat drawn in proportion to its free slots, and before each assignment checks Hall's condition
over the 15 non-empty sets of suits, so it can never paint itself into a corner. That fallback is
close to, not exactly, uniform. Either way the result is always a possible world.

The search calls :func:`determinize_into` (a numba kernel); :func:`determinize` is the Python
entry point over a :class:`~blobrl.game.state.BlobState`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from blobrl.game import core as k
from blobrl.game import rng as _rng
from blobrl.game.checks import GameError

REJECTION_TRIES = 24


@njit(cache=True)
def _hall_ok(suit_count: np.ndarray, cap: np.ndarray, eligible: np.ndarray, seats: int) -> bool:
    """Whether the remaining cards (per suit) can be dealt into the free slots ``cap[:seats]``."""
    for subset in range(1, 16):
        need = 0
        for s in range(k.NUM_SUITS):
            if (subset >> s) & 1:
                need += suit_count[s]
        have = 0
        for j in range(seats):
            if eligible[j] & subset:
                have += cap[j]
        if need > have:
            return False
    return True


@njit(cache=True)
def _partial_shuffle(pool: np.ndarray, count: int, rs: np.ndarray, stream: int) -> None:
    """Make ``pool[:count]`` a uniformly random ordered sample of ``pool`` (Fisher-Yates)."""
    total = pool.shape[0]
    for i in range(count):
        j = i + _rng.randint(rs, stream, total - i)
        tmp = pool[i]
        pool[i] = pool[j]
        pool[j] = tmp


@njit(cache=True)
def determinize_into(
    state: np.ndarray, viewer: int, rs: np.ndarray, stream: int, out: np.ndarray
) -> None:
    """Copy ``state`` into ``out`` with the other seats' hands re-dealt at random.

    The hidden cards are every card the viewer has not seen: not in its hand, not played, not
    turned up. When N * C < 52 some of them were never dealt, and the viewer cannot tell which,
    so the new hands are drawn from all of them and the rest go back to the stock.

    ``rs[stream]`` is the random stream used. ``out`` may not alias ``state``.
    """
    out[:] = state
    n = state[k.F_N]
    # Seats 0..n-1 are the players; index n is the stock of undealt cards, eligible for every
    # suit. The viewer's own slot stays empty (cap 0, eligible for nothing).
    stock = n
    cap = np.zeros(k.MAX_PLAYERS + 1, np.int64)
    eligible = np.zeros(k.MAX_PLAYERS + 1, np.int64)
    seen = state[k.F_HANDS + viewer] | state[k.F_PLAYED]
    if state[k.F_TURNUP] >= 0:
        seen |= 1 << state[k.F_TURNUP]
    unknown = k.FULL_DECK & ~seen
    any_void = False
    dealt = 0
    for j in range(n):
        if j == viewer:
            continue
        cap[j] = k.popcount(state[k.F_HANDS + j])
        dealt += cap[j]
        eligible[j] = (~state[k.F_VOIDS + j]) & 0xF
        if state[k.F_VOIDS + j] != 0:
            any_void = True
    cards = np.empty(k.NUM_CARDS, np.int64)
    total = k.mask_to_cards(unknown, cards)
    cap[stock] = total - dealt
    eligible[stock] = 0xF
    if dealt == 0:
        return
    pool = cards[:total]
    tries = REJECTION_TRIES if any_void else 1
    for _ in range(tries):
        _partial_shuffle(pool, dealt, rs, stream)
        pos = 0
        ok = True
        for j in range(n):
            if j == viewer:
                continue
            m = 0
            for _c in range(cap[j]):
                card = pool[pos]
                pos += 1
                if (eligible[j] >> (card // k.NUM_RANKS)) & 1 == 0:
                    ok = False
                    break
                m |= 1 << card
            if not ok:
                break
            out[k.F_HANDS + j] = m
        if ok:
            return
    # Sequential dealer guarded by Hall's condition.
    seats = n + 1
    suit_count = np.zeros(k.NUM_SUITS, np.int64)
    for i in range(total):
        suit_count[pool[i] // k.NUM_RANKS] += 1
    hands = np.zeros(k.MAX_PLAYERS + 1, np.int64)
    k.shuffle_deck(pool, rs, stream)
    for i in range(total):
        card = pool[i]
        suit = card // k.NUM_RANKS
        suit_count[suit] -= 1
        tried = 0  # seats already found to break feasibility for this card
        while True:
            weight = 0
            for j in range(seats):
                if cap[j] > 0 and (eligible[j] >> suit) & 1 and not (tried >> j) & 1:
                    weight += cap[j]
            # A feasible seat always exists because the true deal is a witness.
            r = _rng.randint(rs, stream, weight)
            pick = -1
            for j in range(seats):
                if cap[j] > 0 and (eligible[j] >> suit) & 1 and not (tried >> j) & 1:
                    if r < cap[j]:
                        pick = j
                        break
                    r -= cap[j]
            cap[pick] -= 1
            if _hall_ok(suit_count, cap, eligible, seats):
                hands[pick] |= 1 << card
                break
            cap[pick] += 1
            tried |= 1 << pick
    for j in range(n):
        if j != viewer:
            out[k.F_HANDS + j] = hands[j]


def determinize(state, rng: np.random.Generator | int | None = None, viewer: int | None = None):
    """A new :class:`BlobState`: a world consistent with what ``viewer`` (default: the player to
    act) knows, drawn with ``rng`` (a Generator or a seed)."""
    from blobrl.game.state import BlobState

    vec = state.vector
    who = int(vec[k.F_PLAYER]) if viewer is None else int(viewer)
    if not (0 <= who < int(vec[k.F_N])):
        raise GameError(f"viewer must be a seat 0..{int(vec[k.F_N]) - 1}, got {viewer!r}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    rs = _rng.seed_streams(int(gen.integers(2**63)))
    out = np.empty_like(vec)
    determinize_into(vec, who, rs, 0, out)
    return BlobState(out)
