"""Elo ratings: start 1000, K 32, expected score 1 / (1 + 10^((Rb - Ra) / 400))."""

from __future__ import annotations

START = 1000.0
K_FACTOR = 32.0


def expected_score(rating_a: float, rating_b: float) -> float:
    """Expected score of A against B."""
    return 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0))


def update(rating_a: float, rating_b: float, score_a: float, *, k: float = K_FACTOR):
    """New (A, B) ratings after A scored ``score_a`` (1 win, 0.5 draw, 0 loss; or a share)."""
    delta = k * (score_a - expected_score(rating_a, rating_b))
    return rating_a + delta, rating_b - delta
