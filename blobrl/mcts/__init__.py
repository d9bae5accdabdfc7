"""Batched determinized search (PUCT or Gumbel root) over many games at once."""

from blobrl.mcts import beliefs, ismcts
from blobrl.mcts.search import BatchedSearch, Evaluator, SearchResult, search, uniform_evaluator
from blobrl.mcts.settings import SearchSettings
from blobrl.mcts.tree import sample_actions

__all__ = [
    "BatchedSearch",
    "Evaluator",
    "SearchResult",
    "SearchSettings",
    "beliefs",
    "ismcts",
    "sample_actions",
    "search",
    "uniform_evaluator",
]
