"""A rule-based Blob player: a fair yardstick for trained models.

Bidding estimates, card by card, the chance of taking a trick (high cards, trump length and
rank, ruffs from short side suits, the risk of being ruffed, the number of players) and bids the
legal number of tricks with the best expected score under that estimate, so a dealer barred by the
hook takes the next best bid. Play is greedy on the bid: while tricks are still needed it wins as
cheaply as it can and leads cards that will hold; once the bid is made it plays the highest card
that still loses and sheds dangerous high cards when void.

Everything is computed from :class:`~blobrl.agents.view.PlayerView`: own hand and public facts.
"""

from __future__ import annotations

from blobrl.agents.view import NUM_RANKS, NUM_SUITS, PlayerView, observe, rank_of, suit_of
from blobrl.game import BID_BASE, BlobState

ACE = NUM_RANKS - 1


def beats(card: int, best: int, trump: int | None) -> bool:
    """Whether ``card`` takes the trick from the card now winning it, ``best``."""
    if suit_of(card) == suit_of(best):
        return rank_of(card) > rank_of(best)
    return trump is not None and suit_of(card) == trump


def trick_winner(trick: tuple[tuple[int, int], ...], trump: int | None) -> tuple[int, int] | None:
    """(seat, card) now winning the trick in progress; None before the lead."""
    if not trick:
        return None
    win = trick[0]
    for seat, card in trick[1:]:
        if beats(card, win[1], trump):
            win = (seat, card)
    return win


# ---- bidding ------------------------------------------------------------------------------------


def _at_least(p: float, draws: int, count: int) -> float:
    """P(Binomial(draws, p) >= count)."""
    if count <= 0:
        return 1.0
    term = (1 - p) ** draws  # P(X = 0)
    below = 0.0
    for x in range(count):
        below += term
        if x + 1 <= draws and p < 1:
            term *= (draws - x) / (x + 1) * p / (1 - p)
    return max(0.0, 1.0 - below)


def card_win_chances(view: PlayerView) -> list[float]:
    """For each card of the hand, a rough chance that it takes a trick."""
    n, c, trump = view.num_players, view.num_cards, view.trump
    unseen = view.unseen()
    pool = max(1, len(unseen))
    dealt_out = (n - 1) * c
    q = min(1.0, dealt_out / pool)  # chance that a given unseen card is in some other hand
    by_suit: dict[int, list[int]] = {s: [] for s in range(NUM_SUITS)}
    for card in view.hand:
        by_suit[suit_of(card)].append(card)
    unseen_in = [sum(1 for u in unseen if suit_of(u) == s) for s in range(NUM_SUITS)]
    trumps_held = len(by_suit[trump]) if trump is not None else 0
    # chance that one opponent holds at least one trump
    opp_has_trump = (
        1.0 - (1.0 - unseen_in[trump] / pool) ** c
        if trump is not None and unseen_in[trump]
        else 0.0
    )
    chances: list[float] = []
    for suit in range(NUM_SUITS):
        mine = sorted(by_suit[suit], reverse=True)  # highest first
        length = len(mine)
        for position, card in enumerate(mine):
            higher = sum(1 for u in unseen if suit_of(u) == suit and rank_of(u) > rank_of(card))
            # Lower cards of the suit held guard this one against the higher cards out.
            guards = (length - 1 - position) * 0.6
            stoppers = max(0.0, higher - guards - position * 0.3)
            p = (1.0 - q) ** stoppers
            if suit == trump:
                if higher and length <= position + higher:
                    p *= 0.85
            elif trump is not None:
                # Ruffed when an opponent has run out of the suit by the round this card needs.
                per_card = unseen_in[suit] / pool
                short = 1.0 - _at_least(per_card, c, position + 1)
                p *= (1.0 - short * opp_has_trump) ** (n - 1)
            else:
                if position > 0 and higher:
                    p *= 0.8
            chances.append(p)
    if trump is not None and trumps_held:
        # Ruffing potential: low trumps beyond those already counted win on short side suits.
        spare = sum(1 for p in chances[-trumps_held:] if p < 0.5) if trumps_held else 0
        shortness = sum(max(0, 2 - len(by_suit[s])) for s in range(NUM_SUITS) if s != trump)
        ruffs = min(spare, shortness)
        weights = [0.0] * len(chances)
        order = _trump_slots(view, by_suit)
        for slot in order[:ruffs]:
            weights[slot] = 0.45 if c > 2 else 0.25
        chances = [min(1.0, p + w * (1 - p)) for p, w in zip(chances, weights, strict=True)]
    # More players, more competition for each trick.
    crowd = 1.0 - 0.04 * max(0, n - 4)
    return [p * crowd for p in chances]


def _trump_slots(view: PlayerView, by_suit: dict[int, list[int]]) -> list[int]:
    """Indexes (in card_win_chances order) of the held trumps, lowest first."""
    offset = 0
    slots: list[int] = []
    for suit in range(NUM_SUITS):
        size = len(by_suit[suit])
        if suit == view.trump:
            slots = list(range(offset + size - 1, offset - 1, -1))
        offset += size
    return slots


def trick_distribution(chances: list[float]) -> list[float]:
    """P(exactly t tricks), t = 0..len(chances), treating the cards as independent."""
    dist = [1.0]
    for p in chances:
        nxt = [0.0] * (len(dist) + 1)
        for t, w in enumerate(dist):
            nxt[t] += w * (1 - p)
            nxt[t + 1] += w * p
        dist = nxt
    return dist


def choose_bid(view: PlayerView) -> int:
    """The legal bid with the best expected score under the hand's trick distribution."""
    chances = card_win_chances(view)
    # Later bidders read the table: many tricks already bid means a fight for each one.
    made = [b for b in view.bids if b is not None]
    still_to_bid = view.num_players - len(made) - 1
    expected_rest = still_to_bid * view.num_cards / view.num_players
    pressure = (sum(made) + expected_rest + sum(chances)) / max(1, view.num_cards)
    if pressure > 1.0:
        chances = [p * (1.0 - 0.25 * min(1.0, pressure - 1.0)) for p in chances]
    elif made:
        chances = [p + (1 - p) * 0.15 * min(1.0, 1.0 - pressure) for p in chances]
    dist = trick_distribution(chances)
    mean = sum(p for p in chances)
    best, best_value = view.legal[0], -1.0
    for action in view.legal:
        b = action - BID_BASE
        # expected score of bidding b; the mean breaks near-ties towards the nearest bid
        value = dist[b] * (10 + b) - 1e-3 * abs(b - mean)
        if value > best_value:
            best, best_value = action, value
    return best


# ---- play ---------------------------------------------------------------------------------------


def _is_master(card: int, view: PlayerView, unseen: set[int]) -> bool:
    """No unseen card of the suit is higher."""
    s, r = suit_of(card), rank_of(card)
    return not any(suit_of(u) == s and rank_of(u) > r for u in unseen)


def _outstanding(suit: int, unseen: set[int]) -> int:
    return sum(1 for u in unseen if suit_of(u) == suit)


def _ruff_danger(suit: int, view: PlayerView, unseen: set[int], seats: list[int]) -> bool:
    """Some later seat is known void in ``suit`` while trumps are still out."""
    if view.trump is None or suit == view.trump or not _outstanding(view.trump, unseen):
        return False
    return any(suit in view.voids[p] and view.trump not in view.voids[p] for p in seats)


def _danger(card: int, view: PlayerView, unseen: set[int]) -> float:
    """How likely a card is to take a trick later: what to shed first when ducking."""
    higher = sum(1 for u in unseen if suit_of(u) == suit_of(card) and rank_of(u) > rank_of(card))
    value = rank_of(card) - 2.0 * higher
    if suit_of(card) == view.trump:
        value += 10.0
    return value


def _lead(view: PlayerView, cards: list[int], need: int, unseen: set[int]) -> int:
    others = [p for p in range(view.num_players) if p != view.seat]
    if need > 0:
        side_masters = [
            c
            for c in cards
            if suit_of(c) != view.trump
            and _is_master(c, view, unseen)
            and _outstanding(suit_of(c), unseen) > 0
            and not _ruff_danger(suit_of(c), view, unseen, others)
        ]
        if side_masters:
            return max(side_masters, key=lambda c: (_outstanding(suit_of(c), unseen), c))
        trumps = [c for c in cards if suit_of(c) == view.trump]
        if trumps and _is_master(max(trumps), view, unseen):
            return max(trumps)
        if trumps and len(trumps) >= need and need >= view.tricks_left - 1:
            return max(trumps)
        side = [c for c in cards if suit_of(c) != view.trump]
        if side:
            if trumps:
                # shorten a side suit to ruff it later
                return min(side, key=lambda c: (sum(suit_of(x) == suit_of(c) for x in cards), c))
            return min(side, key=lambda c: (-_danger(c, view, unseen), rank_of(c)))
        return min(cards)
    # Bid made (or lost): lead the card least likely to win.
    return min(cards, key=lambda c: (_danger(c, view, unseen), rank_of(c)))


def choose_card(view: PlayerView) -> int:
    cards = list(view.legal)
    if len(cards) == 1:
        return cards[0]
    unseen = view.unseen()
    need = view.bids[view.seat] - view.tricks_won[view.seat]  # type: ignore[operator]
    winner = trick_winner(view.trick, view.trump)
    if winner is None:
        return _lead(view, cards, need, unseen)
    best = winner[1]
    winning = [c for c in cards if beats(c, best, view.trump)]
    losing = [c for c in cards if c not in winning]
    after = view.seats_after_me
    if need > 0:
        if winning:
            if not after:
                return min(winning, key=lambda c: (suit_of(c) == view.trump, rank_of(c)))
            safe = [
                c
                for c in winning
                if _is_master(c, view, unseen)
                and (suit_of(c) == view.trump or not _ruff_danger(suit_of(c), view, unseen, after))
            ]
            if safe:
                return min(safe, key=lambda c: (suit_of(c) == view.trump, rank_of(c)))
            if suit_of(winning[0]) == view.trump and view.led_suit != view.trump:
                return min(winning, key=rank_of)  # a ruff, as cheap as it gets
            return max(winning, key=lambda c: (suit_of(c) != view.trump, rank_of(c)))
        # Cannot win: throw the least useful card.
        return min(losing, key=lambda c: (_danger(c, view, unseen), rank_of(c)))
    if losing:
        return max(losing, key=lambda c: (_danger(c, view, unseen), rank_of(c)))
    # Every card wins now: with nobody after, win with the most dangerous card; otherwise play
    # the lowest and hope to be overtaken.
    if not after:
        return max(winning, key=lambda c: (_danger(c, view, unseen), rank_of(c)))
    return min(winning, key=lambda c: (suit_of(c) == view.trump, rank_of(c)))


class HeuristicAgent:
    """Rule-based player; deterministic and uses only the acting seat's view."""

    name = "heuristic"

    def act(self, state: BlobState) -> int:
        view = observe(state)
        if len(view.legal) == 1:
            return view.legal[0]
        return choose_bid(view) if view.bidding else choose_card(view)
