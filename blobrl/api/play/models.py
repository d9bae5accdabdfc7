"""Request and response models of the play routes (``/api/play/...``): the OpenAPI contract of
a person's game against a checkpoint. Ids follow RULES.md: card = suit * 13 + rank, action
52 + b bids b."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from blobrl.game import MAX_CARDS, NUM_ACTIONS, GameError, check_deal_size
from blobrl.game.core import MAX_PLAYERS, MIN_PLAYERS
from blobrl.telemetry.names import finite_or_none

Finite = Annotated[float | None, BeforeValidator(finite_or_none)]
Phase = Literal["bidding", "play", "over"]

CHECKPOINT_PATTERN = r"^(best_model|iter_\d{1,9})\.pt$"
# raw | KxS[-puct|-gumbel] | isS, as the suffix of an agent spec (blobrl.agents.load)
SEARCH_PATTERN = r"^(raw|[1-9]\d?x[1-9]\d{0,3}(-puct|-gumbel)?|is[1-9]\d{0,4})$"
# Simulations one model decision may cost (K x S, or S of an information-set search): a person
# waits for every model seat, and the server's CPU is shared with whatever else it runs.
MAX_SIMULATIONS = 4096


class _Request(BaseModel):
    # Unknown fields and loose types (false for 0, "3" for 3) are refused, not guessed at.
    model_config = ConfigDict(extra="forbid", strict=True)


class NewSession(_Request):
    """A hand (or a full game) against the checkpoint's agent in every other seat."""

    checkpoint: str | None = Field(
        None,
        pattern=CHECKPOINT_PATTERN,
        description="a file of the run's checkpoints/ (GET /api/play/checkpoints); "
        "default: best_model.pt, else the newest iter_*.pt",
        examples=["best_model.pt", "iter_000012.pt"],
    )
    players: int = Field(4, ge=MIN_PLAYERS, le=MAX_PLAYERS, description="seats at the table")
    cards: int = Field(
        5,
        ge=1,
        le=MAX_CARDS,
        description="cards per hand (the most cards of a full game); players x cards <= 52",
    )
    full_game: bool = Field(
        False, description="every round C, C-1, .., 1, .., C with running totals (RULES.md)"
    )
    seat: int = Field(0, ge=0, le=MAX_PLAYERS - 1, description="the person's seat, 0..players-1")
    search: str | None = Field(
        None,
        pattern=SEARCH_PATTERN,
        description="how the model searches each decision: raw (its policy), KxS, KxS-puct or "
        f"isS, at most {MAX_SIMULATIONS} simulations; default: as `python -m blobrl.play "
        "--model CHECKPOINT` (the run's evaluation search)",
        examples=["raw", "3x30", "is800"],
    )
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="deals and search; default: drawn at random"
    )

    @model_validator(mode="after")
    def _fits(self) -> NewSession:
        try:
            check_deal_size(self.players, self.cards)
        except GameError as e:
            raise ValueError(str(e)) from None
        if self.seat >= self.players:
            raise ValueError(f"seat must be 0..{self.players - 1}, got {self.seat}")
        if self.search is not None and _simulations(self.search) > MAX_SIMULATIONS:
            raise ValueError(
                f"search {self.search!r} costs {_simulations(self.search)} simulations per "
                f"decision; at most {MAX_SIMULATIONS}"
            )
        return self


def _simulations(search: str) -> int:
    numbers = [int(n) for n in re.findall(r"\d+", search)]
    product = 1
    for n in numbers:
        product *= n
    return product if numbers else 0


class Move(_Request):
    action: int = Field(
        ge=0,
        lt=NUM_ACTIONS,
        description="0..51 play that card (suit * 13 + rank), 52 + b bid b",
        examples=[12, 54],
    )


class CheckpointInfo(BaseModel):
    name: str = Field(description="file name under the run's checkpoints/")
    iteration: int | None = Field(
        description="the iteration that wrote it (for best_model.pt, the one promoted)"
    )
    best: bool = Field(description="the run's best model (best_model.pt)")
    modified: float = Field(description="Unix time the file was written")


class CheckpointList(BaseModel):
    run_dir: str | None = Field(description="the run directory the API plays from; null: none")
    default: str | None = Field(description="what a new session plays without a checkpoint")
    checkpoints: list[CheckpointInfo] = Field(description="best first, then newest first")


class Card(BaseModel):
    id: int = Field(description="suit * 13 + rank")
    name: str = Field(description="rank and suit symbol, e.g. 10♥")
    suit: int = Field(description="0..3: clubs, diamonds, hearts, spades")
    rank: int = Field(description="0..12: 2 .. ace")


class PlayedCard(BaseModel):
    seat: int
    card: Card


class Trick(BaseModel):
    number: int = Field(description="1-based")
    leader: int
    cards: list[PlayedCard] = Field(description="in the order played")
    winner: int | None = Field(description="null while the trick is in progress")


class MoveRecord(BaseModel):
    seat: int
    action: int
    name: str = Field(description="'bid 2' or a card name")


class SeatInfo(BaseModel):
    seat: int
    name: str = Field(description="'You' or 'Model N'")
    you: bool
    bid: int | None = Field(description="null until the seat has bid")
    tricks: int = Field(description="tricks taken this hand")
    score: int | None = Field(description="this hand's score; null until the hand is over")
    total: int | None = Field(description="full game: the running total; null for one hand")


class RoundResult(BaseModel):
    round: int = Field(description="1-based")
    cards: int
    dealer: int
    trump: int | None
    scores: list[int]


class GameProgress(BaseModel):
    round: int = Field(description="1-based round now dealt")
    rounds: int
    max_cards: int
    totals: list[int] = Field(description="per seat, over the finished rounds")
    results: list[RoundResult] = Field(description="the finished rounds")
    over: bool = Field(description="every round has been played")


class PlayState(BaseModel):
    """Everything the person may see: their own hand, the public facts, whose turn it is."""

    session_id: str
    checkpoint: str = Field(description="the checkpoint file the model seats play")
    agent: str = Field(description="the agent spec's name, with its search suffix")
    seed: int = Field(description="replays the same deals with the same settings")
    players: int
    cards: int = Field(description="cards per hand of this hand")
    seat: int = Field(description="the person's seat")
    dealer: int
    trump: int | None = Field(description="the trump suit 0..3; null: no trump")
    trump_name: str = Field(description="e.g. '♠ spades' or 'no trump'")
    turned_up: Card | None = None
    phase: Phase
    to_act: int | None = Field(description="the seat to act; null when the hand is over")
    your_turn: bool
    hand: list[Card] = Field(description="the person's cards by suit (trump first), high to low")
    legal: list[int] = Field(description="action ids the person may take now (empty otherwise)")
    seats: list[SeatInfo]
    trick: Trick | None = Field(description="the trick on the table; null before the first lead")
    tricks: list[Trick] = Field(description="the finished tricks of this hand, in order")
    moves: list[MoveRecord] = Field(description="every action of this hand, in order")
    scores: list[int] | None = Field(description="this hand's scores; null until it is over")
    game: GameProgress | None = Field(description="full game only")
    finished: bool = Field(description="the hand is over (for a full game: see game.over)")


class ActionOdds(BaseModel):
    action: int
    name: str
    probability: float = Field(description="the network's policy, over the legal actions")


class ModelView(BaseModel):
    """The network's reading of the person's decision, from what the person knows."""

    seat: int
    phase: Literal["bidding", "play"]
    policy: list[ActionOdds] = Field(description="legal actions, most likely first")
    value: Finite = Field(description="expected final score / (10 + cards), 0..1")
    expected_score: Finite = Field(description="value in points")
    tricks: list[float] | None = Field(
        description="probability of each final trick count 0..cards for the person (the "
        "network's trick head); null for a network without one"
    )
