"""Unit tests of vaecourse.evaluate: the IWAE estimate of log p(x), and spread."""

import math

import numpy as np
import pytest
import torch

from vaecourse import evaluate
from vaecourse.data import load_mnist
from vaecourse.models import VAE
from vaecourse.train import fit


@pytest.fixture(scope="module")
def mnist():
    return load_mnist("embedded", "test")[0]


@pytest.fixture(scope="module")
def vae():
    """A tiny VAE trained briefly on 2,000 digits, shared by the IWAE tests."""
    torch.manual_seed(0)
    model = VAE(latent_dim=8, hidden=(128,))
    fit(model, load_mnist("embedded", "train")[0][:2000], epochs=3, batch_size=64, seed=0, progress=False)
    return model


# ------------------------------------------------------------------------------------------ IWAE
def test_iwae_shape_and_determinism(vae, mnist):
    x = mnist[:7]
    first = evaluate.iwae_log_likelihood(vae, x, num_samples=5, generator=torch.Generator().manual_seed(0))
    assert first.shape == (7,) and first.dtype == torch.float32 and torch.isfinite(first).all()
    assert (first < 0).all()  # log-likelihoods of 784 Bernoulli pixels
    again = evaluate.iwae_log_likelihood(vae, x, num_samples=5, generator=torch.Generator().manual_seed(0))
    other = evaluate.iwae_log_likelihood(vae, x, num_samples=5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    split = evaluate.iwae_log_likelihood(vae, x, num_samples=5, batch_size=3,
                                         generator=torch.Generator().manual_seed(0))
    assert split.shape == (7,)


def test_iwae_leaves_model_mode_and_global_rng(vae, mnist):
    vae.train()
    torch.manual_seed(5)
    state = torch.get_rng_state()
    evaluate.iwae_log_likelihood(vae, mnist[:3], num_samples=2, generator=torch.Generator().manual_seed(0))
    assert vae.training
    assert torch.equal(torch.get_rng_state(), state)
    vae.eval()


def test_iwae_one_sample_is_the_elbo(vae, mnist):
    # With K = 1 the estimate is log p(x|z) + log p(z) - log q(z|x) at one z ~ q: an unbiased one-sample
    # estimate of the ELBO. Its mean over 64 draws per image must lie within 4 standard errors of the
    # ELBO computed independently as -(nll + closed-form KL), averaged over 512 draws per image.
    x = mnist[:16]
    repeats = 64
    k1 = evaluate.iwae_log_likelihood(vae, x.repeat(repeats, 1, 1, 1), num_samples=1,
                                      generator=torch.Generator().manual_seed(0)).double().view(repeats, 16)
    torch.manual_seed(1)
    with torch.no_grad():
        elbo = -vae.loss_terms(x.repeat(512, 1, 1, 1))["neg_elbo"].double().view(512, 16)
    difference = k1.mean() - elbo.mean()
    stderr = math.sqrt(k1.var(dim=0).mean().item() / (repeats * 16) + elbo.var(dim=0).mean().item() / (512 * 16))
    assert abs(difference.item()) <= 4 * stderr, (difference.item(), stderr)


def test_iwae_rises_with_the_number_of_samples(vae, mnist):
    # Stated in advance: the K = 100 bound is not below the K = 1 bound by more than 4 standard errors
    # of their paired difference (on a trained VAE it is several nats above).
    x = mnist[:32]
    k1 = evaluate.iwae_log_likelihood(vae, x, num_samples=1, generator=torch.Generator().manual_seed(0))
    k100 = evaluate.iwae_log_likelihood(vae, x, num_samples=100, generator=torch.Generator().manual_seed(1))
    gain = (k100 - k1).double()
    assert gain.mean().item() > -4 * gain.std().item() / math.sqrt(len(gain))
    assert gain.mean().item() > 0


def test_iwae_errors(vae):
    with pytest.raises(ValueError, match="num_samples must be at least 1, got 0"):
        evaluate.iwae_log_likelihood(vae, torch.rand(2, 1, 28, 28), num_samples=0)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 28, 28\).*got \(2, 3, 28, 28\)"):
        evaluate.iwae_log_likelihood(vae, torch.rand(2, 3, 28, 28))


def test_iwae_without_generator_gives_new_estimates_each_call(vae, mnist):
    # Like VAE.sample: without a generator the global stream is used, so repeated calls must differ.
    torch.manual_seed(0)
    x = mnist[:4]
    first = evaluate.iwae_log_likelihood(vae, x, num_samples=3)
    assert not torch.equal(first, evaluate.iwae_log_likelihood(vae, x, num_samples=3))



def test_spread_reports_mean_min_and_max():
    assert evaluate.spread([1.0, 2.0, 4.5]) == "2.5 [1.0, 4.5]"
    assert evaluate.spread(np.array([[0.25], [0.5]]), digits=3) == "0.375 [0.250, 0.500]"
    with pytest.raises(ValueError, match="at least one"):
        evaluate.spread([])


def test_count_work_counts_elements_written_and_matmul_flops():
    # Hand counts: x + y writes 12 elements (one operation); a (3 x 4) @ (4 x 5) product writes 15
    # and costs 2 * 3 * 4 * 5 = 120 flops. A counter that missed either part would give other numbers.
    x, y, w = torch.ones(3, 4), torch.ones(3, 4), torch.ones(4, 5)
    add = evaluate.count_work(torch.add, x, y)
    assert (add.operations, add.elements, add.matmul_flops) == (1, 12, 0)
    product = evaluate.count_work(torch.mm, x, w)
    assert (product.operations, product.elements, product.matmul_flops) == (1, 15, 120)
    assert product.total == 135


def test_count_work_separates_linear_from_quadratic_sampling():
    # A diagonal Gaussian's sample is O(d); a full-covariance one multiplies by a d x d factor, O(d^2).
    def ratio(make):
        small, large = (evaluate.count_work(lambda d=d: make(d).rsample((10,))).total for d in (64, 128))
        return large / small

    diagonal = ratio(lambda d: torch.distributions.Normal(torch.zeros(d), torch.ones(d)))
    full = ratio(lambda d: torch.distributions.MultivariateNormal(torch.zeros(d), scale_tril=torch.eye(d)))
    assert 1.9 < diagonal < 2.1
    assert full > 3.5
