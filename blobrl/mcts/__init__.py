"""Batched search over many games at once: K network-guided determinized trees (PUCT or Gumbel
root), or one information-set tree per decision with bid-weighted worlds."""

from blobrl.mcts import beliefs, ismcts
from blobrl.mcts.information_set import InformationSetSearch, make_search
from blobrl.mcts.search import BatchedSearch, Evaluator, SearchResult, search, uniform_evaluator
from blobrl.mcts.settings import SearchSettings
from blobrl.mcts.tree import sample_actions

__all__ = [
    "BatchedSearch",
    "Evaluator",
    "InformationSetSearch",
    "SearchResult",
    "SearchSettings",
    "beliefs",
    "ismcts",
    "make_search",
    "sample_actions",
    "search",
    "uniform_evaluator",
]
