"""The wire form of encoded positions, as leaf batches travel to an InferenceServer: every
feature as one bit (``uint8[WIRE_BIT_BYTES]``, numpy's ``packbits`` order) and the continuous
ones (:data:`~blobrl.data.codec.CONT_INDEX`) again as float32, exact for encoded positions
(all their other features are 0 or 1) and 1/16 of the float32 row.

:func:`encode_wire` encodes a position straight into this form (the encoder of
:mod:`blobrl.game.encoding`, writing bits), as a search writes its leaves for a server
(:mod:`blobrl.mcts.tree`): no float row to zero and pack, which cost as much again as encoding.
:func:`pack_row` packs a float row, as the client does a float batch in one pass
(:func:`blobrl.inference.codec.pack_rows`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from blobrl.data.codec import CONT_INDEX
from blobrl.game.encoding import FEATURES, encode_with

WIRE_BIT_BYTES = (FEATURES + 7) // 8  # every feature one bit (STORED_BIT_BYTES: flags only)
_FULL = FEATURES // 8  # bytes whose 8 columns are all features
_MAGNITUDE = np.uint32(0x7FFFFFFF)  # every bit of a float but the sign: non-zero iff it is


@njit(cache=True, nogil=True)
def encode_wire(state: np.ndarray, viewer: int, bits: np.ndarray, cont: np.ndarray) -> None:
    """The information state of ``viewer`` (as :func:`~blobrl.game.encoding.encode_into`
    writes it) in wire form: :func:`pack_row` of that row, without the row."""
    encode_with(state, viewer, bits, cont)


@njit(cache=True, nogil=True)
def pack_row(features: np.ndarray, bits: np.ndarray, cont: np.ndarray) -> None:
    """``float32[FEATURES]`` -> ``bits`` (``uint8[WIRE_BIT_BYTES]``) and ``cont``
    (``float32[CONT]``): bit ``7 - j`` of ``bits[b]`` is ``features[8 b + j] != 0`` (columns
    past the last feature are 0), ``cont = features[CONT_INDEX]``."""
    m = features.view(np.uint32)
    for b in range(_FULL):
        v = 0
        for j in range(8):
            v |= ((m[8 * b + j] & _MAGNITUDE) != 0) << (7 - j)
        bits[b] = v
    if _FULL < WIRE_BIT_BYTES:
        v = 0
        for j in range(FEATURES - 8 * _FULL):
            v |= ((m[8 * _FULL + j] & _MAGNITUDE) != 0) << (7 - j)
        bits[_FULL] = v
    for c in range(CONT_INDEX.shape[0]):
        cont[c] = features[CONT_INDEX[c]]


@njit(cache=True, nogil=True)
def pack_batch(features: np.ndarray, bits: np.ndarray, cont: np.ndarray) -> None:
    """:func:`pack_row` of every row of ``float32[B, FEATURES]``."""
    for i in range(features.shape[0]):
        pack_row(features[i], bits[i], cont[i])
