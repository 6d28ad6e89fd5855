"""Bad input raises TypeError or ValueError with a useful message, never crashes."""

import numpy as np
import pytest

import swattn
from conftest import qkv


@pytest.fixture
def good(rng):
    return qkv(rng, 2, 10, 10, 4, 2, 8)


def test_wrong_ndim(good):
    q, k, v = good
    for args in [(q[0], k, v), (q, k[..., None], v), (q, k, v[0, 0])]:
        with pytest.raises(ValueError, match="4-D"):
            swattn.window_attention(*args, 2)
    Q = q[0, :, 0]
    for args in [(Q[None], Q, Q), (Q, Q[0], Q), (Q, Q, 1.0)]:
        with pytest.raises(ValueError, match="2-D"):
            swattn.sparse_window_attention(*args, 2)


@pytest.mark.parametrize("case", ["batch", "dim", "seq_kv", "heads_kv", "group"])
def test_mismatched_shapes_4d(good, case):
    q, k, v = good
    q, k, v = {
        "batch": (q[:1], k, v),
        "dim": (q[..., :4], k, v),
        "seq_kv": (q, k, v[:, :9]),
        "heads_kv": (q, k, v[:, :, :1]),
        "group": (q[:, :, :3], k, v),  # 3 query heads over 2 key/value heads
    }[case]
    with pytest.raises(ValueError, match="swattn: ."):
        swattn.window_attention(q, k, v, 2)


def test_mismatched_shapes_2d():
    a = np.ones((6, 4))
    for args in [(a, a[:5], a), (a, a[:, :3], a), (a, a, a[:5]), (a[:5], a, a)]:
        with pytest.raises(ValueError, match="seq_len"):
            swattn.sparse_window_attention(*args, 1)


@pytest.mark.parametrize("bad", [
    np.ones((1, 4, 1, 2), np.complex64), np.full((1, 4, 1, 2), "a"),
    np.ones((1, 4, 1, 2), object), np.zeros((1, 4, 1, 2), "datetime64[s]")])
def test_non_numeric_dtype(good, bad):
    q, k, v = good
    with pytest.raises(TypeError, match="real numbers"):
        swattn.window_attention(bad, k, v, 1)
    with pytest.raises(TypeError, match="real numbers"):
        swattn.sparse_window_attention(bad.reshape(4, 2), np.ones((4, 2)), np.ones((4, 2)), 1)


def test_nested_list_errors():
    with pytest.raises(TypeError):
        swattn.sparse_window_attention([["x"]], [[1.0]], [[1.0]], 0)
    with pytest.raises(ValueError):  # ragged
        swattn.sparse_window_attention([[1.0], [1.0, 2.0]], [[1.0]], [[1.0]], 0)


@pytest.mark.parametrize("window,error", [
    (-2, ValueError), ((-5, 1), ValueError), ((1, -2), ValueError), ((1, 2, 3), ValueError),
    ((1,), ValueError), ("3", TypeError), (1.5, TypeError), ((1.0, 2), TypeError),
    (True, TypeError), ({1: 2}, TypeError), (np.float32(2), TypeError)])
def test_bad_window(good, window, error):
    with pytest.raises(error, match="window"):
        swattn.window_attention(*good, window)


@pytest.mark.parametrize("window,error", [
    (-1, ValueError), (-(2**70), ValueError), (None, TypeError), (2.0, TypeError),
    ((1, 1), TypeError), (False, TypeError)])
def test_bad_window_size(window, error):
    a = np.ones((5, 2))
    with pytest.raises(error, match="window_size"):
        swattn.sparse_window_attention(a, a, a, window)


@pytest.mark.parametrize("scale,error", [
    (0, ValueError), (0.0, ValueError), (1e-50, ValueError), (float("nan"), ValueError),
    (float("inf"), ValueError), (1e300, ValueError), (2**1100, ValueError), (3e38, ValueError),
    ("1", TypeError), (True, TypeError)])
def test_bad_scale(good, scale, error):
    with pytest.raises(error, match="scale"):
        swattn.window_attention(*good, 2, scale=scale)
    a = np.ones((5, 2))
    with pytest.raises(error, match="scale_factor"):
        swattn.sparse_window_attention(a, a, a, 1, scale)


@pytest.mark.parametrize("offset,error", [
    (1.5, TypeError), ("0", TypeError), (2**63, ValueError), (-(2**64), ValueError),
    (2**62, ValueError), (-(2**62), ValueError)])
def test_bad_query_offset(good, offset, error):
    with pytest.raises(error, match="query_offset|offset"):
        swattn.window_attention(*good, 2, query_offset=offset)


@pytest.mark.parametrize("n,error", [(-1, ValueError), (1.0, TypeError), ("2", TypeError)])
def test_bad_num_threads(good, n, error):
    with pytest.raises(error, match="num_threads"):
        swattn.window_attention(*good, 2, num_threads=n)


def test_bad_target_name():
    before = swattn.active_target()
    with pytest.raises(ValueError, match="swattn: .*nope"):
        swattn.set_target("nope")
    with pytest.raises(TypeError):
        swattn.set_target(3)
    with pytest.raises(ValueError, match="NUL"):  # C would stop at the NUL
        swattn.set_target("scalar\0junk")
    assert swattn.active_target() == before


@pytest.mark.parametrize("case", ["batch", "seq"])
def test_bad_shape_is_rejected_before_out_is_allocated(good, case):
    # Broadcast views of huge extent: a 4 TiB out must not be attempted for a
    # call that is invalid anyway.
    q, k, v = good
    big = np.lib.stride_tricks.as_strided(
        np.zeros(1, np.float32), shape=(1, 2**40 if case == "batch" else 2**60, 1, 1),
        strides=(0, 0, 0, 0))
    if case == "batch":
        args = (big, np.ones((2, 3, 1, 1), np.float32), np.ones((2, 3, 1, 1), np.float32))
    else:
        args = (big, big[:, :4], big[:, :4])
    with pytest.raises(ValueError, match="swattn: .*(batch|2\\^59)"):
        swattn.window_attention(*args, 2)


def test_error_does_not_break_later_calls(good):
    with pytest.raises(ValueError):
        swattn.window_attention(good[0][:1], *good[1:], 2)
    q, k, v = good
    assert swattn.window_attention(q, k, v, 2).shape == (2, 10, 4, 8)


@pytest.mark.parametrize("axis", [0, 1, 2, 3])
def test_empty_axis_is_rejected(good, axis):
    # The library needs every extent >= 1; an empty input is an error, not a crash.
    q, k, v = good
    for i, x in enumerate((q, k, v)):
        args = [q, k, v]
        args[i] = np.take(x, [], axis=axis)
        with pytest.raises(ValueError, match="swattn: ."):
            swattn.window_attention(*args, 2)
    with pytest.raises(ValueError, match="swattn: ."):
        swattn.sparse_window_attention(np.ones((0, 2)), np.ones((0, 2)), np.ones((0, 2)), 1)
