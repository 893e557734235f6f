"""Vector quantisation for the VQ-VAE (van den Oord et al. 2017; notebook 09).

- :func:`nearest_codes`: the index of the nearest codebook vector for each input vector, by squared
  Euclidean distance, from ``|z|^2 - 2 z.e + |e|^2``: an ``N x K`` matrix, never ``N x K x D``.
- :func:`straight_through`: ``z_e + (z_q - z_e).detach()``, forward value ``z_q``, gradient passed to
  ``z_e`` unchanged (the straight-through estimator).
- :func:`code_usage` and :func:`perplexity`: how many inputs each code takes, and exp(entropy) of that
  distribution (K when all codes are used equally, 1 when one code takes everything).
- :class:`VectorQuantizer`: the layer. Losses per example, summed over positions and code dimensions:
  ``codebook = ||sg[z_e] - e||^2`` (moves the codes), ``commitment = ||z_e - sg[e]||^2`` (moves the
  encoder; weighted by beta in the VQ-VAE loss). With ``ema=True`` the codebook is instead updated as
  an exponential moving average of the inputs assigned to each code (appendix A.1 of the paper),
  started from one pseudo-observation per code at its initial position, and the codebook loss is
  reported but moves nothing. ``restart_dead_codes`` moves codes that no input
  chose for a while onto random encoder outputs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["nearest_codes", "straight_through", "code_usage", "perplexity", "VectorQuantizer", "QuantizerOutput"]


def _check_vectors(z: torch.Tensor, codebook: torch.Tensor) -> None:
    if codebook.dim() != 2:
        raise ValueError(f"codebook must be (K codes, D dimensions), got shape {tuple(codebook.shape)}")
    if z.dim() != 2 or z.shape[1] != codebook.shape[1]:
        raise ValueError(f"vectors must be (N, {codebook.shape[1]}) to match the codebook, got {tuple(z.shape)}")


def nearest_codes(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index ``(N,)`` of the nearest code (squared Euclidean distance) for each row of ``z`` ``(N, D)``.

    Expands ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2, so memory is O(N K), not O(N K D). Ties go to
    the lower index.
    """
    _check_vectors(z, codebook)
    distances = (z.pow(2).sum(1, keepdim=True) - 2 * z @ codebook.T + codebook.pow(2).sum(1)[None, :])
    return distances.argmin(dim=1)


def straight_through(z_e: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """Forward: ``z_q``. Backward: the gradient with respect to the output goes to ``z_e`` unchanged."""
    return z_e + (z_q - z_e).detach()


def code_usage(indices: torch.Tensor, num_codes: int) -> torch.Tensor:
    """How many times each of the ``num_codes`` codes occurs in ``indices``: float ``(num_codes,)``."""
    return torch.bincount(indices.flatten(), minlength=num_codes).float()


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of the usage distribution ``counts / counts.sum()``: the effective number of codes."""
    probs = counts / counts.sum().clamp_min(1e-12)
    return torch.exp(-(probs * torch.log(probs.clamp_min(1e-12))).sum())


class QuantizerOutput(NamedTuple):
    z_q: torch.Tensor          # quantised, with the straight-through gradient; same shape as the input
    indices: torch.Tensor      # (B, H, W) or (B,) code indices
    codebook_loss: torch.Tensor    # (B,) ||sg[z_e] - e||^2
    commitment_loss: torch.Tensor  # (B,) ||z_e - sg[e]||^2


class VectorQuantizer(nn.Module):
    """Replaces each ``code_dim`` vector of the encoder output by its nearest of ``num_codes`` codes.

    Inputs are ``(B, D, H, W)`` feature maps (a vector per position) or ``(B, D)`` vectors.

    Parameters
    ----------
    num_codes, code_dim : the codebook's size K and dimension D.
    ema : update the codebook by exponential moving averages (no gradient) instead of the codebook loss.
    decay, epsilon : the EMA's decay gamma and the Laplace smoothing of its cluster sizes.
    restart_after : with a value, a code that no input chose for ``restart_after`` training batches in
        a row is moved onto a random input vector of the current batch (a "dead code restart").
    """

    def __init__(self, num_codes: int, code_dim: int, *, ema: bool = False, decay: float = 0.99,
                 epsilon: float = 1e-5, restart_after: int | None = None):
        super().__init__()
        if num_codes < 1 or code_dim < 1:
            raise ValueError(f"need num_codes >= 1 and code_dim >= 1, got {num_codes}, {code_dim}")
        if not 0 < decay < 1:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        if restart_after is not None and restart_after < 1:
            raise ValueError(f"restart_after must be a positive number of batches, got {restart_after}")
        self.num_codes, self.code_dim, self.ema = num_codes, code_dim, ema
        self.decay, self.epsilon, self.restart_after = decay, epsilon, restart_after
        # Uniform in +-1/K, the common choice of PyTorch re-implementations (the authors' Sonnet code draws
        # from a wider variance-scaling uniform): every code starts close to the origin.
        initial = torch.empty(num_codes, code_dim).uniform_(-1 / num_codes, 1 / num_codes)
        if ema:
            self.register_buffer("codebook", initial)
            # One pseudo-observation per code, at the code itself: count 1 and sum = the initial code.
            # Sums at the codebook with counts at 0 (an easy slip) make every code that receives no
            # input at the first update decay * code / (about epsilon): thrown thousands of times
            # further out, never chosen again (notebook 09 shows it). The VQ-VAE authors' Sonnet
            # VectorQuantizerEMA avoids it differently, by debiasing both averages from zero.
            self.register_buffer("ema_cluster_size", torch.ones(num_codes))
            self.register_buffer("ema_sum", initial.clone())
        else:
            self.codebook = nn.Parameter(initial)
        self.register_buffer("batches_unused", torch.zeros(num_codes, dtype=torch.long))
        self.register_buffer("restarts", torch.zeros((), dtype=torch.long))

    def _flatten(self, z_e: torch.Tensor) -> torch.Tensor:
        if z_e.dim() == 4 and z_e.shape[1] == self.code_dim:
            return z_e.permute(0, 2, 3, 1).reshape(-1, self.code_dim)
        if z_e.dim() == 2 and z_e.shape[1] == self.code_dim:
            return z_e
        raise ValueError(f"encoder output must be (B, {self.code_dim}, H, W) or (B, {self.code_dim}), "
                         f"got {tuple(z_e.shape)}")

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors of ``indices`` ``(B, H, W)`` -> ``(B, D, H, W)``, or ``(B,)`` -> ``(B, D)``."""
        vectors = self.codebook[indices]
        return vectors.permute(0, 3, 1, 2) if indices.dim() == 3 else vectors

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        one_hot = F.one_hot(indices, self.num_codes).type(flat.dtype)  # (N, K)
        self.ema_cluster_size.mul_(self.decay).add_(one_hot.sum(0), alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(one_hot.T @ flat, alpha=1 - self.decay)
        total = self.ema_cluster_size.sum()
        # Laplace smoothing keeps a code that lost all its inputs from dividing by zero.
        smoothed = (self.ema_cluster_size + self.epsilon) / (total + self.num_codes * self.epsilon) * total
        self.codebook.copy_(self.ema_sum / smoothed[:, None])

    @torch.no_grad()
    def _restart_dead_codes(self, flat: torch.Tensor, counts: torch.Tensor) -> None:
        self.batches_unused.add_(1).masked_fill_(counts > 0, 0)
        dead = (self.batches_unused >= self.restart_after).nonzero().flatten()
        if len(dead) == 0:
            return
        chosen = flat[torch.randint(len(flat), (len(dead),), device=flat.device)]
        self.codebook[dead] = chosen
        if self.ema:
            self.ema_sum[dead] = chosen
            self.ema_cluster_size[dead] = 1.0
        self.batches_unused[dead] = 0
        self.restarts += len(dead)

    def forward(self, z_e: torch.Tensor) -> QuantizerOutput:
        flat = self._flatten(z_e)
        indices = nearest_codes(flat.detach(), self.codebook.detach())
        if self.training:
            counts = code_usage(indices, self.num_codes)
            if self.ema:
                self._ema_update(flat.detach(), indices)
            if self.restart_after is not None:
                self._restart_dead_codes(flat.detach(), counts)
        quantised = self.codebook[indices]  # (N, D); carries the codebook's gradient when it is learned
        batch = z_e.shape[0]
        codebook_loss = (flat.detach() - quantised).pow(2).reshape(batch, -1).sum(1)
        commitment_loss = (flat - quantised.detach()).pow(2).reshape(batch, -1).sum(1)
        if z_e.dim() == 4:
            b, _, h, w = z_e.shape
            indices = indices.view(b, h, w)
            quantised = quantised.view(b, h, w, self.code_dim).permute(0, 3, 1, 2)
        return QuantizerOutput(straight_through(z_e, quantised), indices, codebook_loss, commitment_loss)

