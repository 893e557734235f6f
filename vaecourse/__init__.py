"""vaecourse: the helper package of the autoencoder and VAE course.

Import it as ``import vaecourse as vc`` and call ``vc.setup_notebook()`` once per notebook. The
modules are flat and small; each docstring says which notebooks use it.
"""

__version__ = "0.1.0"

from vaecourse import checks, config  # noqa: E402
from vaecourse.config import resolve_device, setup_notebook  # noqa: E402

__all__ = ["checks", "config", "resolve_device", "setup_notebook", "__version__"]
