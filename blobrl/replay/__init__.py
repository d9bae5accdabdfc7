"""The replay buffer of self-play positions (stored compactly by :mod:`blobrl.data.codec`)."""

from blobrl.replay.buffer import LEGAL_BYTES, ReplayBuffer, ReplayStats, ValueStats
from blobrl.replay.decisions import CardDecisionBuffer, CardDecisions, card_decisions

__all__ = [
    "LEGAL_BYTES",
    "CardDecisionBuffer",
    "CardDecisions",
    "ReplayBuffer",
    "ReplayStats",
    "ValueStats",
    "card_decisions",
]
