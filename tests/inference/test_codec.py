"""The wire format: packed rows unpack exactly, a full request and its answer fit inline in a
Ray call, and malformed requests are refused."""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.inference import WIRE_BIT_BYTES, WIRE_ROWS, pack_rows, unpack_request, unpack_rows

from .nets import encoded_positions


def test_packed_rows_unpack_exactly_and_a_full_request_and_its_answer_go_inline():
    x = encoded_positions(WIRE_ROWS, seed=5)
    bits, cont = pack_rows(x)
    assert bits.dtype == np.uint8 and bits.shape == (WIRE_ROWS, WIRE_BIT_BYTES)
    np.testing.assert_array_equal(unpack_rows(bits, cont), x)
    # Ray passes a call's arguments and result inline up to 100 KiB (the object store beyond);
    # the arrays' bytes must leave room for the framing around them.
    answer = (np.zeros((WIRE_ROWS, 65), np.float32), np.zeros((WIRE_ROWS, 8), np.float32))
    for payload in ((bits, cont), answer):
        assert sum(a.nbytes for a in payload) < 100 * 1024 - 4096


@pytest.mark.parametrize("bad", ["short_bits", "wide_dtype", "rows_differ", "flat"])
def test_a_request_of_the_wrong_shape_is_refused(bad):
    bits, cont = pack_rows(encoded_positions(6, seed=1))
    bits, cont = {
        "short_bits": (bits[:, :-1], cont),
        "wide_dtype": (bits.astype(np.int16), cont),
        "rows_differ": (bits, cont[:-1]),
        "flat": (bits.ravel(), cont),
    }[bad]
    with pytest.raises(ValueError, match="packed rows must be"):
        unpack_request(bits, cont)
