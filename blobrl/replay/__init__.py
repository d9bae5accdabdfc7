"""The replay buffer of self-play positions (stored compactly by :mod:`blobrl.data.codec`)."""

from blobrl.replay.buffer import LEGAL_BYTES, ReplayBuffer, ReplayStats, ValueStats

__all__ = ["LEGAL_BYTES", "ReplayBuffer", "ReplayStats", "ValueStats"]
