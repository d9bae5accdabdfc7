"""The data contract: what self-play, the replay buffer, the game log and the actors pass each
other. :class:`GameRecord` is one finished hand and its training positions; the codec is how a
position is stored compactly (bit-packed flags and float16 continuous features), in records, in
the replay buffer and on disk alike; :class:`TrainingBatch` is what the learner
trains on; :class:`RunState` names the states a run can be in. It
depends on the game alone (docs/design.md, Layers).
"""

from blobrl.data.batch import TrainingBatch
from blobrl.data.codec import (
    BIT_INDEX,
    CONT,
    CONT_INDEX,
    STORED_BIT_BYTES,
    pack_features,
    unpack_features,
)
from blobrl.data.records import GameRecord
from blobrl.data.states import STATES, RunState

__all__ = [
    "BIT_INDEX",
    "CONT",
    "CONT_INDEX",
    "STATES",
    "STORED_BIT_BYTES",
    "GameRecord",
    "RunState",
    "TrainingBatch",
    "pack_features",
    "unpack_features",
]
