"""What every blobrl network is: information state in, policy logits and seat values out."""

from __future__ import annotations

import torch
from torch import nn

from blobrl.game import MAX_PLAYERS, NUM_ACTIONS
from blobrl.game import encoding as enc
from blobrl.game.core import MAX_CARDS
from blobrl.mcts.rollout import GREEDY_WEIGHTS
from blobrl.nn.config import NetworkConfig
from blobrl.nn.cpu import cpu_inference, seat_values_cpu

TRICK_CLASSES = MAX_CARDS + 1  # tricks still to take from a position: 0..12

# Large enough that softmax gives exactly zero, small enough that ``0 * fill`` stays finite
# (``-inf`` would turn an entropy or a cross-entropy term into NaN).
_ILLEGAL_LOGIT = -1e9

# Log-probabilities below this are treated as probability 0. ATen's vectorized exp() leaves its
# fast path for inputs whose result underflows: a [384, 8, 13] tensor holding impossible trick
# counts (log-probability about -1e9) took 15x longer than one without, a quarter of a small
# network's forward pass. exp(-80) is still a normal float32.
_LOG_ZERO = -80.0


class BlobNet(nn.Module):
    """Policy-value network over the information-state vector of :mod:`blobrl.game.encoding`.

    ``forward(features)`` takes ``float32[B, FEATURES]`` and returns

    * ``policy_logits``: ``[B, NUM_ACTIONS]`` (65: cards 0..51, then bids 0..12), unmasked;
    * ``values``: ``[B, MAX_PLAYERS]`` in [0, 1], one per relative seat (0 = the acting player),
      the expected final score of that seat normalized to [0, 1]. Entries for seats that do not
      exist at this table size are meaningless and must be ignored by the caller.

    With ``value_head: tricks`` (the default) the network predicts, for every relative seat, the
    distribution of the number of tricks it will still take (:meth:`heads`), and the values are
    derived from it and the bids in the features (:func:`values_from_tricks`); with ``direct``
    a sigmoid head regresses the values themselves.

    The buffer ``rollout_weights`` is the card-play rule the information-set search plays its
    rollouts with (``search.rollout: learned``, :mod:`blobrl.mcts.rollout`), fitted by the learner
    to the search's own choices (:mod:`blobrl.learner.rollout_fit`), not by gradient steps. It
    travels with the weights (published, checkpointed, loaded by model agents); a new network and
    a checkpoint written before it existed hold ``GREEDY_WEIGHTS``, the greedy rule.
    """

    num_actions = NUM_ACTIONS
    num_seats = MAX_PLAYERS
    rollout_weights: torch.Tensor  # float64[rollout.NUM_WEIGHTS], a buffer

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("rollout_weights", torch.tensor(GREEDY_WEIGHTS, dtype=torch.float64))
        self._register_load_state_dict_pre_hook(_greedy_rollout_if_missing)

    def heads(
        self, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(policy_logits[B, 65], values[B, 8], trick_log_probs[B, 8, 13] or None)``.

        ``trick_log_probs[b, r, t]`` is the log-probability that relative seat ``r`` takes ``t``
        more tricks from this position (impossible counts have probability 0); None for a
        network with a direct value head."""
        raise NotImplementedError

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, values, _ = self.heads(features)
        return logits, values

    def _build_value_output(self, width: int, seats: int) -> None:
        """The last layer of the value head, from ``width`` features to ``seats`` seats' worth
        of outputs: 13 trick-count logits each (``value_head: tricks``, as ``trick_out``) or one
        value logit each (``direct``, as ``value_out``). Zeroed: every possible trick count
        starts equally likely, every direct value at sigmoid(0) = 0.5."""
        per_seat = TRICK_CLASSES if self.config.value_head == "tricks" else 1
        layer = nn.Linear(width, seats * per_seat)
        init_value_output(layer)
        if self.config.value_head == "tricks":
            self.trick_out = layer
        else:
            self.value_out = layer

    def _seat_values(
        self, hidden: torch.Tensor, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(values[B, 8], trick_log_probs[B, 8, 13] or None)`` from the value head's last
        hidden layer: ``[B, H]`` for all seats at once or ``[B, 8, H]``, one row per seat."""
        if self.config.value_head == "direct":
            return torch.sigmoid(self.value_out(hidden).view(-1, MAX_PLAYERS)), None
        logits = self.trick_out(hidden)
        if cpu_inference(logits, features):  # the same arithmetic in one numba pass
            return seat_values_cpu(logits, features, self.config.scoring, _ILLEGAL_LOGIT)
        logits = logits.view(-1, MAX_PLAYERS, TRICK_CLASSES)
        log_probs = trick_log_probs(logits, features)
        return values_from_tricks(log_probs, features, self.config.scoring), log_probs


def _greedy_rollout_if_missing(state_dict, prefix, *_args) -> None:
    """Weights saved before networks carried a rollout rule load with the greedy one."""
    state_dict.setdefault(prefix + "rollout_weights", torch.tensor(GREEDY_WEIGHTS))


def masked_logits(logits: torch.Tensor, legal_mask: torch.Tensor) -> torch.Tensor:
    """``logits[B, A]`` with every entry where ``legal_mask[B, A]`` (bool) is False set to a large
    finite negative, so that a softmax gives illegal actions probability exactly 0."""
    fill = max(_ILLEGAL_LOGIT, torch.finfo(logits.dtype).min)
    return logits.masked_fill(~legal_mask, fill)


def init_value_output(layer: nn.Linear) -> None:
    """Zero the last value layer so that the search starts from "no opinion" (values of 0.5,
    or equally likely trick counts) instead of random, confident values."""
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)


def init_policy_output(layer: nn.Linear) -> None:
    """Small last policy layer: near-uniform initial priors over the legal actions."""
    nn.init.normal_(layer.weight, std=0.01)
    nn.init.zeros_(layer.bias)


def trick_log_probs(trick_logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """``trick_logits[B, 8, 13]`` -> log-probabilities over the tricks each seat still takes,
    with the counts above the tricks left in the hand (C - tricks played) impossible."""
    c = _num_cards(features)  # [B]
    left = c - torch.round(features[:, enc.OFF_SCALARS] * c)  # [B] tricks not yet completed
    counts = torch.arange(TRICK_CLASSES, device=features.device, dtype=features.dtype)
    possible = counts[None, None, :] <= left[:, None, None]  # [B, 1, 13]
    fill = max(_ILLEGAL_LOGIT, torch.finfo(trick_logits.dtype).min)
    return torch.log_softmax(trick_logits.masked_fill(~possible, fill), dim=-1)


def values_from_tricks(
    log_probs: torch.Tensor, features: torch.Tensor, scoring: str = "blob"
) -> torch.Tensor:
    """Seat values ``[B, 8]`` in [0, 1] from the trick distributions ``log_probs[B, 8, 13]``.

    A seat that has bid scores when its final tricks equal the bid: under ``blob`` its value is
    ``P(exact) * (10 + bid) / (10 + C)``, under ``oh_hell`` ``(won + E[more] + 10 P(exact)) /
    (10 + C)``. A seat that has not bid yet (it has won no trick either) is valued at its best
    bid: the maximum of the same expression over the bids.
    """
    log_probs = log_probs.float()
    probs = torch.where(log_probs > _LOG_ZERO, log_probs.clamp_min(_LOG_ZERO).exp(), 0.0)
    feats = features.float()
    c = _num_cards(feats)[:, None]  # [B, 1]
    cols = enc.OFF_SEATS + enc.SEAT_FEATURES * torch.arange(MAX_PLAYERS, device=features.device)
    has_bid = feats[:, cols + enc.SEAT_HAS_BID] > 0.5  # [B, 8]
    bid = torch.round(feats[:, cols + enc.SEAT_BID] * c)  # [B, 8]
    won = torch.round(feats[:, cols + enc.SEAT_TRICKS] * c)  # [B, 8]
    norm = 10.0 + c  # [B, 1]
    need = bid - won  # [B, 8] more tricks that make the bid exactly
    reachable = has_bid & (need >= 0) & (need < TRICK_CLASSES)
    index = need.clamp(0, TRICK_CLASSES - 1).long()[..., None]  # [B, 8, 1]
    p_exact = torch.where(reachable, probs.gather(2, index).squeeze(2), 0.0)  # [B, 8]
    counts = torch.arange(TRICK_CLASSES, device=features.device, dtype=torch.float32)
    if scoring == "blob":
        bid_value = p_exact * (10.0 + bid) / norm
        best = (probs * (10.0 + counts) / norm[:, :, None]).amax(dim=2)  # [B, 8]
    elif scoring == "oh_hell":
        expected = (probs * counts).sum(dim=2)  # [B, 8]
        bid_value = (won + expected + 10.0 * p_exact) / norm
        best = (won + expected + 10.0 * probs.amax(dim=2)) / norm
    else:
        raise ValueError(f"unknown scoring {scoring!r}")
    return torch.where(has_bid, bid_value, best).clamp(0.0, 1.0)


def _num_cards(features: torch.Tensor) -> torch.Tensor:
    """C of each position, from the one-hot at ``OFF_C``: ``[B]``."""
    sizes = torch.arange(1, MAX_CARDS + 1, device=features.device, dtype=features.dtype)
    return features[:, enc.OFF_C : enc.OFF_C + MAX_CARDS] @ sizes
