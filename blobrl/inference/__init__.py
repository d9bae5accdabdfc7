"""Network evaluations for many callers, without Ray: the InferenceServer and its client.

- :mod:`~blobrl.inference.codec`: the wire format (packed leaf batches, the answer, the error
  for a network the server does not hold).
- :mod:`~blobrl.inference.batcher`: which rows go into each forward pass, and back to whom.
- :mod:`~blobrl.inference.server`: :class:`InferenceServer`, the asyncio dynamic-batching
  evaluator with versioned weights and networks loaded by name.
- :mod:`~blobrl.inference.client`: :class:`InferenceClient`, the evaluator a search in another
  process calls, over a :class:`ServerLink`.

The Ray actor and the link over its handle are :mod:`blobrl.actors.inference`.
"""

from blobrl.inference.client import InferenceClient, NoAnswer, ServerLink
from blobrl.inference.codec import (
    SINGLE_REQUEST_ROWS,
    WIRE_BIT_BYTES,
    WIRE_ROWS,
    Answer,
    ModelNotLoaded,
    pack_rows,
    unpack_request,
    unpack_rows,
)
from blobrl.inference.server import InferenceServer, InferenceStats, Weights, resolve_device

__all__ = [
    "SINGLE_REQUEST_ROWS",
    "WIRE_BIT_BYTES",
    "WIRE_ROWS",
    "Answer",
    "InferenceClient",
    "InferenceServer",
    "InferenceStats",
    "ModelNotLoaded",
    "NoAnswer",
    "ServerLink",
    "Weights",
    "pack_rows",
    "resolve_device",
    "unpack_request",
    "unpack_rows",
]
