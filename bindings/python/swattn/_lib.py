"""Loads the swattn shared library and declares the C ABI (include/swattn/swattn.h)."""

import ctypes
import ctypes.util
import os
from pathlib import Path

# The binding uses the functions of swattn 0.1; any later 0.x library has them
# (the C ABI is append-only within a major version).
EXPECTED_MAJOR = 0
MIN_VERSION = 100  # MAJOR * 10000 + MINOR * 100 + PATCH

OK, INVALID_ARGUMENT, UNSUPPORTED, OUT_OF_MEMORY, INTERNAL = range(5)
DTYPE_F32 = 0
QUERY_OFFSET_DEFAULT = -(2**63)


class Tensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int),
        ("batch", ctypes.c_int64),
        ("seq", ctypes.c_int64),
        ("heads", ctypes.c_int64),
        ("dim", ctypes.c_int64),
        ("stride_batch", ctypes.c_int64),
        ("stride_seq", ctypes.c_int64),
        ("stride_head", ctypes.c_int64),
    ]


class Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("window_left", ctypes.c_int64),
        ("window_right", ctypes.c_int64),
        ("scale", ctypes.c_float),
        ("query_offset", ctypes.c_int64),
        ("num_threads", ctypes.c_int32),
    ]


def _candidates():
    """(where, path or name) pairs in search order; None for nothing found."""
    env = os.environ.get("SWATTN_LIBRARY")
    if env:  # an explicit choice: no fallback
        return [("SWATTN_LIBRARY", env)]
    here = Path(__file__).resolve().parent
    repo_root = here.parents[2]  # <repo>/bindings/python/swattn
    return [("next to the package", str(here / "libswattn.so")),
            ("the repository build", str(repo_root / "build" / "lib" / "libswattn.so")),
            ("ctypes.util.find_library('swattn')", ctypes.util.find_library("swattn"))]


def _load():
    tried = []
    for where, path in _candidates():
        if path is None:
            tried.append(f"  {where}: nothing found")
            continue
        if os.sep in path and not os.path.exists(path):
            tried.append(f"  {where}: {path} (no such file)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"  {where}: {path} ({e})")
    raise ImportError(
        "swattn: cannot load the swattn shared library. Looked in:\n"
        + "\n".join(tried)
        + "\nBuild it (cmake -S . -B build && cmake --build build, from the repository"
        " root) or set SWATTN_LIBRARY to the path of libswattn.so.")


def _declare(lib):
    p, c_int64, c_float = ctypes.POINTER, ctypes.c_int64, ctypes.c_float
    float_p = p(c_float)
    protos = {
        "swattn_options_init": (None, [p(Options)]),
        "swattn_forward": (ctypes.c_int, [p(Options), p(Tensor), p(Tensor), p(Tensor),
                                          p(Tensor), float_p]),
        "swattn_sparse_window_attention_f32": (
            ctypes.c_int, [float_p, float_p, float_p, float_p,
                           c_int64, c_int64, c_int64, c_int64, c_float]),
        "swattn_status_string": (ctypes.c_char_p, [ctypes.c_int]),
        "swattn_last_error": (ctypes.c_char_p, []),
        "swattn_version_string": (ctypes.c_char_p, []),
        "swattn_version_number": (ctypes.c_uint32, []),
        "swattn_target_count": (ctypes.c_int, []),
        "swattn_target_name": (ctypes.c_char_p, [ctypes.c_int]),
        "swattn_active_target": (ctypes.c_char_p, []),
        "swattn_set_target": (ctypes.c_int, [ctypes.c_char_p]),
        "swattn_last_forward_target": (ctypes.c_char_p, []),
    }
    for name, (restype, argtypes) in protos.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError(f"swattn: {lib._name} has no {name}: it is not a swattn library"
                              " or is older than this binding. Rebuild it or point"
                              " SWATTN_LIBRARY at a matching libswattn.so.") from None
        fn.restype, fn.argtypes = restype, argtypes


lib = _load()
_declare(lib)

_number = lib.swattn_version_number()
version = lib.swattn_version_string().decode()
if _number // 10000 != EXPECTED_MAJOR or _number < MIN_VERSION:
    raise ImportError(
        f"swattn: the library {lib._name} is version {version} ({_number}); this binding"
        f" needs {EXPECTED_MAJOR}.x with x >= {MIN_VERSION // 100 % 100}. Rebuild it or"
        " point SWATTN_LIBRARY at a matching libswattn.so.")

_ERRORS = {INVALID_ARGUMENT: ValueError, UNSUPPORTED: ValueError,
           OUT_OF_MEMORY: MemoryError, INTERNAL: RuntimeError}


def check(status):
    """Raises the exception for a non-OK status, with the library's message."""
    if status == OK:
        return
    message = lib.swattn_last_error().decode() or lib.swattn_status_string(status).decode()
    raise _ERRORS.get(status, RuntimeError)(f"swattn: {message}")
