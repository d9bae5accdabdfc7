"""Measuring strength: the arena of duplicate deals and Elo."""

from blobrl.evaluation.arena import Deal, MatchResult, SearchAgent, SideStats, play_match
from blobrl.evaluation.elo import expected_score, update

__all__ = [
    "Deal",
    "MatchResult",
    "SearchAgent",
    "SideStats",
    "expected_score",
    "play_match",
    "update",
]
