"""Compact storage of encoded positions.

Of the ``FEATURES`` floats of an information state (blobrl.game.encoding) all but a few dozen
are 0/1 flags. A position is stored as those flags bit-packed (``uint8[STORED_BIT_BYTES]``)
plus the continuous entries as ``float16[CONT]``: about 180 bytes instead of 4.6 KB, which is what
lets a replay buffer hold millions of positions and self-play ship games cheaply between
processes. Game records, the replay buffer and the game log all hold positions this way.
"""

from __future__ import annotations

import numpy as np

from blobrl.game import encoding as enc

CONT_INDEX = enc.CONT_INDEX  # the continuous features, stored as float16
BIT_INDEX = np.setdiff1d(np.arange(enc.FEATURES), CONT_INDEX)
CONT = CONT_INDEX.shape[0]
STORED_BIT_BYTES = (BIT_INDEX.shape[0] + 7) // 8  # bytes of a stored position's flags


def pack_features(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``float32[T, FEATURES]`` -> (``uint8[T, STORED_BIT_BYTES]``, ``float16[T, CONT]``)."""
    features = np.asarray(features, dtype=np.float32).reshape(-1, enc.FEATURES)
    bits = np.packbits(features[:, BIT_INDEX] > 0.5, axis=1)
    return bits, features[:, CONT_INDEX].astype(np.float16)


def unpack_features(bits: np.ndarray, cont: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_features`: ``float32[T, FEATURES]``."""
    t = bits.shape[0]
    out = np.zeros((t, enc.FEATURES), np.float32)
    out[:, BIT_INDEX] = np.unpackbits(bits, axis=1, count=BIT_INDEX.shape[0])
    out[:, CONT_INDEX] = cont
    return out
