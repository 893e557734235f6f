"""Priors p(z) other than N(0, I), and the posterior families that go with them (notebook 07).

Every prior here is what :class:`vaecourse.models.VAE` accepts as ``prior=``. The interface:

- ``prior()`` returns p(z) as a ``torch.distributions.Distribution`` with event shape
  ``(latent_dim,)``: ``log_prob(z)`` of codes ``(B, latent_dim)`` is ``(B,)``, ``sample((n,))`` is
  ``(n, latent_dim)``.
- ``make_encoder(image_shape, hidden)`` (optional) builds the encoder of q(z|x) in the family that goes
  with the prior. Without it the VAE uses a Gaussian encoder.
- ``bind(model)`` (optional) is called once by the VAE after its encoder exists; the VampPrior, a
  mixture of the encoder's own posteriors, needs it.

The VAE's KL term is closed form when ``torch.distributions.kl_divergence`` knows the pair (Gaussian
against Gaussian, Beta against Beta, the grouped categorical here) and a one-sample Monte Carlo
estimate ``log q(z|x) - log p(z)`` otherwise (mixture and VampPrior).

The priors:

- :class:`~vaecourse.models.StandardNormalPrior`: N(0, I) (re-exported here);
- :class:`MixturePrior`: a learnable mixture of diagonal Gaussians;
- :class:`VampPrior`: the mixture of the posteriors of learnable pseudo-inputs (Tomczak and Welling 2018);
- :class:`BetaPrior`: independent Beta latents in (0, 1) with a Beta posterior, reparameterised
  implicitly (Figurnov et al. 2018), closed-form KL;
- :class:`GumbelSoftmaxPrior`: groups of categorical latents, uniform prior, trained through the
  Gumbel-softmax (Concrete) relaxation (Jang et al. 2017; Maddison et al. 2017).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import (Beta, Categorical, Distribution, Independent, MixtureSameFamily, Normal,
                                 constraints, register_kl)

from vaecourse.config import seeded
from vaecourse.data import as_image_batch
from vaecourse.models import IMAGE_SHAPE, DeterministicEncoder, StandardNormalPrior

__all__ = ["StandardNormalPrior", "MixturePrior", "VampPrior", "BetaPrior", "GumbelSoftmaxPrior",
           "GroupedOneHotCategorical", "BetaEncoder", "CategoricalEncoder", "monte_carlo_kl"]


def monte_carlo_kl(q: Distribution, p: Distribution, num_samples: int, *, generator: torch.Generator | None = None,
                   reparameterised: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """KL(q || p) by Monte Carlo, E_q[log q(z) - log p(z)]: returns (estimate, standard error), per batch element.

    With ``reparameterised=True`` the samples come from ``q.rsample``, so the estimate can be
    differentiated pathwise (continuous ``q`` only: a relaxed sample of a discrete ``q`` is not a draw
    from ``q`` and would bias the estimate).
    """
    if num_samples < 2:
        raise ValueError(f"num_samples must be at least 2 (for a standard error), got {num_samples}")
    with seeded(generator):
        z = q.rsample((num_samples,)) if reparameterised else q.sample((num_samples,))
    log_ratio = q.log_prob(z) - p.log_prob(z)
    return log_ratio.mean(0), log_ratio.std(0) / math.sqrt(num_samples)


# --------------------------------------------------------------------------------- Gaussian mixtures
class MixturePrior(nn.Module):
    """p(z) = sum_k pi_k N(z; m_k, diag s_k^2), every parameter learned with the VAE.

    The means start as draws from N(0, I) so the components begin apart; the scales start at 1 and
    the weights uniform. No closed-form KL against a Gaussian posterior exists: the VAE uses a
    one-sample Monte Carlo estimate.
    """

    def __init__(self, latent_dim: int, num_components: int = 10):
        super().__init__()
        if latent_dim < 1 or num_components < 1:
            raise ValueError(f"need latent_dim >= 1 and num_components >= 1, got {latent_dim}, {num_components}")
        self.latent_dim = latent_dim
        self.means = nn.Parameter(torch.randn(num_components, latent_dim))
        self.log_scales = nn.Parameter(torch.zeros(num_components, latent_dim))
        self.logits = nn.Parameter(torch.zeros(num_components))

    def forward(self) -> Distribution:
        components = Independent(Normal(self.means, self.log_scales.exp(), validate_args=False), 1)
        return MixtureSameFamily(Categorical(logits=self.logits, validate_args=False), components,
                                 validate_args=False)


class VampPrior(nn.Module):
    """p(z) = (1/K) sum_k q(z | u_k): the VAE's own posterior at K learned pseudo-inputs u_k.

    The pseudo-inputs are images, ``sigmoid`` of a learned tensor so their pixels stay in (0, 1).
    ``init_images`` (K images, e.g. random training digits) sets their start; without it they start
    as uniform grey noise around 0.5. The VAE calls :meth:`bind` to hand over its encoder.
    """

    def __init__(self, latent_dim: int, num_pseudo_inputs: int = 50, image_shape: Sequence[int] = IMAGE_SHAPE,
                 init_images: torch.Tensor | None = None):
        super().__init__()
        if num_pseudo_inputs < 1:
            raise ValueError(f"num_pseudo_inputs must be at least 1, got {num_pseudo_inputs}")
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        if init_images is None:
            start = 0.5 + 0.1 * (torch.rand(num_pseudo_inputs, *self.image_shape) - 0.5)
        else:
            start = as_image_batch(init_images, self.image_shape, name="init_images")
            if len(start) != num_pseudo_inputs:
                raise ValueError(f"init_images has {len(start)} images; num_pseudo_inputs is {num_pseudo_inputs}")
        self.pseudo_logits = nn.Parameter(torch.logit(start.clamp(0.05, 0.95)))
        self._encoder = None

    def bind(self, model: nn.Module) -> None:
        # A plain attribute, not a submodule: the encoder's parameters belong to the model, and
        # registering them twice would put them twice in the state dict.
        object.__setattr__(self, "_encoder", model.encoder)

    @property
    def pseudo_inputs(self) -> torch.Tensor:
        return torch.sigmoid(self.pseudo_logits)

    def forward(self) -> Distribution:
        if self._encoder is None:
            raise RuntimeError("VampPrior has no encoder: pass it to vaecourse.models.VAE(prior=...) first")
        components = self._encoder(self.pseudo_inputs)  # batch shape (K,), event shape (latent_dim,)
        weights = Categorical(logits=torch.zeros(len(self.pseudo_logits), device=self.pseudo_logits.device),
                              validate_args=False)
        return MixtureSameFamily(weights, components, validate_args=False)


# --------------------------------------------------------------------------------------- Beta latents
class BetaEncoder(DeterministicEncoder):
    """q(z|x) = prod_i Beta(z_i; a_i(x), b_i(x)), with a, b = min_concentration + softplus(MLP output).

    ``rsample`` works through implicit reparameterisation. The floor on the concentrations keeps
    float32 samples away from exactly 0 or 1, where the log-density is infinite.
    """

    def __init__(self, latent_dim: int, image_shape: Sequence[int] = IMAGE_SHAPE, hidden: Sequence[int] = (400,),
                 min_concentration: float = 0.5):
        super().__init__(2 * latent_dim, image_shape, hidden)
        self.min_concentration = min_concentration

    def forward(self, x: torch.Tensor) -> Distribution:
        a, b = (self.min_concentration + F.softplus(super().forward(x))).chunk(2, dim=-1)
        return Independent(Beta(a, b, validate_args=False), 1)


class BetaPrior(nn.Module):
    """p(z) = prod_i Beta(z_i; a0, b0) on (0, 1)^latent_dim (default a0 = b0 = 1: uniform), with a Beta posterior."""

    def __init__(self, latent_dim: int, concentration1: float = 1.0, concentration0: float = 1.0,
                 min_concentration: float = 0.5):
        super().__init__()
        if concentration1 <= 0 or concentration0 <= 0:
            raise ValueError(f"Beta concentrations must be positive, got {concentration1}, {concentration0}")
        self.latent_dim = latent_dim
        self.min_concentration = min_concentration
        self.register_buffer("concentration1", torch.full((latent_dim,), float(concentration1)))
        self.register_buffer("concentration0", torch.full((latent_dim,), float(concentration0)))

    def make_encoder(self, image_shape: Sequence[int], hidden: Sequence[int]) -> nn.Module:
        return BetaEncoder(self.latent_dim, image_shape, hidden, self.min_concentration)

    def forward(self) -> Distribution:
        return Independent(Beta(self.concentration1, self.concentration0, validate_args=False), 1)


# ------------------------------------------------------------------------------ categorical latents
class GroupedOneHotCategorical(Distribution):
    """``num_groups`` independent categoricals of ``num_categories`` each, as one flat one-hot code.

    The event is a vector of ``num_groups * num_categories`` entries: the concatenated one-hot (or
    relaxed one-hot) vectors of the groups, which is what the decoder reads.

    - ``sample()``: exact one-hot draws (for generation and for importance-weighted evaluation);
    - ``rsample()``: the Gumbel-softmax relaxation softmax((logits + Gumbel noise) / temperature),
      differentiable with respect to the logits (for training);
    - ``log_prob(z)``: the categorical log-probability sum_g <z_g, log pi_g>, exact on one-hot codes;
    - ``kl_divergence`` against another instance: the categorical KL in closed form (as in Jang et
      al. 2017, the relaxation is used only for the sample that the decoder sees).
    """

    arg_constraints = {"logits": constraints.real}
    has_rsample = True

    def __init__(self, logits: torch.Tensor, temperature: float = 0.5, validate_args: bool | None = False):
        if logits.dim() < 2:
            raise ValueError(f"logits must have shape (..., num_groups, num_categories), got {tuple(logits.shape)}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.logits = logits - logits.logsumexp(-1, keepdim=True)  # normalised: log pi
        self.temperature = float(temperature)
        self.num_groups, self.num_categories = logits.shape[-2:]
        super().__init__(batch_shape=logits.shape[:-2], event_shape=(self.num_groups * self.num_categories,),
                         validate_args=validate_args)

    @property
    def probs(self) -> torch.Tensor:
        return self.logits.exp()

    @property
    def mean(self) -> torch.Tensor:
        return self.probs.flatten(-2)

    def _grouped(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] != self.num_groups * self.num_categories:
            raise ValueError(f"codes must end in {self.num_groups * self.num_categories} entries, got {tuple(z.shape)}")
        return z.unflatten(-1, (self.num_groups, self.num_categories))

    def _gumbel(self, sample_shape) -> torch.Tensor:
        shape = self._extended_shape(sample_shape)[:-1] + (self.num_groups, self.num_categories)
        uniform = torch.rand(shape, dtype=self.logits.dtype, device=self.logits.device)
        tiny = torch.finfo(self.logits.dtype).tiny
        neg_log_uniform = (-torch.log(uniform.clamp_min(tiny))).clamp_min(tiny)
        return -torch.log(neg_log_uniform)

    def rsample(self, sample_shape=torch.Size()) -> torch.Tensor:
        relaxed = torch.softmax((self.logits + self._gumbel(sample_shape)) / self.temperature, dim=-1)
        return relaxed.flatten(-2)

    @torch.no_grad()
    def sample(self, sample_shape=torch.Size()) -> torch.Tensor:
        # Gumbel-max: the argmax of logits + Gumbel noise is an exact categorical draw.
        winners = (self.logits + self._gumbel(sample_shape)).argmax(-1)
        return F.one_hot(winners, self.num_categories).to(self.logits.dtype).flatten(-2)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return (self._grouped(z) * self.logits).sum((-1, -2))

    def entropy(self) -> torch.Tensor:
        return -(self.probs * self.logits).sum((-1, -2))


@register_kl(GroupedOneHotCategorical, GroupedOneHotCategorical)
def _kl_grouped_one_hot(q: GroupedOneHotCategorical, p: GroupedOneHotCategorical) -> torch.Tensor:
    return (q.probs * (q.logits - p.logits)).sum((-1, -2))


class CategoricalEncoder(DeterministicEncoder):
    """q(z|x): ``num_groups`` categoricals of ``num_categories``, logits from an MLP, relaxed for training."""

    def __init__(self, num_groups: int, num_categories: int, image_shape: Sequence[int] = IMAGE_SHAPE,
                 hidden: Sequence[int] = (400,), temperature: float = 0.5):
        super().__init__(num_groups * num_categories, image_shape, hidden)
        self.num_groups, self.num_categories = num_groups, num_categories
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> Distribution:
        logits = super().forward(x).unflatten(-1, (self.num_groups, self.num_categories))
        return GroupedOneHotCategorical(logits, self.temperature)


class GumbelSoftmaxPrior(nn.Module):
    """p(z) uniform over ``num_groups`` one-hot vectors of ``num_categories``; latent_dim = groups x categories.

    The posterior is :class:`GroupedOneHotCategorical`: trained with relaxed samples at
    ``temperature``, sampled and evaluated with exact one-hot codes.
    """

    def __init__(self, num_groups: int, num_categories: int, temperature: float = 0.5):
        super().__init__()
        if num_groups < 1 or num_categories < 2:
            raise ValueError(f"need num_groups >= 1 and num_categories >= 2, got {num_groups}, {num_categories}")
        self.num_groups, self.num_categories = num_groups, num_categories
        self.latent_dim = num_groups * num_categories
        self.temperature = temperature
        self.register_buffer("logits", torch.zeros(num_groups, num_categories))

    def make_encoder(self, image_shape: Sequence[int], hidden: Sequence[int]) -> nn.Module:
        return CategoricalEncoder(self.num_groups, self.num_categories, image_shape, hidden, self.temperature)

    def forward(self) -> Distribution:
        return GroupedOneHotCategorical(self.logits, self.temperature)
