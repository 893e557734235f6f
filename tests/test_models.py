"""Unit tests of vaecourse.models: shapes, distributions, loss terms against closed forms, sampling."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import (Categorical, ContinuousBernoulli, Distribution, Independent, MixtureSameFamily, Normal,
                                 kl_divergence)

from vaecourse import models
from vaecourse.data import load_mnist
from vaecourse.models import (AE, VAE, BernoulliLikelihood, ContinuousBernoulliLikelihood, Decoder,
                              GaussianLikelihood, make_likelihood)

LATENT = 4
HIDDEN = (32,)


@pytest.fixture(scope="module")
def x(tmp_path_factory):
    """Eight real (grey-level) digits."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAECOURSE_CACHE", str(tmp_path_factory.mktemp("cache")))
        return load_mnist("embedded", "test")[0][:8]


def make_vae(seed: int = 0, **kwargs) -> VAE:
    torch.manual_seed(seed)
    return VAE(latent_dim=LATENT, hidden=HIDDEN, **kwargs)


def make_ae(seed: int = 0, **kwargs) -> AE:
    torch.manual_seed(seed)
    return AE(latent_dim=LATENT, hidden=HIDDEN, **kwargs)


# ------------------------------------------------------------------------------------------- shapes
def test_ae_forward_shapes(x):
    model = make_ae()
    assert model.objective == "nll"
    out = model(x)
    assert isinstance(out, models.AEOutput)
    assert out.z.shape == (8, LATENT) and out.z.dtype == torch.float32
    assert isinstance(out.p_x, Distribution)
    assert out.p_x.batch_shape == (8,) and out.p_x.event_shape == (1, 28, 28)
    assert out.p_x.log_prob(x).shape == (8,)
    assert model.encode(x).shape == (8, LATENT)
    terms = model.loss_terms(x)
    assert set(terms) == {"nll"} and terms["nll"].shape == (8,)


def test_vae_forward_shapes(x):
    model = make_vae()
    assert model.objective == "neg_elbo"
    q_z, p_x, z = model(x)
    assert isinstance(q_z, Distribution) and isinstance(p_x, Distribution)
    assert q_z.batch_shape == (8,) and q_z.event_shape == (LATENT,)
    assert z.shape == (8, LATENT) and z.dtype == torch.float32
    assert p_x.batch_shape == (8,) and p_x.event_shape == (1, 28, 28)
    assert p_x.log_prob(x).shape == (8,)
    assert p_x.mean.shape == (8, 1, 28, 28)
    assert model.prior().event_shape == (LATENT,)


def test_vae_loss_terms(x):
    terms = make_vae().loss_terms(x)
    assert set(terms) == {"neg_elbo", "nll", "kl"}
    for value in terms.values():
        assert value.shape == (8,) and value.dtype == torch.float32 and torch.isfinite(value).all()
    assert torch.allclose(terms["neg_elbo"], terms["nll"] + terms["kl"], rtol=0, atol=1e-4)
    assert (terms["kl"] >= 0).all() and (terms["nll"] > 0).all()


@pytest.mark.parametrize("shape", [(8, 784), (8, 28, 28)])
def test_models_accept_flat_and_channel_less_images(x, shape):
    for model in (make_ae(), make_vae()):
        torch.manual_seed(0)
        a = model.loss_terms(x)
        torch.manual_seed(0)
        b = model.loss_terms(x.reshape(shape))
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_models_accept_numpy(x):
    model = make_ae()
    assert torch.equal(model.loss_terms(x.numpy())["nll"], model.loss_terms(x)["nll"])


def test_other_image_shape():
    model = VAE(latent_dim=3, image_shape=(1, 16, 16), hidden=(8,))
    images = torch.rand(5, 1, 16, 16)
    assert model.loss_terms(images)["neg_elbo"].shape == (5,)
    assert model.sample(2).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match=r"\(N, 1, 16, 16\).*got \(5, 1, 28, 28\)"):
        model.loss_terms(torch.rand(5, 1, 28, 28))


@pytest.mark.parametrize("shape", [(8, 3, 28, 28), (8, 100), (8, 1, 32, 32), (784,)])
@pytest.mark.parametrize("make", [make_ae, make_vae])
def test_models_reject_wrong_image_shapes(make, shape):
    model = make()
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 28, 28\) \(or \(N, 784\)\), got"):
        model(torch.rand(shape))
    with pytest.raises(ValueError, match=r"x must have shape"):
        model.loss_terms(torch.rand(shape))


@pytest.mark.parametrize("z_shape", [(8, LATENT + 1), (8, 2), (LATENT,)])
def test_decoder_rejects_wrong_latent_width(z_shape):
    decoder = Decoder(LATENT, hidden=HIDDEN)
    with pytest.raises(ValueError, match=rf"z must have shape \(B, {LATENT}\), got \({z_shape[0]}"):
        decoder(torch.zeros(z_shape))
    with pytest.raises(ValueError, match="z must have shape"):
        make_vae().decode(torch.zeros(z_shape))


def test_decoder_never_mixes_batch_and_event_dimensions():
    # z of shape (K, B, D) (e.g. q_z.sample((K,)) in an IWAE estimate) must either be refused or give one
    # log-probability per (k, b); folding B into the event would silently sum over the batch.
    decoder = Decoder(LATENT, hidden=HIDDEN)
    try:
        p_x = decoder(torch.zeros(3, 5, LATENT))
    except ValueError as err:
        assert "z must have shape" in str(err)
        return
    assert p_x.batch_shape == (3, 5) and p_x.event_shape == (1, 28, 28)
    assert p_x.log_prob(torch.zeros(3, 5, 1, 28, 28)).shape == (3, 5)


def test_models_are_deterministic_under_a_seed(x):
    a, b, c = make_vae(0), make_vae(0), make_vae(1)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))
    torch.manual_seed(5)
    first = a.loss_terms(x)["neg_elbo"]
    torch.manual_seed(5)
    assert torch.equal(first, b.loss_terms(x)["neg_elbo"])


def test_ae_is_deterministic_given_weights(x):
    model = make_ae()
    assert torch.equal(model.loss_terms(x)["nll"], model.loss_terms(x)["nll"])


# -------------------------------------------------------------------------------- loss closed forms
def test_vae_kl_matches_closed_form(x):
    model = make_vae()
    with torch.no_grad():
        # The encoder's raw outputs, read off its network: the first half is mu, the second log sigma^2.
        mu, logvar = model.encoder.net(x.flatten(1)).double().chunk(2, dim=-1)
        expected = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)
        kl = model.loss_terms(x)["kl"].double()
    assert torch.allclose(kl, expected, rtol=1e-5, atol=1e-6)


def test_vae_bernoulli_nll_is_summed_binary_cross_entropy(x):
    model = make_vae()
    with torch.no_grad():
        torch.manual_seed(11)
        nll = model.loss_terms(x)["nll"]
        torch.manual_seed(11)
        z = model(x).z  # the same reparameterised sample as loss_terms drew
        logits = model.decoder.net(z)
        expected = F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(dim=1)
    assert torch.allclose(nll, expected, rtol=1e-5, atol=1e-3)


def test_ae_nll_is_summed_binary_cross_entropy(x):
    model = make_ae()
    with torch.no_grad():
        logits = model.decoder.net(model.encoder.net(x.flatten(1)))
        expected = F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(dim=1)
        assert torch.allclose(model.loss_terms(x)["nll"], expected, rtol=1e-5, atol=1e-3)


def test_bernoulli_likelihood_on_binary_data():
    logits = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    target = (torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    p = torch.sigmoid(logits).double()
    expected = (target * p.log() + (1 - target) * (1 - p).log()).sum(dim=(1, 2, 3))
    assert torch.allclose(BernoulliLikelihood()(logits).log_prob(target).double(), expected, atol=1e-5)


def test_gaussian_likelihood_closed_form():
    mean = torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    target = torch.rand(4, 1, 3, 3, generator=torch.Generator().manual_seed(1))
    sigma = 0.3
    log_prob = GaussianLikelihood(sigma)(mean).log_prob(target)
    expected = (-0.5 * ((target - mean) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(dim=(1, 2, 3))
    assert log_prob.shape == (4,)
    assert torch.allclose(log_prob, expected, rtol=1e-5, atol=1e-4)


def test_continuous_bernoulli_is_uniform_at_zero_logits():
    # lambda = 0.5 makes the continuous Bernoulli the uniform density on [0, 1]: log p = 0 per pixel.
    target = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    log_prob = ContinuousBernoulliLikelihood()(torch.zeros(5, 1, 28, 28)).log_prob(target)
    assert log_prob.shape == (5,)
    assert torch.allclose(log_prob, torch.zeros(5), atol=1e-3)


def test_continuous_bernoulli_differs_from_bernoulli():
    logits = torch.full((1, 1, 2, 2), 2.0)
    target = torch.full((1, 1, 2, 2), 0.7)
    cb = ContinuousBernoulliLikelihood()(logits).log_prob(target)
    b = BernoulliLikelihood()(logits).log_prob(target)
    assert cb.item() > b.item() + 1.0  # the normalising constant log C(lambda) > 0 is what is added


def quad_normaliser_and_mean(logit: float) -> tuple[float, float]:
    """log of 1 / integral of lambda^x (1-lambda)^(1-x) over [0, 1], and the mean, by quadrature."""
    from scipy import integrate

    log_lam, log_one_minus = -math.log1p(math.exp(-logit)), -math.log1p(math.exp(logit))
    # Divided by its largest value so the integrand stays O(1) at saturated logits.
    peak = max(log_lam, log_one_minus)

    def f(x):
        return math.exp(x * log_lam + (1 - x) * log_one_minus - peak)

    mass = integrate.quad(f, 0, 1, epsabs=0, epsrel=1e-13)[0]
    first_moment = integrate.quad(lambda x: x * f(x), 0, 1, epsabs=0, epsrel=1e-13)[0]
    return -(math.log(mass) + peak), first_moment / mass


CB_LOGITS = [-60.0, -25.0, -3.0, -0.5, -0.05, -1e-3, 0.0, 1e-5, 2e-3, 0.02, 0.3, 1.0, 7.0, 18.0, 40.0]


def test_logit_continuous_bernoulli_matches_quadrature_float64():
    logits = torch.tensor(CB_LOGITS, dtype=torch.float64)
    dist = models.LogitContinuousBernoulli(logits=logits)
    target = torch.full_like(logits, 0.3)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    expected = [quad_normaliser_and_mean(l) for l in CB_LOGITS]
    log_c = torch.tensor([e[0] for e in expected], dtype=torch.float64)
    mean = torch.tensor([e[1] for e in expected], dtype=torch.float64)
    torch.testing.assert_close(dist.log_prob(target), -bce + log_c, rtol=0, atol=1e-11)
    torch.testing.assert_close(dist.mean, mean, rtol=0, atol=1e-11)


def test_logit_continuous_bernoulli_agrees_with_torch_where_torch_is_exact():
    logits = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    target = torch.rand(2001, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ours, theirs = models.LogitContinuousBernoulli(logits=logits), ContinuousBernoulli(logits=logits)
    torch.testing.assert_close(ours.log_prob(target), theirs.log_prob(target), rtol=0, atol=1e-10)
    torch.testing.assert_close(ours.mean, theirs.mean, rtol=0, atol=1e-10)


def test_continuous_bernoulli_likelihood_exact_at_saturated_float32_logits():
    # torch clamps float32 probabilities at 1 - 2^-23, i.e. |logit| ~ 16, before computing log C:
    # at logit 40 it would use log C(16) instead of log C(40), ~0.9 nats too small per pixel.
    logits = torch.tensor([[-40.0, -20.0, 20.0, 40.0]])
    target = torch.tensor([[0.0, 0.1, 0.9, 1.0]])
    log_prob = ContinuousBernoulliLikelihood()(logits).log_prob(target)
    logits64, target64 = logits.double(), target.double()
    expected = (-F.binary_cross_entropy_with_logits(logits64, target64, reduction="none")
                + torch.log(logits64.abs())).sum(-1)  # log C(l) = log(l / tanh(l/2)) = log |l| here
    assert log_prob.dtype == torch.float32
    torch.testing.assert_close(log_prob.double(), expected, rtol=1e-6, atol=1e-5)
    torch_log_prob = Independent(ContinuousBernoulli(logits=logits), 1).log_prob(target)
    assert (torch_log_prob.double() - expected).abs().item() > 1.0  # what the class fixes


def test_logit_continuous_bernoulli_gradient_is_finite_at_zero_and_smooth_across_series():
    logits = torch.tensor([0.0, 1e-2 - 1e-9, 1e-2 + 1e-9, 1e-1 - 1e-9, 1e-1 + 1e-9],
                          dtype=torch.float64, requires_grad=True)
    dist = models.LogitContinuousBernoulli(logits=logits)
    (dist._cont_bern_log_norm().sum() + dist.mean.sum()).backward()
    assert torch.isfinite(logits.grad).all()
    # d log C / dl = l/6 + ... and d mean / dl = 1/12 + ...: continuous across both thresholds.
    torch.testing.assert_close(logits.grad[1], logits.grad[2], rtol=0, atol=1e-7)
    torch.testing.assert_close(logits.grad[3], logits.grad[4], rtol=0, atol=1e-7)
    torch.testing.assert_close(logits.grad[0], torch.tensor(1 / 12, dtype=torch.float64), rtol=0, atol=1e-12)


LIKELIHOODS = {
    "bernoulli": lambda: "bernoulli",
    "continuous_bernoulli": lambda: "continuous_bernoulli",
    "gaussian_fixed": lambda: GaussianLikelihood(0.1),
    "gaussian_learned": lambda: GaussianLikelihood(0.1, learn_sigma=True),
}


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_every_likelihood_gives_finite_loss_terms(x, name):
    model = make_vae(likelihood=LIKELIHOODS[name]())
    binary = (x > 0.5).float()
    for data in (x, binary):
        terms = model.loss_terms(data)
        assert all(torch.isfinite(v).all() and v.shape == (8,) for v in terms.values())
    terms["neg_elbo"].mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_gaussian_sigma_learned_is_a_parameter_fixed_is_not(x):
    learned = make_vae(likelihood=GaussianLikelihood(0.2, learn_sigma=True))
    fixed = make_vae(likelihood=GaussianLikelihood(0.2))
    assert "decoder.likelihood.log_sigma" in dict(learned.named_parameters())
    assert "decoder.likelihood.log_sigma" not in dict(fixed.named_parameters())
    assert "decoder.likelihood.log_sigma" in dict(fixed.named_buffers())  # saved with the model
    assert fixed.decoder.likelihood.log_sigma.item() == pytest.approx(math.log(0.2))
    learned.loss_terms(x)["neg_elbo"].mean().backward()
    assert learned.decoder.likelihood.log_sigma.grad is not None
    assert learned.decoder.likelihood.log_sigma.grad.item() != 0


def test_likelihood_by_name():
    assert isinstance(make_likelihood("bernoulli"), BernoulliLikelihood)
    assert isinstance(make_likelihood("continuous_bernoulli"), ContinuousBernoulliLikelihood)
    gaussian = make_likelihood("gaussian")
    assert isinstance(gaussian, GaussianLikelihood) and "log_sigma" not in dict(gaussian.named_parameters())
    module = GaussianLikelihood(0.5)
    assert make_likelihood(module) is module


def test_unknown_likelihood():
    with pytest.raises(ValueError, match=r"unknown likelihood 'poisson'; choose one of \['bernoulli'"):
        make_likelihood("poisson")
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        VAE(latent_dim=2, hidden=(8,), likelihood="poisson")


@pytest.mark.parametrize("sigma", [0.0, -1.0])
def test_gaussian_likelihood_needs_positive_sigma(sigma):
    with pytest.raises(ValueError, match="sigma must be positive"):
        GaussianLikelihood(sigma)


# ------------------------------------------------------------------------------------- custom prior
class MixturePrior(nn.Module):
    """A learnable mixture of Gaussians: torch has no closed-form KL from a Gaussian to it."""

    def __init__(self, latent_dim: int, components: int = 3):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.logits = nn.Parameter(torch.zeros(components))
        self.locs = nn.Parameter(torch.randn(components, latent_dim, generator=generator))
        self.log_scales = nn.Parameter(torch.zeros(components, latent_dim))

    def forward(self) -> Distribution:
        return MixtureSameFamily(Categorical(logits=self.logits),
                                 Independent(Normal(self.locs, self.log_scales.exp()), 1))


def test_custom_prior_falls_back_to_monte_carlo_kl(x):
    model = make_vae(prior=MixturePrior(LATENT))
    q_z = model.encode(x)
    with pytest.raises(NotImplementedError):
        kl_divergence(q_z, model.prior())  # so loss_terms cannot use a closed form
    torch.manual_seed(3)
    kl = model.loss_terms(x)["kl"]
    torch.manual_seed(3)
    z = model(x).z
    expected = q_z.log_prob(z) - model.prior().log_prob(z)
    assert kl.shape == (8,)
    assert torch.allclose(kl, expected, rtol=1e-5, atol=1e-4)
    kl.mean().backward()
    assert model.prior.locs.grad is not None and model.prior.locs.grad.abs().sum() > 0


def test_standard_prior_uses_closed_form_not_a_sample(x):
    model = make_vae()
    torch.manual_seed(0)
    first = model.loss_terms(x)
    torch.manual_seed(1)
    second = model.loss_terms(x)
    assert torch.equal(first["kl"], second["kl"])  # analytic: the sample does not enter it
    assert not torch.equal(first["nll"], second["nll"])


# ------------------------------------------------------------------------------------------ sampling
def test_vae_sample_shape_and_range():
    samples = make_vae().sample(6, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (6, 1, 28, 28) and samples.dtype == torch.float32
    assert samples.min() >= 0 and samples.max() <= 1
    assert not samples.requires_grad


def test_vae_sample_is_deterministic_per_generator_seed():
    model = make_vae()
    a = model.sample(5, generator=torch.Generator().manual_seed(7))
    b = model.sample(5, generator=torch.Generator().manual_seed(7))
    c = model.sample(5, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_vae_sample_leaves_global_rng_untouched():
    model = make_vae()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    model.sample(5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), state)


def test_vae_sample_advances_the_generator():
    model = make_vae()
    generator = torch.Generator().manual_seed(0)
    assert not torch.equal(model.sample(3, generator=generator), model.sample(3, generator=generator))


def test_vae_sample_without_generator_gives_new_samples_each_call():
    # Without a generator, sampling draws from the global stream like any torch sampler: two calls in
    # a row must not return the same images (a notebook showing "more samples" would repeat itself).
    model = make_vae()
    torch.manual_seed(0)
    assert not torch.equal(model.sample(4), model.sample(4))


def test_beta_vae_objective_weights_the_kl_and_keeps_the_elbo(x):
    torch.manual_seed(0)
    model = models.BetaVAE(latent_dim=LATENT, hidden=HIDDEN, beta=4.0)
    torch.manual_seed(1)
    terms = model.loss_terms(x)
    assert model.objective == "beta_loss"
    torch.testing.assert_close(terms["beta_loss"], terms["nll"] + 4.0 * terms["kl"])
    torch.testing.assert_close(terms["neg_elbo"], terms["nll"] + terms["kl"])
    assert bool((terms["beta_loss"] >= terms["neg_elbo"]).all())  # beta >= 1 and KL >= 0
    # beta = 1 is the VAE: same weights, same noise, same loss.
    torch.manual_seed(0)
    plain = models.BetaVAE(latent_dim=LATENT, hidden=HIDDEN, beta=1.0)
    torch.manual_seed(0)
    vae = make_vae(0)
    torch.manual_seed(1)
    beta_one = plain.loss_terms(x)["beta_loss"]
    torch.manual_seed(1)
    torch.testing.assert_close(beta_one, vae.loss_terms(x)["neg_elbo"])
    with pytest.raises(ValueError, match="non-negative"):
        models.BetaVAE(beta=-1.0)
