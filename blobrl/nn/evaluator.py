"""The network as the search sees it: numpy in, numpy out, with versioned weights."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch

from blobrl.game import FEATURES
from blobrl.nn.base import BlobNet


class TorchEvaluator:
    """Wraps a :class:`BlobNet` into ``evaluator(features) -> (logits, values)``.

    ``features`` is ``float32[B, FEATURES]``; the answer is ``float32[B, 65]`` raw policy logits
    (unmasked: the search applies its legal mask) and ``float32[B, 8]`` seat values in [0, 1].
    The model runs in eval and inference mode on ``device``; on CUDA under bf16 autocast (unless
    ``autocast=False``). A C-contiguous float32 input is handed to torch without a copy. The
    evaluator does not change torch's thread count: a self-play process that wants one thread
    calls ``torch.set_num_threads(1)`` itself.
    """

    def __init__(
        self,
        model: BlobNet,
        *,
        device: str | torch.device = "cpu",
        autocast: bool | None = None,
        version: int = 0,
    ) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {self.device} requested but CUDA is not available")
        self.model = model.to(self.device).eval()
        on_cuda = self.device.type == "cuda"
        self.autocast = on_cuda if autocast is None else (autocast and on_cuda)
        self._version = version
        self._rollout: np.ndarray | None = None

    @property
    def version(self) -> int:
        """Version of the weights now loaded (the learner's publication counter)."""
        return self._version

    @property
    def rollout_weights(self) -> np.ndarray:
        """The network's learned rollout rule (``float64[rollout.NUM_WEIGHTS]``)."""
        if self._rollout is None:
            self._rollout = self.model.rollout_weights.detach().cpu().numpy().astype(np.float64)
        return self._rollout

    def set_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> None:
        """Load ``state_dict`` (tensors on any device) and record its ``version``."""
        self.model.load_state_dict(state_dict)
        self.model.eval()
        self._version = version
        self._rollout = None

    def __call__(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if features.ndim != 2 or features.shape[1] != FEATURES:
            raise ValueError(f"features must be [B, {FEATURES}], got shape {features.shape}")
        features = np.ascontiguousarray(features, dtype=np.float32)  # no copy when already so
        if not features.flags.writeable:
            # Arrays from Ray's object store are read-only; torch warns, and we never write.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                inputs = torch.from_numpy(features)
        else:
            inputs = torch.from_numpy(features)
        with (
            torch.inference_mode(),
            torch.autocast(
                device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast
            ),
        ):
            logits, values = self.model(inputs.to(self.device, non_blocking=True))
        return (
            logits.float().cpu().numpy(),
            values.float().cpu().numpy(),
        )
