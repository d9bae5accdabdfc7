"""Ratings: Elo differences from paired score shares, fitted over the graph of players."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from blobrl.evaluation import (
    MatchEdge,
    RatingLedger,
    checkpoint_player,
    elo_of_share,
    fit_ratings,
    paired_share,
)
from blobrl.evaluation.rating import MIN_DEAL_SD, SHARE_CLIP, share_of_elo


def edge(a: str, b: str, elo: float, se: float, *, kind: str = "arena") -> MatchEdge:
    """An edge whose observed difference is ``elo`` with standard error ``se`` (Elo)."""
    share = share_of_elo(elo)
    share_se = se * share * (1 - share) * math.log(10) / 400
    return MatchEdge(a, b, kind, 1, 100, share, share_se)  # type: ignore[arg-type]


def scores_with_share(share: float, deals: int, *, spread: float, seed: int = 0):
    """Per-deal mean scores whose per-deal shares scatter around ``share``."""
    rng = np.random.default_rng(seed)
    s = np.clip(share + spread * rng.standard_normal(deals), 0.01, 0.99)
    b = rng.uniform(2.0, 8.0, deals)
    return s * b / (1 - s), b  # a / (a + b) = s


def test_a_share_of_three_quarters_is_190_8_elo_and_half_is_even():
    assert elo_of_share(0.75) == pytest.approx(190.849, abs=1e-3)
    assert elo_of_share(0.25) == pytest.approx(-190.849, abs=1e-3)
    assert elo_of_share(0.5) == 0.0
    assert share_of_elo(elo_of_share(0.7)) == pytest.approx(0.7)


def test_shares_near_0_or_1_are_clipped_to_a_finite_difference():
    most = elo_of_share(1 - SHARE_CLIP)
    assert elo_of_share(1.0) == most and elo_of_share(0.0) == pytest.approx(-most)
    assert math.isfinite(most) and 790 < most < 800


def test_the_paired_share_is_the_mean_of_per_deal_shares():
    # deal 1: 3 against 1 (0.75); deal 2: 1 against 1 (0.5); deal 3: nobody scores (0.5)
    share, se = paired_share([3.0, 1.0, 0.0], [1.0, 1.0, 0.0])
    assert share == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    assert se == pytest.approx(np.std([0.75, 0.5, 0.5], ddof=1) / math.sqrt(3))
    assert paired_share([3.0], [1.0]) == (0.75, math.inf)  # one deal: no interval


def test_identical_deals_still_have_a_positive_standard_error():
    share, se = paired_share([2.0] * 16, [2.0] * 16)
    assert share == 0.5 and se == pytest.approx(MIN_DEAL_SD / 4)


def test_the_interval_of_a_match_shrinks_with_more_deals():
    few = MatchEdge.from_scores("a", "b", *scores_with_share(0.7, 50, spread=0.2), kind="arena",
                                iteration=1)  # fmt: skip
    many = MatchEdge.from_scores("a", "b", *scores_with_share(0.7, 800, spread=0.2),
                                 kind="arena", iteration=1)  # fmt: skip
    assert few.elo == pytest.approx(elo_of_share(0.7), abs=40)
    assert many.elo == pytest.approx(elo_of_share(0.7), abs=12)
    assert many.ci95 < few.ci95 / 3  # ~ 1 / sqrt(16)
    # The delta method: 1.96 * 400 / ln 10 * se / (s (1 - s)).
    s = many.share
    assert many.ci95 == pytest.approx(1.96 * 400 / math.log(10) * many.share_se / (s * (1 - s)))


def test_the_anchor_is_zero_exactly_and_one_edge_gives_its_own_difference():
    ratings = fit_ratings([edge("heuristic", "random", 240.0, 20.0, kind="gauntlet")])
    assert ratings.get("random").elo == 0.0 and ratings.get("random").ci95 == 0.0
    heuristic = ratings.get("heuristic")
    assert heuristic.elo == pytest.approx(240.0)
    assert heuristic.ci95 == pytest.approx(1.96 * 20.0)


def test_ratings_chain_along_edges():
    x, y = 60.0, 150.0
    ratings = fit_ratings([edge("iter_2", "iter_1", x, 10.0), edge("iter_1", "random", y, 20.0)])
    assert ratings.get("iter_1").elo == pytest.approx(y)
    assert ratings.get("iter_2").elo == pytest.approx(x + y)
    assert ratings.get("iter_2").ci95 == pytest.approx(1.96 * math.hypot(10.0, 20.0))


def test_two_edges_between_the_same_players_combine_by_inverse_variance():
    ratings = fit_ratings(
        [edge("heuristic", "random", 200.0, 10.0), edge("random", "heuristic", -260.0, 20.0)]
    )
    w1, w2 = 1 / 10.0**2, 1 / 20.0**2
    assert ratings.get("heuristic").elo == pytest.approx((w1 * 200 + w2 * 260) / (w1 + w2))
    assert ratings.get("heuristic").ci95 == pytest.approx(1.96 / math.sqrt(w1 + w2))


def test_another_anchor_shifts_every_rating_by_one_constant():
    edges = [
        edge("iter_1", "random", 100.0, 15.0),
        edge("iter_2", "iter_1", 40.0, 12.0),
        edge("iter_2", "heuristic", -30.0, 18.0),
        edge("heuristic", "random", 190.0, 25.0),  # a cycle: the fit is a compromise
    ]
    by_random = fit_ratings(edges)
    by_heuristic = fit_ratings(edges, anchor="heuristic")
    shift = by_random.get("heuristic").elo
    for player in ("random", "heuristic", "iter_1", "iter_2"):
        assert by_heuristic.get(player).elo == pytest.approx(by_random.get(player).elo - shift)


def test_players_not_connected_to_the_anchor_have_no_rating():
    ratings = fit_ratings(
        [edge("iter_1", "random", 50.0, 10.0), edge("iter_3", "iter_2", 20.0, 10.0)],
        players=["ismcts:1000"],
    )
    assert ratings.get("iter_1").elo == pytest.approx(50.0)
    for player in ("iter_2", "iter_3", "ismcts:1000", "never_seen"):
        r = ratings.get(player)
        assert r.elo is None and r.ci95 is None
    assert ratings.get("iter_3").matches == 1


def test_an_edge_of_one_deal_is_kept_but_not_fitted():
    one = MatchEdge.from_scores("iter_1", "random", [4.0], [1.0], kind="gauntlet", iteration=1)
    assert not one.fitted and one.deals == 1
    assert fit_ratings([one]).get("iter_1").elo is None


def test_the_ledger_refits_and_round_trips_through_json():
    ledger = RatingLedger(players=["heuristic"])
    assert ledger.get("heuristic").elo is None
    ledger.add([edge(checkpoint_player(1), "random", 80.0, 10.0)])
    ledger.add([edge(checkpoint_player(1), "heuristic", -20.0, 10.0, kind="gauntlet")])
    assert ledger.get("heuristic").elo == pytest.approx(100.0)
    assert [r.player for r in ledger.fixed_agents()] == ["random", "heuristic"]
    ledger.add([MatchEdge.from_scores("iter_2", "iter_1", [1.0], [1.0], kind="arena",
                                      iteration=2)])  # fmt: skip
    stored = json.loads(json.dumps(ledger.to_list(), allow_nan=False))
    again = RatingLedger.from_list(stored, players=["heuristic"])
    assert again.edges == ledger.edges
    assert again.ratings == ledger.ratings
