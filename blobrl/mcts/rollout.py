"""Rollout policies of the information-set search: how a world is played out after the tree.

``RANDOM``: uniformly random legal actions (the plain ISMCTS baseline). ``GREEDY``: every seat
steers to its bid, as Blob players do: it bids the cards that look like winners, and in play a
seat that still needs tricks wins as cheaply as it can (and leads its best card), one that has
made its bid plays the highest card that still loses (and leads its lowest). With probability
``epsilon`` a move is random instead, so rollouts of one world still differ. Under random play a
hand's trick count is mostly luck, so random rollouts value bids and plays by outcomes that no
real table produces; greedy ones are about twice as slow and far closer to play.

``LEARNED``: bids as greedy, card plays by a linear rule fitted to the search's own choices
(:mod:`blobrl.learner.rollout_fit`): every legal card gets ``BASE`` features (:func:`card_features`,
only what the acting seat knows) and the card of highest score is played; one block of
``BASE`` weights per context (the seat needs tricks / has made its bid / is over, times leading /
following / last to play), plus ``EXTRA`` terms scaled by the share of the remaining tricks still
needed: ``NUM_WEIGHTS`` in all. ``GREEDY_WEIGHTS`` play exactly the ``GREEDY`` cards, so a learned
rollout that has not been fitted is the greedy one.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from blobrl.game import core as k
from blobrl.game import rng as _rng

RANDOM = 0
GREEDY = 1
LEARNED = 2
ROLLOUTS = {"random": RANDOM, "greedy": GREEDY, "learned": LEARNED}

# Features of one legal card (columns of card_features' output).
F_WINS = 0  # it takes the trick as it stands
F_CHEAPEST_WINNER = 1  # the weakest card that takes it
F_HIGHEST_LOSER = 2  # the strongest card that does not
F_LOWEST = 3  # the weakest legal card
F_HIGHEST = 4  # the strongest legal card
F_TRUMP = 5
F_RANK = 6  # rank / 12
F_BOSS = 7  # no higher card of its suit is left with the others
F_HIGHER_OUT = 8  # higher cards of its suit left with the others / 12
F_DISCARD = 9  # following, neither the led suit nor trump
F_SUIT_LENGTH = 10  # cards of its suit in hand / C
F_SINGLETON = 11  # the only card of a side suit
F_OTHERS_VOID = 12  # a side suit some other seat is known to be void in (trump deals)
BASE = 13
CONTEXTS = 9  # (needs tricks, made its bid, over) x (leading, following, last to play)
EXTRA = 3  # need share x (wins, highest, rank), shared by every context
NUM_WEIGHTS = BASE * CONTEXTS + EXTRA
MAX_LEGAL = 13  # at most C <= 12 cards in hand; one slot to spare


def _greedy_weights() -> np.ndarray:
    """Weights under which the learned rule plays the greedy card in every position."""
    w = np.zeros(NUM_WEIGHTS, np.float64)
    for ctx in range(3):
        for pos in range(3):
            b = (ctx * 3 + pos) * BASE
            if pos == 0:  # leading: the best card when tricks are needed, else the lowest
                w[b + (F_HIGHEST if ctx == 0 else F_LOWEST)] = 1.0
            elif ctx == 0:  # following, tricks needed: the cheapest winner, else the lowest
                w[b + F_CHEAPEST_WINNER], w[b + F_LOWEST] = 2.0, 1.0
            else:  # following, bid made or over: the highest loser, else the highest
                w[b + F_HIGHEST_LOSER], w[b + F_HIGHEST] = 2.0, 1.0
    return w


GREEDY_WEIGHTS = _greedy_weights()
GREEDY_WEIGHTS.setflags(write=False)


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


@njit(cache=True, inline="always")
def _trick_winner(state: np.ndarray, trump: int) -> int:
    """The card now winning the trick, -1 before its lead."""
    ntrick = state[k.F_NTRICK]
    if ntrick == 0:
        return -1
    best = state[k.F_TRICK]
    for i in range(1, ntrick):
        card = state[k.F_TRICK + i]
        if _beats(card, best, trump):
            best = card
    return best


@njit(cache=True, inline="always")
def _landmarks(legal: int, best: int, trump: int) -> tuple[int, int, int, int]:
    """Of the cards in ``legal``: the cheapest that beats ``best``, the strongest that does not
    (-1 for none, or when leading: ``best`` < 0), the weakest and the strongest."""
    cheap_win, cheap_win_s = -1, 1000
    high_lose, high_lose_s = -1, -1
    low, low_s = -1, 1000
    high, high_s = -1, -1
    rest = legal
    while rest != 0:
        bit = rest & -rest
        rest ^= bit
        card = k.popcount(bit - 1)
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
    return cheap_win, high_lose, low, high


@njit(cache=True)
def _greedy_card(state: np.ndarray) -> int:
    p = state[k.F_PLAYER]
    trump = state[k.F_TRUMP]
    need = state[k.F_BIDS + p] - state[k.F_TRICKS + p]
    best = _trick_winner(state, trump)
    cheap_win, high_lose, low, high = _landmarks(k.legal_card_mask(state), best, trump)
    if best < 0:  # leading
        return high if need > 0 else low
    if need > 0:
        return cheap_win if cheap_win >= 0 else low
    return high_lose if high_lose >= 0 else high


@njit(cache=True)
def card_features(
    state: np.ndarray, cards: np.ndarray, feats: np.ndarray
) -> tuple[int, int, float]:
    """Features of every legal card of the player to act (in the play phase): the cards in
    ``cards[:m]`` (increasing), their features in ``feats[:m, :BASE]``. Returns ``(m, context,
    need share)``: the weight block the cards are scored with and the share of the remaining
    tricks the seat still needs. Reads only what the acting seat knows: its hand, the trick, the
    cards played, the voids shown and the bids."""
    p = state[k.F_PLAYER]
    n = state[k.F_N]
    trump = state[k.F_TRUMP]
    hand = state[k.F_HANDS + p]
    legal = k.legal_card_mask(state)
    need = state[k.F_BIDS + p] - state[k.F_TRICKS + p]
    ntrick = state[k.F_NTRICK]
    unseen = ~state[k.F_PLAYED] & ~hand  # cards the others may still hold
    best = _trick_winner(state, trump)
    cheap_win, high_lose, low, high = _landmarks(legal, best, trump)
    m = 0
    rest = legal
    while rest != 0:
        bit = rest & -rest
        rest ^= bit
        cards[m] = k.popcount(bit - 1)
        m += 1
    voids = 0
    for q in range(n):
        if q != p:
            voids |= state[k.F_VOIDS + q]
    trumps = trump < k.NUM_SUITS
    led = state[k.F_LED]
    inv_c = 1.0 / max(state[k.F_C], 1)
    for j in range(m):
        card = cards[j]
        suit = card // k.NUM_RANKS
        smask = k.SUIT_MASK[suit]
        higher = k.popcount(unseen & smask & ~((np.int64(1) << (card + 1)) - 1))
        length = k.popcount(hand & smask)
        side = suit != trump
        f = feats[j]
        f[F_WINS] = 1.0 if best >= 0 and _beats(card, best, trump) else 0.0
        f[F_CHEAPEST_WINNER] = 1.0 if card == cheap_win else 0.0
        f[F_HIGHEST_LOSER] = 1.0 if card == high_lose else 0.0
        f[F_LOWEST] = 1.0 if card == low else 0.0
        f[F_HIGHEST] = 1.0 if card == high else 0.0
        f[F_TRUMP] = 0.0 if side else 1.0
        f[F_RANK] = (card % k.NUM_RANKS) / 12.0
        f[F_BOSS] = 1.0 if higher == 0 else 0.0
        f[F_HIGHER_OUT] = higher / 12.0
        f[F_DISCARD] = 1.0 if best >= 0 and suit != led and side else 0.0
        f[F_SUIT_LENGTH] = length * inv_c
        f[F_SINGLETON] = 1.0 if length == 1 and side else 0.0
        f[F_OTHERS_VOID] = 1.0 if (voids >> suit) & 1 and side and trumps else 0.0
    ctx = 0 if need > 0 else (1 if need == 0 else 2)
    pos = 0 if ntrick == 0 else (2 if ntrick == n - 1 else 1)
    left = state[k.F_C] - state[k.F_TRICKNO]
    return m, ctx * 3 + pos, max(need, 0) / max(left, 1)


@njit(cache=True, inline="always")
def _score(weights: np.ndarray, f: np.ndarray, block: int, share: float) -> float:
    """The linear score of one card's features ``f`` in context ``block``."""
    b = block * BASE
    z = 0.0
    for i in range(BASE):
        z += weights[b + i] * f[i]
    e = BASE * CONTEXTS
    return z + share * (
        weights[e] * f[F_WINS] + weights[e + 1] * f[F_HIGHEST] + weights[e + 2] * f[F_RANK]
    )


@njit(cache=True)
def card_scores(
    state: np.ndarray, weights: np.ndarray, cards: np.ndarray, feats: np.ndarray, out: np.ndarray
) -> int:
    """Score of every legal card under ``weights`` (``out[:m]``, the cards in ``cards[:m]``)."""
    m, block, share = card_features(state, cards, feats)
    for j in range(m):
        out[j] = _score(weights, feats[j], block, share)
    return m


@njit(cache=True)
def _learned_card(
    state: np.ndarray, weights: np.ndarray, cards: np.ndarray, feats: np.ndarray
) -> int:
    """The legal card of highest score (the lowest such card on a tie)."""
    m, block, share = card_features(state, cards, feats)
    top, top_z = 0, -1e300
    for j in range(m):
        z = _score(weights, feats[j], block, share)
        if z > top_z:
            top, top_z = j, z
    return cards[top]


@njit(cache=True)
def playout_into(
    state: np.ndarray,
    policy: int,
    epsilon: float,
    weights: np.ndarray,  # float64[NUM_WEIGHTS] for LEARNED; unread otherwise
    rs: np.ndarray,
    stream: int,
    cards: np.ndarray,  # int64[MAX_LEGAL] scratch
    feats: np.ndarray,  # float64[MAX_LEGAL, BASE] scratch
) -> None:
    """Play ``state`` to the end of the hand in place with ``policy``."""
    while state[k.F_PHASE] != k.PHASE_TERMINAL:
        if policy == RANDOM or _rng.uniform(rs, stream) < epsilon:
            action = k.random_action(state, rs, stream)
        elif state[k.F_PHASE] == k.PHASE_BID:
            action = _greedy_bid(state)
        elif policy == GREEDY:
            action = _greedy_card(state)
        else:
            action = _learned_card(state, weights, cards, feats)
        k.apply_unchecked(state, action)


@njit(cache=True)
def playout(
    state: np.ndarray, policy: int, epsilon: float, weights: np.ndarray, rs: np.ndarray, stream: int
) -> None:
    """:func:`playout_into` with its own scratch arrays."""
    cards = np.zeros(MAX_LEGAL, np.int64)
    feats = np.zeros((MAX_LEGAL, BASE), np.float64)
    playout_into(state, policy, epsilon, weights, rs, stream, cards, feats)
