"""window_attention: batched, multi-head, asymmetric windows, on every target."""

import numpy as np
import pytest

import swattn
from conftest import close, oracle, qkv


def test_reference_example_4d(run):
    q = k = np.ones((1, 3, 1, 1))
    v = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    out = run(swattn.window_attention, q, k, v, 1)
    np.testing.assert_allclose(out.ravel(), [1.5, 2.0, 2.5], rtol=1e-6)


def test_nested_lists(run):
    q = [[[[1.0]], [[1.0]], [[1.0]]]]
    v = [[[[1]], [[2]], [[3]]]]
    out, lse = run(swattn.window_attention, q, q, v, 1, return_lse=True)
    np.testing.assert_allclose(out.ravel(), [1.5, 2.0, 2.5], rtol=1e-6)
    np.testing.assert_allclose(lse.ravel(), 1 + np.log([2, 3, 2]), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int8])
def test_dtypes(run, rng, dtype):
    q, k, v = (x * 3 for x in qkv(rng, 2, 13, 13, 2, 1, 8))
    q, k, v = (x.astype(dtype) for x in (q, k, v))
    out, lse = run(swattn.window_attention, q, k, v, (2, 3), return_lse=True)
    ref_out, ref_lse = oracle(q, k, v, 2, 3)
    close(out, ref_out)
    close(lse, ref_lse)


# (B, Nq, Nk, H, Hkv, D, Dv, window)
SHAPES = [
    (1, 1, 1, 1, 1, 1, 1, 0),
    (1, 7, 7, 1, 1, 3, 5, 2),
    (2, 33, 33, 3, 3, 16, 16, 5),
    (1, 70, 70, 2, 2, 64, 64, (16, 0)),
    (2, 45, 45, 4, 2, 32, 8, (0, 9)),        # GQA
    (1, 50, 50, 8, 1, 8, 24, (7, 3)),        # MQA
    (1, 130, 130, 2, 1, 40, 40, 1000),       # window wider than the sequence
    (3, 9, 31, 2, 2, 12, 12, (4, 4)),        # Nq < Nk: queries at the end
    (1, 31, 9, 2, 1, 12, 12, (2, 1)),        # Nq > Nk: leading queries see nothing
    (1, 65, 200, 1, 1, 128, 64, (None, 0)),  # causal
]


@pytest.mark.parametrize("b,nq,nk,h,hkv,d,dv,window", SHAPES)
def test_random(run, rng, b, nq, nk, h, hkv, d, dv, window):
    q, k, v = qkv(rng, b, nq, nk, h, hkv, d, dv)
    left, right = (window, window) if isinstance(window, int) else window
    left, right = (-1 if r is None else r for r in (left, right))
    out, lse = run(swattn.window_attention, q, k, v, window, return_lse=True)
    ref_out, ref_lse = oracle(q, k, v, left, right)
    close(out, ref_out)
    close(lse, ref_lse)
    assert lse.shape == (b, h, nq)


def test_dense_forms_agree(run, rng):
    q, k, v = qkv(rng, 1, 40, 40, 2, 2, 16)
    dense = run(swattn.window_attention, q, k, v, None)
    close(dense, oracle(q, k, v)[0])
    for window in [(None, None), (-1, -1), -1, [None, None], (39, 39), 10**30]:
        np.testing.assert_array_equal(run(swattn.window_attention, q, k, v, window), dense)


@pytest.mark.parametrize("window,left,right", [
    ((6, 0), 6, 0), ((None, 0), -1, 0), ((0, None), 0, -1), ((0, 0), 0, 0),
    ((1, 8), 1, 8), ((8, 1), 8, 1), ([3, 5], 3, 5)])
def test_causal_and_asymmetric(run, rng, window, left, right):
    q, k, v = qkv(rng, 2, 37, 37, 2, 1, 16)
    out, lse = run(swattn.window_attention, q, k, v, window, return_lse=True)
    ref_out, ref_lse = oracle(q, k, v, left, right)
    close(out, ref_out)
    close(lse, ref_lse)


def test_radius_zero_returns_v(run, rng):
    q, k, v = qkv(rng, 2, 11, 11, 4, 2, 8, 5)
    out = run(swattn.window_attention, q, k, v, 0)
    np.testing.assert_array_equal(out, np.repeat(v, 2, axis=2))


@pytest.mark.parametrize("nq,nk,offset", [
    (10, 30, None), (10, 30, 0), (10, 30, 5), (30, 10, None), (30, 10, -3), (12, 12, 4)])
def test_query_offset(run, rng, nq, nk, offset):
    q, k, v = qkv(rng, 1, nq, nk, 2, 1, 8)
    out, lse = run(swattn.window_attention, q, k, v, (3, 2), query_offset=offset,
                   return_lse=True)
    ref_out, ref_lse = oracle(q, k, v, 3, 2, query_offset=offset)
    close(out, ref_out)
    close(lse, ref_lse)


def test_scale(run, rng):
    q, k, v = qkv(rng, 1, 20, 20, 1, 1, 8)
    for scale in (0.25, 2.0, -1.0):
        out, lse = run(swattn.window_attention, q, k, v, 4, scale=scale, return_lse=True)
        ref_out, ref_lse = oracle(q, k, v, 4, 4, scale=scale)
        close(out, ref_out)
        close(lse, ref_lse)


def test_empty_rows(run, rng):
    # Positions -10..-1 see no key with right radius 2 until position -2.
    q, k, v = qkv(rng, 1, 20, 20, 2, 2, 8)
    out, lse = run(swattn.window_attention, q, k, v, (1, 2), query_offset=-10,
                   return_lse=True)
    ref_out, ref_lse = oracle(q, k, v, 1, 2, query_offset=-10)
    assert np.all(out[:, :8] == 0) and np.all(lse[:, :, :8] == -np.inf)
    assert np.isfinite(out).all() and np.isfinite(lse[:, :, 8:]).all()
    close(out, ref_out)
    close(lse, ref_lse)
    # Every query past the end of the keys.
    out, lse = run(swattn.window_attention, q, k, v, (0, 5), query_offset=100,
                   return_lse=True)
    assert np.all(out == 0) and np.all(lse == -np.inf)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 5, 7), (1, 100, 8, 64)])
def test_outputs_start_on_a_line(shape):
    q = np.ones(shape, np.float32)
    out = swattn.window_attention(q, q, q, 2)
    assert out.ctypes.data % 64 == 0 and out.flags.c_contiguous
    assert out.shape == shape and np.all(out == 1)


def test_large_output(run, rng):
    # 8 MiB of output, rows of whole lines: SIMD targets stream it.
    q, k, v = qkv(rng, 1, 4096, 4096, 8, 8, 64)
    out = run(swattn.window_attention, q, k, v, 16)
    for a in (0, 2000, 4032):
        ref, _ = oracle(q[:, a:a + 64], k, v, 16, 16, query_offset=a)
        close(out[:, a:a + 64], ref)


def test_nan_stays_in_its_windows(run, rng):
    q, k, v = qkv(rng, 1, 30, 30, 1, 1, 4)
    v[0, 15] = np.nan
    out = run(swattn.window_attention, q, k, v, 3)
    bad = np.isnan(out[0, :, 0, 0])
    np.testing.assert_array_equal(np.flatnonzero(bad), np.arange(12, 19))


def _transposed(a):
    """The same values as a, held in memory as [B, H, N, D] (a non-contiguous view)."""
    return np.ascontiguousarray(a.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)


def test_non_contiguous_inputs(run, rng):
    q, k, v = qkv(rng, 2, 40, 40, 4, 2, 16)
    wide = np.concatenate([q, q], axis=3)
    views = [
        (_transposed(q), _transposed(k), _transposed(v)),
        (q[:, ::-1], k[:, ::-1], v[:, ::-1]),  # negative strides
        (q[..., ::-1], k[..., ::-1], v[::-1]),
        (wide[..., ::2], k[:, :, :, ::1], v),  # last-axis stride 2
        (np.asfortranarray(q), np.asfortranarray(k), np.asfortranarray(v)),
        (q.astype(np.float64)[:, ::-1], k.astype(">f4"), v.T.copy().T),
    ]
    for args in views:
        expected = swattn.window_attention(*(np.ascontiguousarray(x) for x in args), (5, 2))
        np.testing.assert_array_equal(run(swattn.window_attention, *args, (5, 2)), expected)


def test_reversed_sequence(run, rng):
    # Reversing q, k and v along the sequence mirrors the window: (l, r) -> (r, l).
    q, k, v = qkv(rng, 1, 30, 30, 2, 2, 8)
    out = run(swattn.window_attention, q[:, ::-1], k[:, ::-1], v[:, ::-1], (4, 1))
    close(out[:, ::-1], oracle(q, k, v, 1, 4)[0])


def test_float32_views_are_not_copied(run, rng):
    # Slices of a wider float32 buffer: unit last-axis stride, gaps elsewhere.
    q, k, v = (x[:, 1:, :, 2:18] for x in qkv(rng, 2, 41, 41, 2, 2, 24))
    for x in (q, k, v, np.broadcast_to(k[:, :, :1], k.shape)):
        assert not x.flags.c_contiguous
        tensor, passed = swattn._tensor(x)
        assert passed is x and tensor.data == x.ctypes.data
    out = run(swattn.window_attention, q, k, v, 3)
    np.testing.assert_array_equal(
        out, swattn.window_attention(*(np.ascontiguousarray(x) for x in (q, k, v)), 3))
    close(out, oracle(q, k, v, 3, 3)[0])
    # Negative strides and float64 must be copied.
    for x in (q[:, ::-1], q.astype(np.float64)):
        assert swattn._tensor(x)[1] is not x


def test_unaligned_input(run, rng):
    q, k, v = qkv(rng, 1, 12, 12, 2, 1, 8)
    raw = np.zeros(q.nbytes + 1, np.uint8)
    unaligned = raw[1:].view(np.float32).reshape(q.shape)
    unaligned[...] = q
    assert not unaligned.flags.aligned
    np.testing.assert_array_equal(run(swattn.window_attention, unaligned, k, v, 3),
                                  swattn.window_attention(q, k, v, 3))
    Q, K, V = unaligned[0, :, 0], k[0, :, 0], v[0, :, 0]
    np.testing.assert_array_equal(run(swattn.sparse_window_attention, Q, K, V, 3),
                                  swattn.sparse_window_attention(q[0, :, 0], K, V, 3))


def test_broadcast_kv(run, rng):
    q, k, v = qkv(rng, 2, 20, 20, 2, 1, 8)
    kb, vb = np.broadcast_to(k[:1], k.shape), np.broadcast_to(v[:, :1], v.shape)
    out = run(swattn.window_attention, q, kb, vb, 2)
    close(out, oracle(q, np.array(kb), np.array(vb), 2, 2)[0])


def test_num_threads_bitwise(run, rng):
    q, k, v = qkv(rng, 2, 300, 300, 4, 2, 64)
    one, lse1 = run(swattn.window_attention, q, k, v, (40, 7), num_threads=1, return_lse=True)
    for n in (2, 0, None):
        out, lse = run(swattn.window_attention, q, k, v, (40, 7), num_threads=n,
                       return_lse=True)
        np.testing.assert_array_equal(out, one)
        np.testing.assert_array_equal(lse, lse1)
