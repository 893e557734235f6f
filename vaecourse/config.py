"""Notebook set-up: seeds, determinism, thread pinning, figure format, device choice.

Every lecture notebook and exercise calls :func:`setup_notebook` once, in its set-up cell. Nothing in
the package changes global state at import time; this is the one place that does.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import platform
import random
import sys
from collections.abc import Iterator

import numpy as np
import torch

THREADS_ENV_VAR = "VAECOURSE_THREADS"
CACHE_ENV_VAR = "VAECOURSE_CACHE"
#: What sets the thread count of torch (``$VAECOURSE_THREADS``, read by :func:`setup_notebook`) and of
#: the math libraries under it. A process that starts kernels (the tests, the benchmarks) sets them all
#: through :func:`thread_environment`, so that every kernel inherits the same count.
THREAD_ENV_VARS = (THREADS_ENV_VAR, "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` into CUDA when a GPU is visible and the CPU otherwise.

    Any other value is passed to :class:`torch.device`, so ``"cpu"`` and ``"cuda:1"`` work as usual.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda'") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but torch sees no CUDA GPU; use 'auto' or 'cpu'")
    return resolved


def thread_count() -> int:
    """The torch thread count to use: ``$VAECOURSE_THREADS``, default 1.

    One thread is the default because two threads on two shared cores were measured more than 10x
    slower than one when another process was busy (thread oversubscription).
    """
    raw = os.environ.get(THREADS_ENV_VAR, "1")
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"${THREADS_ENV_VAR} must be a positive integer, got {raw!r}") from None
    if count < 1:
        raise ValueError(f"${THREADS_ENV_VAR} must be a positive integer, got {raw!r}")
    return count


def thread_environment(threads: int | None = None) -> dict[str, str]:
    """The environment variables that pin torch and its math libraries to ``threads`` threads.

    Default: :func:`thread_count`. This is the one place the course's thread pinning is defined; the
    tests, the benchmarks and ``setup_notebook`` all go through it or :func:`thread_count`.
    """
    count = thread_count() if threads is None else int(threads)
    if count < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return {name: str(count) for name in THREAD_ENV_VARS}


def cache_dir() -> str:
    """Folder for cached data and weights: ``$VAECOURSE_CACHE``, else ``~/.cache/vaecourse``.

    It lives outside the repository so that caches never end up in a commit.
    """
    default = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "vaecourse")
    path = os.environ.get(CACHE_ENV_VAR, default)
    os.makedirs(path, exist_ok=True)
    return path


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def seeded(generator: torch.Generator | None) -> Iterator[None]:
    """Run a block on torch's global generators reseeded from ``generator``, then restore them.

    This lets functions built on ``torch.distributions`` (whose ``sample`` takes no generator) be
    reproducible from a caller's generator without shifting the caller's global random stream. With
    ``generator=None`` the block simply uses, and advances, the global stream.
    """
    if generator is None:
        yield
        return
    with torch.random.fork_rng():  # the CPU and every visible CUDA device
        torch.manual_seed(int(torch.randint(2 ** 62, (1,), generator=generator)))
        yield


def use_deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True)``, without importing torch's compiler.

    The public function also sets the flag of ``torch._inductor.config`` and imports that module for
    it: about 5 s of every kernel start (measured here: 7 of the 12 s of a first set-up cell), in
    every notebook and every autograded submission. The course never compiles (no ``torch.compile``),
    so where inductor is not loaded yet only the eager-mode switch is set, through the same internal
    call the public function makes; the public function is used when that call is missing or
    inductor is already loaded. Either way ``torch.are_deterministic_algorithms_enabled()`` is True.
    """

    set_eager = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_eager is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True)
    else:
        set_eager(True, warn_only=False)
    if not torch.are_deterministic_algorithms_enabled():
        raise RuntimeError("torch did not switch to deterministic algorithms")


def setup_notebook(seed: int = 0, device: str = "auto", *, threads: int | None = None,
                   verbose: bool = True) -> torch.device:
    """Make a notebook reproducible and quick on a small CPU; return the device to use.

    - seeds ``random``, NumPy and torch with ``seed``;
    - turns on torch's deterministic algorithms (with the cuBLAS setting it needs on a GPU), see
      :func:`use_deterministic_algorithms`;
    - pins torch to ``threads`` threads (default: :func:`thread_count`);
    - selects PNG figures at a fixed size and dpi (SVG embeds dates and random ids);
    - prints one line with versions, device and thread count.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    num_threads = thread_count() if threads is None else int(threads)
    torch.set_num_threads(num_threads)
    seed_everything(seed)
    use_deterministic_algorithms()
    _configure_figures()
    resolved = resolve_device(device)
    if verbose:
        from vaecourse import __version__

        print(f"vaecourse {__version__} | python {platform.python_version()} | torch {torch.__version__} "
              f"| device {resolved} | threads {num_threads} | seed {seed}")
    return resolved


#: The figure defaults of every notebook: a fixed size and dpi, grey images, no grid.
FIGURE_SETTINGS = {"figure.figsize": (6.0, 4.0), "figure.dpi": 80, "savefig.dpi": 80, "image.cmap": "gray",
                   "axes.grid": False}


def _configure_figures() -> None:
    """PNG figures with :data:`FIGURE_SETTINGS`: now if matplotlib is loaded, else the moment it loads.

    Loading matplotlib and its inline backend takes about 2 s of a kernel start; a notebook that
    draws nothing (an exercise being graded, say) does not pay it.
    """
    _prefer_png_in_ipython()
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].rcParams.update(FIGURE_SETTINGS)
    elif not any(isinstance(finder, _FigureSettingsOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FigureSettingsOnImport())


def _prefer_png_in_ipython() -> None:
    """Inline figures as PNG (SVG embeds dates and random ids), without loading the inline backend."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: no inline backend
        return
    shell = get_ipython()
    if shell is None:
        return
    if "matplotlib_inline.backend_inline" in sys.modules:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    else:  # read by the inline backend when it starts (InlineBackend is configured from the shell)
        shell.config.InlineBackend.figure_formats = {"png"}


class _FigureSettingsOnImport(importlib.abc.MetaPathFinder):
    """Applies :data:`FIGURE_SETTINGS` right after matplotlib's own import, once, then leaves."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "matplotlib":
            return None
        sys.meta_path.remove(self)  # one shot, and lets the search below find the real package
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def load_then_configure(module):
            load(module)
            module.rcParams.update(FIGURE_SETTINGS)

        spec.loader.exec_module = load_then_configure  # this spec's own loader object
        return spec
