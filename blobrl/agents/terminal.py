"""A human at the terminal against agents: one hand or a full game.

:class:`TerminalGame` reads moves from ``stdin`` and writes to ``stdout`` (both injectable, so
tests drive it with a script). Moves are typed as a bid (``3``) or a card (``AS``, ``10h``,
``A♠``, ``td``); an illegal move is refused with the reason and asked again.
"""

from __future__ import annotations

import sys
from typing import TextIO

from blobrl.agents.base import Agent
from blobrl.agents.heuristic import trick_winner
from blobrl.game import BID_BASE, BlobState, FullGame, GameError, card_name, new_game, parse_card
from blobrl.game.names import SUIT_NAMES, SUIT_SYMBOLS

HUMAN = 0


class Quit(Exception):
    """The player asked to stop (``q``) or the input ended."""


def seat_name(seat: int) -> str:
    return "You" if seat == HUMAN else f"Player {seat}"


def trump_text(state: BlobState) -> str:
    if state.trump is None:
        return "no trump"
    text = f"{SUIT_SYMBOLS[state.trump]} {SUIT_NAMES[state.trump]}"
    if state.turned_up is not None:
        text += f" (turned up {card_name(state.turned_up)})"
    return text


def hand_text(cards: list[int], trump: int | None) -> str:
    """Cards grouped by suit, trump first, high to low: ``♠ A 10 4 | ♥ K 7``."""
    order = [trump] if trump is not None else []
    order += [s for s in (3, 2, 0, 1) if s != trump]
    groups = []
    for suit in order:
        held = sorted((c for c in cards if c // 13 == suit), reverse=True)
        if held:
            groups.append(SUIT_SYMBOLS[suit] + " " + " ".join(card_name(c)[:-1] for c in held))
    return "  |  ".join(groups) if groups else "(no cards)"


def parse_move(text: str, state: BlobState) -> int:
    """The action id the human means, or :class:`GameError` saying why it cannot be played."""
    word = text.strip()
    if state.phase == "bidding":
        if not word.isdigit():
            raise GameError(f"{word!r} is not a bid: type a number 0..{state.num_cards}")
        bid = int(word)
        if bid > state.num_cards:
            raise GameError(f"bids are 0..{state.num_cards} in a {state.num_cards}-card hand")
        if BID_BASE + bid not in state.legal_actions():
            done = sum(b for b in state.bids if b is not None)
            raise GameError(
                f"as dealer you may not bid {bid}: the bids would add up to {state.num_cards}, "
                f"the number of cards (the others bid {done} in all)"
            )
        return BID_BASE + bid
    if word.isdigit():
        raise GameError("bidding is over: play a card, e.g. AS or 10h")
    card = parse_card(word)
    seat = state.current_player
    if card not in state.hand(seat):
        raise GameError(f"you do not hold {card_name(card)}")
    if card not in state.legal_actions():
        led = state.led_suit
        assert led is not None
        follow = [c for c in state.hand(seat) if c // 13 == led]
        raise GameError(
            f"you must follow {SUIT_NAMES[led]}: play "
            + ", ".join(card_name(c) for c in sorted(follow, reverse=True))
        )
    return card


class TerminalGame:
    """Plays hands between the human (seat 0) and ``opponent`` in every other seat."""

    def __init__(
        self,
        opponent: Agent,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.opponent = opponent
        self.stdin = stdin or sys.stdin
        self.out = stdout or sys.stdout

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    # ---- one hand ---------------------------------------------------------------------------
    def play_hand(self, state: BlobState, *, title: str = "") -> list[int]:
        """Play ``state`` to its end; return the scores."""
        n = state.num_players
        self.say()
        self.say(
            f"=== {title}{n} players x {state.num_cards} cards, trump: {trump_text(state)}, "
            f"dealer: {seat_name(state.dealer)} ==="
        )
        while not state.is_terminal():
            seat = state.current_player
            before = state.tricks_played
            action = self._ask(state) if seat == HUMAN else int(self.opponent.act(state))
            trick = state.current_trick
            state.apply(action)
            if action >= BID_BASE:
                self.say(f"{seat_name(seat)} {'bid' if seat == HUMAN else 'bids'} "
                         f"{action - BID_BASE}")  # fmt: skip
            elif seat != HUMAN:
                self.say(f"{seat_name(seat)} plays {card_name(action)}")
            if state.tricks_played > before:
                won = trick_winner((*trick, (seat, action)), state.trump)
                assert won is not None
                winner, card = won
                self.say(
                    f"  -> trick {before + 1} to {seat_name(winner)} with {card_name(card)}"
                    f"   (tricks: {self._tricks(state)})"
                )
        scores = state.scores()
        self.say()
        self.say("Hand over:")
        for p in range(n):
            made = "made it" if state.bids[p] == state.tricks_won[p] else "missed"
            self.say(
                f"  {seat_name(p):<9} bid {state.bids[p]}, took {state.tricks_won[p]}: "
                f"{made}, {scores[p]} points"
            )
        return scores

    def _tricks(self, state: BlobState) -> str:
        return ", ".join(
            f"{seat_name(p)} {state.tricks_won[p]}/{state.bids[p]}"
            for p in range(state.num_players)
        )

    def _show(self, state: BlobState) -> None:
        self.say()
        bids = " · ".join(
            f"{seat_name(p)} {'-' if b is None else b}" for p, b in enumerate(state.bids)
        )
        self.say(f"Trump: {trump_text(state)}    Bids: {bids}")
        if state.phase == "play":
            self.say(f"Trick {state.tricks_played + 1} of {state.num_cards}; {self._tricks(state)}")
            played = state.current_trick
            if played:
                self.say(
                    "On the table: "
                    + ", ".join(f"{seat_name(p)} {card_name(c)}" for p, c in played)
                )
            else:
                self.say("You lead.")
        self.say(f"Your hand: {hand_text(state.hand(HUMAN), state.trump)}")
        legal = state.legal_actions()
        if state.phase == "bidding":
            self.say("Your bid: " + " ".join(str(a - BID_BASE) for a in legal))
        else:
            self.say("You may play: " + " ".join(card_name(a) for a in legal))

    def _ask(self, state: BlobState) -> int:
        self._show(state)
        while True:
            self.out.write("> ")
            self.out.flush()
            line = self.stdin.readline()
            if not line:
                raise Quit("input ended")
            text = line.strip()
            if text.lower() in ("q", "quit", "exit"):
                raise Quit("quit")
            if text in ("", "?", "help"):
                self.say("Type a bid (a number) or a card such as AS, 10h, qd or A♠; q quits.")
                continue
            try:
                return parse_move(text, state)
            except GameError as e:
                self.say(f"Not allowed: {e}. Try again.")

    # ---- sessions ---------------------------------------------------------------------------
    def play_single(self, players: int, cards: int, *, seed: int | None = None) -> list[int]:
        return self.play_hand(new_game(players, cards, seed=seed))

    def play_full(self, players: int, max_cards: int, *, seed: int | None = None) -> list[int]:
        game = FullGame(players, max_cards, seed=seed)
        total = len(game.rounds)
        while not game.is_over():
            state = game.next_round()
            self.play_hand(state, title=f"Round {game.round_index + 1} of {total}: ")
            game.record(state)
            self.say(
                "Running totals: "
                + ", ".join(f"{seat_name(p)} {t}" for p, t in enumerate(game.totals))
            )
        self.say()
        self.say("Final scores:")
        ranking = sorted(range(players), key=lambda p: -game.totals[p])
        for place, p in enumerate(ranking, 1):
            self.say(f"  {place}. {seat_name(p):<9} {game.totals[p]}")
        return game.totals
