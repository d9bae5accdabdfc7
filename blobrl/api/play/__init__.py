"""A person plays a checkpoint of the run in the browser: sessions on the server, one hand or
a full game each, the model seats played by ``blobrl.agents.load`` of the checkpoint."""

from blobrl.api.play.catalog import AgentCache, CheckpointCatalog
from blobrl.api.play.errors import NotFound, PlayError, Refused
from blobrl.api.play.service import MAX_SESSIONS, PlayService

__all__ = [
    "MAX_SESSIONS",
    "AgentCache",
    "CheckpointCatalog",
    "NotFound",
    "PlayError",
    "PlayService",
    "Refused",
]
