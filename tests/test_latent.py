"""Unit tests of vaecourse.latent: encoding a data set, box sampling, box occupancy and fitted densities."""

import math

import pytest
import torch

from vaecourse import latent, models


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 10) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=gen(1))


# ----------------------------------------------------------------------------- encode and decode
@pytest.mark.parametrize("model_class", [models.AE, models.VAE])
def test_encode_dataset_shapes_and_mode(model_class):
    torch.manual_seed(0)
    model = model_class(latent_dim=3, hidden=(8,))
    model.train()
    codes = latent.encode_dataset(model, images(10), batch_size=4)  # several batches
    assert codes.shape == (10, 3) and codes.dtype == torch.float32
    assert model.training, "encode_dataset must restore the training mode"
    # deterministic (a VAE gives its posterior mean, not a sample) and batch-size independent
    assert torch.allclose(codes, latent.encode_dataset(model, images(10)), atol=1e-6)


def test_encode_dataset_of_a_vae_is_the_posterior_mean():
    torch.manual_seed(0)
    vae = models.VAE(latent_dim=2, hidden=(8,)).eval()
    with torch.no_grad():
        expected = vae.encode(images(5)).mean
    assert torch.allclose(latent.encode_dataset(vae, images(5)), expected)


def test_encode_dataset_rejects_wrong_image_shape():
    model = models.AE(latent_dim=2, hidden=(8,))
    with pytest.raises(ValueError):
        latent.encode_dataset(model, torch.rand(4, 3, 28, 28))


def test_decode_mean_shape_range_and_mode():
    torch.manual_seed(0)
    model = models.AE(latent_dim=2, hidden=(8,))
    model.train()
    decoded = latent.decode_mean(model, torch.randn(7, 2, generator=gen()), batch_size=3)
    assert decoded.shape == (7, 1, 28, 28)
    assert decoded.min() >= 0 and decoded.max() <= 1  # Bernoulli means
    assert model.training


# ---------------------------------------------------------------------------------- box sampling
def test_bounding_box_is_the_per_dimension_range():
    codes = torch.tensor([[0.0, -1.0], [2.0, 5.0], [1.0, 3.0]])
    low, high = latent.bounding_box(codes)
    assert low.tolist() == [0.0, -1.0] and high.tolist() == [2.0, 5.0]


def test_bounding_box_accepts_numpy():
    low, high = latent.bounding_box(torch.randn(20, 4, generator=gen()).numpy())
    assert low.shape == high.shape == (4,) and torch.all(low < high)


@pytest.mark.parametrize("bad", [torch.zeros(5), torch.zeros(1, 3), torch.zeros(2, 3, 4)])
def test_bad_code_shapes_raise(bad):
    with pytest.raises(ValueError, match="shape"):
        latent.bounding_box(bad)
    with pytest.raises(ValueError, match="shape"):
        latent.box_occupancy(bad)
    with pytest.raises(ValueError, match="shape"):
        latent.fit_mixture(bad, num_components=1)


def test_sample_box_shape_and_bounds():
    low, high = torch.tensor([-1.0, 10.0, 0.0]), torch.tensor([1.0, 20.0, 0.5])
    z = latent.sample_box(low, high, 5000, generator=gen())
    assert z.shape == (5000, 3)
    assert torch.all(z >= low) and torch.all(z <= high)
    # uniform: each coordinate's mean is the box centre (standard error < 1% of the width here)
    assert torch.allclose(z.mean(dim=0), (low + high) / 2, atol=0.02 * (high - low).max().item())


def test_sample_box_is_reproducible_with_a_generator():
    low, high = torch.zeros(2), torch.ones(2)
    assert torch.equal(latent.sample_box(low, high, 10, generator=gen(3)),
                       latent.sample_box(low, high, 10, generator=gen(3)))


@pytest.mark.parametrize("low, high", [(torch.zeros(2), torch.ones(3)), (torch.zeros(2, 2), torch.ones(2, 2))])
def test_sample_box_rejects_mismatched_bounds(low, high):
    with pytest.raises(ValueError):
        latent.sample_box(low, high, 4)


# ---------------------------------------------------------------------------------- occupancy
def test_occupancy_is_high_for_codes_filling_a_2d_box():
    axis = torch.linspace(0, 1, 40)
    grid = torch.cartesian_prod(axis, axis)  # 1600 codes on a dense, regular grid
    assert latent.box_occupancy(grid, num_samples=1000, generator=gen()) > 0.9


def test_occupancy_is_near_zero_for_a_thin_line_in_8d():
    t = torch.rand(1000, 1, generator=gen(1))
    line = t * torch.ones(1, 8) + 1e-3 * torch.randn(1000, 8, generator=gen(2))  # the box's diagonal
    assert latent.box_occupancy(line, num_samples=1000, generator=gen()) < 0.01


def test_occupancy_does_not_depend_on_the_scale_of_the_codes():
    codes = torch.randn(500, 4, generator=gen(1))
    value = latent.box_occupancy(codes, num_samples=500, generator=gen(5))
    assert 0 < value < 1
    assert latent.box_occupancy(100 * codes, num_samples=500, generator=gen(5)) == pytest.approx(value, abs=1e-12)
    assert latent.box_occupancy(codes + 7, num_samples=500, generator=gen(5)) == pytest.approx(value, abs=1e-12)


def test_occupancy_falls_with_dimension_for_gaussian_codes():
    values = [latent.box_occupancy(torch.randn(1000, d, generator=gen(d)), num_samples=1000, generator=gen())
              for d in (2, 4, 8)]
    assert values[0] > values[1] > values[2]


def test_occupancy_stays_high_for_uniform_codes_in_any_dimension():
    """A cloud that fills its box is not penalised for its dimension: the measure is about holes."""
    for d in (2, 8):
        assert 0.3 < latent.box_occupancy(torch.rand(1000, d, generator=gen(d)), num_samples=1000,
                                          generator=gen()) < 0.8


# ----------------------------------------------------------------------------- fitted densities
def test_fit_mixture_and_sample_fitted_shapes():
    codes = torch.cat([torch.randn(100, 3, generator=gen(1)), 10 + torch.randn(100, 3, generator=gen(2))])
    mixture = latent.fit_mixture(codes, num_components=2, seed=0)
    assert mixture.n_components == 2 and mixture.means_.shape == (2, 3)
    z = latent.sample_fitted(mixture, 50, seed=0)
    assert z.shape == (50, 3) and z.dtype == torch.float32
    # both clusters are found, and the samples are shuffled, not grouped by component
    assert sorted(mixture.means_[:, 0].round().tolist()) == pytest.approx([0, 10], abs=1)
    far = (z[:, 0] > 5).int()
    assert 0 < far.sum() < 50 and (far[1:] != far[:-1]).sum() > 2


def test_sample_fitted_is_deterministic_per_seed():
    mixture = latent.fit_mixture(torch.randn(200, 2, generator=gen()), num_components=3, seed=0)
    assert torch.equal(latent.sample_fitted(mixture, 20, seed=1), latent.sample_fitted(mixture, 20, seed=1))
    assert not torch.equal(latent.sample_fitted(mixture, 20, seed=1), latent.sample_fitted(mixture, 20, seed=2))


def test_fit_mixture_is_deterministic_per_seed():
    codes = torch.randn(200, 2, generator=gen())
    a, b = latent.fit_mixture(codes, num_components=3, seed=4), latent.fit_mixture(codes, num_components=3, seed=4)
    assert (a.means_ == b.means_).all()


def test_fit_gaussian_matches_the_sample_mean_and_covariance():
    codes = torch.randn(2000, 2, generator=gen()) @ torch.tensor([[2.0, 0.0], [1.0, 0.5]]) + 3
    gaussian = latent.fit_gaussian(codes)
    assert gaussian.n_components == 1
    data = codes.double().numpy()
    assert gaussian.means_[0] == pytest.approx(data.mean(axis=0), abs=1e-8)
    # maximum likelihood covariance (divides by N), plus scikit-learn's reg_covar on the diagonal
    covariance = torch.from_numpy(data).T.cov(correction=0).numpy()
    assert gaussian.covariances_[0] == pytest.approx(covariance, abs=1e-4)


def test_near_data_share_is_about_one_half_for_draws_like_the_codes_in_any_dimension():
    # a fresh point from the codes' own distribution is as close to them as a typical code is to
    # its neighbour: within the median spacing about half the time, whatever the dimension
    for d in (2, 16):
        codes = torch.randn(2000, d, generator=gen(d))
        share = latent.near_data_share(codes, torch.randn(2000, d, generator=gen(100 + d)))
        assert 0.4 < share < 0.6, (d, share)


def test_near_data_share_is_zero_for_draws_far_from_the_codes_and_scale_free():
    codes = torch.randn(500, 4, generator=gen(1))
    assert latent.near_data_share(codes, 10 + torch.randn(300, 4, generator=gen(2))) == 0
    draws = torch.randn(300, 4, generator=gen(3))
    assert latent.near_data_share(50 * codes, 50 * draws) == pytest.approx(latent.near_data_share(codes, draws))


def test_near_data_share_hand_computed_case():
    # codes 0, 1, 3 on a line: nearest-neighbour distances 1, 1, 2, median spacing 1; draws at
    # 0.5 (0.5 from a code), 2.1 (0.9), 5 (2): two of three are near data
    codes = torch.tensor([[0.0], [1.0], [3.0]])
    assert latent.near_data_share(codes, torch.tensor([[0.5], [2.1], [5.0]])) == pytest.approx(2 / 3)


def test_near_data_share_rejects_draws_of_another_dimension():
    with pytest.raises(ValueError, match=r"draws must have shape \(M, 3\)"):
        latent.near_data_share(torch.zeros(5, 3), torch.zeros(4, 2))


# ------------------------------------------------------------------ total correlation decomposition
def correlated_gaussian_codes(num, sigma, seed):
    """Posteriors N(mu_n, sigma^2 I) with mu_n ~ N(0, A A^T): the aggregate is N(0, A A^T + sigma^2 I)."""
    mixing = torch.tensor([[1.0, 0, 0], [0.8, 0.6, 0], [0.3, -0.4, 0.7]], dtype=torch.float64)
    mean = torch.randn(num, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) @ mixing.T
    covariance = mixing @ mixing.T + sigma**2 * torch.eye(3, dtype=torch.float64)
    return mean, torch.full_like(mean, sigma), covariance


def test_total_correlation_decomposition_matches_closed_forms():
    mean, std, covariance = correlated_gaussian_codes(3000, 0.5, seed=1)
    parts = latent.total_correlation_decomposition(mean, std, generator=torch.Generator().manual_seed(2))
    variances = torch.diag(covariance)
    closed = {"mutual_information": 0.5 * (torch.logdet(covariance) - 3 * math.log(0.25)),
              "total_correlation": 0.5 * (variances.log().sum() - torch.logdet(covariance)),
              "dimension_wise_kl": 0.5 * (variances - 1 - variances.log()).sum()}
    for name, value in closed.items():
        estimate, standard_error = parts[name].mean(), parts[name].std() / math.sqrt(len(mean))
        assert abs(estimate - value) < 4 * standard_error + 0.01, (name, float(estimate), float(value))
    # the three parts add up to log q(z|x) - log p(z) at each input (a telescoping identity)
    torch.testing.assert_close(parts["mutual_information"] + parts["total_correlation"] + parts["dimension_wise_kl"],
                               parts["kl"], rtol=0, atol=1e-10)


def test_total_correlation_of_independent_codes_is_near_zero():
    generator = torch.Generator().manual_seed(3)
    mean = torch.randn(2000, 2, generator=generator, dtype=torch.float64) * torch.tensor([1.0, 0.5], dtype=torch.float64)
    parts = latent.total_correlation_decomposition(mean, torch.full_like(mean, 0.4), generator=generator)
    assert abs(float(parts["total_correlation"].mean())) < 0.03


def test_total_correlation_decomposition_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        latent.total_correlation_decomposition(torch.zeros(4, 2), torch.ones(4, 3))
    with pytest.raises(ValueError, match="positive"):
        latent.total_correlation_decomposition(torch.zeros(4, 2), torch.zeros(4, 2))


class _FixedEncoder(torch.nn.Module):
    """A stand-in VAE whose posterior mean is a fixed linear function of the first pixels."""

    image_shape = (1, 28, 28)

    def __init__(self, weights, scale=1.0, prior_scale=1.0):
        super().__init__()
        self.weights = torch.nn.Parameter(torch.tensor(weights), requires_grad=False)
        self.scale, self.prior_scale = scale, prior_scale

    def encode(self, x):
        mean = x.flatten(1)[:, : len(self.weights)] * self.weights
        return torch.distributions.Independent(torch.distributions.Normal(mean, self.scale * torch.ones_like(mean)), 1)

    def prior(self):
        d = len(self.weights)
        return torch.distributions.Independent(torch.distributions.Normal(torch.zeros(d), self.prior_scale), 1)


def test_active_units_counts_coordinates_whose_mean_varies():
    # Pixels uniform on [0, 1] have variance 1/12; weights 1, 0.2, 0 give mean variances 0.083, 0.0033, 0.
    x = torch.rand(2000, 1, 28, 28, generator=gen(1))
    model = _FixedEncoder([1.0, 0.2, 0.0])
    assert latent.active_units(model, x).tolist() == [True, False, False]
    assert latent.active_units(model, x, threshold=0.001).tolist() == [True, True, False]
    # On the prior's scale: a prior of standard deviation 10 (variance 100) makes every coordinate inactive.
    wide = _FixedEncoder([1.0, 0.2, 0.0], prior_scale=10.0)
    assert latent.active_units(wide, x, relative_to_prior=True, generator=gen(2)).tolist() == [False, False, False]
    assert latent.active_units(wide, x).tolist() == [True, False, False]


def test_kl_per_dimension_matches_the_closed_form_and_sums_to_the_kl():
    x = torch.rand(50, 1, 28, 28, generator=gen(3))
    model = _FixedEncoder([1.0, -2.0], scale=0.5)
    mean = x.flatten(1)[:, :2] * torch.tensor([1.0, -2.0])
    by_hand = (0.5 * (0.25 + mean**2 - 1) - math.log(0.5)).mean(0)  # KL(N(m, s^2) || N(0, 1)) per coordinate
    per_dim = latent.kl_per_dimension(model, x)
    assert torch.allclose(per_dim, by_hand, atol=1e-6)
    q_z = model.encode(x)
    assert torch.allclose(per_dim.sum(), torch.distributions.kl_divergence(q_z, model.prior()).mean(), atol=1e-5)


def test_kl_per_dimension_refuses_non_gaussian_posteriors():
    class BetaEncoder(_FixedEncoder):
        def encode(self, x):
            ones = torch.ones(len(x), 2)
            return torch.distributions.Independent(torch.distributions.Beta(ones, ones), 1)

    with pytest.raises(ValueError, match="diagonal Gaussian posteriors, got Beta"):
        latent.kl_per_dimension(BetaEncoder([1.0, 1.0]), torch.rand(3, 1, 28, 28))
