"""The network's reading of the person's decision: its policy over the legal actions, its
value and its trick distribution, from the person's information state only."""

from __future__ import annotations

import numpy as np

from blobrl.agents import Agent, ModelAgent
from blobrl.api.play.errors import Refused
from blobrl.api.play.models import ActionOdds, ModelView
from blobrl.game import BlobState, action_name, encode


def model_view(agent: Agent, state: BlobState, seat: int) -> ModelView:
    """What the agent's network makes of ``seat``'s decision in ``state``; :class:`Refused`
    when it is not that seat's turn or the agent has no network."""
    if state.is_terminal():
        raise Refused("the hand is over: there is no decision to read")
    if state.current_player != seat:
        raise Refused(f"it is seat {state.current_player}'s turn, not yours")
    model = getattr(getattr(agent, "evaluator", None), "model", None)
    if not isinstance(agent, ModelAgent) or not callable(getattr(model, "heads", None)):
        raise Refused("this agent has no network to read")
    assert model is not None
    import torch  # the network's package, loaded with the checkpoint

    features = torch.from_numpy(encode(state, seat)[None, :])  # [1, FEATURES]
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits, values, trick_log_probs = model.heads(features.to(device))
    legal = state.legal_actions()
    scores = logits[0].float().cpu().numpy()[legal].astype(np.float64)  # [L]
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    policy = sorted(
        (ActionOdds(action=a, name=action_name(a), probability=float(p))
         for a, p in zip(legal, probs, strict=True)),
        key=lambda o: -o.probability,
    )  # fmt: skip
    value = float(values[0, 0])  # relative seat 0: the person
    tricks = None
    if trick_log_probs is not None:
        won = state.tricks_won[seat]
        more = trick_log_probs[0, 0].float().exp().cpu().numpy()  # [13]: tricks still taken
        final = np.zeros(state.num_cards + 1)
        left = state.num_cards - won
        final[won:] = more[: left + 1]
        tricks = [float(p) for p in final / max(final.sum(), 1e-12)]
    return ModelView(
        seat=seat,
        phase="bidding" if state.phase == "bidding" else "play",
        policy=policy,
        value=value,
        expected_score=value * (10 + state.num_cards),
        tricks=tricks,
    )
