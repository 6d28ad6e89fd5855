"""Targets, version, loading and threading of the binding."""

import ctypes.util
import os
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import swattn
from conftest import TARGETS, qkv


def test_version():
    assert re.fullmatch(r"0\.\d+\.\d+", swattn.__version__)


def test_available_targets():
    assert TARGETS and TARGETS[-1] == "scalar"
    assert len(set(TARGETS)) == len(TARGETS)
    assert set(TARGETS) <= {"avx512", "avx2", "sve2", "sve", "neon", "scalar"}


@pytest.mark.parametrize("best", [None, ""])
def test_set_target_best(best):
    swattn.set_target("scalar")
    assert swattn.active_target() == "scalar"
    swattn.set_target(best)
    assert swattn.active_target() == TARGETS[0]


def test_last_forward_target_is_per_thread(rng):
    q, k, v = qkv(rng, 1, 8, 8, 1, 1, 4)
    seen = []

    def work():
        seen.append(swattn.last_forward_target())
        swattn.window_attention(q, k, v, 1)
        seen.append(swattn.last_forward_target())
        with pytest.raises(ValueError):  # a failed call leaves it unchanged
            swattn.window_attention(q, k, v, -3)
        seen.append(swattn.last_forward_target())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == ["", swattn.active_target(), swattn.active_target()]


def test_concurrent_calls(rng):
    inputs = [qkv(rng, 1, 200, 200, 2, 1, 32) for _ in range(4)]
    expected = [swattn.window_attention(*x, 16) for x in inputs]
    results = [None] * len(inputs)

    def work(i):
        results[i] = swattn.window_attention(*inputs[i], 16)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r, e in zip(results, expected):
        np.testing.assert_array_equal(r, e)


LIBRARY = swattn._lib.lib._name


def _import_swattn(library=None, path=None):
    """Imports swattn in a fresh interpreter; prints the library it loaded."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("SWATTN_LIBRARY", None)
    if library is not None:
        env["SWATTN_LIBRARY"] = library
    if path is not None:
        env["PYTHONPATH"] = str(path)
    code = "import swattn; print(swattn.__version__, swattn._lib.lib._name)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_swattn_library_override():
    result = _import_swattn(LIBRARY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [swattn.__version__, LIBRARY]


@pytest.mark.parametrize("where", ["build/lib", "bindings/python/swattn"])
def test_default_search(tmp_path, where):
    # A repository-like tree: <root>/bindings/python/swattn and the library in `where`.
    package = tmp_path / "bindings" / "python" / "swattn"
    shutil.copytree(os.path.dirname(swattn.__file__), package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    (tmp_path / where).mkdir(parents=True, exist_ok=True)
    library = tmp_path / where / "libswattn.so"
    shutil.copy(LIBRARY, library)
    result = _import_swattn(path=package.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [swattn.__version__, str(library)]


def test_missing_library_message(tmp_path):
    missing = str(tmp_path / "libswattn.so")
    result = _import_swattn(missing)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert missing in result.stderr and "SWATTN_LIBRARY" in result.stderr
    assert "cmake" in result.stderr


def test_not_a_swattn_library():
    other = ctypes.util.find_library("m") or ctypes.util.find_library("c")
    result = _import_swattn(other)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "not a swattn library" in result.stderr
