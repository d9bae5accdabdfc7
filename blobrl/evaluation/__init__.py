"""Measuring strength: one engine of duplicate-deal matches (the arena, agent matches), the
promotion rule, and ratings from match results."""

from blobrl.evaluation.arena import MatchResult, SearchAgent, SideStats, play_match
from blobrl.evaluation.engine import Deal
from blobrl.evaluation.promotion import promoted
from blobrl.evaluation.rating import (
    ANCHOR,
    MatchEdge,
    Rating,
    RatingLedger,
    Ratings,
    checkpoint_player,
    elo_of_share,
    fit_ratings,
    paired_share,
)

__all__ = [
    "ANCHOR",
    "Deal",
    "MatchEdge",
    "MatchResult",
    "Rating",
    "RatingLedger",
    "Ratings",
    "SearchAgent",
    "SideStats",
    "checkpoint_player",
    "elo_of_share",
    "fit_ratings",
    "paired_share",
    "play_match",
    "promoted",
]
