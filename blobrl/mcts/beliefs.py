"""Bid- and play-aware worlds: weight sampled deals by how likely the other seats' bids (and
latest card plays) are under a policy.

Uniform determinization treats every consistent deal as equally likely, but a seat that bid 4 of
7 holds strong cards. For a pool of worlds drawn uniformly, each world is weighted by the
probability, under the network's policy, of every bid another seat has made, given the hand that
seat holds *in that world* and what it knew when it bid (its hand then is its hand now plus the
cards it has played). Search then draws its worlds from the pool in proportion to the weights
(sampling-importance-resampling; Rebstock et al. 2019, "Policy Based Inference in Trick-Taking
Card Games", do the same for Skat). The same holds for the cards they played: with
``plays > 0`` the latest ``plays`` card plays by other seats are weighed too, each given that
seat's hand in the world at the time (forced plays carry no information and are skipped).
``sharpness`` tempers the policy (weights are
``prod p(bid) ** sharpness``), so an overconfident network cannot make one world take all.

The kernels write the network rows; the caller evaluates them (one batch for every world and
every game of a batch) and turns the answers into running sums with :func:`world_cum`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from blobrl.game import core as k
from blobrl.game.determinize import determinize_into
from blobrl.game.encoding import encode_into


@njit(cache=True)
def observed_bids(root: np.ndarray) -> int:
    """How many bids by seats other than the player to act ``root``'s history holds."""
    viewer = root[k.F_PLAYER]
    n = root[k.F_N]
    dealer = root[k.F_DEALER]
    count = 0
    for i in range(min(root[k.F_NBIDS], root[k.F_HISTLEN])):
        if (dealer + 1 + i) % n != viewer:
            count += 1
    return count


@njit(cache=True)
def observed_actions(root: np.ndarray, plays: int) -> int:
    """An upper bound on the rows :func:`history_rows` writes per world: the other seats' bids
    and the latest ``plays`` of their card plays."""
    viewer = root[k.F_PLAYER]
    bids = min(root[k.F_NBIDS], root[k.F_HISTLEN])
    others = 0
    for i in range(bids, root[k.F_HISTLEN]):
        if root[k.F_OWNER + root[k.F_HIST + i]] != viewer:
            others += 1
    return observed_bids(root) + min(plays, others)


@njit(cache=True)
def sample_pool(root: np.ndarray, size: int, rs: np.ndarray, stream: int, pool: np.ndarray) -> None:
    """Fill ``pool[:size]`` with worlds drawn uniformly for ``root``'s player to act."""
    viewer = root[k.F_PLAYER]
    for w in range(size):
        determinize_into(root, viewer, rs, stream, pool[w])


@njit(cache=True)
def history_rows(
    root: np.ndarray,  # int64[STATE_SIZE] the real state (player to act is the searcher)
    pool: np.ndarray,  # int64[P, STATE_SIZE] worlds
    size: int,  # P
    plays: int,  # the latest card plays by other seats to weigh as well; 0: bids only
    features: np.ndarray,  # float32[R, FEATURES] out, R >= P * observed_actions(root, plays)
    masks: np.ndarray,  # bool[R, 65] out: legal bids at each row
    row_world: np.ndarray,  # int64[R] out
    row_action: np.ndarray,  # int64[R] out: the action that seat took
    start: int,  # first row to write
) -> int:
    """Write, for every world, the information state of each other seat at the moment it bid,
    and at each of its latest ``plays`` card plays where it had a choice; returns the row after
    the last one written."""
    viewer = root[k.F_PLAYER]
    n = root[k.F_N]
    state = np.zeros(k.STATE_SIZE, np.int64)
    hands = np.zeros(k.MAX_PLAYERS, np.int64)
    r = start
    length = root[k.F_HISTLEN]
    bids = min(root[k.F_NBIDS], length)
    first_play = length  # history index of the earliest card play weighed
    counted = 0
    i = length - 1
    while i >= bids and counted < plays:
        if root[k.F_OWNER + root[k.F_HIST + i]] != viewer:
            counted += 1
            first_play = i
        i -= 1
    for w in range(size):
        world = pool[w]
        for p in range(k.MAX_PLAYERS):
            hands[p] = world[k.F_HANDS + p] if p < n else 0
        for card in range(k.NUM_CARDS):
            owner = world[k.F_OWNER + card]
            if owner >= 0:
                hands[owner] |= 1 << card
        k.init_state(
            state,
            hands,
            n,
            world[k.F_C],
            world[k.F_DEALER],
            world[k.F_TRUMP],
            world[k.F_TURNUP],
            world[k.F_SCORING],
        )
        stop = length if plays > 0 else bids
        for i in range(stop):
            action = root[k.F_HIST + i]
            seat = state[k.F_PLAYER]
            weighed = seat != viewer and (i < bids or i >= first_play)
            if weighed and k.legal_mask(state, masks[r]) > 1:
                encode_into(state, seat, features[r])
                row_world[r] = w
                row_action[r] = action
                r += 1
            k.apply_unchecked(state, action)
    return r


@njit(cache=True)
def world_cum(
    logits: np.ndarray,  # float32[R, 65] policy logits of the rows
    masks: np.ndarray,  # bool[R, 65]
    row_world: np.ndarray,  # int64[R]
    row_action: np.ndarray,  # int64[R]
    start: int,
    stop: int,  # rows start..stop-1 belong to this pool
    size: int,  # P
    sharpness: float,
    cum: np.ndarray,  # float64[P] out: running sums of the world weights (last entry 1)
) -> float:
    """Turn the rows' policies into running sums of world weights; returns the effective
    number of worlds, ``(sum w)^2 / sum w^2``."""
    logw = np.zeros(size, np.float64)
    for r in range(start, stop):
        top = -1e300
        for a in range(k.NUM_ACTIONS):
            if masks[r, a] and logits[r, a] > top:
                top = logits[r, a]
        total = 0.0
        for a in range(k.NUM_ACTIONS):
            if masks[r, a]:
                total += math.exp(logits[r, a] - top)
        logp = logits[r, row_action[r]] - top - math.log(total)
        logw[row_world[r]] += sharpness * logp
    top = logw.max()
    acc = 0.0
    sq = 0.0
    for w in range(size):
        x = math.exp(logw[w] - top)
        acc += x
        sq += x * x
        cum[w] = acc
    for w in range(size):
        cum[w] /= acc
    return acc * acc / sq
