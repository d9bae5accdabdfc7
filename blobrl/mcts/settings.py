"""Search settings: one frozen record shared by self-play, evaluation and the config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class SearchSettings:
    """How one decision is searched.

    ``determinizations`` worlds are sampled per decision and ``simulations`` run in each; the
    policy target sums root visits over the worlds. ``root`` chooses PUCT with Dirichlet noise or
    Gumbel sequential halving (better at low simulation counts).

    ``searcher_view``: at a leaf where another player acts, the network sees that player's
    information state, which does not hold the searching player's hand; with this on (the
    default) the searching player's own value there is evaluated from its own information state
    (one more network row per such leaf), so that its choices are judged knowing its cards.
    """

    determinizations: int = 3
    simulations: int = 30
    c_puct: float = 1.5
    dirichlet_alpha: float = 0.3
    dirichlet_weight: float = 0.25
    root: Literal["puct", "gumbel"] = "puct"
    gumbel_actions: int = 8  # actions considered at the root by sequential halving
    gumbel_c_visit: float = 50.0
    gumbel_c_scale: float = 0.1
    temperature: float = 1.0  # for the first ``temperature_moves`` decisions of a hand
    temperature_moves: int = 10
    final_temperature: float = 0.25  # after that; 0 plays the most visited action
    searcher_view: bool = True
    # ``worlds``: K determinized trees guided by the network (the fields above);
    # ``information_set``: one ISMCTS tree over the searcher's information sets, a world per
    # simulation, random rollouts, worlds weighted by the network's reading of the other seats'
    # bids (the fields below; ``determinizations`` and the root rule are then unused).
    tree: Literal["worlds", "information_set"] = "worlds"
    c_uct: float = 0.7  # UCB1 exploration of the information-set tree (rewards in [0, 1])
    belief_pool: int = 64  # uniform worlds drawn and reweighted per decision; 0: uniform worlds
    belief_sharpness: float = 1.0  # world weight = prod p(bid) ** sharpness
    belief_plays: int = 0  # the latest card plays by other seats weighed too; 0: bids only
    reward: Literal["own", "margin"] = "own"  # own score, or own minus the others' mean
    # Weight of the network's value of each root action (the searcher's information state after
    # it) against the tree's mean rollout reward, at bids and at card plays; 0: the tree alone.
    # The network's value is the seat's own normalised score, so this is meant with reward: own.
    value_mix_bid: float = 0.0
    value_mix_play: float = 0.0
    # How the information-set search plays a world out after its tree: ``random`` (the plain
    # baseline), ``greedy`` (every seat steers to its bid; ``rollout_epsilon`` of moves random) or
    # ``learned`` (greedy bids, card plays by the network's fitted linear rule, the greedy one
    # until the learner has fitted it: ``BlobNet.rollout_weights``).
    rollout: Literal["random", "greedy", "learned"] = "random"
    rollout_epsilon: float = 0.1

    def __post_init__(self) -> None:
        if self.determinizations < 1:
            raise ValueError(f"determinizations must be >= 1, got {self.determinizations}")
        if self.simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {self.simulations}")
        if self.root not in ("puct", "gumbel"):
            raise ValueError(f"root must be 'puct' or 'gumbel', got {self.root!r}")
        if not 0.0 <= self.dirichlet_weight <= 1.0:
            raise ValueError(f"dirichlet_weight must be in [0, 1], got {self.dirichlet_weight}")
        if self.dirichlet_alpha <= 0:
            raise ValueError(f"dirichlet_alpha must be > 0, got {self.dirichlet_alpha}")
        if self.gumbel_actions < 1:
            raise ValueError(f"gumbel_actions must be >= 1, got {self.gumbel_actions}")
        if self.tree not in ("worlds", "information_set"):
            raise ValueError(f"tree must be 'worlds' or 'information_set', got {self.tree!r}")
        if self.c_uct < 0:
            raise ValueError(f"c_uct must be >= 0, got {self.c_uct}")
        if self.belief_pool < 0:
            raise ValueError(f"belief_pool must be >= 0, got {self.belief_pool}")
        if self.belief_plays < 0:
            raise ValueError(f"belief_plays must be >= 0, got {self.belief_plays}")
        if self.belief_sharpness < 0:
            raise ValueError(f"belief_sharpness must be >= 0, got {self.belief_sharpness}")
        for name in ("value_mix_bid", "value_mix_play"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.rollout not in ("random", "greedy", "learned"):
            raise ValueError(
                f"rollout must be 'random', 'greedy' or 'learned', got {self.rollout!r}"
            )
        if not 0.0 <= self.rollout_epsilon <= 1.0:
            raise ValueError(f"rollout_epsilon must be in [0, 1], got {self.rollout_epsilon}")
        if self.reward not in ("own", "margin"):
            raise ValueError(f"reward must be 'own' or 'margin', got {self.reward!r}")
        if self.temperature < 0 or self.final_temperature < 0:
            raise ValueError("temperatures must be >= 0")

    @property
    def plays_visits(self) -> bool:
        """Whether moves follow the root visit counts (a PUCT root over worlds) rather than the
        search's policy (Gumbel's improved policy, an information-set search's root policy)."""
        return self.tree == "worlds" and self.root == "puct"

    def temperature_at(self, move: int) -> float:
        """Temperature for the ``move``-th decision (0-based) of a hand."""
        return self.temperature if move < self.temperature_moves else self.final_temperature
