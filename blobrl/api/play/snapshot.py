"""A session as the person sees it: :class:`PlayState` (own hand, public facts, turn)."""

from __future__ import annotations

from blobrl.api.play.models import (
    Card,
    GameProgress,
    MoveRecord,
    PlayedCard,
    PlayState,
    RoundResult,
    SeatInfo,
    Trick,
)
from blobrl.api.play.session import Session, TrickRecord, replay
from blobrl.game import action_name, card_name
from blobrl.game.names import SUIT_NAMES, SUIT_SYMBOLS

# Suits in a hand, after the trump: black and red alternate.
SUIT_ORDER = (3, 2, 0, 1)


def card(card_id: int) -> Card:
    return Card(id=card_id, name=card_name(card_id), suit=card_id // 13, rank=card_id % 13)


def sorted_hand(cards: list[int], trump: int | None) -> list[int]:
    """Grouped by suit, the trump first, then spades, hearts, clubs, diamonds; high to low."""
    order = ([trump] if trump is not None else []) + [s for s in SUIT_ORDER if s != trump]
    return sorted(cards, key=lambda c: (order.index(c // 13), -c))


def trump_name(trump: int | None) -> str:
    return "no trump" if trump is None else f"{SUIT_SYMBOLS[trump]} {SUIT_NAMES[trump]}"


def seat_name(seat: int, you: int) -> str:
    return "You" if seat == you else f"Model {seat}"


def describe(session: Session) -> PlayState:
    state, you, game = session.state, session.seat, session.game
    over = state.is_terminal()
    moves, tricks = replay(state)
    done = [t for t in tricks if t.winner is not None]
    table = tricks[-1] if tricks and tricks[-1].winner is None else None
    scores = state.scores() if over else None
    turn = not over and state.current_player == you
    seats = [
        SeatInfo(
            seat=p,
            name=seat_name(p, you),
            you=p == you,
            bid=state.bids[p],
            tricks=state.tricks_won[p],
            score=None if scores is None else scores[p],
            total=None if game is None else game.totals[p],
        )
        for p in range(state.num_players)
    ]
    return PlayState(
        session_id=session.id,
        checkpoint=session.checkpoint,
        agent=str(getattr(session.agent, "name", type(session.agent).__name__)),
        seed=session.seed,
        players=state.num_players,
        cards=state.num_cards,
        seat=you,
        dealer=state.dealer,
        trump=state.trump,
        trump_name=trump_name(state.trump),
        turned_up=None if state.turned_up is None else card(state.turned_up),
        phase="over" if over else "bidding" if state.phase == "bidding" else "play",
        to_act=None if over else state.current_player,
        your_turn=turn,
        hand=[card(c) for c in sorted_hand(state.hand(you), state.trump)],
        legal=state.legal_actions() if turn else [],
        seats=seats,
        trick=None if table is None else _trick(table),
        tricks=[_trick(t) for t in done],
        moves=[MoveRecord(seat=s, action=a, name=action_name(a)) for s, a in moves],
        scores=scores,
        game=None if game is None else _progress(session),
        finished=over,
    )


def _trick(record: TrickRecord) -> Trick:
    return Trick(
        number=record.number,
        leader=record.leader,
        cards=[PlayedCard(seat=s, card=card(c)) for s, c in record.cards],
        winner=record.winner,
    )


def _progress(session: Session) -> GameProgress:
    game = session.game
    assert game is not None
    return GameProgress(
        round=session.round_number,
        rounds=len(game.rounds),
        max_cards=game.max_cards,
        totals=list(game.totals),
        results=[
            RoundResult(
                round=r.number + 1,
                cards=r.cards,
                dealer=r.dealer,
                trump=trump,
                scores=scores,
            )
            for r, (trump, scores) in zip(game.rounds, session.results, strict=False)
        ],
        over=game.is_over(),
    )
