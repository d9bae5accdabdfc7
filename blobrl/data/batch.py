"""What the learner trains on: a batch of positions sampled from the replay buffer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blobrl.game import FEATURES, MAX_PLAYERS, NUM_ACTIONS


@dataclass(frozen=True)
class TrainingBatch:
    """A batch of ``B`` positions sampled from the replay buffer.

    * ``features``: ``float32[B, FEATURES]`` information states of the acting player;
    * ``legal_mask``: ``bool[B, 65]`` legal actions;
    * ``policy_target``: ``float32[B, 65]`` the search's visit distribution (sums to 1, zero on
      illegal actions);
    * ``value_target``: ``float32[B, 8]`` final score of each relative seat normalized to [0, 1];
    * ``seat_mask``: ``bool[B, 8]`` which relative seats exist at that table;
    * ``trick_target``: ``int64[B, 8]`` tricks each relative seat still takes from the position
      (-1 where unknown), the target of a trick-count head; None trains no trick head.
    """

    features: np.ndarray
    legal_mask: np.ndarray
    policy_target: np.ndarray
    value_target: np.ndarray
    seat_mask: np.ndarray
    trick_target: np.ndarray | None = None

    def __post_init__(self) -> None:
        size = self.features.shape[0]
        expected = {
            "features": ((size, FEATURES), np.float32),
            "legal_mask": ((size, NUM_ACTIONS), np.bool_),
            "policy_target": ((size, NUM_ACTIONS), np.float32),
            "value_target": ((size, MAX_PLAYERS), np.float32),
            "seat_mask": ((size, MAX_PLAYERS), np.bool_),
            "trick_target": ((size, MAX_PLAYERS), np.int64),
        }
        for name, (shape, dtype) in expected.items():
            array = getattr(self, name)
            if array is None and name == "trick_target":
                continue
            if array.shape != shape or array.dtype != dtype:
                raise ValueError(
                    f"TrainingBatch.{name} must be {np.dtype(dtype).name}{list(shape)}, "
                    f"got {array.dtype.name}{list(array.shape)}"
                )

    def __len__(self) -> int:
        return self.features.shape[0]
