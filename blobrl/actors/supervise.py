"""Every actor is supervised the same way: it logs its start and any crash with its name."""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO) -> None:
    """INFO logs to stderr in an actor's worker process (Ray forwards them to the driver)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger("blobrl").setLevel(level)


def supervised(cls: type, name: str) -> type:
    """A subclass of ``cls`` that logs its start and the traceback of any failing call."""
    log = logging.getLogger(f"blobrl.actor.{name}")

    def wrap(method):
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def async_call(self, *args: Any, **kwargs: Any):
                try:
                    return await method(self, *args, **kwargs)
                except Exception:
                    log.exception("%s.%s failed", name, method.__name__)
                    raise

            return async_call

        @functools.wraps(method)
        def sync_call(self, *args: Any, **kwargs: Any):
            try:
                return method(self, *args, **kwargs)
            except Exception:
                log.exception("%s.%s failed", name, method.__name__)
                raise

        return sync_call

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        setup_logging()
        log.info("%s starting", name)
        try:
            cls.__init__(self, *args, **kwargs)  # type: ignore[misc]
        except Exception:
            log.exception("%s failed to start", name)
            raise
        log.info("%s started", name)

    namespace: dict[str, Any] = {"__init__": __init__, "__module__": cls.__module__}
    for attr, value in vars(cls).items():
        if not attr.startswith("_") and inspect.isfunction(value):
            namespace[attr] = wrap(value)
    return type(cls.__name__, (cls,), namespace)
