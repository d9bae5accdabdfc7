"""The InferenceServer's wire format: how a leaf batch travels to the server and back.

A request is a leaf batch of encoded positions packed by :func:`pack_rows` (every feature as one
bit, the continuous ones again as float32), and optionally the name of a network the server
holds; the answer is ``(float32[B, 65] logits, float32[B, 8] values, version)``, or
:class:`ModelNotLoaded` when the named network is not there.
"""

from __future__ import annotations

import numpy as np

from blobrl.data import CONT_INDEX
from blobrl.data.wire import WIRE_BIT_BYTES, pack_batch
from blobrl.game import FEATURES

# Leaf batches travel to the server packed: every feature as one bit, and the continuous ones
# (blobrl.data.CONT_INDEX) again as float32, which is exact for encoded positions (all
# their other features are 0 or 1) and 1/16 of the float32 rows. A request of WIRE_ROWS rows is
# about 93 KB, and so is its answer: both stay under the 100 KiB that Ray sends inline with the
# call, where a larger object goes through the object store. Measured on 2 cores, a 384-row
# leaf batch to a server actor with a 16-wide network (so that the round trip dominates, as it
# does with a GPU): 10.1 ms as one float32 request, 8.3 ms as two packed ones.
WIRE_ROWS = 320
# A leaf batch of more rows than this goes as one request through the object store instead:
# Ray's cost per call (about 0.4 ms of the caller's CPU to send, measured on 2 cores) outweighs
# the store's per-byte cost once a batch needs more than a few inline calls. One self-play actor
# behind the 2 ms stand-in server, 4 groups of 512 games (about 2,800 rows a batch): 61,000 and
# 77,000 decisions/min as one request against 46,000 and 46,000 in 320-row requests (two runs
# each, alternating); with 128 games a group (about 700 rows) the inline requests stay ahead.
SINGLE_REQUEST_ROWS = 1024

Answer = tuple[np.ndarray, np.ndarray, int]  # (logits [B, 65], values [B, 8], weights version)


class ModelNotLoaded(LookupError):
    """A request named a network the server does not hold: never loaded, unloaded, or lost when
    the server restarted (load it again)."""


def pack_rows(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``float32[B, FEATURES]`` encoded positions -> (``uint8[B, WIRE_BIT_BYTES]``,
    ``float32[B, CONT]``), undone exactly by :func:`unpack_rows`. The bits are
    ``np.packbits(features != 0, axis=1)``'s, the continuous part ``features[:, CONT_INDEX]``,
    both made in one pass over each row (a search's client packs every leaf batch)."""
    features = np.ascontiguousarray(features, dtype=np.float32)
    rows = features.shape[0]
    bits = np.empty((rows, WIRE_BIT_BYTES), np.uint8)
    cont = np.empty((rows, CONT_INDEX.shape[0]), np.float32)
    pack_batch(features, bits, cont)
    return bits, cont


def unpack_rows(bits: np.ndarray, cont: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_rows`."""
    out = np.empty((bits.shape[0], FEATURES), np.float32)
    unpack_into(bits, cont, out)
    return out


def unpack_into(bits: np.ndarray, cont: np.ndarray, out: np.ndarray) -> None:
    """:func:`unpack_rows` written into ``out`` (``float32[B, FEATURES]``, a server's staging
    rows), with no float array of its own in between."""
    out[:] = np.unpackbits(bits, axis=1, count=FEATURES)
    out[:, CONT_INDEX] = cont


def unpack_request(bits: np.ndarray, cont: np.ndarray) -> np.ndarray:
    """The rows of an ``evaluate_packed`` request, after checking its shapes (ValueError)."""
    bits, cont = check_request(bits, cont)
    return unpack_rows(bits, cont)


def check_request(bits: np.ndarray, cont: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(bits, cont)`` of an ``evaluate_packed`` request as arrays, or ValueError when their
    shapes are not those of :func:`pack_rows`."""
    bits, cont = np.asarray(bits), np.asarray(cont)
    if (
        bits.dtype != np.uint8
        or bits.ndim != 2
        or bits.shape[1] != WIRE_BIT_BYTES
        or cont.shape != (bits.shape[0], CONT_INDEX.shape[0])
    ):
        raise ValueError(
            f"packed rows must be uint8[B, {WIRE_BIT_BYTES}] and [B, {CONT_INDEX.shape[0]}], "
            f"got {bits.dtype}{list(bits.shape)} and {list(cont.shape)}"
        )
    return bits, cont
