"""swattn: sliding-window (banded) attention on CPUs, over the swattn C library.

Inputs may be numpy arrays or nested lists of any real dtype (bool, integer or
float); they are converted to float32, the compute dtype, and every result is
float32. Complex, object and string data raise TypeError.

Errors: bad arguments raise TypeError (wrong type) or ValueError (wrong value,
shape or window; also a target this build or CPU cannot run, the library's
SWATTN_ERROR_UNSUPPORTED). MemoryError means the output or the library's
scratch could not be allocated, and RuntimeError an internal error of the
library. Messages carry the library's explanation.

The library is found through SWATTN_LIBRARY (a path), else libswattn.so next
to this package, else <repository>/build/lib/libswattn.so, else
ctypes.util.find_library("swattn"). Calls release the GIL while they compute.
"""

import ctypes
import math
import numbers

import numpy as np

from ._lib import DTYPE_F32, QUERY_OFFSET_DEFAULT, Options, Tensor, check, lib, version

__version__ = version
__all__ = ["sparse_window_attention", "window_attention", "available_targets",
           "active_target", "set_target", "last_forward_target", "__version__"]

_INT64_MAX = 2**63 - 1
_float_p = ctypes.POINTER(ctypes.c_float)


def _real(x, name, ndim, layout):
    """x as an ndarray of real numbers with ndim dimensions."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {a.shape}")
    return a


def _integer(x, name, what):
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {type(x).__name__}")
    return int(x)


def _radius(r, name, what="an int radius or None"):
    """A window radius: None or -1 -> -1 (unbounded), else an int >= 0."""
    if r is None:
        return -1
    r = _integer(r, name, what)
    if r < -1:
        raise ValueError(f"{name} must be >= 0, or -1 or None for unbounded; got {r}")
    return min(r, _INT64_MAX)  # wider than any sequence: unbounded anyway


def _window(window):
    if isinstance(window, (tuple, list)):
        if len(window) != 2:
            raise ValueError(f"window must be an int or a (left, right) pair, got {window!r}")
        return _radius(window[0], "window left"), _radius(window[1], "window right")
    r = _radius(window, "window", "an int radius, None or a (left, right) tuple")
    return r, r


def _scale(scale, name):
    """The C scale: 0 for None (1/sqrt(d)); an explicit 0 cannot be expressed."""
    if scale is None:
        return 0.0
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"{name} must be a real number or None, got {type(scale).__name__}")
    try:
        s = ctypes.c_float(float(scale)).value
    except OverflowError:  # an int or Fraction beyond any float
        s = math.inf
    if s == 0 or not math.isfinite(s):
        raise ValueError(f"{name} must be finite and non-zero in float32, got {scale!r}")
    return s


def _tensor(a):
    """(swattn_tensor, array) for a 4-D real array; keep the array alive during the call.

    A native, aligned float32 array whose last axis has unit stride and whose
    strides are non-negative multiples of 4 bytes is passed as is (a view);
    anything else is copied once into a contiguous float32 array.
    """
    readable = (a.dtype == np.float32 and a.dtype.isnative and a.flags.aligned
                and all(n <= 1 or (s >= 0 and s % 4 == 0) for n, s in zip(a.shape, a.strides))
                and (a.shape[3] <= 1 or a.strides[3] == 4))
    if not readable:
        a = np.require(a, np.float32, ["C", "A"])
    # The stride of an axis of length 0 or 1 is never used; numpy may leave it odd.
    strides = [s // 4 if s >= 0 and s % 4 == 0 else 0 for s in a.strides[:3]]
    return Tensor(a.ctypes.data, DTYPE_F32, *a.shape, *strides), a


def _check_shapes(q, k, v):
    """The library's shape rules, checked before out is allocated: a wrong shape
    gets its ValueError, not a MemoryError for an output it would never write.
    An empty axis is left to the library's message."""
    if min(q + k + v) < 1:
        return
    for name, shape in (("q", q), ("k", k), ("v", v)):
        if max(shape) > 2**59:
            raise ValueError(f"swattn: {name} sizes must be <= 2^59, got shape {shape}")
    if not q[0] == k[0] == v[0]:
        raise ValueError(f"swattn: batch sizes differ: q {q[0]}, k {k[0]}, v {v[0]}")
    if k[3] != q[3]:
        raise ValueError(f"swattn: k.dim ({k[3]}) must equal q.dim ({q[3]})")
    if v[1] != k[1] or v[2] != k[2]:
        raise ValueError(f"swattn: v [B, Nk, Hkv, Dv] must match k's Nk and Hkv: k {k}, v {v}")
    if q[2] % k[2] != 0:
        raise ValueError(f"swattn: q.heads ({q[2]}) must be a multiple of k.heads ({k[2]})")


def _empty(shape):
    """An uninitialised float32 C-contiguous array that starts on a 64-byte boundary.

    Rows of a multiple of 16 floats are then whole cache lines, which large
    outputs are written as without reading them first (non-temporal stores).
    """
    n = math.prod(shape)
    buf = np.empty(n + 16, np.float32)
    start = (-buf.ctypes.data % 64) // 4
    return buf[start:start + n].reshape(shape)


def sparse_window_attention(Q, K, V, window_size, scale_factor=None):
    """Sliding-window attention of one sequence and one head.

    Q, K: (seq_len, d_k); V: (seq_len, d_v); arrays or nested lists of real
    numbers. Query i attends to keys max(0, i - window_size) .. i + window_size
    (window_size: an int >= 0). scale_factor None means 1 / sqrt(d_k).
    Returns a new float32 array (seq_len, d_v).

    Raises TypeError for non-real data or a non-integer window_size, ValueError
    for mismatched shapes, an empty axis, a negative window_size or a zero
    scale_factor.
    """
    Q = _real(Q, "Q", 2, "(seq_len, d_k)")
    K = _real(K, "K", 2, "(seq_len, d_k)")
    V = _real(V, "V", 2, "(seq_len, d_v)")
    seq_len, d_k = Q.shape
    if K.shape != Q.shape or V.shape[0] != seq_len:
        raise ValueError("Q and K must be (seq_len, d_k) and V (seq_len, d_v); got"
                         f" Q {Q.shape}, K {K.shape}, V {V.shape}")
    radius = _integer(window_size, "window_size", "an int")
    if radius < 0:
        raise ValueError(f"window_size must be >= 0, got {radius}")
    scale = _scale(scale_factor, "scale_factor")
    Q, K, V = (np.require(x, np.float32, ["C", "A"]) for x in (Q, K, V))
    out = _empty((seq_len, V.shape[1]))
    ptr = [x.ctypes.data_as(_float_p) for x in (Q, K, V, out)]
    check(lib.swattn_sparse_window_attention_f32(*ptr, seq_len, d_k, V.shape[1],
                                                 min(radius, _INT64_MAX), scale))
    return out


def window_attention(q, k, v, window, *, scale=None, query_offset=None,
                     return_lse=False, num_threads=None):
    """Batched, multi-head sliding-window attention.

    q: [B, Nq, H, D], k: [B, Nk, Hkv, D], v: [B, Nk, Hkv, Dv], with H a multiple
    of Hkv (query head h reads key/value head h // (H // Hkv)). Arrays of any
    real dtype and any strides; float32 arrays that the library can read in
    place (unit stride on the last axis, non-negative strides) are not copied.

    window: an int radius W (keys p - W .. p + W), a (left, right) pair of radii,
    or None (dense); a radius of None or -1 is unbounded on that side, so
    (W, 0) is a causal sliding window and (None, 0) is causal attention.
    Query i sits at key position p = i + query_offset (default Nk - Nq).
    scale: None means 1 / sqrt(D). num_threads: None or 0 means all available;
    the result does not depend on it.

    Returns out [B, Nq, H, Dv] float32, or (out, lse) if return_lse, with lse
    [B, H, Nq] float32 the natural log of each softmax denominator. A query that
    sees no key gets out = 0 and lse = -inf.

    Raises TypeError for non-real data or wrongly typed arguments, ValueError
    for wrong ndim, an empty axis, mismatched shapes or bad window, scale or
    offset values; MemoryError if the library cannot allocate its scratch.
    """
    opts = Options()
    lib.swattn_options_init(ctypes.byref(opts))
    opts.window_left, opts.window_right = _window(window)
    opts.scale = _scale(scale, "scale")
    if query_offset is not None:
        offset = _integer(query_offset, "query_offset", "an int or None")
        if not -_INT64_MAX <= offset <= _INT64_MAX:
            raise ValueError(f"query_offset must fit in int64, got {offset}")
        opts.query_offset = offset
    else:
        opts.query_offset = QUERY_OFFSET_DEFAULT
    if num_threads is not None:
        n = _integer(num_threads, "num_threads", "an int or None")
        if n < 0:
            raise ValueError(f"num_threads must be >= 0 (0: all available), got {n}")
        opts.num_threads = min(n, 2**31 - 1)

    tq, q = _tensor(_real(q, "q", 4, "[B, Nq, H, D]"))
    tk, k = _tensor(_real(k, "k", 4, "[B, Nk, Hkv, D]"))
    tv, v = _tensor(_real(v, "v", 4, "[B, Nk, Hkv, Dv]"))
    _check_shapes(q.shape, k.shape, v.shape)
    batch, nq, heads = q.shape[:3]
    out = _empty((batch, nq, heads, v.shape[3]))
    tout, _ = _tensor(out)
    lse = np.empty((batch, heads, nq), np.float32) if return_lse else None
    lse_p = lse.ctypes.data_as(_float_p) if return_lse else None
    check(lib.swattn_forward(ctypes.byref(opts), ctypes.byref(tq), ctypes.byref(tk),
                             ctypes.byref(tv), ctypes.byref(tout), lse_p))
    return (out, lse) if return_lse else out


def available_targets():
    """Names of the targets this build and CPU can run, best first ("scalar" last)."""
    return [lib.swattn_target_name(i).decode() for i in range(lib.swattn_target_count())]


def active_target():
    """The name of the target forward calls use now."""
    return lib.swattn_active_target().decode()


def set_target(name):
    """Forces a target for the whole process by name; None or "" selects the best.

    Raises ValueError (with the library's message) for an unknown name or one
    this CPU cannot run, and TypeError if name is not a str or None.
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"target name must be a str or None, got {type(name).__name__}")
    if name is not None and "\0" in name:
        raise ValueError(f"target name must not contain NUL, got {name!r}")
    check(lib.swattn_set_target(None if name is None else name.encode()))


def last_forward_target():
    """The target that computed this thread's last successful call, or "" if none."""
    return lib.swattn_last_forward_target().decode()
