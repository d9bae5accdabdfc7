from __future__ import annotations

import pytest

from blobrl.bench.gamelog import typical_record


@pytest.fixture
def make_record():
    """``make_record(game_id, positions=..., iteration=...)``: a 5x7 record of random contents."""

    def make(game_id: int = 0, *, positions: int = 30, iteration: int = 1):
        record = typical_record(game_id, positions=positions)
        record.iteration = iteration
        return record

    return make
