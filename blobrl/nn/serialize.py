"""Weights as bytes, for publishing between actors and for checkpoints. Never pickle."""

from __future__ import annotations

import io
from collections.abc import Mapping

import torch


def state_dict_to_bytes(state_dict: Mapping[str, torch.Tensor]) -> bytes:
    """Serialize a tensor state dict with ``torch.save``; tensors are detached and moved to CPU
    first, so the bytes load on a machine without the device they came from."""
    cpu = {name: tensor.detach().cpu() for name, tensor in state_dict.items()}
    buffer = io.BytesIO()
    torch.save(cpu, buffer)
    return buffer.getvalue()


def bytes_to_state_dict(
    data: bytes, *, map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Inverse of :func:`state_dict_to_bytes`, with ``torch.load(weights_only=True)``: only
    tensors and plain containers are accepted, never arbitrary objects."""
    return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
