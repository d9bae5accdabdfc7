"""Information-set MCTS: finds sure plays, searches only possible worlds, replays from a seed."""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.agents import load
from blobrl.agents.ismcts import IsmctsAgent, ismcts_settings
from blobrl.game import BID_BASE, from_deal, new_game, parse_card
from blobrl.game import core as k
from blobrl.game import rng as _rng
from blobrl.mcts import beliefs, ismcts
from blobrl.mcts.information_set import InformationSetSearch
from blobrl.mcts.search import drive


def play(state, actions):
    for action in actions:
        state.apply(action)
    return state


def play_randomly(state, rng, steps):
    for _ in range(steps):
        if state.is_terminal():
            return
        legal = state.legal_actions()
        state.apply(legal[int(rng.integers(len(legal)))])


SUITS = "CDHS"


def _card(rank: str, suit: int) -> int:
    return parse_card(rank + SUITS[suit])


def _ruff_or_discard(trump: int, other: int, lead: int, dealer: int = 0):
    """Three seats, two cards each, ``trump`` is trumps. The viewer (seat 0, the dealer) is void
    in the led suit and holds the ace of trumps and the two of ``other``; it needs exactly one
    more trick. Discarding the two keeps the ace, which takes the last trick whatever is led:
    the bid is made for sure. Ruffing wins this trick and then leads the two, which wins the
    last trick too (an overtrick, 0 points) whenever neither opponent can beat it."""
    spare = next(s for s in range(4) if s not in (trump, other, lead))
    hands = [
        [_card("A", trump), _card("2", other)],
        [_card("K", lead), _card("5", spare)],
        [_card("Q", lead), _card("7", lead)],
    ]
    state = from_deal(hands, dealer=dealer, trump=trump)
    # Seats 1 and 2 bid 1 each; the dealer bids 1 (the hook bars 0 here).
    return play(state, [BID_BASE + 1, BID_BASE + 1, BID_BASE + 1, hands[1][0], hands[2][0]])


@pytest.mark.parametrize("trump,other,lead", [(3, 0, 2), (0, 1, 3), (2, 3, 1), (1, 2, 0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keeps_the_sure_winner_for_the_trick_it_needs(trump, other, lead, seed):
    state = _ruff_or_discard(trump, other, lead)
    assert state.current_player == 0 and sorted(state.legal_actions()) == sorted(state.hand(0))
    agent = IsmctsAgent(1000, seed=seed)
    assert agent.act(state) == _card("2", other)
    # the sure play is also valued as sure: it always makes the bid of 1 (11 of 10 + C points)
    assert agent.root_q[_card("2", other)] == pytest.approx(11 / 12)
    assert agent.root_q[_card("A", trump)] < 11 / 12


def test_does_not_lead_the_sure_winner_when_it_wants_no_trick():
    hands = [
        [parse_card("AH"), parse_card("2C")],
        [parse_card("KD"), parse_card("3D")],
        [parse_card("QD"), parse_card("4S")],
    ]
    state = from_deal(hands, dealer=2, trump=None)
    play(state, [BID_BASE + 0, BID_BASE + 0, BID_BASE + 1])  # seat 0 bids 0, 1 bids 0, 2 bids 1
    # Seat 0 leads and bid 0: leading the ace of hearts takes a trick for sure (no trumps); the
    # two of clubs loses unless nobody else holds a club, and the ace can still be discarded
    # on a later lead. Searching must prefer the two.
    assert state.current_player == 0
    agent = IsmctsAgent(1000, seed=3)
    assert agent.act(state) == parse_card("2C")


def test_same_seed_same_decisions_and_other_seeds_still_legal():
    rng = np.random.default_rng(5)
    for game in range(8):
        state = new_game(4, 5, seed=game)
        play_randomly(state, rng, steps=int(rng.integers(0, 12)))
        if state.is_terminal():
            continue
        a = IsmctsAgent(200, seed=11)
        b = IsmctsAgent(200, seed=11)
        first = a.act(state)
        # an agent that decided other things before decides this the same way
        b.act(new_game(5, 7, seed=99))
        assert b.act(state) == first
        assert np.array_equal(a.root_visits, b.root_visits)
        assert first in state.legal_actions()
        assert IsmctsAgent(200, seed=12).act(state) in state.legal_actions()


def test_root_visits_add_up_to_the_simulations():
    state = new_game(5, 7, seed=4)
    agent = IsmctsAgent(300, seed=0)
    agent.act(state)
    assert agent.root_visits.sum() == 300
    legal = state.legal_actions()
    assert set(np.flatnonzero(agent.root_visits)) <= set(legal)


@pytest.mark.parametrize("seed", range(6))
def test_every_world_searched_is_consistent_with_the_searcher_view(seed):
    """The search draws worlds through beliefs.sample_pool / determinize: each keeps the
    searcher's hand, the cards played and by whom, every seat's hand size and known voids."""
    rng = np.random.default_rng(seed)
    state = new_game(5, 7, seed=seed)
    play_randomly(state, rng, steps=int(rng.integers(5, 25)))
    if state.is_terminal():
        return
    vec = state.vector
    viewer = int(vec[k.F_PLAYER])
    pool = np.zeros((200, k.STATE_SIZE), np.int64)
    beliefs.sample_pool(vec, 200, _rng.seed_streams([seed]), 0, pool)
    unseen = k.FULL_DECK & ~(vec[k.F_HANDS + viewer] | vec[k.F_PLAYED])
    for world in pool:
        assert world[k.F_HANDS + viewer] == vec[k.F_HANDS + viewer]
        assert np.array_equal(world[k.F_OWNER : k.F_OWNER + 52], vec[k.F_OWNER : k.F_OWNER + 52])
        others = 0
        for p in range(5):
            hand = int(world[k.F_HANDS + p])
            assert k.popcount(hand) == k.popcount(int(vec[k.F_HANDS + p]))
            for s in range(4):
                if (vec[k.F_VOIDS + p] >> s) & 1:
                    assert hand & int(k.SUIT_MASK[s]) == 0
            if p != viewer:
                assert hand & ~unseen == 0
                assert others & hand == 0
                others |= hand


def test_bid_rows_rebuild_each_seat_view_at_its_bid():
    """In the true world, the rows are exactly the encodings the bidders saw when they bid."""
    from blobrl.game import FEATURES
    from blobrl.game.encoding import encode_into

    state = new_game(5, 6, seed=21)
    rng = np.random.default_rng(0)
    snapshots = []
    while state.phase == "bidding":
        snapshots.append((state.current_player, state.vector.copy()))
        legal = state.legal_actions()
        state.apply(legal[int(rng.integers(len(legal)))])
    play_randomly(state, rng, steps=7)
    vec = state.vector
    viewer = int(vec[k.F_PLAYER])
    pool = vec[None, :].copy()
    rows = 5
    features = np.zeros((rows, FEATURES), np.float32)
    masks = np.zeros((rows, k.NUM_ACTIONS), np.bool_)
    row_world = np.zeros(rows, np.int64)
    row_action = np.zeros(rows, np.int64)
    assert beliefs.observed_bids(vec) == 4
    assert beliefs.observed_actions(vec, 0) == 4
    end = beliefs.history_rows(vec, pool, 1, 0, features, masks, row_world, row_action, 0)
    assert end == 4
    expected = [(seat, snap) for seat, snap in snapshots if seat != viewer]
    for r, (seat, snap) in enumerate(expected):
        want = np.zeros(FEATURES, np.float32)
        encode_into(snap, seat, want)
        assert np.array_equal(features[r], want)
        assert row_action[r] == vec[k.F_HIST + snapshots.index((seat, snap))]


def test_history_rows_add_the_latest_unforced_plays_of_the_others():
    """With ``plays``, the rows after the bids are each other seat's view at its latest card
    plays, forced ones (a single legal card) left out, oldest first."""
    from blobrl.game import FEATURES
    from blobrl.game.encoding import encode_into

    rng = np.random.default_rng(5)
    for seed in range(30):
        state = new_game(5, 6, seed=seed)
        snapshots = []  # (seat, vector, action, legal count) of every decision
        for _ in range(int(rng.integers(6, 30))):
            legal = state.legal_actions()
            action = legal[int(rng.integers(len(legal)))]
            snapshots.append((state.current_player, state.vector.copy(), action, len(legal)))
            state.apply(action)
        if state.is_terminal():
            continue
        vec = state.vector
        viewer = int(vec[k.F_PLAYER])
        plays = int(rng.integers(0, 12))
        others_plays = [x for x in snapshots[5:] if x[0] != viewer]
        weighed = others_plays[max(0, len(others_plays) - plays) :] if plays else []
        bids = [x for x in snapshots[:5] if x[0] != viewer]
        assert beliefs.observed_actions(vec, plays) == len(bids) + len(weighed)
        expected = [x for x in bids + weighed if x[3] > 1]
        rows = len(bids) + len(weighed)
        features = np.zeros((max(rows, 1), FEATURES), np.float32)
        masks = np.zeros((max(rows, 1), k.NUM_ACTIONS), np.bool_)
        row_world = np.zeros(max(rows, 1), np.int64)
        row_action = np.zeros(max(rows, 1), np.int64)
        pool = vec[None, :].copy()
        end = beliefs.history_rows(vec, pool, 1, plays, features, masks, row_world, row_action, 0)
        assert end == len(expected)
        for r, (seat, snap, action, _) in enumerate(expected):
            want = np.zeros(FEATURES, np.float32)
            encode_into(snap, seat, want)
            assert np.array_equal(features[r], want)
            assert row_action[r] == action and masks[r].sum() > 1


def test_worlds_that_explain_the_plays_get_the_weight():
    """Seats that always play their lowest legal card: weighing their plays puts the weight on
    worlds where they had no lower legal card; the true world is among the heaviest, and
    without the plays (a policy indifferent to bids) every world weighs the same."""
    from blobrl.game import FEATURES
    from blobrl.game.encoding import OFF_HAND

    def lowest_card(features):
        b = features.shape[0]
        logits = np.zeros((b, k.NUM_ACTIONS), np.float32)
        logits[:, :52] = -50.0 * np.arange(52, dtype=np.float32)[None, :]
        held = features[:, OFF_HAND : OFF_HAND + 52] > 0
        logits[:, :52] = np.where(held, logits[:, :52], -1e4)
        return logits, np.zeros((b, 8), np.float32)

    state = new_game(4, 7, seed=11, trump_mode="none")
    rng = np.random.default_rng(2)
    while state.phase == "bidding":
        legal = state.legal_actions()
        state.apply(legal[int(rng.integers(len(legal)))])
    for _ in range(10):
        state.apply(min(state.legal_actions()))
    vec = state.vector
    size = 300
    pool = np.zeros((size + 1, k.STATE_SIZE), np.int64)
    pool[0] = vec
    beliefs.sample_pool(vec, size, _rng.seed_streams([4]), 0, pool[1:])
    for plays, spread in ((12, True), (0, False)):
        rows = (size + 1) * beliefs.observed_actions(vec, plays)
        features = np.zeros((rows, FEATURES), np.float32)
        masks = np.zeros((rows, k.NUM_ACTIONS), np.bool_)
        row_world = np.zeros(rows, np.int64)
        row_action = np.zeros(rows, np.int64)
        end = beliefs.history_rows(
            vec, pool, size + 1, plays, features, masks, row_world, row_action, 0
        )
        logits, _ = lowest_card(features[:end])
        cum = np.zeros(size + 1, np.float64)
        effective = beliefs.world_cum(
            logits, masks[:end], row_world[:end], row_action[:end], 0, end, size + 1, 1.0, cum
        )
        weights = np.diff(np.concatenate([[0.0], cum]))
        if spread:
            assert weights[0] == pytest.approx(weights.max(), rel=1e-6)
            assert effective < 0.5 * (size + 1)
            assert (weights < 1e-6 * weights.max()).sum() > 0.5 * size
        else:
            assert weights == pytest.approx(np.full(size + 1, 1 / (size + 1)), rel=1e-9)


def test_worlds_that_explain_the_bids_get_the_weight():
    """A policy that only ever bids what it holds in spades: worlds where a seat's spades match
    its bid get all the weight."""
    from blobrl.game.encoding import OFF_HAND

    def spade_bidder(features):
        b = features.shape[0]
        logits = np.full((b, k.NUM_ACTIONS), -20.0, np.float32)
        spades = features[:, OFF_HAND + 39 : OFF_HAND + 52].sum(axis=1).astype(int)
        logits[np.arange(b), BID_BASE + np.minimum(spades, 6)] = 20.0
        return logits, np.zeros((b, 8), np.float32)

    state = new_game(4, 6, seed=3, trump_mode="none")
    truth = state.clone()
    while state.phase == "bidding":
        spades = sum(1 for c in truth.hand(state.current_player) if c >= 39)
        legal = state.legal_actions()
        state.apply(BID_BASE + spades if BID_BASE + spades in legal else legal[0])
    viewer = state.current_player
    others = [s for s in range(4) if s != viewer]
    search = InformationSetSearch(
        spade_bidder, max_games=1, settings=ismcts_settings(50, belief_pool=400)
    )
    vectors = state.vector[None, :].copy()
    pools, rows = drive(
        search._weighted_pools(vectors, np.array([True]), _rng.seed_streams([1])), spade_bidder
    )
    (pool, cum) = pools[0]
    assert rows == 400 * 3
    weights = np.diff(np.concatenate([[0.0], cum]))

    # the dealer may not bid 6 minus the others' bids
    barred = {state.dealer: BID_BASE + 6 - (sum(state.bids) - state.bids[state.dealer])}

    def likelihood(world) -> float:
        """What the spade bidder makes of the bids: 1 for a seat whose spades are its bid; a
        dealer whose spade count was barred by the hook bids uniformly over the rest."""
        p = 1.0
        for seat in others:
            held = sum(1 for c in range(39, 52) if (world[k.F_HANDS + seat] >> c) & 1)
            if held == state.bids[seat]:
                continue
            p *= 1 / 6 if barred.get(seat) == BID_BASE + held else 0.0
        return p

    expected = np.array([likelihood(w) for w in pool])
    assert 0 < (expected == 1).sum() < 400  # some uniform worlds explain the bids, not all
    assert weights == pytest.approx(expected / expected.sum(), abs=1e-9)
    assert search.effective_worlds[0] == pytest.approx(
        expected.sum() ** 2 / (expected**2).sum(), rel=1e-6
    )


def test_load_ismcts_spec():
    agent = load("ismcts:250")
    assert isinstance(agent, IsmctsAgent) and agent.simulations == 250
    assert load("ismcts:10@3").seed == 3
    for bad in ("ismcts:", "ismcts:0", "ismcts:abc", "ismcts:10@x"):
        with pytest.raises(ValueError, match="ismcts:SIMS"):
            load(bad)


def test_reward_margin_is_centered():
    state = new_game(4, 3, seed=1)
    while not state.is_terminal():
        state.apply(state.legal_actions()[0])
    out = np.zeros(8)
    ismcts._rewards(state.vector, ismcts.REWARD_MARGIN, out)
    assert out[:4].mean() == pytest.approx(0.5)


def test_value_mix_follows_the_network_when_weighted_fully():
    """With ``value_mix_bid: 1`` a bid is chosen by the network's value of the searcher's state
    after it: a fake network that values only the seat that bid 0 makes the search bid 0."""
    from blobrl.game.encoding import OFF_SEATS, SEAT_BID_ONEHOT

    def likes_zero(features):
        b = features.shape[0]
        values = np.zeros((b, 8), np.float32)
        values[:, 0] = features[:, OFF_SEATS + SEAT_BID_ONEHOT]  # relative seat 0 bid 0
        return np.zeros((b, k.NUM_ACTIONS), np.float32), values

    state = new_game(4, 5, seed=8)
    settings = ismcts_settings(200, belief_pool=0, value_mix_bid=1.0)
    agent = IsmctsAgent(settings=settings, evaluator=likes_zero, seed=0)
    assert agent.act(state) == BID_BASE + 0
    # the tree alone bids otherwise on this deal
    plain = IsmctsAgent(settings=ismcts_settings(200, belief_pool=0), evaluator=likes_zero)
    assert plain.act(state) == int(np.argmax(plain.root_visits)) != BID_BASE + 0
