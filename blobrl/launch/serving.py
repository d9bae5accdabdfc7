"""Shutting Ray Serve down at the end of a launch, without Serve's error lines on the console.

``serve.shutdown()`` (Ray 2.60) asks the Serve controller for ``graceful_shutdown`` and waits
on that call; the controller removes the applications and proxies and then ends itself with
``ray.kill``, so the call it was answering dies with it. The controller's calls are retried
(``max_task_retries=-1``), and Ray reports the dead one on every stop as ``Task
ServeController.graceful_shutdown failed ... killed by ray.kill``. Here the controller is only
told to shut down (``graceful_shutdown(wait=False)`` answers at once) and its exit is watched by
its name, so no call is in flight when it goes.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 30.0  # as serve.shutdown() waits for the controller
_POLL_S = 0.1


def shutdown_serve(*, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
    """Shut Ray Serve (applications, proxies, controller) down on the connected cluster and
    wait until its controller is gone. Returns False when no Serve was running. Ray must be
    initialized; call it before killing the actors the applications use and before
    ``ray.shutdown()``."""
    import ray
    from ray import serve
    from ray.serve._private.constants import SERVE_CONTROLLER_NAME, SERVE_NAMESPACE

    try:
        controller = ray.get_actor(SERVE_CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
    except ValueError:
        _forget_client()
        return False
    deadline = time.monotonic() + timeout_s
    try:
        ray.get(controller.graceful_shutdown.remote(wait=False), timeout=timeout_s)
    except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
        pass  # already going, or gone: watched below either way
    except TypeError:  # a Serve whose graceful_shutdown takes no ``wait``
        log.debug("Serve's controller has no graceful_shutdown(wait=False)", exc_info=True)
        serve.shutdown()
        return True
    while time.monotonic() < deadline:
        try:
            ray.get_actor(SERVE_CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
        except ValueError:
            break  # the controller has ended itself: everything it ran is down
        time.sleep(_POLL_S)
    else:
        log.warning("Ray Serve did not shut down within %.0f s; killing its controller", timeout_s)
        ray.kill(controller, no_restart=True)
    _forget_client()
    return True


def _forget_client() -> None:
    """Drop the driver's cached handle to the controller that is gone (what
    ``serve.shutdown()`` does last), so that a later ``serve.start`` starts afresh."""
    from ray.serve import context

    disconnect = getattr(context, "_disconnect", None)
    if disconnect is not None:
        disconnect()
