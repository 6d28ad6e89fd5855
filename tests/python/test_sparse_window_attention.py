"""sparse_window_attention: the 2-D reference problem, on every target."""

import numpy as np
import pytest

import swattn
from conftest import close, oracle


def reference_2d(Q, K, V, window_size, scale_factor=None):
    out, _ = oracle(*(np.asarray(x)[None, :, None, :] for x in (Q, K, V)),
                    min(window_size, 10**6), min(window_size, 10**6), scale=scale_factor)
    return out[0, :, 0, :]


def test_reference_example(run):
    Q = K = np.array([[1.0], [1.0], [1.0]])
    V = np.array([[1.0], [2.0], [3.0]])
    out = run(swattn.sparse_window_attention, Q, K, V, 1)
    assert out.dtype == np.float32 and out.shape == (3, 1)
    np.testing.assert_allclose(out, [[1.5], [2.0], [2.5]], rtol=1e-6)


def test_nested_lists(run):
    out = run(swattn.sparse_window_attention, [[1], [1], [1]], [[1], [1], [1]],
              [[1], [2], [3]], 1)
    np.testing.assert_allclose(out, [[1.5], [2.0], [2.5]], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.bool_])
def test_dtypes(run, rng, dtype):
    Q, K, V = (rng.standard_normal((17, 8)) * 2 for _ in range(3))
    Q, K, V = (x.astype(dtype) for x in (Q, K, V))
    out = run(swattn.sparse_window_attention, Q, K, V, 3)
    close(out, reference_2d(Q, K, V, 3))


@pytest.mark.parametrize("seq_len,d_k,d_v,window", [
    (1, 1, 1, 0), (5, 3, 7, 0), (40, 16, 16, 4), (64, 33, 9, 100), (100, 64, 32, 17),
    (30, 8, 8, 29), (30, 8, 8, 10**30)])
def test_random(run, rng, seq_len, d_k, d_v, window):
    Q, K = (rng.standard_normal((seq_len, d_k)) for _ in range(2))
    V = rng.standard_normal((seq_len, d_v))
    close(run(swattn.sparse_window_attention, Q, K, V, window),
          reference_2d(Q, K, V, window))


def test_scale_factor(run, rng):
    Q, K, V = (rng.standard_normal((20, 8)) for _ in range(3))
    close(run(swattn.sparse_window_attention, Q, K, V, 2, scale_factor=0.7),
          reference_2d(Q, K, V, 2, scale_factor=0.7))
    close(run(swattn.sparse_window_attention, Q, K, V, 2, -1.5),
          reference_2d(Q, K, V, 2, scale_factor=-1.5))


def test_radius_zero_returns_v(run, rng):
    Q, K, V = (rng.standard_normal((9, 4), np.float32) for _ in range(3))
    np.testing.assert_array_equal(run(swattn.sparse_window_attention, Q, K, V, 0), V)


def test_non_contiguous(run, rng):
    base = rng.standard_normal((3, 24, 16), np.float32)
    Q, K, V = base[0, :, ::2], base[1, ::-1, 3:11], np.asfortranarray(base[2])[:, :8]
    expected = swattn.sparse_window_attention(*(np.ascontiguousarray(x) for x in (Q, K, V)), 3)
    np.testing.assert_array_equal(run(swattn.sparse_window_attention, Q, K, V, 3), expected)


def test_matches_window_attention(run, rng):
    Q, K, V = (rng.standard_normal((50, 16), np.float32) for _ in range(3))
    out = run(swattn.sparse_window_attention, Q, K, V, 5)
    out4 = run(swattn.window_attention, *(x[None, :, None, :] for x in (Q, K, V)), 5)
    np.testing.assert_array_equal(out, out4[0, :, 0, :])
