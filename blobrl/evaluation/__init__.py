"""Measuring strength: the arena of duplicate deals and ratings from match results."""

from blobrl.evaluation.arena import Deal, MatchResult, SearchAgent, SideStats, play_match
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
]
