"""A linear-Gaussian latent model with everything in closed form (notebook 05, assignment q2).

    z ~ N(0, I_k),    x | z ~ N(W z + b, sigma^2 I_d)

Integrating z out gives x ~ N(b, W W^T + sigma^2 I_d), so log p(x) is exact, and so is the posterior
p(z | x) = N(m(x), S) with S = (I + W^T W / sigma^2)^-1 and m(x) = S W^T (x - b) / sigma^2. For any
Gaussian q(z) = N(mu, C) the ELBO and KL(q || p(z|x)) are closed form too, which makes this the model
on which every line of the ELBO derivation can be checked to float64 precision.

Everything is float64, per example ``(B,)`` and in nats. Means are ``(B, k)``; a covariance is
``(k, k)`` (shared by the batch) or ``(B, k, k)`` (one per example).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

DTYPE = torch.float64


def _as_matrix(x: torch.Tensor, d: int, name: str) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=DTYPE)
    if x.dim() != 2 or x.shape[1] != d:
        raise ValueError(f"{name} must have shape (B, {d}), got {tuple(x.shape)}")
    return x


def _mvn_logdet_and_inv(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    chol = torch.linalg.cholesky(cov)
    logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return logdet, torch.cholesky_inverse(chol)


@dataclass
class LinearGaussian:
    """z ~ N(0, I_k), x | z ~ N(W z + b, sigma^2 I_d).

    Parameters
    ----------
    W : (d, k) loading matrix.
    b : (d,) offset.
    sigma : observation noise standard deviation (> 0), a float or 0-dim tensor.
    """

    W: torch.Tensor
    b: torch.Tensor
    sigma: torch.Tensor | float

    def __post_init__(self):
        self.W = torch.as_tensor(self.W, dtype=DTYPE)
        self.b = torch.as_tensor(self.b, dtype=DTYPE)
        self.sigma = torch.as_tensor(self.sigma, dtype=DTYPE)
        if self.W.dim() != 2:
            raise ValueError(f"W must have shape (d, k), got {tuple(self.W.shape)}")
        if self.b.shape != (self.W.shape[0],):
            raise ValueError(f"b must have shape ({self.W.shape[0]},), got {tuple(self.b.shape)}")
        if self.sigma.dim() != 0 or not bool(self.sigma > 0):
            raise ValueError(f"sigma must be a positive scalar, got {self.sigma}")

    @classmethod
    def random(cls, d: int, k: int, sigma: float = 0.5, generator: torch.Generator | None = None):
        """A model with W ~ N(0, 1) entries and b ~ N(0, 1) entries, shapes (d, k) and (d,)."""
        W = torch.randn(d, k, generator=generator, dtype=DTYPE)
        b = torch.randn(d, generator=generator, dtype=DTYPE)
        return cls(W, b, float(sigma))

    @property
    def d(self) -> int:
        return self.W.shape[0]

    @property
    def k(self) -> int:
        return self.W.shape[1]

    # ----- the model -------------------------------------------------------------------------------
    def marginal_cov(self) -> torch.Tensor:
        """Cov(x) = W W^T + sigma^2 I_d, shape (d, d)."""
        return self.W @ self.W.T + self.sigma**2 * torch.eye(self.d, dtype=DTYPE)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) = log N(x; b, W W^T + sigma^2 I) per example, (B,) in nats.

        Computed through the k x k matrix M = I + W^T W / sigma^2 (determinant lemma and Woodbury), which
        stays well conditioned when sigma is tiny next to W, where the d x d covariance does not.
        """
        x = _as_matrix(x, self.d, "x")
        s2 = self.sigma**2
        chol = torch.linalg.cholesky(torch.eye(self.k, dtype=DTYPE) + self.W.T @ self.W / s2)
        logdet = self.d * torch.log(s2) + 2.0 * torch.log(torch.diagonal(chol)).sum()
        r = x - self.b
        u = torch.linalg.solve_triangular(chol, (r @ self.W).T / s2, upper=False)  # (k, B)
        maha = (r**2).sum(-1) / s2 - (u**2).sum(0)
        return -0.5 * (maha + logdet + self.d * math.log(2 * math.pi))

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z) = log N(x; W z + b, sigma^2 I); x (B, d), z (..., B, k) -> (..., B) nats."""
        x = _as_matrix(x, self.d, "x")
        z = torch.as_tensor(z, dtype=DTYPE)
        if z.dim() < 2 or z.shape[-1] != self.k or z.shape[-2] != x.shape[0]:
            raise ValueError(f"z must have shape (..., {x.shape[0]}, {self.k}), got {tuple(z.shape)}")
        r = x - (z @ self.W.T + self.b)
        return -0.5 * ((r**2).sum(-1) / self.sigma**2 + self.d * torch.log(2 * math.pi * self.sigma**2))

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I_k), z (..., k) -> (...) nats."""
        z = torch.as_tensor(z, dtype=DTYPE)
        if z.shape[-1] != self.k:
            raise ValueError(f"z must have last dimension {self.k}, got {tuple(z.shape)}")
        return -0.5 * ((z**2).sum(-1) + self.k * math.log(2 * math.pi))

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) = log p(x|z) + log p(z); x (B, d), z (..., B, k) -> (..., B) nats."""
        return self.log_likelihood(x, z) + self.log_prior(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw (x, z) from the model: x (n, d), z (n, k)."""
        z = torch.randn(n, self.k, generator=generator, dtype=DTYPE)
        eps = torch.randn(n, self.d, generator=generator, dtype=DTYPE)
        return z @ self.W.T + self.b + self.sigma * eps, z

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact p(z | x) = N(mean, cov): mean (B, k), cov (k, k), the same for every x."""
        x = _as_matrix(x, self.d, "x")
        precision = torch.eye(self.k, dtype=DTYPE) + self.W.T @ self.W / self.sigma**2
        cov = torch.linalg.inv(precision)
        cov = 0.5 * (cov + cov.T)
        mean = (x - self.b) @ self.W @ cov / self.sigma**2  # cov is symmetric
        return mean, cov

    # ----- the ELBO and its pieces, for a Gaussian q(z) = N(q_mean, q_cov) ------------------------
    def _check_q(self, q_mean, q_cov, batch: int | None = None):
        q_mean = torch.as_tensor(q_mean, dtype=DTYPE)
        q_cov = torch.as_tensor(q_cov, dtype=DTYPE)
        if q_mean.dim() != 2 or q_mean.shape[1] != self.k:
            raise ValueError(f"q_mean must have shape (B, {self.k}), got {tuple(q_mean.shape)}")
        if batch is not None and q_mean.shape[0] != batch:
            raise ValueError(f"q_mean must have {batch} rows (one per x), got {q_mean.shape[0]}")
        ok = q_cov.shape == (self.k, self.k) or q_cov.shape == (q_mean.shape[0], self.k, self.k)
        if not ok:
            raise ValueError(f"q_cov must have shape ({self.k}, {self.k}) or ({q_mean.shape[0]}, {self.k}, "
                             f"{self.k}), got {tuple(q_cov.shape)}")
        return q_mean, q_cov

    def expected_log_likelihood(self, x, q_mean, q_cov) -> torch.Tensor:
        """E_q[log p(x | z)] in closed form, (B,) nats.

        With r = x - W mu - b: -(|r|^2 + tr(W C W^T)) / (2 sigma^2) - (d/2) log(2 pi sigma^2).
        """
        x = _as_matrix(x, self.d, "x")
        q_mean, q_cov = self._check_q(q_mean, q_cov, x.shape[0])
        r = x - (q_mean @ self.W.T + self.b)
        trace = torch.einsum("ij,...jl,il->...", self.W, q_cov, self.W)  # tr(W C W^T)
        return -0.5 * (((r**2).sum(-1) + trace) / self.sigma**2 + self.d * torch.log(2 * math.pi * self.sigma**2))

    def kl_to_prior(self, q_mean, q_cov) -> torch.Tensor:
        """KL(N(mu, C) || N(0, I)) = (tr C + |mu|^2 - k - log det C) / 2, (B,) nats."""
        q_mean, q_cov = self._check_q(q_mean, q_cov)
        logdet = torch.linalg.slogdet(q_cov)[1]
        trace = torch.diagonal(q_cov, dim1=-2, dim2=-1).sum(-1)
        return 0.5 * (trace + (q_mean**2).sum(-1) - self.k - logdet)

    def elbo(self, x, q_mean, q_cov) -> torch.Tensor:
        """ELBO = E_q[log p(x|z)] - KL(q || p(z)), (B,) nats; it equals log p(x) iff q = p(z|x)."""
        return self.expected_log_likelihood(x, q_mean, q_cov) - self.kl_to_prior(q_mean, q_cov)

    def kl_to_posterior(self, x, q_mean, q_cov) -> torch.Tensor:
        """KL(q || p(z|x)) between two Gaussians in closed form, (B,) nats."""
        x = _as_matrix(x, self.d, "x")
        q_mean, q_cov = self._check_q(q_mean, q_cov, x.shape[0])
        post_mean, post_cov = self.posterior(x)
        post_logdet, post_prec = _mvn_logdet_and_inv(post_cov)
        diff = post_mean - q_mean
        trace = torch.einsum("ij,...ji->...", post_prec, q_cov)
        maha = ((diff @ post_prec) * diff).sum(-1)
        return 0.5 * (trace + maha - self.k + post_logdet - torch.linalg.slogdet(q_cov)[1])
