"""The run's event stream: what the API's WebSocket pushes to clients."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class EventLog:
    """The last ``capacity`` events, numbered; readers long-poll for what is new.

    Events are ``{seq, type, data, timestamp}``; types: ``state``, ``phase``, ``games``,
    ``iteration``, ``evaluation``, ``gauntlet``, ``game_mix``, ``actors``, ``recovery``,
    ``error``. A reader that fell further behind than ``capacity`` gets what is left.
    """

    def __init__(self, capacity: int = 2000):
        self._events: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._seq = 0
        self._ready = threading.Condition()

    def append(self, kind: str, data: dict[str, Any]) -> int:
        with self._ready:
            self._seq += 1
            self._events.append(
                {"seq": self._seq, "type": kind, "data": data, "timestamp": time.time()}
            )
            self._ready.notify_all()
            return self._seq

    def since(self, seq: int, timeout: float = 1.0) -> tuple[list[dict[str, Any]], int]:
        """Events after ``seq`` (waiting up to ``timeout`` s for one) and the newest seq."""
        with self._ready:
            if self._seq <= seq:
                self._ready.wait(timeout)
            return [e for e in self._events if e["seq"] > seq], self._seq
