"""Fitting the learned rollout rule (``search.rollout: learned``) to the search's own choices.

The rule scores every legal card linearly (:mod:`blobrl.mcts.rollout`); here its
``NUM_WEIGHTS`` weights are fitted by cross-entropy to the visit shares of the newest self-play
card decisions (:mod:`blobrl.replay.decisions`), a softmax regression that L-BFGS solves in
seconds. The rule is what every seat of a rollout plays, so the better it predicts the search,
the closer the rollouts are to how the table plays. A fit replaces the rule only when it
predicts held-out decisions better than the rule in use (lower cross-entropy); each iteration's
fit starts from the rule in use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from blobrl.mcts.rollout import BASE, CONTEXTS, F_HIGHEST, F_RANK, F_WINS, NUM_WEIGHTS
from blobrl.replay.decisions import CardDecisions

MIN_DECISIONS = 1000  # fewer and the rule in use is kept (120 weights to fit)
HOLDOUT = 0.2  # share of the decisions the fit is judged on
L2 = 1e-4  # on the weights' distance from the rule the fit starts from


@dataclass(frozen=True)
class RolloutFit:
    """What one fit found. Agreements: held-out decisions where the rule's card is the search's
    most visited one."""

    weights: np.ndarray  # float64[NUM_WEIGHTS]: the rule to use from now on
    adopted: bool  # the fit replaced the rule in use
    decisions: int  # decisions fitted and judged on
    agreement: float  # of the rule to use
    previous_agreement: float  # of the rule in use before
    cross_entropy: float  # held out, of the rule to use (nats)
    seconds: float


def _scores(w: torch.Tensor, x: torch.Tensor, block: torch.Tensor, share: torch.Tensor):
    """Scores ``[D, MAX_LEGAL]`` of every card slot under weights ``w``."""
    blocks = w[: BASE * CONTEXTS].view(CONTEXTS, BASE)[block]  # [D, BASE]
    extra = w[BASE * CONTEXTS :]  # [EXTRA]
    z = (x * blocks[:, None, :]).sum(-1)
    shared = x[..., [F_WINS, F_HIGHEST, F_RANK]] @ extra  # [D, MAX_LEGAL]
    return z + share[:, None] * shared


def _tensors(rows: CardDecisions):
    return (
        torch.from_numpy(rows.features.astype(np.float64)),
        torch.from_numpy(rows.block),
        torch.from_numpy(rows.share.astype(np.float64)),
        torch.from_numpy(rows.legal),
        torch.from_numpy(rows.target.astype(np.float64)),
    )


def _judge(w: torch.Tensor, rows) -> tuple[float, float]:
    """(cross-entropy, agreement) of weights ``w`` on tensors ``rows``."""
    x, block, share, legal, target = rows
    z = _scores(w, x, block, share).masked_fill(~legal, -1e30)
    ce = -(target * torch.log_softmax(z, 1)).sum(1).mean()
    agree = (z.argmax(1) == target.argmax(1)).double().mean()
    return float(ce), float(agree)


def fit_rollout(
    rows: CardDecisions, start: np.ndarray, *, seed: int = 0, max_iter: int = 200
) -> RolloutFit:
    """Fit the rule to ``rows`` from weights ``start`` (the rule in use)."""
    began = time.perf_counter()
    start = np.asarray(start, np.float64)
    if start.shape != (NUM_WEIGHTS,):
        raise ValueError(f"start must hold {NUM_WEIGHTS} weights, got shape {start.shape}")
    n = len(rows)
    if n < MIN_DECISIONS:
        return RolloutFit(start.copy(), False, n, float("nan"), float("nan"), float("nan"), 0.0)
    order = np.random.default_rng(seed).permutation(n)
    cut = int(n * (1 - HOLDOUT))
    train, held = _tensors(rows.take(order[:cut])), _tensors(rows.take(order[cut:]))
    w0 = torch.from_numpy(start.copy())
    w = w0.clone().requires_grad_(True)
    x, block, share, legal, target = train
    opt = torch.optim.LBFGS([w], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        z = _scores(w, x, block, share).masked_fill(~legal, -1e30)
        loss = -(target * torch.log_softmax(z, 1)).sum(1).mean() + L2 * ((w - w0) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    fitted = w.detach()
    ce_new, agree_new = _judge(fitted, held)
    ce_old, agree_old = _judge(w0, held)
    adopted = bool(np.isfinite(ce_new) and ce_new < ce_old)
    return RolloutFit(
        weights=(fitted if adopted else w0).numpy().copy(),
        adopted=adopted,
        decisions=n,
        agreement=agree_new if adopted else agree_old,
        previous_agreement=agree_old,
        cross_entropy=ce_new if adopted else ce_old,
        seconds=round(time.perf_counter() - began, 3),
    )
