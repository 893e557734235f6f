"""vaecourse.linear_gaussian: exact quantities against brute-force integration on a grid (1-D, 2-D)."""

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from vaecourse.linear_gaussian import LinearGaussian

D64 = torch.float64


def _model(d, k, seed, sigma=0.8):
    return LinearGaussian.random(d, k, sigma, torch.Generator().manual_seed(seed))


def _grid(k, half_width=9.0, num=None):
    """Grid points (N, k) and the volume of one cell; the Riemann sum of a smooth Gaussian is spectrally accurate."""
    num = num or (4001 if k == 1 else 601)
    axis = torch.linspace(-half_width, half_width, num, dtype=D64)
    h = (axis[1] - axis[0]).item()
    points = torch.cartesian_prod(*([axis] * k)).reshape(-1, k)
    return points, h**k


def _random_q(k, batch, seed, scale=0.4):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(batch, k, generator=g, dtype=D64)
    A = scale * torch.randn(batch, k, k, generator=g, dtype=D64)
    cov = A @ A.transpose(-1, -2) + 0.05 * torch.eye(k, dtype=D64)
    return mean, cov


def _grid_log_joint(model, x, points):
    """log p(x_b, z_n) as (B, N)."""
    z = points.unsqueeze(1).expand(-1, x.shape[0], -1)  # (N, B, k)
    return model.log_joint(x, z).T


@pytest.mark.parametrize("k", [1, 2])
def test_log_marginal_and_posterior_match_grid(k):
    model = _model(d=3, k=k, seed=k)
    x, _ = model.sample(4, torch.Generator().manual_seed(10))
    points, vol = _grid(k)
    log_joint = _grid_log_joint(model, x, points)  # (B, N)
    log_px_grid = torch.logsumexp(log_joint, dim=1) + math.log(vol)
    torch.testing.assert_close(model.log_marginal(x), log_px_grid, rtol=0, atol=1e-9)

    weights = torch.softmax(log_joint, dim=1)  # normalised posterior on the grid
    mean_grid = weights @ points
    mean, cov = model.posterior(x)
    torch.testing.assert_close(mean, mean_grid, rtol=0, atol=1e-9)
    centred = points.unsqueeze(0) - mean_grid.unsqueeze(1)  # (B, N, k)
    cov_grid = torch.einsum("bn,bni,bnj->bij", weights, centred, centred)
    torch.testing.assert_close(cov.expand_as(cov_grid), cov_grid, rtol=0, atol=1e-9)


@pytest.mark.parametrize("k", [1, 2])
def test_elbo_and_kls_match_grid(k):
    model = _model(d=3, k=k, seed=20 + k)
    x, _ = model.sample(3, torch.Generator().manual_seed(11))
    q_mean, q_cov = _random_q(k, 3, seed=12)
    points, vol = _grid(k)
    log_q = torch.stack([MultivariateNormal(q_mean[b], q_cov[b]).log_prob(points) for b in range(3)])  # (B, N)
    q = log_q.exp() * vol
    log_joint = _grid_log_joint(model, x, points)
    log_lik = log_joint - model.log_prior(points).unsqueeze(0)
    log_post = log_joint - model.log_marginal(x).unsqueeze(1)
    log_prior = model.log_prior(points).unsqueeze(0)

    torch.testing.assert_close(model.elbo(x, q_mean, q_cov), (q * (log_joint - log_q)).sum(1), rtol=0, atol=1e-8)
    torch.testing.assert_close(model.expected_log_likelihood(x, q_mean, q_cov), (q * log_lik).sum(1),
                               rtol=0, atol=1e-8)
    torch.testing.assert_close(model.kl_to_prior(q_mean, q_cov), (q * (log_q - log_prior)).sum(1), rtol=0, atol=1e-8)
    torch.testing.assert_close(model.kl_to_posterior(x, q_mean, q_cov), (q * (log_q - log_post)).sum(1),
                               rtol=0, atol=1e-8)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_identity_log_px_minus_kl_equals_elbo(k):
    model = _model(d=8, k=k, seed=30 + k, sigma=0.5)
    x, _ = model.sample(50, torch.Generator().manual_seed(13))
    q_mean, q_cov = _random_q(k, 50, seed=14, scale=1.0)
    lhs = model.log_marginal(x) - model.kl_to_posterior(x, q_mean, q_cov)
    assert (lhs - model.elbo(x, q_mean, q_cov)).abs().max() <= 1e-10
    assert (model.kl_to_posterior(x, q_mean, q_cov) >= 0).all()


def test_elbo_is_log_px_at_true_posterior():
    model = _model(d=6, k=3, seed=40)
    x, _ = model.sample(20, torch.Generator().manual_seed(15))
    mean, cov = model.posterior(x)
    assert (model.elbo(x, mean, cov) - model.log_marginal(x)).abs().max() <= 1e-10
    assert model.kl_to_posterior(x, mean, cov).abs().max() <= 1e-10


def test_kl_to_prior_matches_torch_and_shared_cov():
    model = _model(d=4, k=3, seed=50)
    q_mean, q_cov = _random_q(3, 7, seed=16)
    expected = kl_divergence(MultivariateNormal(q_mean, q_cov),
                             MultivariateNormal(torch.zeros(3, dtype=D64), torch.eye(3, dtype=D64)))
    torch.testing.assert_close(model.kl_to_prior(q_mean, q_cov), expected, rtol=1e-12, atol=1e-12)
    shared = model.kl_to_prior(q_mean, q_cov[0])
    torch.testing.assert_close(shared, model.kl_to_prior(q_mean, q_cov[0].expand(7, 3, 3)))


def test_monte_carlo_elbo_and_log_marginal_against_sampling():
    model = _model(d=5, k=2, seed=60)
    x, _ = model.sample(1000, torch.Generator().manual_seed(17))
    # The sample mean of x and its covariance follow the marginal N(b, W W^T + sigma^2 I).
    torch.testing.assert_close(x.mean(0), model.b, rtol=0, atol=0.25)
    q_mean, q_cov = _random_q(2, 1, seed=18)
    z = MultivariateNormal(q_mean[0], q_cov[0]).sample((20000,)).unsqueeze(1)  # (S, 1, k)
    terms = model.log_joint(x[:1], z)[:, 0] - MultivariateNormal(q_mean[0], q_cov[0]).log_prob(z[:, 0])
    stderr = terms.std() / math.sqrt(len(terms))
    assert abs(terms.mean() - model.elbo(x[:1], q_mean, q_cov)[0]) <= 4 * stderr


def test_shapes_and_errors():
    model = _model(d=4, k=2, seed=70)
    x, z = model.sample(5)
    assert x.shape == (5, 4) and z.shape == (5, 2) and x.dtype == D64
    assert model.log_marginal(x).shape == (5,)
    mean, cov = model.posterior(x)
    assert mean.shape == (5, 2) and cov.shape == (2, 2)
    assert model.log_joint(x, z).shape == (5,)
    assert model.log_joint(x, z.expand(3, 5, 2)).shape == (3, 5)
    assert model.elbo(x, mean, cov.expand(5, 2, 2)).shape == (5,)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 4\)"):
        model.log_marginal(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="q_mean must have shape"):
        model.elbo(x, torch.zeros(5, 3), cov)
    with pytest.raises(ValueError, match="q_mean must have 5 rows"):
        model.elbo(x, torch.zeros(4, 2), cov)
    with pytest.raises(ValueError, match="q_cov must have shape"):
        model.elbo(x, mean, torch.eye(3))
    with pytest.raises(ValueError, match="z must have shape"):
        model.log_joint(x, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="b must have shape"):
        LinearGaussian(torch.zeros(4, 2), torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="sigma must be a positive scalar"):
        LinearGaussian(torch.zeros(4, 2), torch.zeros(4), -1.0)
