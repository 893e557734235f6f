"""Likelihood estimates and the course's way of reporting repeated measures (notebooks 00, 05, 07).

- :func:`iwae_log_likelihood`: the importance-weighted estimate of log p(x) for a VAE (Burda et al.
  2016). It is a density only where the decoder's likelihood is a normalised one: on grey-level
  pixels a Bernoulli decoder's number is not a log-likelihood (notebook 06 measures by how much).
- :func:`spread`: "mean [min, max]" over seeds, the way the notebooks report every repeated measure.
- :func:`count_work`: the arithmetic work of a computation, counted (not timed): the tensor elements
  every operation writes plus the floating-point operations of its matrix products (notebook 07
  compares what a sample and a training step cost with it, reproducibly on any machine).

The sample-quality measures live in :mod:`vaecourse.yardstick`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from vaecourse.config import seeded
from vaecourse.data import as_image_batch
from vaecourse.train import eval_mode


class Work(NamedTuple):
    """What :func:`count_work` counted: operations dispatched, elements they wrote, matrix-product flops."""

    operations: int
    elements: int
    matmul_flops: int

    @property
    def total(self) -> int:
        """Elements written plus matrix-product flops: one number to compare computations by."""
        return self.elements + self.matmul_flops


def count_work(fn, *args, **kwargs) -> Work:
    """Run ``fn(*args, **kwargs)`` once and count its work on tensors (no timing).

    Every ATen operation it dispatches (forward and, if ``fn`` calls ``backward``, backward) is counted
    with the number of elements of its outputs; matrix products (mm, addmm, bmm, convolutions, ...)
    add their floating-point operations as :class:`torch.utils.flop_counter.FlopCounterMode` counts
    them. What it cannot see: the work *inside* one operation beyond what it writes, e.g. the
    expected iterations of a rejection sampler (torch's Gamma and Dirichlet samplers, each one
    operation). Counts depend on torch's implementation of an operation, not on the machine.
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten
    from torch.utils.flop_counter import FlopCounterMode

    class _Elements(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.operations = self.elements = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            self.operations += 1
            self.elements += sum(t.numel() for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor))
            return out

    flops = FlopCounterMode(display=False)
    with flops, _Elements() as elements:
        fn(*args, **kwargs)
    return Work(elements.operations, elements.elements, int(flops.get_total_flops()))


def spread(values, digits: int = 1) -> str:
    """``values`` measured over seeds (or runs) as text: ``"mean [min, max]"``, ``digits`` decimals."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if not isinstance(values, np.ndarray):
        values = [float(v) for v in values]  # any iterable: lists of tensors, generators
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("spread needs at least one value")
    return f"{values.mean():.{digits}f} [{values.min():.{digits}f}, {values.max():.{digits}f}]"


@torch.no_grad()
def iwae_log_likelihood(model, x, *, num_samples: int = 100, batch_size: int = 100,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) per example ``(B,)``, in nats (Burda et al. 2016).

    log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K, z_k ~ q(z|x). It is a
    lower bound in expectation that rises with K toward log p(x); K = 1 is the ELBO.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    x = as_image_batch(x, model.image_shape, name="x")
    device = next(model.parameters()).device
    estimates = []
    with eval_mode(model), seeded(generator):
        for batch in x.split(max(1, batch_size)):
            batch = batch.to(device)
            q_z = model.encode(batch)
            z = q_z.sample((num_samples,))  # (K, B, D)
            p_x = model.decode(z.flatten(0, 1))
            log_px_given_z = p_x.log_prob(batch.repeat(num_samples, *([1] * (batch.dim() - 1)))).view(num_samples, -1)
            log_w = log_px_given_z + model.prior().log_prob(z) - q_z.log_prob(z)
            estimates.append((torch.logsumexp(log_w, dim=0) - math.log(num_samples)).cpu())
    return torch.cat(estimates)
