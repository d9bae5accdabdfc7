"""The legal set of a state as one integer ("legal code"), and card masks as lists of ids.

The public :class:`~blobrl.game.state.BlobState` crosses into numba once per move: ``apply_code``
applies an action and returns the legal code of the position it leads to, so that
``legal_actions()``, ``is_terminal()`` and the like need no further kernel call. The rules stay
in :mod:`blobrl.game.core` (``check_action``, ``hook_bid``, ``legal_card_mask``); this module only
packs their answer into an ``int`` and unpacks it in Python.

A legal code is:

- in the play phase, the mask of the legal cards (bits 0..51, bit ``c`` is card ``c``);
- in the bidding phase, ``BIDDING | bids`` where bit ``b`` of ``bids`` (13 bits) is bid ``b``;
- ``0`` once the hand is over (no legal action).

``apply_code`` returns ``-err`` (an ``ERR_*`` code of :mod:`blobrl.game.core`, state unchanged)
instead when the action is illegal.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from blobrl.game.core import (
    BID_BASE,
    F_C,
    F_PHASE,
    NUM_RANKS,
    NUM_SUITS,
    OK,
    PHASE_BID,
    PHASE_PLAY,
    apply_action,
    hook_bid,
    legal_card_mask,
)

BIDDING = 1 << 56  # flag of a legal code in the bidding phase (above every card bit)
CHUNK = (1 << NUM_RANKS) - 1  # one suit's (or the bids') 13 bits


@njit(cache=True)
def legal_code(state: np.ndarray) -> int:
    """The legal code of ``state`` (see the module docstring)."""
    phase = state[F_PHASE]
    if phase == PHASE_PLAY:
        return legal_card_mask(state)
    if phase == PHASE_BID:
        bids = (1 << (state[F_C] + 1)) - 1
        barred = hook_bid(state)
        if barred >= 0:
            bids &= ~(1 << barred)
        return BIDDING | bids
    return 0


@njit(cache=True)
def apply_code(state: np.ndarray, action: int) -> int:
    """``apply_action`` in place, then the legal code of the new position; ``-err`` (state
    unchanged) when ``action`` is illegal. ``action`` must be an id 0..64."""
    err = apply_action(state, action)
    if err != OK:
        return -err
    return legal_code(state)


def _ids_table(base: int) -> tuple[tuple[int, ...], ...]:
    """``table[chunk]``: the set bits of a 13-bit ``chunk`` as action ids ``base + bit``, in
    increasing order, for every chunk (8,192 tuples; a tuple indexed by an int is the cheapest
    lookup Python has, and the whole table takes a few milliseconds to build)."""
    ids: list[tuple[int, ...]] = [()] * (CHUNK + 1)
    for chunk in range(1, CHUNK + 1):
        rest = chunk & (chunk - 1)  # without its lowest bit
        ids[chunk] = (base + (chunk ^ rest).bit_length() - 1, *ids[rest])
    return tuple(ids)


# Card ids of each suit's chunk, and bid actions (52 + b) of a bids chunk.
SUIT_IDS = tuple(_ids_table(NUM_RANKS * s) for s in range(NUM_SUITS))
BID_IDS = _ids_table(BID_BASE)
_S0, _S1, _S2, _S3 = SUIT_IDS


def cards_of(mask: int) -> list[int]:
    """The card ids of a 52-bit mask, in increasing order."""
    return [
        *_S0[mask & CHUNK],
        *_S1[mask >> 13 & CHUNK],
        *_S2[mask >> 26 & CHUNK],
        *_S3[mask >> 39],
    ]
