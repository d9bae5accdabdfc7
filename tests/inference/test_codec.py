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


@pytest.mark.parametrize("seed", range(4))
def test_packed_rows_unpack_to_the_same_floats_on_the_host_and_with_torch(seed):
    """The server's two ways of unpacking (into its staging rows on the host; on the model's
    device, here the CPU) give the rows ``unpack_rows`` gives, bit for bit: random bits with
    random continuous values, and real positions of every table size."""
    import torch

    from blobrl.inference.codec import unpack_into
    from blobrl.nn.evaluator import unpack_features

    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 300))
    random_bits = rng.integers(0, 256, (rows, WIRE_BIT_BYTES), dtype=np.uint8)
    random_bits[:, -1] &= np.uint8(0xFF << (8 * WIRE_BIT_BYTES - FEATURES) & 0xFF)  # padding 0
    random_cont = rng.standard_normal((rows, CONT_INDEX.shape[0])).astype(np.float32)
    for bits, cont in ((random_bits, random_cont), pack_rows(encoded_positions(rows, seed))):
        expected = unpack_rows(bits, cont)
        staged = np.full((rows + 3, FEATURES), np.nan, np.float32)
        unpack_into(bits, cont, staged[1 : rows + 1])
        np.testing.assert_array_equal(staged[1 : rows + 1], expected)
        assert np.isnan(staged[0]).all() and np.isnan(staged[rows + 1 :]).all()
        on_torch = unpack_features(torch.from_numpy(bits), torch.from_numpy(cont))
        assert on_torch.dtype == torch.float32
        np.testing.assert_array_equal(on_torch.numpy(), expected)
