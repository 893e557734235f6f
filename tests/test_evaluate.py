"""Unit tests of vaecourse.evaluate: the reference classifier and its cache, the Frechet distance,
nearest neighbours, confidence, sample_quality and the IWAE estimate.

The classifier is trained for real twice in this file (about 4 s each): once into a private cache by
the module fixture, once more to check that training is deterministic. Every other cache test swaps
the training for a copy of those weights.
"""

import importlib
import math
import os
import socket
import sys

import numpy as np
import pytest
import scipy.linalg
import torch

import vaecourse
from vaecourse import evaluate
from vaecourse.data import DSprites, load_mnist
from vaecourse.models import VAE
from vaecourse.train import fit


@pytest.fixture(scope="module", autouse=True)
def classifier_cache(tmp_path_factory):
    """A private cache folder and the memoised classifier trained into that folder."""
    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("vaecourse_cache")
        mp.setenv("VAECOURSE_CACHE", str(cache))
        mp.setattr(evaluate, "_classifier", None)
        evaluate.reference_classifier()  # trains (the folder is empty) and writes the cache file
        yield cache


@pytest.fixture(scope="module")
def mnist(classifier_cache):
    train_images, train_labels = load_mnist("embedded", "train")
    test_images, test_labels = load_mnist("embedded", "test")
    return train_images, train_labels, test_images, test_labels


@pytest.fixture(scope="module")
def vae(mnist):
    """A tiny VAE trained briefly on 2,000 digits, shared by the IWAE tests."""
    torch.manual_seed(0)
    model = VAE(latent_dim=8, hidden=(128,))
    fit(model, mnist[0][:2000], epochs=3, batch_size=64, seed=0, progress=False)
    return model


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference_state(classifier_cache):
    """The weights the module fixture trained, kept apart from the memo the cache tests reset."""
    return {k: v.clone() for k, v in evaluate.reference_classifier().state_dict().items()}


@pytest.fixture
def fake_training(reference_state):
    """A stand-in for train_reference_classifier that returns the known weights and counts its calls."""
    calls = []

    def train(progress=False):
        calls.append(1)
        net = evaluate.DigitClassifier()
        net.load_state_dict(reference_state)
        return net.eval()

    train.calls = calls
    return train


# ------------------------------------------------------------------------------ reference classifier
def test_reference_classifier_accuracy_on_embedded_test_split(mnist):
    _, _, test_images, test_labels = mnist
    # Stated in the course: the yardstick classifier gets at least 95% of the held-out digits right.
    assert evaluate.accuracy(test_images, test_labels) >= 0.95


def test_reference_classifier_training_is_deterministic():
    retrained = evaluate.train_reference_classifier()
    assert state_equal(retrained.state_dict(), evaluate.reference_classifier().state_dict())


def test_reference_classifier_is_memoised_frozen_and_in_eval_mode():
    net = evaluate.reference_classifier()
    assert evaluate.reference_classifier() is net
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())


def test_module_fixture_wrote_the_cache(classifier_cache):
    files = sorted(classifier_cache.glob("reference_classifier_*.pt"))
    assert [f.name for f in files] == [os.path.basename(evaluate._classifier_path())]
    stored = torch.load(files[0], map_location="cpu", weights_only=True)
    assert state_equal(stored, evaluate.reference_classifier().state_dict())


def test_reference_classifier_cached_on_first_use(tmp_path, monkeypatch, mnist, fake_training):
    images = mnist[2][:20]
    expected_outputs = evaluate.reference_classifier()(images)
    calls = fake_training.calls
    monkeypatch.setenv("VAECOURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(evaluate, "train_reference_classifier", fake_training)
    monkeypatch.setattr(evaluate, "_classifier", None)
    assert not list(tmp_path.glob("*.pt"))
    first = evaluate.reference_classifier()
    assert calls == [1]
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(evaluate._classifier_path())]

    # A new session: the memo is empty, and training would fail, so the weights must come from disk.
    def no_training(progress=False):
        raise AssertionError("the cached classifier should have been loaded, not retrained")

    monkeypatch.setattr(evaluate, "train_reference_classifier", no_training)
    monkeypatch.setattr(evaluate, "_classifier", None)
    second = evaluate.reference_classifier()
    assert second is not first
    assert state_equal(second.state_dict(), first.state_dict())
    assert torch.equal(second(images), expected_outputs)
    assert torch.equal(evaluate.confidence(images), expected_outputs.softmax(dim=1).max(dim=1).values)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_classifier_cache_is_retrained(tmp_path, monkeypatch, damage, fake_training, reference_state):
    monkeypatch.setenv("VAECOURSE_CACHE", str(tmp_path))
    path = evaluate._classifier_path()
    torch.save(reference_state, path)
    good = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write({"garbage": b"not a torch file at all " * 40, "truncated": good[: len(good) // 2],
                 "empty": b""}[damage])
    monkeypatch.setattr(evaluate, "train_reference_classifier", fake_training)
    monkeypatch.setattr(evaluate, "_classifier", None)
    net = evaluate.reference_classifier()
    assert fake_training.calls == [1]
    assert state_equal(torch.load(path, map_location="cpu", weights_only=True), net.state_dict())


def test_training_leaves_global_rng_untouched(monkeypatch):
    # train_reference_classifier forks the RNG (seeding and weight initialisation happen inside the
    # fork); check it on a run cut to zero epochs, which still seeds and initialises.
    monkeypatch.setitem(evaluate.CLASSIFIER_CONFIG, "epochs", 0)
    torch.manual_seed(99)
    state = torch.get_rng_state()
    evaluate.train_reference_classifier()
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------------------------- predictions, shapes
def test_confidence_shape_and_range(mnist):
    real = mnist[2][:50]
    noise = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for images in (real, noise, real.flatten(1)):
        c = evaluate.confidence(images)
        assert c.shape == (50,) and c.dtype == torch.float32
        assert (c >= 0.1).all() and (c <= 1).all()
    assert evaluate.confidence(real).mean() > 0.9


def test_predict_and_features_shapes(mnist):
    images = mnist[2][:30]
    predictions = evaluate.predict(images)
    assert predictions.shape == (30,) and predictions.dtype == torch.int64
    features = evaluate.classifier_features(images)
    assert features.shape == (30, evaluate.DigitClassifier.feature_dim) and features.dtype == torch.float32
    assert (features >= 0).all()  # after a ReLU


def test_accuracy_rejects_mismatched_labels(mnist):
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\), got \(9,\)"):
        evaluate.accuracy(mnist[2][:10], mnist[3][:9])


@pytest.mark.parametrize("function", [evaluate.confidence, evaluate.predict, evaluate.classifier_features])
def test_classifier_functions_reject_wrong_image_shape(function):
    with pytest.raises(ValueError, match=r"must have shape \(N, 1, 28, 28\).*got \(4, 3, 28, 28\)"):
        function(torch.rand(4, 3, 28, 28))


# ---------------------------------------------------------------------------------- Frechet distance
def test_frechet_distance_identical_sets_is_zero(mnist):
    images = mnist[2][:300]
    features = evaluate.classifier_features(images).double().numpy()
    scale = np.trace(np.cov(features, rowvar=False))
    assert abs(evaluate.frechet_distance(images, images)) < 1e-6 * scale


def test_frechet_distance_is_symmetric_and_positive(mnist):
    _, _, test_images, test_labels = mnist
    zeros, ones = test_images[test_labels == 0], test_images[test_labels == 1]
    ab, ba = evaluate.frechet_distance(zeros, ones), evaluate.frechet_distance(ones, zeros)
    assert ab == pytest.approx(ba, rel=1e-6)
    assert ab > 1.0
    same_class = evaluate.frechet_distance(zeros[:50], zeros[50:])
    assert 0 < same_class < ab


def test_frechet_distance_rejects_wrong_shapes_and_tiny_sets(mnist):
    images = mnist[2][:10]
    with pytest.raises(ValueError, match=r"got \(10, 3, 28, 28\)"):
        evaluate.frechet_distance(images, images.repeat(1, 3, 1, 1))
    with pytest.raises(ValueError, match="at least 2 images per set, got 1 and 10"):
        evaluate.frechet_distance(images[:1], images)


def test_frechet_from_features_diagonal_closed_form():
    # Each set is mean + scale * (every corner of the cube {-1, 1}^3): its sample covariance is exactly
    # diagonal, so the distance is sum_d (m1 - m2)^2 + (s1 - s2)^2 with s the sample standard deviations.
    corners = np.array(np.meshgrid([-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0])).reshape(3, -1).T  # (8, 3)
    a = np.array([0.5, -1.0, 2.0]) + np.array([1.0, 0.3, 2.0]) * corners
    b = np.array([0.0, 1.0, 2.5]) + np.array([0.2, 0.9, 1.0]) * corners
    s_a, s_b = a.std(axis=0, ddof=1), b.std(axis=0, ddof=1)
    expected = ((a.mean(0) - b.mean(0)) ** 2 + (s_a - s_b) ** 2).sum()
    result = evaluate.frechet_distance_from_features(torch.from_numpy(a), torch.from_numpy(b))
    assert result == pytest.approx(expected, rel=1e-9)


def test_frechet_from_features_one_dimensional_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 2.0, (200, 1)), rng.normal(-0.5, 0.5, (300, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    result = evaluate.frechet_distance_from_features(torch.from_numpy(a), torch.from_numpy(b))
    assert result == pytest.approx(expected, rel=1e-9)


def test_frechet_from_features_matches_scipy_sqrtm():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(60, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(size=(80, 5)) @ rng.normal(size=(5, 5)) + 0.3
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (((a.mean(0) - b.mean(0)) ** 2).sum()
                + np.trace(cov_a + cov_b - 2 * scipy.linalg.sqrtm(cov_a @ cov_b).real))
    result = evaluate.frechet_distance_from_features(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    assert result == pytest.approx(expected, rel=1e-5)


# -------------------------------------------------------------------------------- nearest neighbours
def test_nearest_neighbour_distance(mnist):
    train_images, _, test_images, _ = mnist
    copies = evaluate.nearest_neighbour_distance(train_images[[5, 100, 3999]], train_images)
    assert copies.shape == (3,) and copies.dtype == torch.float32
    assert (copies.abs() < 1e-4).all()
    held_out = evaluate.nearest_neighbour_distance(test_images[:40], train_images)
    assert held_out.shape == (40,) and (held_out > 0.5).all()  # disjoint splits: never a copy
    # and it is the smallest Euclidean distance, checked by brute force for one image
    brute = (train_images.flatten(1) - test_images[0].flatten()).norm(dim=1).min()
    assert held_out[0].item() == pytest.approx(brute.item(), rel=1e-5)


def test_nearest_neighbour_distance_rejects_wrong_shapes(mnist):
    with pytest.raises(ValueError, match=r"train_images must have shape"):
        evaluate.nearest_neighbour_distance(mnist[2][:3], torch.zeros(5, 3, 28, 28))
    with pytest.raises(ValueError, match=r"images must have shape"):
        evaluate.nearest_neighbour_distance(torch.zeros(5, 10), mnist[0])


# ------------------------------------------------------------------------------------- sample_quality
def test_sample_quality_rows(mnist, vae):
    train_images, _, test_images, _ = mnist
    samples = vae.sample(200, generator=torch.Generator().manual_seed(0))
    rows = evaluate.sample_quality({"tiny VAE": samples}, reference=test_images[:400], num_images=200,
                                   train_images=train_images[:1000])
    assert [row.name for row in rows] == ["real held-out digits", "uniform noise", "tiny VAE"]
    real, noise, model = rows
    # Decided in advance: noise is at least 10x farther from real digits than other real digits are.
    assert noise.frechet_distance > 10 * real.frechet_distance > 0
    assert real.frechet_distance < model.frechet_distance  # a 3-epoch VAE is no match for real digits
    assert all(0.1 <= row.confidence <= 1 for row in rows)
    assert all(row.nn_distance > 0 for row in rows)
    table = evaluate.format_quality_table(rows)
    assert len(table.splitlines()) == 4 and "uniform noise" in table
    again = evaluate.sample_quality({"tiny VAE": samples}, reference=test_images[:400], num_images=200,
                                    train_images=train_images[:1000])
    assert again == rows  # seeded subsets and noise


def test_sample_quality_without_train_images_has_nan_distance(mnist):
    rows = evaluate.sample_quality({}, reference=mnist[2][:100], num_images=50)
    assert [row.name for row in rows] == ["real held-out digits", "uniform noise"]
    assert all(math.isnan(row.nn_distance) for row in rows)


def test_sample_quality_errors(mnist):
    reference = mnist[2][:100]
    with pytest.raises(ValueError, match=r"reference needs at least 2 \* num_images = 120 images, got 100"):
        evaluate.sample_quality({}, reference=reference, num_images=60)
    with pytest.raises(ValueError, match=r"samples\['few'\] has 10 images; sample_quality needs 50"):
        evaluate.sample_quality({"few": reference[:10]}, reference=reference, num_images=50)
    with pytest.raises(ValueError, match=r"samples\['rgb'\] must have shape"):
        evaluate.sample_quality({"rgb": torch.rand(50, 3, 28, 28)}, reference=reference, num_images=50)


# ------------------------------------------------------------------------------------------ IWAE
def test_iwae_shape_and_determinism(vae, mnist):
    x = mnist[2][:7]
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
    evaluate.iwae_log_likelihood(vae, mnist[2][:3], num_samples=2, generator=torch.Generator().manual_seed(0))
    assert vae.training
    assert torch.equal(torch.get_rng_state(), state)
    vae.eval()


def test_iwae_one_sample_is_the_elbo(vae, mnist):
    # With K = 1 the estimate is log p(x|z) + log p(z) - log q(z|x) at one z ~ q: an unbiased one-sample
    # estimate of the ELBO. Its mean over 64 draws per image must lie within 4 standard errors of the
    # ELBO computed independently as -(nll + closed-form KL), averaged over 512 draws per image.
    x = mnist[2][:16]
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
    x = mnist[2][:32]
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
    x = mnist[2][:4]
    first = evaluate.iwae_log_likelihood(vae, x, num_samples=3)
    assert not torch.equal(first, evaluate.iwae_log_likelihood(vae, x, num_samples=3))


# ---------------------------------------------------------------------------------------- no network
def test_no_network_connection_on_import_data_and_yardstick(monkeypatch, classifier_cache):
    def refuse(*args, **kwargs):
        raise AssertionError("network connection attempted in a unit test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(AssertionError, match="network connection attempted"):
        socket.create_connection(("127.0.0.1", 9))  # the guard is in place
    with pytest.raises(AssertionError, match="network connection attempted"):
        socket.socket().connect(("127.0.0.1", 9))
    # A fresh import of the whole package, then the offline entry points.
    for name in [name for name in sys.modules if name == "vaecourse" or name.startswith("vaecourse.")]:
        monkeypatch.delitem(sys.modules, name)
    fresh = importlib.import_module("vaecourse")
    assert fresh is not vaecourse
    images, labels = fresh.data.load_mnist("embedded", "test")
    assert images.shape == (1000, 1, 28, 28)
    assert fresh.data.DSprites().render([[1, 2, 3, 4, 5]]).shape == (1, 1, 64, 64)
    scores = fresh.evaluate.confidence(images[:5])
    assert scores.shape == (5,)
    assert DSprites is not fresh.data.DSprites  # the checks really ran on the fresh modules


def test_spread_reports_mean_min_and_max():
    from vaecourse.evaluate import spread

    assert spread([1.0, 2.0, 4.5]) == "2.5 [1.0, 4.5]"
    assert spread(np.array([[0.25], [0.5]]), digits=3) == "0.375 [0.250, 0.500]"
    with pytest.raises(ValueError, match="at least one"):
        spread([])
