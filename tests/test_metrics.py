"""Sanity tests of vaecourse.metrics with known answers (issue 6): a perfect representation scores near
the top, a rotation of it lower, noise near chance; invariances the definitions promise; the metrics
disagreeing on a code that ignores one factor; and clear errors for bad input."""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group
from sklearn.metrics import mutual_info_score

from vaecourse import metrics
from vaecourse.data import DSprites

SIZES = (3, 5, 8, 4)
# A rotation that mixes every factor into every dimension equally (a scaled Hadamard matrix): the
# information stays, the alignment goes.
MIXING = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0


def sample_factors(num, seed, sizes=SIZES):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, num) for s in sizes], axis=1)


def perfect_codes(factors, seed, num_noise_dims=2, noise=0.02):
    """One code per factor (the factor's value scaled to [0, 1], plus a little noise), then pure noise dims."""
    rng = np.random.default_rng(seed)
    aligned = factors / (np.array(SIZES[: factors.shape[1]]) - 1) + noise * rng.standard_normal(factors.shape)
    return np.concatenate([aligned, rng.standard_normal((len(factors), num_noise_dims))], axis=1)


def rotated(codes, rotation=MIXING):
    """The same information, mixed: a rotation of the factor-aligned dimensions."""
    k = len(SIZES)
    centred = codes[:, :k] - codes[:, :k].mean(0)
    return np.concatenate([centred @ rotation, codes[:, k:]], axis=1)


@pytest.fixture(scope="module")
def arrays():
    factors_train, factors_test = sample_factors(2000, 0), sample_factors(1000, 1)
    return {
        "factors_train": factors_train, "factors_test": factors_test,
        "perfect_train": perfect_codes(factors_train, 2), "perfect_test": perfect_codes(factors_test, 3),
        "noise_train": np.random.default_rng(4).standard_normal((2000, 6)),
        "noise_test": np.random.default_rng(5).standard_normal((1000, 6)),
    }


# ------------------------------------------------------------------------------------------- MIG
def test_mutual_information_matches_scikit_learn():
    rng = np.random.default_rng(6)
    a, b = rng.integers(0, 7, 500), rng.integers(0, 4, 500)
    b[:200] = a[:200] % 4  # some dependence
    assert metrics.discrete_mutual_info(a[:, None], b[:, None])[0, 0] == pytest.approx(mutual_info_score(a, b), abs=1e-12)


def test_discretize_uses_twenty_equal_width_bins():
    codes = np.linspace(-1, 1, 1000)[:, None]
    binned = metrics.discretize(codes)
    assert binned.min() == 1 and binned.max() == 20
    assert np.all(np.bincount(binned[:, 0])[1:] == 50)


def test_mig_perfect_rotated_noise(arrays):
    perfect = metrics.mig(arrays["perfect_train"], arrays["factors_train"])["discrete_mig"]
    rotation = metrics.mig(rotated(arrays["perfect_train"]), arrays["factors_train"])["discrete_mig"]
    noise = metrics.mig(arrays["noise_train"], arrays["factors_train"])["discrete_mig"]
    assert perfect > 0.9
    assert rotation < perfect - 0.4
    assert noise < 0.05


def test_mig_is_invariant_to_permuting_and_rescaling_codes(arrays):
    codes, factors = rotated(arrays["perfect_train"], ortho_group.rvs(len(SIZES), random_state=8)), arrays["factors_train"]
    order = np.random.default_rng(9).permutation(codes.shape[1])
    scales = np.array([0.1, -3.0, 7.0, 0.5, 2.0, 1.3])  # a negative scale flips a dimension: same bins, reversed
    reference = metrics.mig(codes, factors)
    assert metrics.mig(codes[:, order], factors)["discrete_mig"] == pytest.approx(reference["discrete_mig"], abs=1e-12)
    assert metrics.mig(codes * scales, factors)["discrete_mig"] == pytest.approx(reference["discrete_mig"], abs=1e-12)


# ------------------------------------------------------------------------------------------- DCI
def test_dci_from_importance_known_matrices():
    assert metrics.dci_from_importance(np.eye(3)) == pytest.approx({"disentanglement": 1.0, "completeness": 1.0})
    assert metrics.dci_from_importance(np.ones((3, 3))) == pytest.approx({"disentanglement": 0.0, "completeness": 0.0},
                                                                          abs=1e-9)
    # Each code serves one factor, but factor 0 is spread over two codes: disentangled, not complete.
    split = np.array([[0.5, 0.0], [0.5, 0.0], [0.0, 1.0]])
    scores = metrics.dci_from_importance(split)
    assert scores["disentanglement"] == pytest.approx(1.0, abs=1e-9) and scores["completeness"] < 0.8


def test_dci_perfect_rotated_noise(arrays):
    n = 600  # gradient boosted trees are slow; 600 training points suffice for these margins
    args = lambda name: (arrays[f"{name}_train"][:n], arrays["factors_train"][:n],
                         arrays[f"{name}_test"][:300], arrays["factors_test"][:300])
    perfect = metrics.dci(*args("perfect"))
    noise = metrics.dci(*args("noise"))
    rotation = metrics.dci(rotated(arrays["perfect_train"][:n]), arrays["factors_train"][:n],
                           rotated(arrays["perfect_test"][:300]), arrays["factors_test"][:300])
    assert perfect["disentanglement"] > 0.85 and perfect["completeness"] > 0.85
    assert perfect["informativeness_test"] > 0.95
    assert rotation["disentanglement"] < perfect["disentanglement"] - 0.3
    chance = np.mean([1 / s for s in SIZES])
    assert noise["informativeness_test"] < chance + 0.1
    assert set(perfect) == {"disentanglement", "completeness", "informativeness_train", "informativeness_test"}


def test_dci_is_invariant_to_rescaling_codes(arrays):
    n = 400
    codes, test_codes = arrays["perfect_train"][:n], arrays["perfect_test"][:200]
    scales = np.array([0.1, 3.0, 7.0, 0.5, 2.0, 1.3])
    args = (arrays["factors_train"][:n], arrays["factors_test"][:200])
    plain = metrics.dci(codes, args[0], test_codes, args[1])
    scaled = metrics.dci(codes * scales, args[0], test_codes * scales, args[1])
    assert scaled == pytest.approx(plain, abs=1e-9)  # trees split on order, not on scale


# ------------------------------------------------------------------------------------------- SAP
def test_sap_perfect_rotated_noise(arrays):
    args = lambda name: (arrays[f"{name}_train"], arrays["factors_train"], arrays[f"{name}_test"], arrays["factors_test"])
    perfect = metrics.sap(*args("perfect"), continuous_factors=True)["SAP_score"]
    noise = metrics.sap(*args("noise"), continuous_factors=True)["SAP_score"]
    assert perfect > 0.9 and noise < 0.05
    # Discrete factors: a linear SVM on one code. On binary factors a perfect code predicts its factor
    # exactly and the next best code is at chance (1/2), so the top score is 1 - 1/2.
    binary_train, binary_test = sample_factors(600, 11, (2, 2)), sample_factors(300, 12, (2, 2))
    codes_train = np.concatenate([binary_train + 0.05 * np.random.default_rng(13).standard_normal(binary_train.shape),
                                  np.random.default_rng(14).standard_normal((600, 1))], axis=1)
    codes_test = np.concatenate([binary_test + 0.05 * np.random.default_rng(15).standard_normal(binary_test.shape),
                                 np.random.default_rng(16).standard_normal((300, 1))], axis=1)
    assert metrics.sap(codes_train, binary_train, codes_test, binary_test)["SAP_score"] > 0.45
    noise_train, noise_test = np.random.default_rng(19).standard_normal((600, 3)), np.random.default_rng(20).standard_normal((300, 3))
    assert metrics.sap(noise_train, binary_train, noise_test, binary_test)["SAP_score"] < 0.05


def test_sap_is_invariant_to_permuting_codes(arrays):
    order = np.random.default_rng(17).permutation(6)
    args = (arrays["factors_train"][:500], arrays["factors_test"][:300])
    codes, test_codes = arrays["perfect_train"][:500], arrays["perfect_test"][:300]
    plain = metrics.sap(codes, args[0], test_codes, args[1])
    permuted = metrics.sap(codes[:, order], args[0], test_codes[:, order], args[1])
    assert permuted["SAP_score"] == pytest.approx(plain["SAP_score"], abs=1e-12)


# ------------------------------------------------------------------------------- sampling-based
class FactorGrid:
    """A ground-truth data set whose 'images' are the factor values themselves, so a representation
    function can be written down exactly."""

    factor_sizes = SIZES

    def sample_factors(self, num, rng):
        return np.stack([rng.integers(0, s, num) for s in self.factor_sizes], axis=1)

    def render(self, factors):
        return torch.as_tensor(factors, dtype=torch.float32)


def representation(kind, seed=18):
    rng = np.random.default_rng(seed)
    rotation = MIXING

    def encode(images):
        factors = images.numpy() / (np.array(SIZES) - 1)
        noise = 0.02 * rng.standard_normal(factors.shape)
        if kind == "perfect":
            return np.concatenate([factors + noise, rng.standard_normal((len(factors), 1))], axis=1)
        if kind == "rotated":
            return (factors + noise) @ rotation
        if kind == "ignores factor 0":
            return np.concatenate([factors[:, 1:] + noise[:, 1:], rng.standard_normal((len(factors), 1))], axis=1)
        if kind == "noise":
            return rng.standard_normal((len(factors), len(SIZES) + 1))
        raise ValueError(kind)

    return encode


SMALL = {"batch_size": 32, "num_train": 300, "num_eval": 200}


def test_beta_vae_and_factor_vae_scores_on_known_representations():
    data = FactorGrid()
    chance = 1 / len(SIZES)
    for kind, floor in [("perfect", 0.95), ("noise", None)]:
        beta = metrics.beta_vae_score(data, representation(kind), random_state=0, **SMALL)
        factor = metrics.factor_vae_score(data, representation(kind), random_state=0, num_variance_estimate=1000, **SMALL)
        if floor:
            assert beta["eval_accuracy"] > floor and factor["eval_accuracy"] > floor
        else:
            assert beta["eval_accuracy"] < chance + 0.15 and factor["eval_accuracy"] < chance + 0.15


def test_metrics_disagree_on_a_code_that_ignores_one_factor():
    # The beta-VAE metric learns "no small coordinate -> the ignored factor" and scores it perfect; the
    # FactorVAE metric has no dimension to vote for that factor and cannot (Kim and Mnih 2018, section 4).
    data = FactorGrid()
    beta = metrics.beta_vae_score(data, representation("ignores factor 0"), random_state=0, **SMALL)
    factor = metrics.factor_vae_score(data, representation("ignores factor 0"), random_state=0,
                                      num_variance_estimate=1000, **SMALL)
    assert beta["eval_accuracy"] > 0.95
    assert factor["eval_accuracy"] < 0.85


def test_factor_vae_score_is_invariant_to_rescaling_and_permuting_dimensions():
    data = FactorGrid()
    base = representation("rotated")
    order, scales = np.array([2, 0, 3, 1]), np.array([0.3, 4.0, 1.7, 0.9])
    plain = metrics.factor_vae_score(data, representation("rotated"), random_state=1, num_variance_estimate=1000, **SMALL)
    changed = metrics.factor_vae_score(data, lambda x: base(x)[:, order] * scales, random_state=1,
                                       num_variance_estimate=1000, **SMALL)
    assert changed == pytest.approx(plain)


def test_factor_vae_score_prunes_collapsed_dimensions():
    data = FactorGrid()
    perfect = representation("perfect")
    collapsed = lambda x: np.concatenate([perfect(x), np.full((len(x), 2), 0.3)], axis=1)
    scores = metrics.factor_vae_score(data, collapsed, random_state=0, num_variance_estimate=1000, **SMALL)
    assert scores["num_active_dims"] == len(SIZES) + 1 and scores["eval_accuracy"] > 0.95


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # the reference's max_iter=100
def test_sampling_metrics_run_on_procedural_dsprites():
    # A representation read off the images: the ink's centroid (x, y) and its area. It carries the
    # position and scale factors, so each metric must beat chance clearly on them.
    data = DSprites(resolution=24)

    def centroid_and_area(images):
        ink = images[:, 0].numpy()
        rows, cols = np.mgrid[: ink.shape[1], : ink.shape[2]]
        area = ink.sum((1, 2))
        return np.stack([(ink * cols).sum((1, 2)) / area, (ink * rows).sum((1, 2)) / area, area / ink.shape[1]], axis=1)  # area in rows of pixels

    beta = metrics.beta_vae_score(data, centroid_and_area, random_state=0, batch_size=16, num_train=200, num_eval=100)
    factor = metrics.factor_vae_score(data, centroid_and_area, random_state=0, batch_size=16, num_train=200,
                                      num_eval=100, num_variance_estimate=500)
    assert beta["eval_accuracy"] > 0.4 and factor["eval_accuracy"] > 0.4  # chance is 1/5


# ------------------------------------------------------------------------------------------ bad input
def test_bad_input_gets_a_clear_error(arrays):
    codes, factors = arrays["perfect_train"], arrays["factors_train"]
    with pytest.raises(ValueError, match="rows but the codes have"):
        metrics.mig(codes, factors[:-1])
    nan_codes = codes.copy()
    nan_codes[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.mig(nan_codes, factors)
    constant = factors.copy()
    constant[:, 1] = 2
    with pytest.raises(ValueError, match="single value"):
        metrics.mig(codes, constant)
    with pytest.raises(ValueError, match="2-D array"):
        metrics.mig(codes[:, 0], factors)
    with pytest.raises(ValueError, match="2-D array"):
        metrics.sap(codes, factors, codes[None], factors)
    with pytest.raises(ValueError, match="integer factor values"):
        metrics.dci(codes, factors + 0.5, codes, factors)
    with pytest.raises(ValueError, match="dimensions but codes_test"):
        metrics.dci(codes, factors, codes[:, :2], factors)
    with pytest.raises(TypeError, match="ground-truth data needs"):
        metrics.beta_vae_score(object(), lambda x: x)
    with pytest.raises(ValueError, match="representation_function"):
        metrics.factor_vae_score(FactorGrid(), lambda x: np.zeros(len(x)), num_variance_estimate=10, **SMALL)
