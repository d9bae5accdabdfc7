"""The wire format: packed rows unpack exactly, a full request and its answer fit inline in a
Ray call, and malformed requests are refused."""

from __future__ import annotations

import numpy as np
import pytest

from blobrl.data import CONT_INDEX
from blobrl.game import FEATURES
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


def test_packing_is_numpys_packbits_for_any_floats():
    # The one-pass packer must agree with the definition bit for bit: a bit is set exactly where
    # the float is not zero (NaN and negative values set it, -0.0 does not), in numpy's
    # big-endian bit order, the last byte padded with zeros.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, FEATURES)).astype(np.float32)
    x[x < 0.8] = 0.0
    x[0, 5], x[1, 6], x[2, FEATURES - 1], x[3, 0] = np.nan, -0.0, -2.5, np.inf
    bits, cont = pack_rows(x)
    np.testing.assert_array_equal(bits, np.packbits(x != 0, axis=1))
    np.testing.assert_array_equal(cont, x[:, CONT_INDEX])
    # and a non-contiguous float64 batch packs as its float32 copy does
    wide = np.asarray(x, np.float64)[::2]
    np.testing.assert_array_equal(pack_rows(wide)[0], pack_rows(x[::2].copy())[0])


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
