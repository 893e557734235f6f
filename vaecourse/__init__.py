"""vaecourse: the helper package of the autoencoder and VAE course.

Import it as ``import vaecourse as vc`` and call ``vc.setup_notebook()`` once per notebook; then
``vc.data``, ``vc.models``, ``vc.train``, ``vc.yardstick`` (sample quality), ``vc.evaluate`` (likelihoods),
``vc.checks`` and ``vc.plotting`` hold the rest. The modules are flat and small; each docstring says which notebooks use it. Importing the
package changes no global state.

Each module is imported the first time it is used (``vc.models`` imports ``vaecourse.models``), so
``from vaecourse.grading import ...`` in the grader's process (nbgrader_config.py) does not load
torch and matplotlib, and a kernel loads only what its notebook uses.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_MODULES = ("checks", "classifier", "config", "data", "evaluate", "grading", "latent", "linear_gaussian", "metrics",
            "models", "plotting", "priors", "quantize", "train", "widgets", "yardstick")
_FROM_CONFIG = ("resolve_device", "setup_notebook")

__all__ = [*_MODULES, *_FROM_CONFIG, "__version__"]


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"vaecourse.{name}")  # also sets the attribute on the package
    if name in _FROM_CONFIG:
        return getattr(importlib.import_module("vaecourse.config"), name)
    raise AttributeError(f"module 'vaecourse' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
