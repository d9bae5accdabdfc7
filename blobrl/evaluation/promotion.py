"""The promotion rule: when an arena's candidate replaces the best network."""

from __future__ import annotations

from blobrl.evaluation.arena import MatchResult


def promoted(result: MatchResult, threshold: float) -> bool:
    """Whether the candidate (side A of ``result``) is promoted: its share of the paired deals,
    ties counting half (:attr:`MatchResult.a_share`), reaches ``threshold``
    (``evaluation.promote_threshold``, 0.55 by default)."""
    return result.a_share >= threshold
