"""Working with latent codes: encoding a data set, sampling boxes and fitted densities (notebooks 01-03).

A plain autoencoder gives codes but no distribution to sample codes from. The functions here supply
the usual candidates, all as plain functions of a code matrix ``(N, D)``:

- :func:`bounding_box` and :func:`sample_box`: uniform sampling over the box the codes span;
- :func:`near_data_share`: the share of a sampler's draws that land near the codes (about one half
  for draws distributed like the codes);
- :func:`box_occupancy`: that share for uniform draws in the codes' bounding box (it collapses as D
  grows, for any cloud that does not fill its box);
- :func:`fit_gaussian` / :func:`fit_mixture` and :func:`sample_fitted`: ex-post density estimation,
  a Gaussian or a Gaussian mixture fitted to the codes after training (Ghosh et al. 2020);
- :func:`active_units` and :func:`kl_per_dimension`: which latent coordinates a VAE uses (Burda et
  al. 2016's activity, notebooks 06-08);
- :func:`kl_decomposition`: the KL term split into mutual information and the aggregate posterior's
  distance from the prior (notebook 07);
- :func:`prior_hole_kl`: KL(p(z) || q(z)), the prior mass where the codes do not go (notebook 07);
- :func:`total_correlation_decomposition`: that distance split further, for diagonal Gaussian
  posteriors and a standard normal prior, into total correlation and dimension-wise KL (notebook 08).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from vaecourse.config import seeded
from vaecourse.data import as_image_batch
from vaecourse.train import eval_mode

if TYPE_CHECKING:  # scikit-learn takes seconds to import; only the fitting functions need it
    from sklearn.mixture import GaussianMixture


@torch.no_grad()
def encode_dataset(model, images, *, batch_size: int = 1000) -> torch.Tensor:
    """Codes ``(N, D)`` of ``images`` on the CPU: ``f(x)`` for an AE, the posterior mean for a VAE (eval mode)."""
    images = as_image_batch(images, model.image_shape)
    device = next(model.parameters()).device
    codes = []
    with eval_mode(model):
        for batch in images.split(batch_size):
            code = model.encode(batch.to(device))
            codes.append((code.mean if isinstance(code, torch.distributions.Distribution) else code).cpu())
    return torch.cat(codes)


@torch.no_grad()
def active_units(model, images, *, threshold: float = 0.01, relative_to_prior: bool = False,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Which latent coordinates are active: a boolean mask ``(D,)``, ``Var_x E[z|x] > threshold``.

    The activity of Burda et al. (2016): a coordinate whose posterior mean does not vary with the
    image carries nothing about it. ``relative_to_prior`` divides each variance by the prior's
    variance of that coordinate (from 10,000 prior samples drawn with ``generator``), so that
    bounded latents (Beta, relaxed categorical) are judged on the scale of their prior as
    Gaussian ones are on N(0, I)'s.
    """
    variance = encode_dataset(model, images).var(dim=0)
    if relative_to_prior:
        with seeded(generator):
            variance = variance / model.prior().sample((10_000,)).var(dim=0).cpu()
    return variance > threshold


@torch.no_grad()
def kl_per_dimension(model, images) -> torch.Tensor:
    """KL(q(z_j|x) || N(0, 1)) per latent coordinate j, averaged over ``images``: ``(D,)`` nats.

    For VAEs with diagonal Gaussian posteriors and a standard normal prior (closed form per coordinate;
    the coordinates' values add up to the KL term).
    """
    images = as_image_batch(images, model.image_shape)
    device = next(model.parameters()).device
    with eval_mode(model):
        q_z = model.encode(images.to(device))
    base = q_z.base_dist if isinstance(q_z, torch.distributions.Independent) else q_z
    if not isinstance(base, torch.distributions.Normal):
        raise ValueError(f"kl_per_dimension needs diagonal Gaussian posteriors, got {type(base).__name__}")
    standard = torch.distributions.Normal(torch.zeros_like(base.loc), torch.ones_like(base.scale))
    return torch.distributions.kl_divergence(base, standard).mean(0).cpu()


@torch.no_grad()
def decode_mean(model, z: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Decoder means (the images one shows) for codes ``(N, D)``, on the CPU."""
    device = next(model.parameters()).device
    with eval_mode(model):
        return torch.cat([model.decode(chunk.to(device)).mean.cpu() for chunk in z.split(batch_size)])


def _check_codes(codes) -> torch.Tensor:
    codes = torch.as_tensor(codes, dtype=torch.float32)
    if codes.dim() != 2 or len(codes) < 2:
        raise ValueError(f"codes must have shape (N, D) with N >= 2, got {tuple(codes.shape)}")
    return codes


def bounding_box(codes) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension minimum and maximum of the codes: ``(low (D,), high (D,))``."""
    codes = _check_codes(codes)
    return codes.min(dim=0).values, codes.max(dim=0).values


def sample_box(low: torch.Tensor, high: torch.Tensor, num_samples: int, *,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """``num_samples`` points drawn uniformly from the box ``[low, high]``: ``(num_samples, D)``."""
    if low.shape != high.shape or low.dim() != 1:
        raise ValueError(f"low and high must be vectors of the same length, got {tuple(low.shape)} and {tuple(high.shape)}")
    return low + (high - low) * torch.rand(num_samples, len(low), generator=generator)


def near_data_share(codes, draws) -> float:
    """Share of ``draws`` (M, D) that land near the ``codes`` (N, D): the sampler's match to the data.

    A draw is "near data" when its distance to the nearest code is at most the typical spacing of the
    codes (the median distance from a code to its nearest other code). Draws from the same
    distribution as the codes score about one half in any dimension (held-out codes do); a sampler
    that puts its mass where there are no codes scores near 0. Scale-free: the same for ``c * codes``
    and ``c * draws``.
    """
    codes = _check_codes(codes)
    draws = torch.as_tensor(draws, dtype=torch.float32)
    if draws.dim() != 2 or draws.shape[1] != codes.shape[1]:
        raise ValueError(f"draws must have shape (M, {codes.shape[1]}), got {tuple(draws.shape)}")
    spacing = torch.cdist(codes, codes).fill_diagonal_(float("inf")).min(dim=1).values.median()
    nearest = torch.cdist(draws, codes).min(dim=1).values
    return (nearest <= spacing).double().mean().item()


def box_occupancy(codes, *, num_samples: int = 2000, generator: torch.Generator | None = None) -> float:
    """Fraction of the codes' bounding box that lies near data.

    A uniform point of the box counts as "near data" when its distance to the nearest code is at most
    the median nearest-neighbour distance among the codes themselves (the typical spacing of the
    data). Both distances are measured in the same units, so the fraction does not depend on how the
    codes are scaled; for a cloud that fills its box it is about one half or more, and it falls as
    the codes occupy a thinner part of a higher-dimensional box.
    """
    codes = _check_codes(codes)
    return near_data_share(codes, sample_box(*bounding_box(codes), num_samples, generator=generator))


def fit_gaussian(codes) -> GaussianMixture:
    """One full-covariance Gaussian fitted to the codes (maximum likelihood)."""
    return fit_mixture(codes, num_components=1)


def fit_mixture(codes, *, num_components: int = 10, seed: int = 0) -> GaussianMixture:
    """A full-covariance Gaussian mixture fitted to the codes by EM (scikit-learn)."""
    codes = _check_codes(codes).double().numpy()
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(n_components=num_components, covariance_type="full", random_state=seed,
                           reg_covar=1e-5).fit(codes)


def sample_fitted(density: GaussianMixture, num_samples: int, *, seed: int = 0) -> torch.Tensor:
    """``num_samples`` codes drawn from a fitted density, float32 ``(num_samples, D)``, in shuffled order.

    scikit-learn returns the draws grouped by mixture component; they are shuffled so that any slice
    is a fair sample.
    """
    rng = np.random.default_rng(seed)
    density.random_state = int(rng.integers(2 ** 31))
    draws, _ = density.sample(num_samples)
    return torch.from_numpy(draws[rng.permutation(num_samples)]).float()


@torch.no_grad()
def kl_decomposition(model, images, *, generator: torch.Generator | None = None) -> dict[str, float]:
    """The "ELBO surgery" split of the average KL term (Hoffman and Johnson 2016), in nats per image.

    With q(z) = (1/N) sum_n q(z|x_n), the aggregate posterior of the N ``images``:

        mean_n KL(q(z|x_n) || p(z)) = I_q(x; z) + KL(q(z) || p(z))

    ``avg_kl`` is the left side; ``mutual_information`` is what the codes say about which image
    they came from (at most log N); ``marginal_kl`` measures how far the aggregate posterior is
    from the prior. (It weighs the codes' own region; prior mass where no code goes, the "holes"
    that prior samples fall into, is what KL(p(z) || q(z)) would weigh.) All three
    are Monte Carlo estimates from one z_n ~ q(z|x_n) per image, with log q(z_n) computed over all
    N posteriors, so the identity holds exactly for the returned numbers. Costs N^2 density evaluations.
    """
    images = as_image_batch(images, model.image_shape)
    device = next(model.parameters()).device
    with eval_mode(model), seeded(generator):
        q_z = model.encode(images.to(device))
        z = q_z.sample()  # (N, D): one code per image
        log_q_own = q_z.log_prob(z)
        # log q(z_n | x_m) for every pair: z_n broadcast against the batch of N posteriors.
        log_q_all = torch.stack([q_z.log_prob(z_n.expand_as(z)) for z_n in z])  # (n, m)
        log_q_aggregate = torch.logsumexp(log_q_all, dim=1) - math.log(len(images))
        log_p = model.prior().log_prob(z)
    return {"avg_kl": (log_q_own - log_p).mean().item(),
            "mutual_information": (log_q_own - log_q_aggregate).mean().item(),
            "marginal_kl": (log_q_aggregate - log_p).mean().item()}


def prior_hole_kl(model, images, *, num_samples: int = 500, generator: torch.Generator | None = None) -> float:
    """KL(p(z) || q(z)) in nats, q(z) = (1/N) sum_n q(z|x_n) the aggregate posterior of the N ``images``.

    The reverse of :func:`kl_decomposition`'s marginal KL: it weighs the **prior's** samples, so it is
    large where the prior puts mass that no code occupies (the "holes" that prior samples decode
    from), while KL(q(z) || p(z)) is large where the codes go and the prior does not. Estimated at
    ``num_samples`` prior draws, with log q(z) computed over all N posteriors (a finite mixture: for a
    prior sample far from every code the estimate is large, as it should be).
    """
    images = as_image_batch(images, model.image_shape)
    device = next(itertools.chain(model.parameters(), model.buffers()), torch.empty(0)).device
    with torch.no_grad(), eval_mode(model), seeded(generator):
        q_z = model.encode(images.to(device))
        prior = model.prior()
        z = prior.sample((num_samples,))
        log_q = torch.stack([torch.logsumexp(q_z.log_prob(z_k.expand(len(images), *z_k.shape)), dim=0) for z_k in z])
        log_q = log_q - math.log(len(images))
        return (prior.log_prob(z) - log_q).mean().item()


@torch.no_grad()
def total_correlation_decomposition(mean: torch.Tensor, std: torch.Tensor, *, generator: torch.Generator | None = None,
                                    chunk: int = 500) -> dict[str, torch.Tensor]:
    """Chen et al. (2018)'s split of the average KL(q(z|x_n) || N(0, I)) over N inputs, per input.

    With q(z|x_n) = N(mean_n, diag(std_n^2)) and the aggregate posterior q(z) = (1/N) sum_n q(z|x_n):

        KL = I_q(x; z)  +  KL(q(z) || prod_j q(z_j))  +  sum_j KL(q(z_j) || p(z_j))
             mutual information  total correlation      dimension-wise KL

    Each term is estimated at one z_n ~ q(z|x_n) per input, with log q(z_n) and each log q(z_nj)
    computed over all N posteriors (the whole set where Chen et al. use a minibatch). Returns the
    per-input terms ``(N,)`` under "mutual_information", "total_correlation", "dimension_wise_kl" and
    "kl" (= their sum exactly: log q(z_n|x_n) - log p(z_n)), so that means and standard errors can be
    taken. Costs N^2 D density evaluations, ``chunk`` rows at a time.
    """
    if mean.dim() != 2 or mean.shape != std.shape:
        raise ValueError(f"mean and std must both be (N, D), got {tuple(mean.shape)} and {tuple(std.shape)}")
    if not bool((std > 0).all()):
        raise ValueError("std must be positive")
    num = len(mean)
    z = mean + std * torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    normal = torch.distributions.Normal
    log_q_own = normal(mean, std).log_prob(z).sum(1)
    log_q_aggregate, log_q_marginals = [], []
    for z_rows in z.split(chunk):
        per_dimension = normal(mean[None], std[None]).log_prob(z_rows[:, None, :])  # (rows, N, D)
        log_q_aggregate.append(torch.logsumexp(per_dimension.sum(2), dim=1) - math.log(num))
        log_q_marginals.append((torch.logsumexp(per_dimension, dim=1) - math.log(num)).sum(1))
    log_q_aggregate, log_q_marginals = torch.cat(log_q_aggregate), torch.cat(log_q_marginals)
    log_p = normal(torch.zeros_like(z), torch.ones_like(z)).log_prob(z).sum(1)
    return {"mutual_information": log_q_own - log_q_aggregate, "total_correlation": log_q_aggregate - log_q_marginals,
            "dimension_wise_kl": log_q_marginals - log_p, "kl": log_q_own - log_p}
