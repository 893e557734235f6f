"""Unit tests of vaecourse.config: seeding, determinism, thread pinning, device choice, cache folder."""

import os
import random

import matplotlib
import numpy as np
import pytest
import torch

from vaecourse import config
from vaecourse.config import resolve_device, setup_notebook


@pytest.fixture(autouse=True)
def restore_global_state(monkeypatch):
    """setup_notebook changes process-wide state on purpose; put every piece of it back afterwards."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch_rng, numpy_rng, python_rng = torch.get_rng_state(), np.random.get_state(), random.getstate()
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)  # setup_notebook sets it; undone after
    with matplotlib.rc_context():
        yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.set_rng_state(torch_rng)
    np.random.set_state(numpy_rng)
    random.setstate(python_rng)


@pytest.fixture
def no_cuda(monkeypatch):
    """Make the device tests mean the same on a GPU machine as on the CPU-only CI."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


# -------------------------------------------------------------------------------------- setup_notebook
def test_setup_notebook_returns_a_device(no_cuda):
    device = setup_notebook(device="auto", verbose=False)
    assert isinstance(device, torch.device)
    assert device == torch.device("cpu")


@pytest.mark.parametrize("threads", ["1", "2"])
def test_setup_notebook_pins_threads_from_environment(monkeypatch, threads):
    torch.set_num_threads(3 if threads == "1" else 1)  # start from something else, so the test can fail
    monkeypatch.setenv(config.THREADS_ENV_VAR, threads)
    setup_notebook(device="cpu", verbose=False)
    assert torch.get_num_threads() == int(threads)


def test_setup_notebook_threads_argument_overrides_environment(monkeypatch):
    monkeypatch.setenv(config.THREADS_ENV_VAR, "1")
    setup_notebook(device="cpu", threads=2, verbose=False)
    assert torch.get_num_threads() == 2


def test_thread_count_defaults_to_one(monkeypatch):
    monkeypatch.delenv(config.THREADS_ENV_VAR, raising=False)
    assert config.thread_count() == 1


@pytest.mark.parametrize("threads", ["1", "3"])
def test_thread_environment_pins_every_library(monkeypatch, threads):
    """One place sets every thread variable, from $VAECOURSE_THREADS or an explicit count."""
    monkeypatch.setenv(config.THREADS_ENV_VAR, threads)
    assert config.thread_environment() == {"VAECOURSE_THREADS": threads, "OMP_NUM_THREADS": threads,
                                           "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
    assert set(config.thread_environment(2).values()) == {"2"}
    with pytest.raises(ValueError):
        config.thread_environment(0)


def test_the_test_session_pins_kernels_to_one_thread():
    """tests/conftest.py puts the thread environment into os.environ, which every kernel inherits."""
    import os

    assert {name: os.environ.get(name) for name in config.THREAD_ENV_VARS} == config.thread_environment(1)


@pytest.mark.parametrize("raw", ["0", "-2", "abc", "1.5", ""])
def test_setup_notebook_rejects_bad_thread_counts(monkeypatch, raw):
    monkeypatch.setenv(config.THREADS_ENV_VAR, raw)
    with pytest.raises(ValueError, match=r"VAECOURSE_THREADS must be a positive integer"):
        setup_notebook(device="cpu", verbose=False)


def test_setup_notebook_seeds_every_generator():
    def draws():
        return torch.rand(5), np.random.rand(5), [random.random() for _ in range(5)]

    setup_notebook(seed=3, device="cpu", verbose=False)
    first = draws()
    setup_notebook(seed=3, device="cpu", verbose=False)
    second = draws()
    setup_notebook(seed=4, device="cpu", verbose=False)
    other = draws()
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1]) and first[2] == second[2]
    assert not torch.equal(first[0], other[0])
    assert not np.array_equal(first[1], other[1])
    assert first[2] != other[2]


def test_setup_notebook_keeps_kernel_start_cheap():
    """Deterministic mode without torch._inductor, figure settings without loading matplotlib until it is used.

    Each costs seconds of every kernel start (5 s and 2 s here). In a fresh process: after
    setup_notebook, deterministic, neither loaded; matplotlib imported later gets the settings (a
    plain matplotlib draws 6.4 x 4.8 inch figures); an IPython shell's inline backend draws PNG. Then
    the negative control for the compiler: torch's public call loads it (why setup_notebook avoids it).
    """
    import subprocess
    import sys

    code = """
import sys, torch, vaecourse as vc
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
vc.setup_notebook(device='cpu', verbose=False)
print(torch.are_deterministic_algorithms_enabled(), 'torch._inductor.config' in sys.modules, 'matplotlib' in sys.modules)
import matplotlib.pyplot as plt
print(tuple(plt.rcParams['figure.figsize']) == (6.0, 4.0), plt.rcParams['figure.dpi'] == 80)
from matplotlib_inline.backend_inline import InlineBackend, configure_inline_support
configure_inline_support(shell, 'inline')
print(InlineBackend.instance().figure_formats == {'png'})
torch.use_deterministic_algorithms(True)
print('torch._inductor.config' in sys.modules)
"""
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["True", "False", "False", "True", "True", "True", "True"]


def test_setup_notebook_enables_deterministic_algorithms():
    torch.use_deterministic_algorithms(False)
    setup_notebook(device="cpu", verbose=False)
    assert torch.are_deterministic_algorithms_enabled()
    assert os.environ.get("CUBLAS_WORKSPACE_CONFIG") == ":4096:8"  # what cuBLAS needs to be deterministic


def test_setup_notebook_sets_png_friendly_figure_defaults():
    matplotlib.rcParams["figure.dpi"] = 123
    setup_notebook(device="cpu", verbose=False)
    assert matplotlib.rcParams["figure.dpi"] == 80
    assert tuple(matplotlib.rcParams["figure.figsize"]) == (6.0, 4.0)


def test_setup_notebook_prints_one_summary_line(monkeypatch, capsys, no_cuda):
    monkeypatch.setenv(config.THREADS_ENV_VAR, "1")
    setup_notebook(seed=7, device="auto")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "device cpu" in lines[0] and "threads 1" in lines[0] and "seed 7" in lines[0]
    assert torch.__version__ in lines[0]


def test_setup_notebook_quiet_prints_nothing(capsys):
    setup_notebook(device="cpu", verbose=False)
    assert capsys.readouterr().out == ""


def test_setup_notebook_rejects_unknown_device():
    with pytest.raises(ValueError, match="unknown device 'banana'"):
        setup_notebook(device="banana", verbose=False)


# -------------------------------------------------------------------------------------- resolve_device
def test_resolve_device_auto_is_cpu_without_cuda(no_cuda):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")


def test_resolve_device_auto_is_cuda_when_visible(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_resolve_device_passes_cpu_and_devices_through():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_resolve_device_checks_a_cuda_device_object_too(no_cuda):
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        resolve_device(torch.device("cuda"))


@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_resolve_device_cuda_without_gpu_is_an_error(no_cuda, name):
    with pytest.raises(ValueError, match=rf"device '{name}' was asked for, but torch sees no CUDA GPU"):
        resolve_device(name)


@pytest.mark.parametrize("name", ["banana", "gpu", ""])
def test_resolve_device_rejects_unknown_strings(name):
    with pytest.raises(ValueError, match=rf"unknown device '{name}'"):
        resolve_device(name)


# ------------------------------------------------------------------------------------------ cache_dir
def test_cache_dir_follows_environment_and_creates_the_folder(monkeypatch, tmp_path):
    target = tmp_path / "nested" / "cache"
    monkeypatch.setenv(config.CACHE_ENV_VAR, str(target))
    assert config.cache_dir() == str(target)
    assert target.is_dir()


def test_cache_dir_default_is_outside_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv(config.CACHE_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert config.cache_dir() == os.path.join(str(tmp_path), "vaecourse")


def test_import_changes_no_global_state(monkeypatch):
    """Re-import the package from scratch: threads, determinism, RNG streams and rcParams stay put."""
    import importlib
    import sys

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(False)
    matplotlib.rcParams["figure.dpi"] = 123
    torch.manual_seed(12345)
    np.random.seed(12345)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy())
    for name in [name for name in sys.modules if name == "vaecourse" or name.startswith("vaecourse.")]:
        monkeypatch.delitem(sys.modules, name)  # restored after the test
    fresh = importlib.import_module("vaecourse")
    assert fresh.setup_notebook is not setup_notebook  # really a new import
    assert torch.get_num_threads() == 2
    assert not torch.are_deterministic_algorithms_enabled()
    assert matplotlib.rcParams["figure.dpi"] == 123
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])
