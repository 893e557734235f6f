"""vaecourse: the helper package of the autoencoder and VAE course.

Import it as ``import vaecourse as vc`` and call ``vc.setup_notebook()`` once per notebook; then
``vc.data``, ``vc.models``, ``vc.train``, ``vc.evaluate``, ``vc.checks`` and ``vc.plotting`` hold the
rest. The modules are flat and small; each docstring says which notebooks use it. Importing the
package changes no global state.
"""

__version__ = "0.1.0"

from vaecourse import (checks, config, data, evaluate, grading, latent, linear_gaussian, metrics, models, plotting, priors, quantize,  # noqa: E402
                       train, widgets)
from vaecourse.config import resolve_device, setup_notebook  # noqa: E402

__all__ = ["checks", "config", "data", "evaluate", "grading", "latent", "linear_gaussian", "metrics", "models", "plotting", "priors", "quantize", "train", "widgets",
           "resolve_device", "setup_notebook", "__version__"]
