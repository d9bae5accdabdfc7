"""The network as the search sees it: numpy in, numpy out, with versioned weights."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch

from blobrl.game import FEATURES
from blobrl.game.encoding import CONT_INDEX
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

    def evaluate_packed(self, bits: np.ndarray, cont: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The answer for rows packed as leaf batches travel (``uint8[B, ceil(FEATURES / 8)]``,
        numpy's ``packbits`` order, and ``float32[B, CONT]``; :mod:`blobrl.data.wire`),
        unpacked on the model's device: a sixteenth of the bytes of float rows crosses to a
        GPU, and the host unpacks nothing. The same answer as for the unpacked float rows."""
        with torch.inference_mode():
            inputs = unpack_features(
                torch.from_numpy(bits).to(self.device, non_blocking=True),
                torch.from_numpy(cont).to(self.device, non_blocking=True),
            )
        return self._forward(inputs)

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
        return self._forward(inputs.to(self.device, non_blocking=True))

    def _forward(self, inputs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with (
            torch.inference_mode(),
            torch.autocast(
                device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast
            ),
        ):
            logits, values = self.model(inputs)
        return (
            logits.float().cpu().numpy(),
            values.float().cpu().numpy(),
        )


_SHIFTS = np.arange(7, -1, -1, dtype=np.uint8)  # feature 8 b + j is bit 7 - j of byte b
_CONSTANTS: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}


def unpack_features(bits: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
    """``float32[B, FEATURES]`` from packed rows already on a device (see
    :meth:`TorchEvaluator.evaluate_packed`): every feature from its bit, then the continuous
    ones from ``cont``; the same rows as :func:`blobrl.inference.codec.unpack_rows`."""
    constants = _CONSTANTS.get(bits.device)
    if constants is None:
        constants = (
            torch.from_numpy(_SHIFTS).to(bits.device),
            torch.from_numpy(CONT_INDEX.astype(np.int64)).to(bits.device),
        )
        _CONSTANTS[bits.device] = constants
    shifts, cont_index = constants
    rows = bits.shape[0]
    ones = (bits.unsqueeze(-1) >> shifts) & 1
    features = ones.reshape(rows, -1)[:, :FEATURES].to(torch.float32)
    features[:, cont_index] = cont
    return features
