"""Local or remote: the one place that knows the difference.

Everything that talks to another actor goes through :func:`call`, which takes either a Ray actor
handle or a :class:`LocalHandle` (a plain object with its own single worker thread, so calls on
it run one at a time and in order, as on a Ray actor). Unit tests compose the whole system with
local handles and no Ray at all.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any


class LocalHandle:
    """A plain object whose method calls run one at a time on a thread of its own."""

    def __init__(self, obj: Any, name: str | None = None):
        self.obj = obj
        self.name = name or type(obj).__name__
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)

    def submit(self, method: str, *args: Any, **kwargs: Any) -> cf.Future:
        return self._pool.submit(getattr(self.obj, method), *args, **kwargs)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Call:
    """A method call in progress on a local or remote actor."""

    def __init__(self, *, future: cf.Future | None = None, ref: Any = None):
        self._future = future
        self._ref = ref

    def done(self) -> bool:
        if self._future is not None:
            return self._future.done()
        import ray

        ready, _ = ray.wait([self._ref], timeout=0)
        return bool(ready)

    def result(self, timeout: float | None = None) -> Any:
        if self._future is not None:
            return self._future.result(timeout)
        import ray

        return ray.get(self._ref, timeout=timeout)

    @property
    def ref(self) -> Any:
        """The Ray ObjectRef (None for a local call)."""
        return self._ref


def call(target: Any, method: str, *args: Any, **kwargs: Any) -> Call:
    """Call ``method`` on ``target`` (a :class:`LocalHandle` or a Ray actor handle)."""
    if isinstance(target, LocalHandle):
        return Call(future=target.submit(method, *args, **kwargs))
    return Call(ref=getattr(target, method).remote(*args, **kwargs))


def call_now(target: Any, method: str, *args: Any, timeout: float | None = None, **kwargs: Any):
    """Call and wait for the answer."""
    return call(target, method, *args, **kwargs).result(timeout)


def share(value: Any, targets: list[Any]) -> Any:
    """``value`` ready to send to every one of ``targets``: put in Ray's object store once when
    any target is a Ray actor (so large weights travel once, not once per actor), as it is for
    local handles."""
    if all(isinstance(t, LocalHandle) for t in targets):
        return value
    import ray

    return ray.put(value)
