"""Information-set MCTS (Cowling, Powley and Whitehouse, 2012): one tree over the acting
player's information sets, a fresh world for every simulation.

A node is a sequence of actions from the root as the searching player sees it: its own actions
and the other seats' actions are all public once made, so the action sequence identifies the
searcher's information set at that point (the hidden cards are what the worlds vary). Every
simulation draws a world consistent with what the searcher knows, descends the tree choosing
among the actions *legal in that world* with UCB1 over availability counts (a child's count
grows each time it was available, not each time its parent was visited), adds one node, plays
the rest of the hand with a rollout policy (:mod:`blobrl.mcts.rollout`: random for the
baseline) and backs each node up with the final score of the seat that
took the action leading to it. The move played is the root's most visited action.

Worlds come from :func:`~blobrl.game.determinize.determinize_into` (uniform over consistent
deals), or from a weighted pool (``pool``/``cum``) that a belief model has reweighted by how
likely the other seats' observed bids are (:mod:`blobrl.mcts.beliefs`).

The tree is a handful of preallocated arrays (``M`` = simulations + 1 nodes, one added per
simulation) that a caller allocates once with :func:`allocate` and reuses every decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from blobrl.game import core as k
from blobrl.game import rng as _rng
from blobrl.game.determinize import determinize_into
from blobrl.mcts import rollout as _rollout

NO_CHILD = -1
DEFAULT_C = 0.7  # UCB1 exploration constant for rewards in [0, 1] (Cowling et al. use 0.7)
# Reward of a finished hand for a seat: its own normalised score, or that minus the others'
# mean (what a duplicate match measures: points over the rest of the table).
REWARD_OWN = 0
REWARD_MARGIN = 1


@dataclass
class Tree:
    """The arrays of one search tree (``M`` nodes, 65 actions)."""

    children: np.ndarray  # int32[M, 65]: child node of each action, NO_CHILD if absent
    visits: np.ndarray  # int32[M]
    avail: np.ndarray  # int32[M]: how often the node's action was legal when its parent was
    reward: np.ndarray  # float64[M]: summed rewards of the seat that took the node's action
    mover: np.ndarray  # int64[M]: the seat that took it
    world: np.ndarray  # int64[STATE_SIZE] scratch
    path: np.ndarray  # int64[MAX_HISTORY + 1]
    buf: np.ndarray  # int64[65] scratch for legal actions


def allocate(simulations: int) -> Tree:
    """A tree with room for ``simulations`` simulations."""
    m = simulations + 1
    return Tree(
        children=np.full((m, k.NUM_ACTIONS), NO_CHILD, np.int32),
        visits=np.zeros(m, np.int32),
        avail=np.zeros(m, np.int32),
        reward=np.zeros(m, np.float64),
        mover=np.zeros(m, np.int64),
        world=np.zeros(k.STATE_SIZE, np.int64),
        path=np.zeros(k.MAX_HISTORY + 1, np.int64),
        buf=np.zeros(k.NUM_ACTIONS, np.int64),
    )


@njit(cache=True)
def _pick_world(cum: np.ndarray, size: int, rs: np.ndarray, stream: int) -> int:
    """Index drawn in proportion to the weights whose running sums are ``cum[:size]``."""
    u = _rng.uniform(rs, stream) * cum[size - 1]
    lo, hi = 0, size - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def _rewards(world: np.ndarray, mode: int, out: np.ndarray) -> None:
    """Rewards of every seat of a finished hand into ``out[:n]`` (normalised by 10 + C)."""
    n = world[k.F_N]
    k.scores(world, out)
    scale = 1.0 / (10.0 + world[k.F_C])
    total = 0.0
    for p in range(n):
        out[p] *= scale
        total += out[p]
    if mode == REWARD_MARGIN:
        for p in range(n):
            # own minus the others' mean, mapped from [-1, 1] to [0, 1]
            out[p] = 0.5 + 0.5 * (out[p] - (total - out[p]) / (n - 1))


@njit(cache=True)
def run(
    root: np.ndarray,  # int64[STATE_SIZE]: the real state; the player to act searches
    simulations: int,
    c_uct: float,
    reward_mode: int,
    rollout_policy: int,  # rollout.RANDOM, GREEDY or LEARNED
    epsilon: float,  # share of random moves in greedy and learned rollouts
    rollout_weights: np.ndarray,  # float64[rollout.NUM_WEIGHTS] of a LEARNED rollout
    rs: np.ndarray,  # uint64[S] random streams
    stream: int,
    pool: np.ndarray,  # int64[P, STATE_SIZE] weighted worlds, or P = 0 for fresh worlds
    cum: np.ndarray,  # float64[P] running sums of the pool's weights
    children: np.ndarray,
    visits: np.ndarray,
    avail: np.ndarray,
    reward: np.ndarray,
    mover: np.ndarray,
    world: np.ndarray,
    path: np.ndarray,
    buf: np.ndarray,
    root_visits: np.ndarray,  # float64[65] out: visits of each root action
    root_q: np.ndarray,  # float64[65] out: mean reward of each root action (0 if unvisited)
) -> int:
    """Search the decision of ``root``'s player; returns the number of nodes used."""
    viewer = root[k.F_PLAYER]
    pool_size = pool.shape[0]
    out = np.zeros(k.MAX_PLAYERS, np.float64)
    cards = np.zeros(_rollout.MAX_LEGAL, np.int64)
    feats = np.zeros((_rollout.MAX_LEGAL, _rollout.BASE), np.float64)
    children[0, :] = NO_CHILD
    visits[0] = 0
    avail[0] = 0
    reward[0] = 0.0
    mover[0] = -1
    nodes = 1
    capacity = children.shape[0]
    for _sim in range(simulations):
        if pool_size > 0:
            world[:] = pool[_pick_world(cum, pool_size, rs, stream)]
        else:
            determinize_into(root, viewer, rs, stream, world)
        node = 0
        depth = 0
        path[0] = 0
        while world[k.F_PHASE] != k.PHASE_TERMINAL:
            m = k.legal_actions(world, buf)
            untried = 0
            for i in range(m):
                if children[node, buf[i]] == NO_CHILD:
                    untried += 1
            player = world[k.F_PLAYER]
            if untried > 0 and nodes < capacity:
                # Expand one untried action at random; the rest of the hand is the rollout.
                pick = _rng.randint(rs, stream, untried)
                action = -1
                for i in range(m):
                    a = buf[i]
                    ch = children[node, a]
                    if ch == NO_CHILD:
                        if pick == 0 and action < 0:
                            action = a
                        pick -= 1
                    else:
                        avail[ch] += 1
                x = nodes
                nodes += 1
                children[x, :] = NO_CHILD
                visits[x] = 0
                avail[x] = 1
                reward[x] = 0.0
                mover[x] = player
                children[node, action] = x
                k.apply_unchecked(world, action)
                depth += 1
                path[depth] = x
                break
            if untried > 0:
                break  # out of nodes: roll out from here
            best = -1
            best_score = -1e300
            for i in range(m):
                ch = children[node, buf[i]]
                avail[ch] += 1
                score = reward[ch] / visits[ch] + c_uct * math.sqrt(
                    math.log(avail[ch]) / visits[ch]
                )
                if score > best_score:
                    best_score = score
                    best = i
            node = children[node, buf[best]]
            k.apply_unchecked(world, buf[best])
            depth += 1
            path[depth] = node
        _rollout.playout_into(
            world, rollout_policy, epsilon, rollout_weights, rs, stream, cards, feats
        )
        _rewards(world, reward_mode, out)
        visits[0] += 1
        for i in range(1, depth + 1):
            x = path[i]
            visits[x] += 1
            reward[x] += out[mover[x]]
    root_visits[:] = 0.0
    root_q[:] = 0.0
    for a in range(k.NUM_ACTIONS):
        ch = children[0, a]
        if ch != NO_CHILD and visits[ch] > 0:
            root_visits[a] = visits[ch]
            root_q[a] = reward[ch] / visits[ch]
    return nodes


@njit(cache=True)
def state_seed(state: np.ndarray, seed: int) -> int:
    """A 63-bit seed mixing ``seed`` with what the player to act knows of ``state`` (its hand and
    the actions so far), so a decision's randomness depends on the situation, not on call order."""
    h = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x632BE59BD9B4E019)
    viewer = state[k.F_PLAYER]
    h ^= np.uint64(state[k.F_HANDS + max(viewer, 0)])
    h *= np.uint64(0xBF58476D1CE4E5B9)
    for i in range(state[k.F_HISTLEN]):
        h ^= np.uint64(state[k.F_HIST + i] + 1)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(29)
    h ^= np.uint64(state[k.F_DEALER] * 8 + state[k.F_TRUMP])
    h *= np.uint64(0xBF58476D1CE4E5B9)
    return int(h >> np.uint64(1))
