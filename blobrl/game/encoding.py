"""Information-state encoding: what the acting player may know, as a fixed-size float vector.

Seats are relative to the viewer: relative seat ``r`` is absolute seat ``(viewer + r) % N``, so
the viewer is always seat 0 and the network never has to learn N rotated copies of one idea.

Layout (``FEATURES`` = 1,162 floats; offsets are the ``OFF_*`` constants):

====================  ========  ==============================================================
block                 size      meaning
====================  ========  ==============================================================
OFF_HAND              52        1 for each card the viewer holds
OFF_TRUMP             5         one-hot trump suit; index 4 = no trump
OFF_TURNUP            52        one-hot turned-up card (all zero when none)
OFF_PLAYED            8 x 52    [r, card] = 1 if relative seat r played that card (any trick)
OFF_TRICK             8 x 52    [r, card] = 1 if relative seat r played it in the current trick
OFF_SEATS             8 x 24    per relative seat: see SEAT_* below
OFF_LED               5         one-hot led suit of the current trick; index 4 = none led yet
OFF_PHASE             2         one-hot: bidding, play
OFF_N                 6         one-hot N = 3..8
OFF_C                 12        one-hot C = 1..12
OFF_SCALARS           4         tricks played / C, bids so far summed / C, (bid sum - C) / C,
                                position of the viewer in the current trick / N
====================  ========  ==============================================================

Per-seat block (``SEAT_FEATURES`` = 24): ``present`` (seat exists at this N), ``is_dealer``,
``has_bid``, ``bid / C``, ``tricks / C``, ``(bid - tricks) / C`` (0 before bidding),
``cards left / C``, ``is_trick_leader``, four known-void flags (clubs..spades), then a one-hot of
the bid 0..11 when it is below 12 (a bid of 12 is read from ``bid / C``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from blobrl.game import core as k
from blobrl.game.checks import GameError

SEAT_FEATURES = 24
SEAT_PRESENT = 0
SEAT_DEALER = 1
SEAT_HAS_BID = 2
SEAT_BID = 3
SEAT_TRICKS = 4
SEAT_NEED = 5
SEAT_CARDS_LEFT = 6
SEAT_LEADER = 7
SEAT_VOIDS = 8  # 4 flags
SEAT_BID_ONEHOT = 12  # 12 entries, bids 0..11

OFF_HAND = 0
OFF_TRUMP = OFF_HAND + k.NUM_CARDS
OFF_TURNUP = OFF_TRUMP + 5
OFF_PLAYED = OFF_TURNUP + k.NUM_CARDS
OFF_TRICK = OFF_PLAYED + k.MAX_PLAYERS * k.NUM_CARDS
OFF_SEATS = OFF_TRICK + k.MAX_PLAYERS * k.NUM_CARDS
OFF_LED = OFF_SEATS + k.MAX_PLAYERS * SEAT_FEATURES
OFF_PHASE = OFF_LED + 5
OFF_N = OFF_PHASE + 2
OFF_C = OFF_N + 6
OFF_SCALARS = OFF_C + k.MAX_CARDS
FEATURES = OFF_SCALARS + 4


# The continuous features; every other is a 0/1 flag (what the wire form and stored positions
# pack as bits). Per relative seat its bid, tricks won, tricks needed and cards left, then the
# scalars. ``CONT_AT[i]`` is feature ``i``'s place among them (-1 for a flag).
CONT_INDEX = np.array(
    sorted(
        [
            OFF_SEATS + rel * SEAT_FEATURES + field
            for rel in range(k.MAX_PLAYERS)
            for field in (SEAT_BID, SEAT_TRICKS, SEAT_NEED, SEAT_CARDS_LEFT)
        ]
        + list(range(OFF_SCALARS, FEATURES))
    ),
    dtype=np.int64,
)
CONT_AT = np.full(FEATURES, -1, np.int64)
CONT_AT[CONT_INDEX] = np.arange(CONT_INDEX.shape[0])


# How the encoder writes a row: start it at all zeros, set flag feature ``i`` to 1, set
# continuous feature ``i`` to ``value``. Only their overloads below run (in compiled code),
# each chosen by ``out``'s dtype when its caller is compiled, so no feature pays for a branch
# on the form: float32 ``out[FEATURES]`` (``cont`` unused), or the wire form, uint8
# ``out[(FEATURES + 7) // 8]`` bits in numpy's ``packbits`` order and float32 ``cont[CONT]``
# the continuous values. Written without branches: a branch in the wire form's setters kept
# numba from pruning the reference counting of ``out`` and ``cont``, 3x the encoder's time.
def _zero(out: np.ndarray, cont: np.ndarray) -> None: ...


def _flag(out: np.ndarray, cont: np.ndarray, i: int) -> None: ...


def _value(out: np.ndarray, cont: np.ndarray, i: int, value: float) -> None: ...


@overload(_zero, inline="always")
def _zero_form(out, cont):
    if out.dtype == types.uint8:

        def zero_wire(out, cont):
            out[:] = 0
            cont[:] = 0.0

        return zero_wire

    def zero_float(out, cont):
        out[:] = 0.0

    return zero_float


@overload(_flag, inline="always")
def _flag_form(out, cont, i):
    if out.dtype == types.uint8:

        def flag_wire(out, cont, i):
            out[i >> 3] |= np.uint8(128 >> (i & 7))

        return flag_wire

    def flag_float(out, cont, i):
        out[i] = 1.0

    return flag_float


@overload(_value, inline="always")
def _value_form(out, cont, i, value):
    if out.dtype == types.uint8:

        def value_wire(out, cont, i, value):
            out[i >> 3] |= np.uint8((value != 0) << (7 - (i & 7)))
            cont[CONT_AT[i]] = value

        return value_wire

    def value_float(out, cont, i, value):
        out[i] = value

    return value_float


@njit(cache=True)
def encode_into(state: np.ndarray, viewer: int, out: np.ndarray) -> None:
    """Write the information state of ``viewer`` into ``out`` (float32[FEATURES])."""
    encode_with(state, viewer, out, out)


@njit(cache=True)
def encode_with(state: np.ndarray, viewer: int, out: np.ndarray, cont: np.ndarray) -> None:
    """The information state of ``viewer`` in the form ``out``'s dtype picks: float32
    ``out[FEATURES]`` (as :func:`encode_into`; ``cont`` is not touched), or uint8 ``out``, the
    wire form's bits, with the continuous values in float32 ``cont[CONT]``
    (:func:`blobrl.data.wire.encode_wire`). One encoder for both, compiled for each."""
    _zero(out, cont)
    n = state[k.F_N]
    c = state[k.F_C]
    inv_c = 1.0 / c
    hand = state[k.F_HANDS + viewer]
    for card in range(k.NUM_CARDS):
        if (hand >> card) & 1:
            _flag(out, cont, OFF_HAND + card)
        owner = state[k.F_OWNER + card]
        if owner >= 0:
            rel = (owner - viewer) % n
            _flag(out, cont, OFF_PLAYED + rel * k.NUM_CARDS + card)
    _flag(out, cont, OFF_TRUMP + state[k.F_TRUMP])
    if state[k.F_TURNUP] >= 0:
        _flag(out, cont, OFF_TURNUP + state[k.F_TURNUP])
    leader = state[k.F_LEADER]
    for i in range(state[k.F_NTRICK]):
        rel = (leader + i - viewer) % n
        _flag(out, cont, OFF_TRICK + rel * k.NUM_CARDS + state[k.F_TRICK + i])
    playing = state[k.F_PHASE] == k.PHASE_PLAY
    for rel in range(n):
        seat = (viewer + rel) % n
        base = OFF_SEATS + rel * SEAT_FEATURES
        _flag(out, cont, base + SEAT_PRESENT)
        if seat == state[k.F_DEALER]:
            _flag(out, cont, base + SEAT_DEALER)
        bid = state[k.F_BIDS + seat]
        won = state[k.F_TRICKS + seat]
        _value(out, cont, base + SEAT_TRICKS, won * inv_c)
        if bid >= 0:
            _flag(out, cont, base + SEAT_HAS_BID)
            _value(out, cont, base + SEAT_BID, bid * inv_c)
            _value(out, cont, base + SEAT_NEED, (bid - won) * inv_c)
            if bid < 12:
                _flag(out, cont, base + SEAT_BID_ONEHOT + bid)
        _value(out, cont, base + SEAT_CARDS_LEFT, k.popcount(state[k.F_HANDS + seat]) * inv_c)
        if playing and seat == leader:
            _flag(out, cont, base + SEAT_LEADER)
        voids = state[k.F_VOIDS + seat]
        for s in range(k.NUM_SUITS):
            if (voids >> s) & 1:
                _flag(out, cont, base + SEAT_VOIDS + s)
    led = state[k.F_LED]
    _flag(out, cont, OFF_LED + (led if led >= 0 else 4))
    if state[k.F_PHASE] == k.PHASE_BID:
        _flag(out, cont, OFF_PHASE)
    elif playing:
        _flag(out, cont, OFF_PHASE + 1)
    _flag(out, cont, OFF_N + n - k.MIN_PLAYERS)
    _flag(out, cont, OFF_C + c - 1)
    _value(out, cont, OFF_SCALARS, state[k.F_TRICKNO] * inv_c)
    _value(out, cont, OFF_SCALARS + 1, state[k.F_BIDSUM] * inv_c)
    _value(out, cont, OFF_SCALARS + 2, (state[k.F_BIDSUM] - c) * inv_c)
    _value(out, cont, OFF_SCALARS + 3, state[k.F_NTRICK] / n)


@njit(cache=True, parallel=False)
def encode_batch(
    states: np.ndarray, viewers: np.ndarray, features: np.ndarray, masks: np.ndarray
) -> None:
    """Encode ``states[B, STATE_SIZE]`` for ``viewers[B]`` into ``features[B, FEATURES]`` and
    legal masks ``masks[B, 65]``."""
    for i in prange(states.shape[0]):
        encode_into(states[i], viewers[i], features[i])
        k.legal_mask(states[i], masks[i])


def encode(state, viewer: int | None = None) -> np.ndarray:
    """``float32[FEATURES]`` information state of ``viewer`` (default: the player to act)."""
    vec = state.vector
    who = int(vec[k.F_PLAYER]) if viewer is None else int(viewer)
    if not (0 <= who < int(vec[k.F_N])):
        raise GameError(f"viewer must be a seat 0..{int(vec[k.F_N]) - 1}, got {viewer!r}")
    out = np.zeros(FEATURES, np.float32)
    encode_into(vec, who, out)
    return out
