"""The replay buffer of self-play positions, and the compact position codec it stores."""

from blobrl.replay.buffer import (
    LEGAL_BYTES,
    ReplayBatch,
    ReplayBuffer,
    ReplayStats,
    ValueStats,
)
from blobrl.replay.codec import BIT_BYTES, CONT, pack_features, unpack_features

__all__ = [
    "BIT_BYTES",
    "CONT",
    "LEGAL_BYTES",
    "ReplayBatch",
    "ReplayBuffer",
    "ReplayStats",
    "ValueStats",
    "pack_features",
    "unpack_features",
]
