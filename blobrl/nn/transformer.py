"""Transformer over card, seat and global tokens built from the information-state layout.

Tokens (61 per position, width ``embed``):

* 52 card tokens: a learned card-id embedding plus a projection of where the card is as the
  acting player sees it: in hand, turned up, played by relative seat r (8), in the current trick
  by relative seat r (8), and two derived flags, "of the trump suit" and "of the led suit";
* 8 seat tokens: a learned relative-seat embedding plus a projection of that seat's
  ``SEAT_FEATURES`` block (an absent seat has only its embedding and ``present = 0``);
* 1 global token: trump, led suit, phase, N, C and the scalars.

Card logits come from the card tokens (one per card), bid logits from the global token, and the
value (or the trick-count distribution) of relative seat r from seat token r.
"""

from __future__ import annotations

import torch
from torch import nn

from blobrl.game import MAX_PLAYERS, NUM_ACTIONS, NUM_CARDS
from blobrl.game.encoding import (
    FEATURES,
    OFF_HAND,
    OFF_LED,
    OFF_PLAYED,
    OFF_SEATS,
    OFF_TRICK,
    OFF_TRUMP,
    OFF_TURNUP,
    SEAT_FEATURES,
)
from blobrl.nn.base import BlobNet, init_policy_output
from blobrl.nn.config import NetworkConfig

NUM_SUITS = 4
NUM_BIDS = NUM_ACTIONS - NUM_CARDS  # 13
CARD_INPUTS = 2 + 2 * MAX_PLAYERS + 2  # hand, turn-up, played by r, in trick by r, trump, led
# Trump one-hot (5) plus everything from the led suit to the end: led (5), phase (2), N (6),
# C (12), scalars (4) are contiguous in the layout.
GLOBAL_INPUTS = 5 + (FEATURES - OFF_LED)
CARD_TOKENS = slice(0, NUM_CARDS)
SEAT_TOKENS = slice(NUM_CARDS, NUM_CARDS + MAX_PLAYERS)
GLOBAL_TOKEN = NUM_CARDS + MAX_PLAYERS


class CardTransformerNet(BlobNet):
    """Pre-norm TransformerEncoder over 61 tokens; see the module docstring for the tokens."""

    card_suits: torch.Tensor  # [52, 4] one-hot suit of each card id

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__(config)
        d = config.embed
        suits = torch.zeros(NUM_CARDS, NUM_SUITS)
        suits[torch.arange(NUM_CARDS), torch.arange(NUM_CARDS) // 13] = 1.0
        # Derived from the card ids, not learned: kept out of the state_dict.
        self.register_buffer("card_suits", suits, persistent=False)  # [52, 4]
        self.card_embed = nn.Parameter(torch.randn(NUM_CARDS, d) * 0.02)
        self.card_proj = nn.Linear(CARD_INPUTS, d)
        self.seat_embed = nn.Parameter(torch.randn(MAX_PLAYERS, d) * 0.02)
        self.seat_proj = nn.Linear(SEAT_FEATURES, d)
        self.global_proj = nn.Linear(GLOBAL_INPUTS, d)
        layer = nn.TransformerEncoderLayer(
            d,
            config.heads,
            dim_feedforward=config.ff_mult * d,
            dropout=config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, config.layers, norm=nn.LayerNorm(d), enable_nested_tensor=False
        )
        self.card_logit = nn.Linear(d, 1)
        self.bid_logits = nn.Linear(d, NUM_BIDS)
        self.value_hidden = nn.Linear(d, d)
        init_policy_output(self.card_logit)
        init_policy_output(self.bid_logits)
        self._build_value_output(d, 1)  # applied to each seat token

    def tokens(self, features: torch.Tensor) -> torch.Tensor:
        """``features[B, FEATURES]`` -> input tokens ``[B, 61, embed]`` (cards, seats, global)."""
        b = features.shape[0]
        hand = features[:, OFF_HAND : OFF_HAND + NUM_CARDS, None]  # [B, 52, 1]
        turnup = features[:, OFF_TURNUP : OFF_TURNUP + NUM_CARDS, None]  # [B, 52, 1]
        per_seat = MAX_PLAYERS * NUM_CARDS
        played = features[:, OFF_PLAYED : OFF_PLAYED + per_seat].view(b, MAX_PLAYERS, NUM_CARDS)
        trick = features[:, OFF_TRICK : OFF_TRICK + per_seat].view(b, MAX_PLAYERS, NUM_CARDS)
        suits_t = self.card_suits.t()  # [4, 52]
        is_trump = features[:, OFF_TRUMP : OFF_TRUMP + NUM_SUITS] @ suits_t  # [B, 52]
        is_led = features[:, OFF_LED : OFF_LED + NUM_SUITS] @ suits_t  # [B, 52]
        card_in = torch.cat(
            [
                hand,
                turnup,
                played.transpose(1, 2),  # [B, 52, 8]
                trick.transpose(1, 2),  # [B, 52, 8]
                is_trump[:, :, None],
                is_led[:, :, None],
            ],
            dim=2,
        )  # [B, 52, CARD_INPUTS]
        cards = self.card_proj(card_in) + self.card_embed  # [B, 52, D]
        seat_in = features[:, OFF_SEATS : OFF_SEATS + MAX_PLAYERS * SEAT_FEATURES]
        seats = self.seat_proj(seat_in.view(b, MAX_PLAYERS, SEAT_FEATURES)) + self.seat_embed
        global_in = torch.cat(
            [features[:, OFF_TRUMP : OFF_TRUMP + 5], features[:, OFF_LED:]], dim=1
        )  # [B, GLOBAL_INPUTS]
        glob = self.global_proj(global_in)[:, None, :]  # [B, 1, D]
        return torch.cat([cards, seats, glob], dim=1)

    def heads(
        self, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        h = self.encoder(self.tokens(features))  # [B, 61, D]
        card_logits = self.card_logit(h[:, CARD_TOKENS]).squeeze(-1)  # [B, 52]
        bid_logits = self.bid_logits(h[:, GLOBAL_TOKEN])  # [B, 13]
        logits = torch.cat([card_logits, bid_logits], dim=1)  # [B, 65]
        seat_h = torch.relu(self.value_hidden(h[:, SEAT_TOKENS]))  # [B, 8, D]
        values, log_probs = self._seat_values(seat_h, features)
        return logits, values, log_probs
