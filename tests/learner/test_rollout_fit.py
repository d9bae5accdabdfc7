"""Fitting the learned rollout rule: a known rule is recovered, and a fit never makes it worse."""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.learner.rollout_fit import MIN_DECISIONS, fit_rollout
from blobrl.mcts import rollout
from blobrl.replay import CardDecisions


def _decisions(weights: np.ndarray, count: int, seed: int) -> CardDecisions:
    """``count`` random card decisions whose targets are the softmax of ``weights``' scores."""
    rng = np.random.default_rng(seed)
    rows = CardDecisions.empty(count)
    m = rng.integers(2, rollout.MAX_LEGAL + 1, size=count)
    rows.legal[:] = np.arange(rollout.MAX_LEGAL)[None, :] < m[:, None]
    rows.features[:] = (rng.random(rows.features.shape) < 0.4) * rows.legal[:, :, None]
    rows.block[:] = rng.integers(0, rollout.CONTEXTS, size=count)
    rows.share[:] = rng.random(count)
    blocks = weights[: rollout.BASE * rollout.CONTEXTS].reshape(rollout.CONTEXTS, rollout.BASE)
    z = (rows.features * blocks[rows.block][:, None, :]).sum(-1)
    extra = weights[rollout.BASE * rollout.CONTEXTS :]
    z += rows.share[:, None] * (rows.features[..., [0, 4, 6]] @ extra)
    z = np.where(rows.legal, z, -np.inf)
    p = np.exp(z - z.max(1, keepdims=True))
    rows.target[:] = p / p.sum(1, keepdims=True)
    return rows


def test_a_known_rule_is_recovered_from_its_choices():
    truth = np.random.default_rng(1).normal(scale=2.0, size=rollout.NUM_WEIGHTS)
    rows = _decisions(truth, 6000, seed=2)
    fit = fit_rollout(rows, rollout.GREEDY_WEIGHTS)
    assert fit.adopted and fit.decisions == 6000
    assert fit.agreement > 0.9 > fit.previous_agreement + 0.3
    assert np.corrcoef(fit.weights, truth)[0, 1] > 0.95
    # fresh decisions of the same rule: the fitted weights pick the rule's card
    fresh = _decisions(truth, 2000, seed=3)
    refit = fit_rollout(fresh, fit.weights)
    assert refit.previous_agreement > 0.9


def test_the_rule_in_use_is_kept_when_the_fit_cannot_beat_it():
    uniform = np.zeros(rollout.NUM_WEIGHTS)  # every legal card equally likely
    kept = fit_rollout(_decisions(uniform, 1000, seed=5), uniform)
    assert not kept.adopted and np.array_equal(kept.weights, uniform)
    assert kept.agreement == kept.previous_agreement
    truth = np.random.default_rng(4).normal(scale=2.0, size=rollout.NUM_WEIGHTS)
    few = fit_rollout(_decisions(truth, MIN_DECISIONS - 1, seed=6), uniform)
    assert not few.adopted and np.array_equal(few.weights, uniform)


def test_start_weights_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match="120 weights"):
        fit_rollout(_decisions(rollout.GREEDY_WEIGHTS, 300, seed=7), np.zeros(7))
