"""The rules of one Blob hand as numba kernels over a flat ``int64`` state vector.

A state is ``int64[STATE_SIZE]``; a batch of games is ``int64[B, STATE_SIZE]`` and cloning is a row
copy. Hands, played cards and legal moves are 52-bit masks (bit ``c`` is card id ``c``). The field
offsets below are the layout; everything that reads a state goes through them.

Kernels never raise: ``apply_action`` returns an error code (``OK`` or one of ``ERR_*``) and the
Python wrapper in :mod:`blobrl.game.state` turns a code into a message that names the action, the
player and the reason. That keeps the search loop free of exception handling.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from blobrl.game import rng as _rng

MAX_PLAYERS = 8
MIN_PLAYERS = 3
NUM_CARDS = 52
NUM_SUITS = 4
NUM_RANKS = 13
BID_BASE = 52  # action 52 + b bids b
MAX_BID = 12  # the 65-action space has bid ids for 0..12 only
# A hand of C cards needs bids 0..C, so C is capped at MAX_BID even where N * C <= 52 would allow
# more (3 x 13..17, 4 x 13).
MAX_CARDS = MAX_BID
NUM_ACTIONS = 65
NO_TRUMP = 4  # trump field value for a no-trump hand
NO_CARD = -1
MAX_HISTORY = MAX_PLAYERS + NUM_CARDS

PHASE_BID = 0
PHASE_PLAY = 1
PHASE_TERMINAL = 2

SCORING_BLOB = 0
SCORING_OH_HELL = 1

# ---- state layout: scalar fields --------------------------------------------------------------
F_N = 0  # number of players
F_C = 1  # cards dealt to each player
F_DEALER = 2
F_TRUMP = 3  # suit 0..3 or NO_TRUMP
F_TURNUP = 4  # turned-up card id or NO_CARD
F_SCORING = 5
F_PHASE = 6
F_PLAYER = 7  # seat to act, -1 when terminal
F_NBIDS = 8  # bids made so far
F_BIDSUM = 9
F_TRICKNO = 10  # completed tricks
F_LEADER = 11  # seat that led the current trick
F_LED = 12  # suit led in the current trick, -1 before the lead
F_NTRICK = 13  # cards in the current trick
F_HISTLEN = 14
F_PLAYED = 15  # mask of every card played so far (current trick included)
# ---- per-seat and per-card arrays -------------------------------------------------------------
F_HANDS = 16  # [8] remaining cards of each seat (mask)
F_BIDS = 24  # [8] bid of each seat, -1 before it bids
F_TRICKS = 32  # [8] tricks won
F_VOIDS = 40  # [8] suits each seat is publicly known to be void in (4-bit mask)
F_TRICK = 48  # [8] cards of the current trick in play order (position i: seat leader + i)
F_OWNER = 56  # [52] seat that played each card, -1 if unplayed
F_HIST = 108  # [60] actions in order
STATE_SIZE = F_HIST + MAX_HISTORY  # 168

# ---- error codes of apply_action --------------------------------------------------------------
OK = 0
ERR_TERMINAL = 1  # the hand is over
ERR_RANGE = 2  # not an action id 0..64
ERR_BID_IN_PLAY = 3  # a bid while cards are being played
ERR_CARD_IN_BIDDING = 4  # a card while bids are being made
ERR_BID_TOO_HIGH = 5  # bid above the number of cards
ERR_HOOK = 6  # dealer's bid would make the bids sum to the cards
ERR_NOT_IN_HAND = 7  # card not held by the player
ERR_MUST_FOLLOW = 8  # player holds the led suit but played another

SUIT_MASK = np.array(
    [((1 << NUM_RANKS) - 1) << (NUM_RANKS * s) for s in range(NUM_SUITS)], np.int64
)
FULL_DECK = np.int64((1 << NUM_CARDS) - 1)

# Lookup tables over one suit's 13 bits: population count and index of the lowest set bit.
_POP13 = np.array([bin(v).count("1") for v in range(1 << NUM_RANKS)], dtype=np.int64)
_LOW13 = np.array(
    [(v & -v).bit_length() - 1 if v else -1 for v in range(1 << NUM_RANKS)], dtype=np.int64
)


# ---- bit utilities ----------------------------------------------------------------------------
@njit(cache=True, inline="always")
def popcount(mask: int) -> int:
    """Number of cards in a 52-bit mask."""
    return (
        _POP13[mask & 0x1FFF]
        + _POP13[(mask >> 13) & 0x1FFF]
        + _POP13[(mask >> 26) & 0x1FFF]
        + _POP13[(mask >> 39) & 0x1FFF]
    )


@njit(cache=True)
def nth_card(mask: int, k: int) -> int:
    """The card id of the k-th lowest set bit of ``mask`` (0-based); -1 if there is none."""
    for s in range(NUM_SUITS):
        chunk = (mask >> (NUM_RANKS * s)) & 0x1FFF
        cnt = _POP13[chunk]
        if k < cnt:
            for _ in range(k):
                chunk &= chunk - 1
            return NUM_RANKS * s + _LOW13[chunk]
        k -= cnt
    return -1


@njit(cache=True)
def mask_to_cards(mask: int, out: np.ndarray) -> int:
    """Write the card ids of ``mask`` in increasing order into ``out``; return how many."""
    n = 0
    for s in range(NUM_SUITS):
        chunk = (mask >> (NUM_RANKS * s)) & 0x1FFF
        while chunk:
            out[n] = NUM_RANKS * s + _LOW13[chunk]
            n += 1
            chunk &= chunk - 1
    return n


# ---- construction -----------------------------------------------------------------------------
@njit(cache=True)
def init_state(
    state: np.ndarray,
    hands: np.ndarray,
    n: int,
    c: int,
    dealer: int,
    trump: int,
    turnup: int,
    scoring: int,
) -> None:
    """Fill ``state`` with a fresh hand. ``hands`` is ``int64[n]`` of card masks (validated by
    the caller: n in 3..8, each of popcount c, disjoint)."""
    state[:] = 0
    state[F_N] = n
    state[F_C] = c
    state[F_DEALER] = dealer
    state[F_TRUMP] = trump
    state[F_TURNUP] = turnup
    state[F_SCORING] = scoring
    state[F_PHASE] = PHASE_BID
    state[F_PLAYER] = (dealer + 1) % n
    state[F_LEADER] = (dealer + 1) % n
    state[F_LED] = -1
    for p in range(MAX_PLAYERS):
        state[F_HANDS + p] = hands[p] if p < n else 0
        state[F_BIDS + p] = -1
        state[F_TRICK + p] = NO_CARD
    for card in range(NUM_CARDS):
        state[F_OWNER + card] = -1


@njit(cache=True)
def deal_masks(deck: np.ndarray, n: int, c: int, out: np.ndarray) -> None:
    """Deal ``c`` cards each from the shuffled ``deck`` (card ids) into masks ``out[:n]``."""
    for p in range(n):
        m = 0
        for j in range(c):
            m |= 1 << deck[p * c + j]
        out[p] = m


@njit(cache=True)
def deal_state(
    state: np.ndarray,
    deck: np.ndarray,
    n: int,
    c: int,
    dealer: int,
    trump: int,
    turnup: int,
    scoring: int,
) -> None:
    """``init_state`` of the hand that deals ``c`` cards each from the shuffled ``deck``."""
    hands = np.zeros(MAX_PLAYERS, np.int64)
    deal_masks(deck, n, c, hands)
    init_state(state, hands, n, c, dealer, trump, turnup, scoring)


# ---- queries ----------------------------------------------------------------------------------
@njit(cache=True)
def hook_bid(state: np.ndarray) -> int:
    """The bid the player to act may not make (the hook), or -1 when none is barred."""
    n = state[F_N]
    if state[F_PHASE] != PHASE_BID or state[F_NBIDS] != n - 1:
        return -1
    barred = state[F_C] - state[F_BIDSUM]
    return barred if barred >= 0 else -1


@njit(cache=True)
def legal_card_mask(state: np.ndarray) -> int:
    """Mask of the cards the player to act may play (0 outside the play phase)."""
    if state[F_PHASE] != PHASE_PLAY:
        return 0
    hand = state[F_HANDS + state[F_PLAYER]]
    led = state[F_LED]
    if led >= 0:
        follow = hand & SUIT_MASK[led]
        if follow != 0:
            return follow
    return hand


@njit(cache=True)
def legal_actions(state: np.ndarray, out: np.ndarray) -> int:
    """Write the legal action ids (increasing) into ``out``; return how many (0 at the end)."""
    phase = state[F_PHASE]
    if phase == PHASE_BID:
        barred = hook_bid(state)
        k = 0
        for b in range(state[F_C] + 1):
            if b != barred:
                out[k] = BID_BASE + b
                k += 1
        return k
    if phase == PHASE_PLAY:
        return mask_to_cards(legal_card_mask(state), out)
    return 0


@njit(cache=True)
def legal_mask(state: np.ndarray, out: np.ndarray) -> int:
    """Fill ``out`` (bool or float, length 65) with the legal-action mask; return the count."""
    out[:] = 0
    phase = state[F_PHASE]
    k = 0
    if phase == PHASE_BID:
        barred = hook_bid(state)
        for b in range(state[F_C] + 1):
            if b != barred:
                out[BID_BASE + b] = 1
                k += 1
    elif phase == PHASE_PLAY:
        m = legal_card_mask(state)
        for s in range(NUM_SUITS):
            chunk = (m >> (NUM_RANKS * s)) & 0x1FFF
            while chunk:
                out[NUM_RANKS * s + _LOW13[chunk]] = 1
                k += 1
                chunk &= chunk - 1
    return k


@njit(cache=True)
def check_action(state: np.ndarray, action: int) -> int:
    """The error code ``apply_action`` would return, without changing anything."""
    phase = state[F_PHASE]
    if phase == PHASE_TERMINAL:
        return ERR_TERMINAL
    if action < 0 or action >= NUM_ACTIONS:
        return ERR_RANGE
    if action >= BID_BASE:
        if phase != PHASE_BID:
            return ERR_BID_IN_PLAY
        b = action - BID_BASE
        if b > state[F_C]:
            return ERR_BID_TOO_HIGH
        if b == hook_bid(state):
            return ERR_HOOK
        return OK
    if phase != PHASE_PLAY:
        return ERR_CARD_IN_BIDDING
    hand = state[F_HANDS + state[F_PLAYER]]
    if (hand >> action) & 1 == 0:
        return ERR_NOT_IN_HAND
    led = state[F_LED]
    if led >= 0 and action // NUM_RANKS != led and (hand & SUIT_MASK[led]) != 0:
        return ERR_MUST_FOLLOW
    return OK


@njit(cache=True)
def trick_winner(state: np.ndarray) -> int:
    """Seat winning the current (complete or partial) trick so far."""
    n = state[F_N]
    trump = state[F_TRUMP]
    best = state[F_TRICK]
    best_pos = 0
    for i in range(1, state[F_NTRICK]):
        card = state[F_TRICK + i]
        suit = card // NUM_RANKS
        best_suit = best // NUM_RANKS
        if suit == best_suit:
            if card > best:
                best = card
                best_pos = i
        elif suit == trump:
            best = card
            best_pos = i
    return (state[F_LEADER] + best_pos) % n


# ---- transitions ------------------------------------------------------------------------------
@njit(cache=True)
def apply_unchecked(state: np.ndarray, action: int) -> None:
    """Apply a legal ``action`` in place (the caller guarantees legality)."""
    n = state[F_N]
    p = state[F_PLAYER]
    state[F_HIST + state[F_HISTLEN]] = action
    state[F_HISTLEN] += 1
    if action >= BID_BASE:
        b = action - BID_BASE
        state[F_BIDS + p] = b
        state[F_BIDSUM] += b
        state[F_NBIDS] += 1
        if state[F_NBIDS] == n:
            state[F_PHASE] = PHASE_PLAY
            state[F_PLAYER] = state[F_LEADER]
        else:
            state[F_PLAYER] = (p + 1) % n
        return
    card = action
    bit = 1 << card
    suit = card // NUM_RANKS
    state[F_HANDS + p] &= ~bit
    state[F_PLAYED] |= bit
    state[F_OWNER + card] = p
    pos = state[F_NTRICK]
    state[F_TRICK + pos] = card
    if pos == 0:
        state[F_LED] = suit
    elif suit != state[F_LED]:
        # Failing to follow suit tells everyone the player has none of it left.
        state[F_VOIDS + p] |= 1 << state[F_LED]
    state[F_NTRICK] = pos + 1
    if pos + 1 < n:
        state[F_PLAYER] = (p + 1) % n
        return
    winner = trick_winner(state)
    state[F_TRICKS + winner] += 1
    state[F_TRICKNO] += 1
    state[F_NTRICK] = 0
    state[F_LED] = -1
    for i in range(n):
        state[F_TRICK + i] = NO_CARD
    state[F_LEADER] = winner
    if state[F_TRICKNO] == state[F_C]:
        state[F_PHASE] = PHASE_TERMINAL
        state[F_PLAYER] = -1
    else:
        state[F_PLAYER] = winner


@njit(cache=True)
def apply_action(state: np.ndarray, action: int) -> int:
    """Apply ``action`` in place if legal; return ``OK`` or the error code (state unchanged)."""
    err = check_action(state, action)
    if err == OK:
        apply_unchecked(state, action)
    return err


@njit(cache=True)
def scores(state: np.ndarray, out: np.ndarray) -> None:
    """Final (or running) score of each seat into ``out[:n]`` (float)."""
    n = state[F_N]
    oh_hell = state[F_SCORING] == SCORING_OH_HELL
    for p in range(n):
        bid = state[F_BIDS + p]
        won = state[F_TRICKS + p]
        exact = bid == won
        if oh_hell:
            out[p] = won + (10 if exact else 0)
        else:
            out[p] = 10 + bid if exact else 0


@njit(cache=True)
def random_action(state: np.ndarray, rs: np.ndarray, stream: int) -> int:
    """A uniformly random legal action drawn from stream ``stream`` of ``rs``."""
    if state[F_PHASE] == PHASE_BID:
        barred = hook_bid(state)
        count = state[F_C] + 1 - (1 if barred >= 0 else 0)
        k = _rng.randint(rs, stream, count)
        if barred >= 0 and k >= barred:
            k += 1
        return BID_BASE + k
    m = legal_card_mask(state)
    return nth_card(m, _rng.randint(rs, stream, popcount(m)))


@njit(cache=True)
def random_playout(state: np.ndarray, rs: np.ndarray, stream: int) -> None:
    """Play uniformly random legal actions until the hand ends (in place)."""
    while state[F_PHASE] != PHASE_TERMINAL:
        apply_unchecked(state, random_action(state, rs, stream))


@njit(cache=True)
def shuffle_deck(deck: np.ndarray, rs: np.ndarray, stream: int) -> None:
    """Fisher-Yates shuffle of ``deck`` in place."""
    for i in range(deck.shape[0] - 1, 0, -1):
        j = _rng.randint(rs, stream, i + 1)
        tmp = deck[i]
        deck[i] = deck[j]
        deck[j] = tmp


@njit(cache=True)
def random_deal(
    state: np.ndarray, n: int, c: int, rs: np.ndarray, stream: int, scoring: int
) -> None:
    """A fresh hand with a random dealer and a trump drawn from the five (rotation mode)."""
    deck = np.arange(NUM_CARDS)
    shuffle_deck(deck, rs, stream)
    hands = np.zeros(MAX_PLAYERS, np.int64)
    deal_masks(deck, n, c, hands)
    dealer = _rng.randint(rs, stream, n)
    trump = _rng.randint(rs, stream, NUM_SUITS + 1)
    init_state(state, hands, n, c, dealer, trump, NO_CARD, scoring)


@njit(cache=True)
def playout_games(n: int, c: int, games: int, seed_state: np.ndarray) -> int:
    """Deal and play ``games`` random hands; return a checksum of the scores (benchmark core)."""
    state = np.zeros(STATE_SIZE, np.int64)
    out = np.zeros(MAX_PLAYERS, np.float64)
    total = 0
    for _ in range(games):
        random_deal(state, n, c, seed_state, 0, SCORING_BLOB)
        random_playout(state, seed_state, 0)
        scores(state, out)
        for p in range(n):
            total += int(out[p])
    return total
