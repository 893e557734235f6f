"""Unit tests of vaecourse.priors: each prior is normalised, samples follow its log_prob, Monte Carlo KL
agrees with the closed form where one exists, and every prior plugs into the VAE."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Beta, Independent, Normal, kl_divergence

from vaecourse import latent, priors
from vaecourse.models import VAE, StandardNormalPrior

SMALL_IMAGE = (1, 4, 4)
SMALL_HIDDEN = (8,)


def small_vae(prior, latent_dim, seed=0):
    # float32: the encoders take images through vaecourse.data.as_image_batch, which makes them float32.
    torch.manual_seed(seed)
    return VAE(latent_dim=latent_dim, image_shape=SMALL_IMAGE, hidden=SMALL_HIDDEN, prior=prior)


def perturbed_mixture(latent_dim, num_components, seed=0):
    torch.manual_seed(seed)
    prior = priors.MixturePrior(latent_dim, num_components)
    with torch.no_grad():  # away from the initial values, so the test covers learned parameters
        prior.log_scales.uniform_(-0.7, 0.3)
        prior.logits.normal_()
    return prior


def vamp_prior(latent_dim, seed=0):
    torch.manual_seed(seed)
    prior = priors.VampPrior(latent_dim, num_pseudo_inputs=5, image_shape=SMALL_IMAGE)
    small_vae(prior, latent_dim, seed)
    return prior


CONTINUOUS_PRIORS = {
    "standard normal": (lambda d: StandardNormalPrior(d), (-9.0, 9.0)),
    "mixture": (lambda d: perturbed_mixture(d, 4), (-9.0, 9.0)),
    "vamp": (vamp_prior, (-9.0, 9.0)),
    "beta(2, 3)": (lambda d: priors.BetaPrior(d, 2.0, 3.0), (0.0, 1.0)),
    "beta(1, 1)": (lambda d: priors.BetaPrior(d), (0.0, 1.0)),
}


def grid(low, high, num):
    # Midpoints: no point on the boundary of (0, 1), where Beta densities may be infinite.
    edges = torch.linspace(low, high, num + 1, dtype=torch.float64)
    return (edges[:-1] + edges[1:]) / 2, (high - low) / num


# ---------------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("name", CONTINUOUS_PRIORS)
def test_log_prob_integrates_to_one_in_1d(name):
    make, (low, high) = CONTINUOUS_PRIORS[name]
    points, width = grid(low, high, 20000)
    with torch.no_grad():
        density = make(1)().log_prob(points[:, None].float()).double().exp()
    assert density.shape == (20000,)
    assert float(density.sum() * width) == pytest.approx(1.0, abs=2e-4)


@pytest.mark.parametrize("name", CONTINUOUS_PRIORS)
def test_log_prob_integrates_to_one_in_2d(name):
    make, (low, high) = CONTINUOUS_PRIORS[name]
    points, width = grid(low, high, 600)
    z = torch.cartesian_prod(points, points)
    with torch.no_grad():
        density = make(2)().log_prob(z.float()).double().exp()
    assert float(density.sum() * width**2) == pytest.approx(1.0, abs=2e-3)


def test_grouped_categorical_sums_to_one_over_all_codes():
    logits = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
    codes = torch.stack([torch.cat([torch.eye(3)[i], torch.eye(3)[j]]) for i, j in itertools.product(range(3), repeat=2)])
    for dist in (priors.GroupedOneHotCategorical(logits), priors.GumbelSoftmaxPrior(2, 3)()):
        assert float(dist.log_prob(codes).double().exp().sum()) == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------------------------------ samples follow log_prob
def numerical_cdf(log_prob, low, high):
    points, width = grid(low, high, 40000)
    with torch.no_grad():
        density = log_prob(points[:, None].float()).double().exp().numpy()
    cumulative = np.concatenate([[0.0], np.cumsum(density) * width])
    edges = np.linspace(low, high, len(points) + 1)
    return lambda x: np.interp(x, edges, cumulative / cumulative[-1])


@pytest.mark.parametrize("name", CONTINUOUS_PRIORS)
def test_samples_match_log_prob_in_1d(name):
    make, (low, high) = CONTINUOUS_PRIORS[name]
    dist = make(1)()
    torch.manual_seed(1)
    with torch.no_grad():
        samples = dist.sample((4000,))[:, 0].numpy()
    cdf = numerical_cdf(dist.log_prob, low, high)
    assert stats.kstest(samples, cdf).pvalue > 1e-3
    # The check has power: the same samples shifted by a fifth of their spread are rejected.
    assert stats.kstest(samples + 0.2 * samples.std(), cdf).pvalue < 1e-6


@pytest.mark.parametrize("name", ["mixture", "vamp", "beta(2, 3)"])
def test_samples_match_log_prob_in_2d(name):
    make, (low, high) = CONTINUOUS_PRIORS[name]
    dist = make(2)()
    torch.manual_seed(2)
    with torch.no_grad():
        samples = dist.sample((20000,)).numpy()
    # Chi-square over an 8 x 8 grid of cells spanning the central mass; probabilities by integration.
    inner = np.quantile(samples, [0.005, 0.995], axis=0)
    edges = [np.linspace(inner[0, k], inner[1, k], 9) for k in range(2)]
    counts, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=edges)
    expected = np.zeros((8, 8))
    for i, j in itertools.product(range(8), repeat=2):
        xs = torch.linspace(edges[0][i], edges[0][i + 1], 41, dtype=torch.float64)
        ys = torch.linspace(edges[1][j], edges[1][j + 1], 41, dtype=torch.float64)
        with torch.no_grad():
            density = dist.log_prob(torch.cartesian_prod(xs, ys).float()).double().exp().reshape(41, 41).numpy()
        expected[i, j] = np.trapezoid(np.trapezoid(density, ys.numpy(), axis=1), xs.numpy()) * len(samples)
    keep = expected > 5
    chi2 = float(((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3, (chi2, keep.sum())


def test_gumbel_max_samples_follow_the_categorical_probabilities():
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5]])
    dist = priors.GroupedOneHotCategorical(logits)
    torch.manual_seed(3)
    samples = dist.sample((20000,))
    assert set(samples.unique().tolist()) == {0.0, 1.0} and bool((samples.sum(-1) == 1).all())
    counts = samples.sum(0).numpy()
    assert stats.chisquare(counts, dist.probs[0].numpy() * len(samples)).pvalue > 1e-3


# ------------------------------------------------------------------------------------ the KL term
def test_monte_carlo_kl_agrees_with_closed_forms():
    generator = torch.Generator().manual_seed(4)
    pairs = {
        "normal": (Independent(Normal(torch.tensor([0.5, -1.0]), torch.tensor([0.7, 1.3])), 1), StandardNormalPrior(2)()),
        "beta": (Independent(Beta(torch.tensor([3.0, 0.8]), torch.tensor([2.0, 4.0])), 1), priors.BetaPrior(2)()),
        "categorical": (priors.GroupedOneHotCategorical(torch.tensor([[1.0, -1.0, 0.3], [0.0, 2.0, -2.0]])),
                        priors.GumbelSoftmaxPrior(2, 3)()),
    }
    for name, (q, p) in pairs.items():
        estimate, standard_error = priors.monte_carlo_kl(q, p, 20000, generator=generator)
        exact = kl_divergence(q, p)
        assert abs(float(estimate - exact)) < 4 * float(standard_error), name
        assert float(standard_error) < 0.05 * float(exact), name


def test_categorical_kl_to_uniform_is_log_k_minus_entropy():
    logits = torch.randn(5, 3, 4, generator=torch.Generator().manual_seed(5))
    q = priors.GroupedOneHotCategorical(logits)
    torch.testing.assert_close(kl_divergence(q, priors.GumbelSoftmaxPrior(3, 4)()), 3 * math.log(4) - q.entropy())


def test_vae_uses_monte_carlo_kl_for_a_mixture_and_it_is_unbiased():
    model = small_vae(perturbed_mixture(2, 3), 2)
    x = torch.rand(1, *SMALL_IMAGE, generator=torch.Generator().manual_seed(6))
    q_z = model.encode(x)
    torch.manual_seed(7)
    one_sample = torch.stack([model.kl(q_z, q_z.rsample()) for _ in range(4000)]).detach()
    reference, standard_error = priors.monte_carlo_kl(q_z, model.prior(), 100000,
                                                      generator=torch.Generator().manual_seed(8))
    reference, standard_error = reference.detach(), standard_error.detach()
    assert abs(float(one_sample.mean() - reference)) < 4 * float(one_sample.std() / math.sqrt(4000) + standard_error)


def test_monte_carlo_kl_reparameterised_has_pathwise_gradients():
    loc = torch.tensor([0.3], requires_grad=True)
    q = Independent(Normal(loc, torch.ones(1)), 1)
    estimate, _ = priors.monte_carlo_kl(q, StandardNormalPrior(1)(), 20000, reparameterised=True,
                                        generator=torch.Generator().manual_seed(9))
    estimate.sum().backward()
    assert float(loc.grad) == pytest.approx(0.3, abs=0.03)  # d/dmu of mu^2 / 2
    with pytest.raises(ValueError, match="at least 2"):
        priors.monte_carlo_kl(q, StandardNormalPrior(1)(), 1)


# ------------------------------------------------------------------------- reparameterisation
def test_beta_pathwise_gradient_matches_finite_differences():
    # d/da E[z^2] for z ~ Beta(a, b): pathwise (implicit reparameterisation) vs the exact derivative of
    # E[z^2] = a (a + 1) / ((a + b)(a + b + 1)) by central differences.
    a, b = torch.tensor(2.5, dtype=torch.float64, requires_grad=True), torch.tensor(1.5, dtype=torch.float64)
    torch.manual_seed(10)
    z = Beta(a, b).rsample((200000,))
    per_sample = torch.autograd.grad((z**2).sum(), a)[0] / len(z)

    def second_moment(a_value):
        return a_value * (a_value + 1) / ((a_value + b) * (a_value + b + 1))

    h = 1e-5
    exact = (second_moment(a.detach() + h) - second_moment(a.detach() - h)) / (2 * h)
    assert float(per_sample) == pytest.approx(float(exact), rel=0.02)


def test_gumbel_softmax_relaxation_sums_to_one_sharpens_and_carries_gradients():
    logits = torch.randn(64, 3, 5, generator=torch.Generator().manual_seed(11), requires_grad=True)
    torch.manual_seed(12)
    warm = priors.GroupedOneHotCategorical(logits, temperature=5.0).rsample()
    cold = priors.GroupedOneHotCategorical(logits, temperature=0.01).rsample()
    for relaxed in (warm, cold):
        torch.testing.assert_close(relaxed.unflatten(-1, (3, 5)).sum(-1), torch.ones(64, 3))
    assert float(cold.detach().unflatten(-1, (3, 5)).max(-1).values.mean()) > 0.99
    assert float(warm.detach().unflatten(-1, (3, 5)).max(-1).values.mean()) < 0.6
    (warm * torch.arange(15.0)).sum().backward()
    assert logits.grad is not None and bool(logits.grad.abs().sum() > 0)


# ------------------------------------------------------------------------------- the VAE interface
@pytest.mark.parametrize("make, latent_dim", [
    (lambda: priors.MixturePrior(3, 4), 3),
    (lambda: priors.VampPrior(3, 6, image_shape=SMALL_IMAGE), 3),
    (lambda: priors.BetaPrior(3), 3),
    (lambda: priors.GumbelSoftmaxPrior(2, 3), 6),
])
def test_every_prior_trains_in_the_vae(make, latent_dim):
    torch.manual_seed(13)
    model = VAE(latent_dim=latent_dim, image_shape=SMALL_IMAGE, hidden=SMALL_HIDDEN, prior=make())
    x = torch.rand(16, *SMALL_IMAGE, generator=torch.Generator().manual_seed(14))
    terms = model.loss_terms(x)
    assert all(v.shape == (16,) and bool(torch.isfinite(v).all()) for v in terms.values())
    terms["neg_elbo"].mean().backward()
    learned = [p for p in model.prior.parameters()] + list(model.encoder.parameters())
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in learned)
    assert model.sample(5).shape == (5, *SMALL_IMAGE)
    assert latent.encode_dataset(model, x).shape == (16, latent_dim)


def test_posterior_family_comes_with_the_prior():
    assert isinstance(VAE(3, SMALL_IMAGE, SMALL_HIDDEN, prior=priors.BetaPrior(3)).encode(torch.rand(2, 16)).base_dist, Beta)
    categorical = VAE(6, SMALL_IMAGE, SMALL_HIDDEN, prior=priors.GumbelSoftmaxPrior(2, 3)).encode(torch.rand(2, 16))
    assert isinstance(categorical, priors.GroupedOneHotCategorical) and categorical.event_shape == (6,)


def test_vamp_prior_is_the_mixture_of_the_encoders_posteriors():
    prior = vamp_prior(2)
    z = torch.randn(7, 2)
    components = prior._encoder(prior.pseudo_inputs)
    expected = torch.logsumexp(components.log_prob(z[:, None, :]), dim=1) - math.log(5)
    torch.testing.assert_close(prior().log_prob(z), expected)


def test_vamp_prior_shares_the_encoder_without_duplicating_it():
    model = small_vae(priors.VampPrior(2, 5, image_shape=SMALL_IMAGE), 2)
    keys = list(model.state_dict())
    assert "prior.pseudo_logits" in keys and not any(k.startswith("prior._encoder") for k in keys)
    assert model.prior._encoder is model.encoder


def test_kl_decomposition_adds_up():
    model = small_vae(None, 2)
    x = torch.rand(50, *SMALL_IMAGE, generator=torch.Generator().manual_seed(15))
    parts = latent.kl_decomposition(model, x, generator=torch.Generator().manual_seed(16))
    assert parts["avg_kl"] == pytest.approx(parts["mutual_information"] + parts["marginal_kl"], abs=1e-4)
    assert 0 <= parts["mutual_information"] <= math.log(50) + 1e-6


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="latent dimensions"):
        VAE(latent_dim=4, image_shape=SMALL_IMAGE, hidden=SMALL_HIDDEN, prior=priors.MixturePrior(3))
    with pytest.raises(RuntimeError, match="no encoder"):
        priors.VampPrior(2, 3, image_shape=SMALL_IMAGE)()
    with pytest.raises(ValueError, match="num_pseudo_inputs"):
        priors.VampPrior(2, 3, image_shape=SMALL_IMAGE, init_images=torch.rand(4, *SMALL_IMAGE))
    with pytest.raises(ValueError, match="positive"):
        priors.BetaPrior(2, 0.0, 1.0)
    with pytest.raises(ValueError, match="num_categories"):
        priors.GumbelSoftmaxPrior(2, 1)
    with pytest.raises(ValueError, match="temperature"):
        priors.GroupedOneHotCategorical(torch.zeros(2, 3), temperature=0.0)
    with pytest.raises(ValueError, match="num_groups, num_categories"):
        priors.GroupedOneHotCategorical(torch.zeros(3))
    with pytest.raises(ValueError, match="codes must end in 6"):
        priors.GroupedOneHotCategorical(torch.zeros(2, 3)).log_prob(torch.zeros(5))


class _FixedPosteriors(torch.nn.Module):
    """A stand-in model: q(z|x_n) = N(means[n], std^2 I) for the n-th image, prior N(0, I)."""

    image_shape = SMALL_IMAGE

    def __init__(self, means, std):
        super().__init__()
        self.register_buffer("means", means)
        self.std = std

    def encode(self, x):
        means = self.means[: len(x)]
        return torch.distributions.Independent(torch.distributions.Normal(means, torch.full_like(means, self.std)), 1)

    def prior(self):
        zeros = torch.zeros(self.means.shape[1], dtype=self.means.dtype)
        return torch.distributions.Independent(torch.distributions.Normal(zeros, torch.ones_like(zeros)), 1)


def test_prior_hole_kl_matches_the_closed_form_when_every_code_is_the_same():
    # every posterior is N(0, 0.1^2 I) in 2-D: q(z) = N(0, 0.01 I) exactly, and KL(N(0, I) || N(0, 0.01 I))
    # = 2 * 1/2 (1/0.01 - 1 + log 0.01) nats
    model = _FixedPosteriors(torch.zeros(40, 2, dtype=torch.float64), 0.1)
    x = torch.rand(40, *SMALL_IMAGE, generator=torch.Generator().manual_seed(17))
    estimate = latent.prior_hole_kl(model, x, num_samples=4000, generator=torch.Generator().manual_seed(18))
    assert estimate == pytest.approx(100 - 1 + math.log(0.01), rel=0.05)


def test_prior_hole_kl_is_small_when_the_codes_fill_the_prior():
    # posterior means ~ N(0, 0.75 I) with std 0.5: the aggregate is (close to) N(0, I) itself
    means = math.sqrt(0.75) * torch.randn(2000, 2, generator=torch.Generator().manual_seed(19), dtype=torch.float64)
    model = _FixedPosteriors(means, 0.5)
    x = torch.rand(2000, *SMALL_IMAGE, generator=torch.Generator().manual_seed(20))
    assert abs(latent.prior_hole_kl(model, x, num_samples=2000, generator=torch.Generator().manual_seed(21))) < 0.05
