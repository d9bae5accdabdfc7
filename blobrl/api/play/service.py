"""The sessions of the play routes: created from a checkpoint of the run, kept in memory, at
most ``max_sessions`` of them (the least recently used goes first)."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from pathlib import Path

from blobrl.api.play.catalog import AgentCache, CheckpointCatalog
from blobrl.api.play.errors import NotFound
from blobrl.api.play.models import CheckpointInfo, CheckpointList, ModelView, NewSession, PlayState
from blobrl.api.play.session import Session
from blobrl.api.play.snapshot import describe
from blobrl.api.play.view import model_view

MAX_SESSIONS = 32


class PlayService:
    """Every method is synchronous and may think for a while (the model seats' searches):
    the routes run them in FastAPI's thread pool. One session is used by one request at a time
    (its lock); different sessions play in parallel."""

    def __init__(
        self,
        run_dir: str | Path | None = None,
        *,
        max_sessions: int = MAX_SESSIONS,
        agents: AgentCache | None = None,
    ):
        if max_sessions < 1:
            raise ValueError("max_sessions must be >= 1")
        self.catalog = CheckpointCatalog(run_dir)
        self.agents = agents or AgentCache()
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    # ---- checkpoints --------------------------------------------------------------------------
    def checkpoints(self) -> CheckpointList:
        entries = self.catalog.entries()
        return CheckpointList(
            run_dir=None if self.catalog.run_dir is None else str(self.catalog.run_dir),
            default=entries[0].name if entries else None,
            checkpoints=[
                CheckpointInfo(name=e.name, iteration=e.iteration, best=e.best, modified=e.modified)
                for e in entries
            ],
        )

    # ---- sessions -----------------------------------------------------------------------------
    def create(self, request: NewSession) -> PlayState:
        entry = self.catalog.find(request.checkpoint)
        seed = request.seed if request.seed is not None else secrets.randbits(32)
        agent = self.agents.agent(entry, request.search, seed=seed)
        session = Session.deal(
            secrets.token_hex(16),
            agent,
            checkpoint=entry.name,
            players=request.players,
            cards=request.cards,
            seat=request.seat,
            seed=seed,
            full_game=request.full_game,
        )
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        with session.lock:
            return describe(session)

    def state(self, session_id: str) -> PlayState:
        session = self._get(session_id)
        with session.lock:
            return describe(session)

    def move(self, session_id: str, action: int) -> PlayState:
        session = self._get(session_id)
        with session.lock:
            session.play(action)
            return describe(session)

    def next_round(self, session_id: str) -> PlayState:
        session = self._get(session_id)
        with session.lock:
            session.next_round()
            return describe(session)

    def view(self, session_id: str) -> ModelView:
        session = self._get(session_id)
        with session.lock:
            return model_view(session.agent, session.state, session.seat)

    def delete(self, session_id: str) -> None:
        with self._lock:
            if self._sessions.pop(session_id, None) is None:
                raise NotFound(self._unknown(session_id))

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def _get(self, session_id: str) -> Session:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise NotFound(self._unknown(session_id))
            self._sessions.move_to_end(session_id)
            return session

    def _unknown(self, session_id: str) -> str:
        shown = session_id if len(session_id) <= 40 else session_id[:40] + "..."
        return (
            f"no play session {shown!r}: it never existed, was deleted, or was the least "
            f"recently used when more than {self.max_sessions} were open"
        )
