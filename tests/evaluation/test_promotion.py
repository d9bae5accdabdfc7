"""The promotion rule: the candidate's share of the paired arena deals against the threshold."""

from __future__ import annotations

import pytest

from blobrl.evaluation import MatchResult, SideStats, promoted

SIDE = SideStats(mean_score=3.0, ci95=0.5, exact_rate=0.4, mean_bid_error=1.0)


def _arena(wins: int, losses: int, ties: int) -> MatchResult:
    deals = wins + losses + ties
    return MatchResult(deals, SIDE, SIDE, wins, losses, ties, diff_mean=0.0, diff_ci95=0.0)


@pytest.mark.parametrize(
    ("wins", "losses", "ties", "threshold", "expected"),
    [
        (11, 9, 0, 0.55, True),  # exactly the threshold promotes
        (10, 10, 0, 0.55, False),
        (10, 9, 1, 0.55, False),  # a tie counts half: 10.5 / 20
        (10, 8, 2, 0.55, True),  # 11 / 20
        (20, 0, 0, 1.0, True),
        (19, 0, 1, 1.0, False),
        (5, 5, 0, 0.5, True),
    ],
)
def test_candidate_is_promoted_when_its_paired_share_reaches_the_threshold(
    wins, losses, ties, threshold, expected
):
    assert promoted(_arena(wins, losses, ties), threshold) is expected


def test_an_arena_without_deals_counts_as_even():
    assert promoted(_arena(0, 0, 0), 0.5)
    assert not promoted(_arena(0, 0, 0), 0.55)
