"""Autoencoders and VAEs built on ``torch.distributions`` (notebooks 00-09).

Encoders of a VAE return a distribution over ``z``; decoders return a distribution over ``x``, wrapped in
``Independent`` so that ``log_prob`` gives one value per example, shape ``(B,)``. Every loss is a
negative log-likelihood or a KL divergence computed from these objects, in nats, summed over pixels
and latent dimensions; callers average over the batch.

Each model has ``loss_terms(x) -> dict`` of per-example terms and a class attribute ``objective``
naming the term that :func:`vaecourse.train.fit` minimises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.distributions import (Bernoulli, ContinuousBernoulli, Distribution, Independent, Normal,
                                 kl_divergence)

from vaecourse.config import seeded
from vaecourse.data import as_image_batch
from vaecourse.quantize import VectorQuantizer, code_usage, perplexity

IMAGE_SHAPE = (1, 28, 28)


def mlp(in_features: int, hidden: Sequence[int], out_features: int) -> nn.Sequential:
    """A ReLU multilayer perceptron ``in -> hidden... -> out`` (no activation on the output)."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    layers.append(nn.Linear(in_features, out_features))
    return nn.Sequential(*layers)


# ------------------------------------------------------------------------------------- likelihoods
class BernoulliLikelihood(nn.Module):
    """p(x|z) = prod Bernoulli(x_i; sigmoid(logit_i)), parameterised by logits (the stable form).

    Grey-level targets in [0, 1] are accepted (argument validation is off): that is the "binary
    cross-entropy on grey pixels" of most VAE code, which is not a normalised density (notebook 06).
    """

    def forward(self, logits: torch.Tensor) -> Distribution:
        return Independent(Bernoulli(logits=logits, validate_args=False), logits.dim() - 1)


class LogitContinuousBernoulli(ContinuousBernoulli):
    """torch's ``ContinuousBernoulli`` with ``log_prob`` and ``mean`` computed from the logits.

    torch computes the log-normaliser log C and the mean from probabilities clamped to
    [eps, 1 - eps]; in float32 that caps |logit| at about 16, so at the saturated logits of a trained
    digit decoder its ``log_prob`` is off by hundreds of nats per image (notebook 06 measures it).
    From the logit l, C = l / tanh(l / 2) and mean = 1 / (1 - exp(-l)) - 1 / l, exact at any l;
    near l = 0 both are replaced by their Taylor series. Sampling and the cdf are torch's.
    """

    # Below these |logit|s the closed forms lose digits (0/0 in log C, cancellation in the mean);
    # there the series' first omitted terms are below 1e-16.
    LOG_NORM_SERIES_BELOW = 1e-2
    MEAN_SERIES_BELOW = 1e-1

    def _cont_bern_log_norm(self) -> torch.Tensor:
        logits = self.logits
        small = logits.abs() < self.LOG_NORM_SERIES_BELOW
        safe = torch.where(small, torch.ones_like(logits), logits)  # keeps 0/0 out of the gradient too
        closed_form = torch.log(safe / torch.tanh(safe / 2))
        squared = logits**2
        series = math.log(2) + squared / 12 - 7 * squared**2 / 1440 + 31 * squared**3 / 90720
        return torch.where(small, series, closed_form)

    @property
    def mean(self) -> torch.Tensor:
        logits = self.logits
        small = logits.abs() < self.MEAN_SERIES_BELOW
        safe = torch.where(small, torch.ones_like(logits), logits)
        closed_form = -1 / torch.expm1(-safe) - 1 / safe
        series = 0.5 + logits / 12 - logits**3 / 720 + logits**5 / 30240 - logits**7 / 1209600
        return torch.where(small, series, closed_form)


class ContinuousBernoulliLikelihood(nn.Module):
    """The normalised version of the Bernoulli on [0, 1] (Loaiza-Ganem and Cunningham 2019).

    Uses :class:`LogitContinuousBernoulli`, exact at saturated logits where torch's class is not.
    """

    def forward(self, logits: torch.Tensor) -> Distribution:
        return Independent(LogitContinuousBernoulli(logits=logits, validate_args=False), logits.dim() - 1)


class GaussianLikelihood(nn.Module):
    """p(x|z) = prod Normal(x_i; mean_i, sigma^2), with sigma fixed or learned (one shared scalar)."""

    def __init__(self, sigma: float = 0.1, learn_sigma: bool = False):
        super().__init__()
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        log_sigma = torch.tensor(float(sigma)).log()
        if learn_sigma:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    def forward(self, mean: torch.Tensor) -> Distribution:
        return Independent(Normal(mean, self.log_sigma.exp().expand_as(mean), validate_args=False),
                           mean.dim() - 1)


LIKELIHOODS = {"bernoulli": BernoulliLikelihood, "continuous_bernoulli": ContinuousBernoulliLikelihood,
               "gaussian": GaussianLikelihood}


def make_likelihood(likelihood: str | nn.Module) -> nn.Module:
    if isinstance(likelihood, nn.Module):
        return likelihood
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {sorted(LIKELIHOODS)} or pass a module")
    return LIKELIHOODS[likelihood]()


# ------------------------------------------------------------------------------ encoders, decoders
class DeterministicEncoder(nn.Module):
    """z = f(x), the encoder of a plain autoencoder: an MLP on the flattened image.

    The probabilistic encoders (here and in :mod:`vaecourse.priors`) are this MLP with
    ``out_features`` outputs that they read as the parameters of q(z|x).
    """

    def __init__(self, out_features: int, image_shape: Sequence[int] = IMAGE_SHAPE, hidden: Sequence[int] = (400,)):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.net = mlp(math.prod(self.image_shape), hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(as_image_batch(x, self.image_shape, name="x").flatten(1))


class GaussianEncoder(DeterministicEncoder):
    """q(z|x) = Normal(mu(x), diag exp(logvar(x)))."""

    def __init__(self, latent_dim: int, image_shape: Sequence[int] = IMAGE_SHAPE, hidden: Sequence[int] = (400,)):
        super().__init__(2 * latent_dim, image_shape, hidden)

    def forward(self, x: torch.Tensor) -> Distribution:
        mu, logvar = super().forward(x).chunk(2, dim=-1)
        return Independent(Normal(mu, (0.5 * logvar).exp(), validate_args=False), 1)


class Decoder(nn.Module):
    """p(x|z): an MLP from z to the parameters of the pixel likelihood, returned as a distribution."""

    def __init__(self, latent_dim: int, image_shape: Sequence[int] = IMAGE_SHAPE, hidden: Sequence[int] = (400,),
                 likelihood: str | nn.Module = "bernoulli"):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.net = mlp(latent_dim, tuple(reversed(tuple(hidden))), int(torch.tensor(self.image_shape).prod()))
        self.likelihood = make_likelihood(likelihood)

    def forward(self, z: torch.Tensor) -> Distribution:
        if z.dim() != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        params = self.net(z).unflatten(-1, self.image_shape)
        return self.likelihood(params)


# ------------------------------------------------------------------------------------------ priors
class StandardNormalPrior(nn.Module):
    """p(z) = Normal(0, I). Calling it returns the distribution (priors with parameters do the same)."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.register_buffer("loc", torch.zeros(latent_dim))
        self.register_buffer("scale", torch.ones(latent_dim))

    def forward(self) -> Distribution:
        return Independent(Normal(self.loc, self.scale, validate_args=False), 1)


# ------------------------------------------------------------------------------------------ models
class AEOutput(NamedTuple):
    z: torch.Tensor
    p_x: Distribution


class VAEOutput(NamedTuple):
    q_z: Distribution
    p_x: Distribution
    z: torch.Tensor


class AE(nn.Module):
    """A plain autoencoder: deterministic code z = f(x), decoder likelihood p(x|z).

    Its loss is the reconstruction negative log-likelihood ``nll = -log p(x | f(x))`` (for the Bernoulli
    likelihood: binary cross-entropy summed over pixels).
    """

    objective = "nll"

    def __init__(self, latent_dim: int = 2, image_shape: Sequence[int] = IMAGE_SHAPE, hidden: Sequence[int] = (400,),
                 likelihood: str | nn.Module = "bernoulli"):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.encoder = DeterministicEncoder(latent_dim, image_shape, hidden)
        self.decoder = Decoder(latent_dim, image_shape, hidden, likelihood)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> Distribution:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> AEOutput:
        z = self.encode(x)
        return AEOutput(z, self.decode(z))

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = as_image_batch(x, self.image_shape, name="x")
        return {"nll": -self(x).p_x.log_prob(x)}


def code_rms_radius(z: torch.Tensor) -> torch.Tensor:
    """R = sqrt(mean_i ||z_i - mean(z)||^2): the root-mean-square distance of codes ``(B, D)`` from their centre."""
    return (z - z.mean(dim=0)).pow(2).sum(dim=-1).mean().sqrt()


class NoisyAE(AE):
    """An autoencoder whose code gets Gaussian noise while training (homework Q1c, notebook 03).

    In training mode the decoder sees ``z = f(x) + sqrt(noise_factor) * R * eps``, eps ~ N(0, I): noise
    of variance ``noise_factor * R^2`` per coordinate. ``noise_scale`` says what R is:

    - ``"rms"`` (the default): :func:`code_rms_radius` of the current batch's codes, detached. The noise
      follows the scale of the codes, but no gradient flows through R: each step treats the noise's
      size as a constant, so the encoder cannot shrink the noise by moving R (only by how it arranges
      the codes relative to R).
    - ``"rms-attached"``: the same R with the gradient flowing through it, so each step also sees that
      moving the codes changes the noise's size (notebook 03 compares the two).
    - a positive number: R is that fixed number, and the encoder can escape the noise by inflating its
      codes.

    In eval mode there is no noise. ``loss_terms`` adds ``code_rms`` (the batch's R, repeated per
    example) so ``fit`` logs it per epoch.
    """

    NOISE_SCALES = ("rms", "rms-attached")

    def __init__(self, latent_dim: int = 2, image_shape: Sequence[int] = IMAGE_SHAPE, hidden: Sequence[int] = (400,),
                 likelihood: str | nn.Module = "bernoulli", *, noise_factor: float = 0.05,
                 noise_scale: str | float = "rms"):
        super().__init__(latent_dim, image_shape, hidden, likelihood)
        if noise_factor < 0:
            raise ValueError(f"noise_factor must be non-negative, got {noise_factor}")
        is_number = isinstance(noise_scale, (int, float)) and not isinstance(noise_scale, bool)
        if not (noise_scale in self.NOISE_SCALES if isinstance(noise_scale, str) else is_number and noise_scale > 0):
            raise ValueError(f"noise_scale must be 'rms', 'rms-attached' or a positive number, got {noise_scale!r}")
        self.noise_factor = float(noise_factor)
        self.noise_scale = noise_scale

    def noise_radius(self, z: torch.Tensor) -> torch.Tensor:
        """R for the codes ``z`` (B, D): the batch's RMS radius (detached or not), or the fixed number."""
        if self.noise_scale == "rms":
            return code_rms_radius(z).detach()  # a scale for the noise, not something to optimise
        if self.noise_scale == "rms-attached":
            return code_rms_radius(z)  # the gradient flows through R too
        return torch.tensor(float(self.noise_scale), device=z.device)

    def perturb(self, code: torch.Tensor) -> torch.Tensor:
        """The code the decoder sees: with noise in training mode, unchanged in eval mode."""
        if not self.training or self.noise_factor == 0:
            return code
        return code + self.noise_factor ** 0.5 * self.noise_radius(code) * torch.randn_like(code)

    def forward(self, x: torch.Tensor) -> AEOutput:
        z = self.perturb(self.encode(x))
        return AEOutput(z, self.decode(z))

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = as_image_batch(x, self.image_shape, name="x")
        code = self.encode(x)
        p_x = self.decode(self.perturb(code))
        return {"nll": -p_x.log_prob(x), "code_rms": code_rms_radius(code.detach()).expand(len(x))}


class VAE(nn.Module):
    """A variational autoencoder with a pluggable prior and likelihood.

    ``encode(x)`` gives q(z|x), ``decode(z)`` gives p(x|z), ``prior()`` gives p(z). The loss terms are
    per example, in nats: ``nll = -log p(x|z)`` at one reparameterised sample z ~ q(z|x), ``kl =
    KL(q(z|x) || p(z))`` (in closed form when torch knows it, else a one-sample Monte Carlo
    estimate ``log q(z|x) - log p(z)``), and ``neg_elbo = nll + kl``, which is minimised.

    ``prior`` is any prior of :mod:`vaecourse.priors` (default N(0, I)); a prior that brings its own
    posterior family (Beta, grouped categorical) also sets the encoder.
    """

    objective = "neg_elbo"

    def __init__(self, latent_dim: int = 20, image_shape: Sequence[int] = IMAGE_SHAPE, hidden: Sequence[int] = (400,),
                 prior: nn.Module | None = None, likelihood: str | nn.Module = "bernoulli"):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        prior_dim = getattr(prior, "latent_dim", latent_dim)
        if prior_dim != latent_dim:
            raise ValueError(f"the prior is over {prior_dim} latent dimensions but latent_dim is {latent_dim}")
        # A prior may bring its own posterior family (vaecourse.priors); the default is Gaussian.
        make_encoder = getattr(prior, "make_encoder", None)
        self.encoder = (make_encoder(image_shape, hidden) if make_encoder is not None
                        else GaussianEncoder(latent_dim, image_shape, hidden))
        self.decoder = Decoder(latent_dim, image_shape, hidden, likelihood)
        self.prior = prior if prior is not None else StandardNormalPrior(latent_dim)
        if hasattr(self.prior, "bind"):
            self.prior.bind(self)  # the VampPrior needs the encoder

    def encode(self, x: torch.Tensor) -> Distribution:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> Distribution:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> VAEOutput:
        q_z = self.encode(x)
        z = q_z.rsample()
        return VAEOutput(q_z, self.decode(z), z)

    def kl(self, q_z: Distribution, z: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)) per example: closed form if available, else ``log q(z) - log p(z)`` at z."""
        p_z = self.prior()
        try:
            return kl_divergence(q_z, p_z)
        except NotImplementedError:
            return q_z.log_prob(z) - p_z.log_prob(z)

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = as_image_batch(x, self.image_shape, name="x")
        q_z, p_x, z = self(x)
        nll = -p_x.log_prob(x)
        kl = self.kl(q_z, z)
        return {"neg_elbo": nll + kl, "nll": nll, "kl": kl}

    @torch.no_grad()
    def sample(self, num_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``num_samples`` prior draws; returns the decoder means ``(N, *image_shape)``.

        The mean, not a pixel sample: sampling Bernoulli pixels gives speckle noise.
        """
        with seeded(generator):
            z = self.prior().sample((num_samples,))
        return self.decode(z).mean


class BetaVAE(VAE):
    """The beta-VAE of Higgins et al. (2017): minimises ``nll + beta * kl`` (notebook 08).

    ``beta = 1`` is the VAE. The loss terms add ``beta_loss``, the objective; ``neg_elbo`` stays the
    negative ELBO (``nll + kl``), so models with different beta are compared on the same bound. For
    beta >= 1 the objective bounds the negative ELBO from above, since KL >= 0.
    """

    objective = "beta_loss"

    def __init__(self, latent_dim: int = 10, image_shape: Sequence[int] = IMAGE_SHAPE, hidden: Sequence[int] = (400,),
                 beta: float = 4.0, prior: nn.Module | None = None, likelihood: str | nn.Module = "bernoulli"):
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta}")
        super().__init__(latent_dim, image_shape, hidden, prior, likelihood)
        self.beta = float(beta)

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = super().loss_terms(x)
        return {"beta_loss": terms["nll"] + self.beta * terms["kl"], **terms}


# --------------------------------------------------------------------------------------- VQ-VAE
class ConvEncoder(nn.Module):
    """Two stride-2 convolutions and a 1x1 projection: ``(B, C, H, W) -> (B, out_channels, H/4, W/4)``."""

    def __init__(self, out_channels: int, image_shape: Sequence[int] = IMAGE_SHAPE, width: int = 32):
        super().__init__()
        self.image_shape = tuple(image_shape)
        channels, height, width_px = self.image_shape
        if height % 4 or width_px % 4:
            raise ValueError(f"the convolutional encoder halves the image twice: H and W must be multiples of 4, "
                             f"got {height} x {width_px}")
        self.net = nn.Sequential(nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.ReLU(),
                                 nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.ReLU(),
                                 nn.Conv2d(2 * width, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(as_image_batch(x, self.image_shape, name="x"))


class ConvDecoder(nn.Module):
    """The mirror of :class:`ConvEncoder`: ``(B, in_channels, H/4, W/4)`` -> p(x|z) over ``(B, C, H, W)``."""

    def __init__(self, in_channels: int, image_shape: Sequence[int] = IMAGE_SHAPE, width: int = 32,
                 likelihood: str | nn.Module = "bernoulli"):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.in_channels = in_channels
        self.net = nn.Sequential(nn.Conv2d(in_channels, 2 * width, 3, padding=1), nn.ReLU(),
                                 nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.ReLU(),
                                 nn.ConvTranspose2d(width, self.image_shape[0], 4, stride=2, padding=1))
        self.likelihood = make_likelihood(likelihood)

    def forward(self, z: torch.Tensor) -> Distribution:
        grid = (self.image_shape[1] // 4, self.image_shape[2] // 4)
        if z.dim() != 4 or z.shape[1] != self.in_channels or tuple(z.shape[2:]) != grid:
            raise ValueError(f"z must have shape (B, {self.in_channels}, {grid[0]}, {grid[1]}), got {tuple(z.shape)}")
        return self.likelihood(self.net(z))


class VQVAE(nn.Module):
    """A small convolutional VQ-VAE (van den Oord et al. 2017): a 28 x 28 image becomes a 7 x 7 map of codes.

    Loss terms per example, in nats and squared distances summed over the map:
    ``nll = -log p(x | z_q)``, ``codebook = ||sg[z_e] - e||^2``, ``commitment = ||z_e - sg[e]||^2``, and
    the objective ``loss = nll + codebook + commitment_beta * commitment`` (with ``ema=True`` the codebook
    term is reported but left out: the moving averages move the codes). ``perplexity`` is the effective
    number of codes the batch used (the same value repeated per example, so that histories log it).
    """

    objective = "loss"

    def __init__(self, num_codes: int = 64, code_dim: int = 16, image_shape: Sequence[int] = IMAGE_SHAPE,
                 width: int = 32, commitment_beta: float = 0.25, ema: bool = False, decay: float = 0.99,
                 restart_after: int | None = None, likelihood: str | nn.Module = "bernoulli"):
        super().__init__()
        if commitment_beta < 0:
            raise ValueError(f"commitment_beta must be non-negative, got {commitment_beta}")
        self.image_shape = tuple(image_shape)
        self.commitment_beta = float(commitment_beta)
        self.encoder = ConvEncoder(code_dim, image_shape, width)
        self.quantizer = VectorQuantizer(num_codes, code_dim, ema=ema, decay=decay, restart_after=restart_after)
        self.decoder = ConvDecoder(code_dim, image_shape, width, likelihood)

    @property
    def num_codes(self) -> int:
        return self.quantizer.num_codes

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code map ``(B, H/4, W/4)`` of each image (indices into the codebook)."""
        return self.quantizer(self.encoder(x)).indices

    def decode(self, z_q: torch.Tensor) -> Distribution:
        return self.decoder(z_q)

    def decode_indices(self, indices: torch.Tensor) -> Distribution:
        """p(x | code map) for code maps ``(B, H/4, W/4)`` of indices."""
        return self.decoder(self.quantizer.lookup(indices))

    def loss_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = as_image_batch(x, self.image_shape, name="x")
        quantized = self.quantizer(self.encoder(x))
        nll = -self.decode(quantized.z_q).log_prob(x)
        loss = nll + self.commitment_beta * quantized.commitment_loss
        if not self.quantizer.ema:
            loss = loss + quantized.codebook_loss
        batch_perplexity = perplexity(code_usage(quantized.indices, self.num_codes)).detach()
        return {"loss": loss, "nll": nll, "codebook": quantized.codebook_loss,
                "commitment": quantized.commitment_loss, "perplexity": batch_perplexity.expand(len(x))}
