"""Shared fixtures and the float64 oracle for the swattn binding tests."""

import numpy as np
import pytest

import swattn

TARGETS = swattn.available_targets()


@pytest.fixture(params=TARGETS)
def target(request):
    """Forces each available target in turn; restores the best one afterwards."""
    swattn.set_target(request.param)
    assert swattn.active_target() == request.param
    yield request.param
    swattn.set_target(None)


@pytest.fixture
def run(target):
    """run(fn, *args, **kwargs): calls fn and checks that the forced target computed it."""
    def call(fn, *args, **kwargs):
        result = fn(*args, **kwargs)
        assert swattn.last_forward_target() == target
        return result
    return call


def f32(x):
    """x rounded to float32 as the binding does, then widened to float64."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def oracle(q, k, v, left=-1, right=-1, scale=None, query_offset=None):
    """Dense masked softmax in float64: (out [B, Nq, H, Dv], lse [B, H, Nq]).

    q [B, Nq, H, D], k [B, Nk, Hkv, D], v [B, Nk, Hkv, Dv]; a radius of -1 is
    unbounded; inputs are rounded to float32 first, like the binding's.
    """
    q, k, v = f32(q), f32(k), f32(v)
    nq, heads, dim = q.shape[1:]
    nk, kv_heads = k.shape[1:3]
    group = heads // kv_heads
    k, v = np.repeat(k, group, axis=2), np.repeat(v, group, axis=2)
    scale = 1 / np.sqrt(dim) if scale is None else float(np.float32(scale))
    offset = nk - nq if query_offset is None else query_offset
    s = scale * np.einsum("bihd,bjhd->bhij", q, k)
    pos = np.arange(nq)[:, None] + offset
    j = np.arange(nk)[None, :]
    visible = np.ones((nq, nk), bool)
    if left >= 0:
        visible &= j >= pos - left
    if right >= 0:
        visible &= j <= pos + right
    s = np.where(visible, s, -np.inf)
    m = s.max(axis=-1, initial=-np.inf)
    e = np.where(visible, np.exp(s - np.where(np.isfinite(m), m, 0)[..., None]), 0)
    l = e.sum(axis=-1)
    out = np.einsum("bhij,bjhd->bihd", e, v) / np.where(l > 0, l, 1).transpose(0, 2, 1)[..., None]
    with np.errstate(divide="ignore"):
        lse = np.where(l > 0, m + np.log(l), -np.inf)
    return out, lse


def close(actual, expected, tol=2e-5):
    """float32 results against the float64 oracle (a few ulp of float32 per term)."""
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def qkv(rng, b, nq, nk, h, hkv, d, dv=None):
    """Random float32 q, k, v with standard normal entries."""
    dv = d if dv is None else dv
    return (rng.standard_normal((b, nq, h, d), np.float32),
            rng.standard_normal((b, nk, hkv, d), np.float32),
            rng.standard_normal((b, nk, hkv, dv), np.float32))
