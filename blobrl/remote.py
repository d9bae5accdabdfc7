"""Local or remote: the one place that knows the difference.

Everything that talks to another actor goes through :func:`call` or a typed :class:`Remote`,
which take either a Ray actor handle or a :class:`LocalHandle` (a plain object with its own
single worker thread, so calls on it run one at a time and in order, as on a Ray actor). Unit
tests compose the whole system with local handles and no Ray at all; Ray is imported only when a
remote handle is actually used.

A :class:`Remote` names the methods it calls by reference, so a type checker follows the
arguments and the answer::

    learner: Remote[LearnerPort] = Remote(handle)
    pending = learner.call(LearnerPort.train_iteration, 3, positions=1200)  # Call[IterationMetrics]
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class LocalHandle:
    """A plain object whose method calls run one at a time on a thread of its own, or, with
    ``inline``, at once in the caller's thread (a call is done when it returns: tests that
    drive a run step by step need no waiting)."""

    def __init__(self, obj: Any, name: str | None = None, *, inline: bool = False):
        self.obj = obj
        self.name = name or type(obj).__name__
        self._pool = (
            None if inline else cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        )

    def submit(self, method: str, *args: Any, **kwargs: Any) -> cf.Future:
        if self._pool is not None:
            return self._pool.submit(getattr(self.obj, method), *args, **kwargs)
        future: cf.Future = cf.Future()
        try:
            future.set_result(getattr(self.obj, method)(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class Call(Generic[R]):
    """A method call in progress on a local or remote actor; :meth:`result` is its answer."""

    def __init__(self, *, future: cf.Future | None = None, ref: Any = None):
        self._future = future
        self._ref = ref

    def done(self) -> bool:
        if self._future is not None:
            return self._future.done()
        import ray

        ready, _ = ray.wait([self._ref], timeout=0)
        return bool(ready)

    def result(self, timeout: float | None = None) -> R:
        if self._future is not None:
            return self._future.result(timeout)
        import ray

        return ray.get(self._ref, timeout=timeout)

    @property
    def ref(self) -> Any:
        """The Ray ObjectRef (None for a local call)."""
        return self._ref


def call(target: Any, method: str, *args: Any, **kwargs: Any) -> Call[Any]:
    """Call ``method`` on ``target`` (a :class:`LocalHandle` or a Ray actor handle), by name.
    Prefer :meth:`Remote.call`, which a type checker follows."""
    if isinstance(target, LocalHandle):
        return Call(future=target.submit(method, *args, **kwargs))
    return Call(ref=getattr(target, method).remote(*args, **kwargs))


def call_now(target: Any, method: str, *args: Any, timeout: float | None = None, **kwargs: Any):
    """Call and wait for the answer."""
    return call(target, method, *args, **kwargs).result(timeout)


class Remote(Generic[T]):
    """A handle (local or Ray) typed by the interface ``T`` its object has.

    :meth:`call` takes a method of ``T`` itself (``Remote.call(LearnerPort.state, ...)``), so the
    arguments are checked against its signature and the :class:`Call` carries its return type.
    """

    def __init__(self, handle: Any):
        self.handle = handle

    def call(
        self, method: Callable[Concatenate[T, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> Call[R]:
        return call(self.handle, method.__name__, *args, **kwargs)

    def __repr__(self) -> str:
        return f"Remote({self.handle!r})"


def share(value: Any, targets: list[Any]) -> Any:
    """``value`` ready to send to every one of ``targets`` (handles or :class:`Remote`\\ s): put
    in Ray's object store once when any target is a Ray actor (so large weights travel once,
    not once per actor), as it is for local handles."""
    handles = [t.handle if isinstance(t, Remote) else t for t in targets]
    if all(isinstance(h, LocalHandle) for h in handles):
        return value
    import ray

    return ray.put(value)


def kill(target: Any) -> None:
    """Stop a lost Ray actor for good (no restart); a local handle is left to its owner."""
    handle = target.handle if isinstance(target, Remote) else target
    if isinstance(handle, LocalHandle):
        return
    try:
        import ray

        ray.kill(handle, no_restart=True)
    except Exception:
        pass


def free_cpus() -> float:
    """CPUs free in the Ray cluster now (0 without Ray: nothing to grow into)."""
    try:
        import ray

        if not ray.is_initialized():
            return 0.0
        return float(ray.available_resources().get("CPU", 0.0))
    except Exception:
        return 0.0
