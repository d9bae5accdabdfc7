"""Players: the agent protocol, random and rule-based agents, trained models, and ``load``."""

from blobrl.agents.base import Agent, RandomAgent, act_many
from blobrl.agents.heuristic import HeuristicAgent
from blobrl.agents.loading import AgentSpecError, load
from blobrl.agents.model import ModelAgent, play_settings
from blobrl.agents.view import PlayerView, observe

__all__ = [
    "Agent",
    "AgentSpecError",
    "HeuristicAgent",
    "ModelAgent",
    "PlayerView",
    "RandomAgent",
    "act_many",
    "load",
    "observe",
    "play_settings",
]
