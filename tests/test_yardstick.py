"""Unit tests of vaecourse.classifier and vaecourse.yardstick: the reference classifier and its cache,
the Frechet distance, density and coverage, precision and recall, nearest neighbours, confidence and
sample_quality.

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
from vaecourse import classifier, yardstick
from vaecourse.data import DSprites, load_mnist
from vaecourse.models import VAE
from vaecourse.train import fit


@pytest.fixture(scope="module", autouse=True)
def classifier_cache(tmp_path_factory):
    """A private cache folder and the memoised classifier trained into that folder."""
    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("vaecourse_cache")
        mp.setenv("VAECOURSE_CACHE", str(cache))
        mp.setattr(classifier, "_classifier", None)
        classifier.reference_classifier()  # trains (the folder is empty) and writes the cache file
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
    return {k: v.clone() for k, v in classifier.reference_classifier().state_dict().items()}


@pytest.fixture
def fake_training(reference_state):
    """A stand-in for train_reference_classifier that returns the known weights and counts its calls."""
    calls = []

    def train(progress=False):
        calls.append(1)
        net = classifier.DigitClassifier()
        net.load_state_dict(reference_state)
        return net.eval()

    train.calls = calls
    return train


# ------------------------------------------------------------------------------ reference classifier
def test_reference_classifier_accuracy_on_embedded_test_split(mnist):
    _, _, test_images, test_labels = mnist
    # Stated in the course: the yardstick classifier gets at least 95% of the held-out digits right.
    assert yardstick.accuracy(test_images, test_labels) >= 0.95


def test_reference_classifier_training_is_deterministic():
    retrained = classifier.train_reference_classifier()
    assert state_equal(retrained.state_dict(), classifier.reference_classifier().state_dict())


def test_reference_classifier_is_memoised_frozen_and_in_eval_mode():
    net = classifier.reference_classifier()
    assert classifier.reference_classifier() is net
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())


def test_module_fixture_wrote_the_cache(classifier_cache):
    files = sorted(classifier_cache.glob("reference_classifier_*.pt"))
    assert [f.name for f in files] == [os.path.basename(classifier._classifier_path())]
    stored = torch.load(files[0], map_location="cpu", weights_only=True)
    assert state_equal(stored, classifier.reference_classifier().state_dict())


def test_reference_classifier_cached_on_first_use(tmp_path, monkeypatch, mnist, fake_training):
    images = mnist[2][:20]
    expected_outputs = classifier.reference_classifier()(images)
    calls = fake_training.calls
    monkeypatch.setenv("VAECOURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(classifier, "train_reference_classifier", fake_training)
    monkeypatch.setattr(classifier, "_classifier", None)
    assert not list(tmp_path.glob("*.pt"))
    first = classifier.reference_classifier()
    assert calls == [1]
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(classifier._classifier_path())]

    # A new session: the memo is empty, and training would fail, so the weights must come from disk.
    def no_training(progress=False):
        raise AssertionError("the cached classifier should have been loaded, not retrained")

    monkeypatch.setattr(classifier, "train_reference_classifier", no_training)
    monkeypatch.setattr(classifier, "_classifier", None)
    second = classifier.reference_classifier()
    assert second is not first
    assert state_equal(second.state_dict(), first.state_dict())
    assert torch.equal(second(images), expected_outputs)
    assert torch.equal(yardstick.confidence(images), expected_outputs.softmax(dim=1).max(dim=1).values)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_classifier_cache_is_retrained(tmp_path, monkeypatch, damage, fake_training, reference_state):
    monkeypatch.setenv("VAECOURSE_CACHE", str(tmp_path))
    path = classifier._classifier_path()
    torch.save(reference_state, path)
    good = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write({"garbage": b"not a torch file at all " * 40, "truncated": good[: len(good) // 2],
                 "empty": b""}[damage])
    monkeypatch.setattr(classifier, "train_reference_classifier", fake_training)
    monkeypatch.setattr(classifier, "_classifier", None)
    net = classifier.reference_classifier()
    assert fake_training.calls == [1]
    assert state_equal(torch.load(path, map_location="cpu", weights_only=True), net.state_dict())


def test_training_leaves_global_rng_untouched(monkeypatch):
    # train_reference_classifier forks the RNG (seeding and weight initialisation happen inside the
    # fork); check it on a run cut to zero epochs, which still seeds and initialises.
    monkeypatch.setitem(classifier.CLASSIFIER_CONFIG, "epochs", 0)
    torch.manual_seed(99)
    state = torch.get_rng_state()
    classifier.train_reference_classifier()
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------------------------- predictions, shapes
def test_confidence_shape_and_range(mnist):
    real = mnist[2][:50]
    noise = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for images in (real, noise, real.flatten(1)):
        c = yardstick.confidence(images)
        assert c.shape == (50,) and c.dtype == torch.float32
        assert (c >= 0.1).all() and (c <= 1).all()
    assert yardstick.confidence(real).mean() > 0.9


def test_predict_and_features_shapes(mnist):
    images = mnist[2][:30]
    predictions = yardstick.predict(images)
    assert predictions.shape == (30,) and predictions.dtype == torch.int64
    features = yardstick.classifier_features(images)
    assert features.shape == (30, classifier.DigitClassifier.feature_dim) and features.dtype == torch.float32
    assert (features >= 0).all()  # after a ReLU


def test_accuracy_rejects_mismatched_labels(mnist):
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\), got \(9,\)"):
        yardstick.accuracy(mnist[2][:10], mnist[3][:9])


@pytest.mark.parametrize("function", [yardstick.confidence, yardstick.predict, yardstick.classifier_features])
def test_classifier_functions_reject_wrong_image_shape(function):
    with pytest.raises(ValueError, match=r"must have shape \(N, 1, 28, 28\).*got \(4, 3, 28, 28\)"):
        function(torch.rand(4, 3, 28, 28))


# ---------------------------------------------------------------------------------- Frechet distance
def test_frechet_distance_identical_sets_is_zero(mnist):
    images = mnist[2][:300]
    features = yardstick.classifier_features(images).double().numpy()
    scale = np.trace(np.cov(features, rowvar=False))
    assert abs(yardstick.frechet_distance(images, images)) < 1e-6 * scale


def test_frechet_distance_is_symmetric_and_positive(mnist):
    _, _, test_images, test_labels = mnist
    zeros, ones = test_images[test_labels == 0], test_images[test_labels == 1]
    ab, ba = yardstick.frechet_distance(zeros, ones), yardstick.frechet_distance(ones, zeros)
    assert ab == pytest.approx(ba, rel=1e-6)
    assert ab > 1.0
    same_class = yardstick.frechet_distance(zeros[:50], zeros[50:])
    assert 0 < same_class < ab


def test_frechet_distance_rejects_wrong_shapes_and_tiny_sets(mnist):
    images = mnist[2][:10]
    with pytest.raises(ValueError, match=r"got \(10, 3, 28, 28\)"):
        yardstick.frechet_distance(images, images.repeat(1, 3, 1, 1))
    with pytest.raises(ValueError, match="at least 2 images per set, got 1 and 10"):
        yardstick.frechet_distance(images[:1], images)


def test_frechet_from_features_diagonal_closed_form():
    # Each set is mean + scale * (every corner of the cube {-1, 1}^3): its sample covariance is exactly
    # diagonal, so the distance is sum_d (m1 - m2)^2 + (s1 - s2)^2 with s the sample standard deviations.
    corners = np.array(np.meshgrid([-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0])).reshape(3, -1).T  # (8, 3)
    a = np.array([0.5, -1.0, 2.0]) + np.array([1.0, 0.3, 2.0]) * corners
    b = np.array([0.0, 1.0, 2.5]) + np.array([0.2, 0.9, 1.0]) * corners
    s_a, s_b = a.std(axis=0, ddof=1), b.std(axis=0, ddof=1)
    expected = ((a.mean(0) - b.mean(0)) ** 2 + (s_a - s_b) ** 2).sum()
    result = yardstick.frechet_distance_from_features(torch.from_numpy(a), torch.from_numpy(b))
    assert result == pytest.approx(expected, rel=1e-9)


def test_frechet_from_features_one_dimensional_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 2.0, (200, 1)), rng.normal(-0.5, 0.5, (300, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    result = yardstick.frechet_distance_from_features(torch.from_numpy(a), torch.from_numpy(b))
    assert result == pytest.approx(expected, rel=1e-9)


def test_frechet_from_features_matches_scipy_sqrtm():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(60, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(size=(80, 5)) @ rng.normal(size=(5, 5)) + 0.3
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (((a.mean(0) - b.mean(0)) ** 2).sum()
                + np.trace(cov_a + cov_b - 2 * scipy.linalg.sqrtm(cov_a @ cov_b).real))
    result = yardstick.frechet_distance_from_features(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    assert result == pytest.approx(expected, rel=1e-5)


# -------------------------------------------------------------------------------- nearest neighbours
def test_nearest_neighbour_distance(mnist):
    train_images, _, test_images, _ = mnist
    copies = yardstick.nearest_neighbour_distance(train_images[[5, 100, 3999]], train_images)
    assert copies.shape == (3,) and copies.dtype == torch.float32
    assert (copies.abs() < 1e-4).all()
    held_out = yardstick.nearest_neighbour_distance(test_images[:40], train_images)
    assert held_out.shape == (40,) and (held_out > 0.5).all()  # disjoint splits: never a copy
    # and it is the smallest Euclidean distance, checked by brute force for one image
    brute = (train_images.flatten(1) - test_images[0].flatten()).norm(dim=1).min()
    assert held_out[0].item() == pytest.approx(brute.item(), rel=1e-5)


def test_nearest_neighbour_distance_rejects_wrong_shapes(mnist):
    with pytest.raises(ValueError, match=r"train_images must have shape"):
        yardstick.nearest_neighbour_distance(mnist[2][:3], torch.zeros(5, 3, 28, 28))
    with pytest.raises(ValueError, match=r"images must have shape"):
        yardstick.nearest_neighbour_distance(torch.zeros(5, 10), mnist[0])


# ----------------------------------------------------------------------- density, coverage, precision
def _brute_force_density_coverage(real, generated, k):
    """Naeem et al. 2020, eqs. (3)-(4), written out with loops over plain lists: an independent route."""
    real, generated = real.tolist(), generated.tolist()

    def distance(a, b):
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))

    radius = [sorted(distance(r, other) for j, other in enumerate(real) if j != i)[k - 1] for i, r in enumerate(real)]
    density = sum(distance(g, r) <= radius[i] for g in generated for i, r in enumerate(real)) / (k * len(generated))
    coverage = sum(any(distance(g, r) <= radius[i] for g in generated) for i, r in enumerate(real)) / len(real)
    return density, coverage


def _brute_force_precision_recall(real, generated, k):
    def radius(points, i):
        return sorted(math.dist(points[i], other) for j, other in enumerate(points) if j != i)[k - 1]

    real, generated = real.tolist(), generated.tolist()
    real_radius = [radius(real, i) for i in range(len(real))]
    generated_radius = [radius(generated, i) for i in range(len(generated))]
    precision = sum(any(math.dist(g, r) <= real_radius[i] for i, r in enumerate(real)) for g in generated) / len(generated)
    recall = sum(any(math.dist(r, g) <= generated_radius[j] for j, g in enumerate(generated)) for r in real) / len(real)
    return precision, recall


@pytest.mark.parametrize("k", [1, 3])
def test_density_coverage_and_precision_recall_match_brute_force(k):
    generator = torch.Generator().manual_seed(k)
    real, generated = torch.randn(30, 4, generator=generator), 0.5 + torch.randn(25, 4, generator=generator)
    assert yardstick.density_coverage_from_features(real, generated, k=k) == pytest.approx(
        _brute_force_density_coverage(real, generated, k), abs=1e-12)
    assert yardstick.precision_recall_from_features(real, generated, k=k) == pytest.approx(
        _brute_force_precision_recall(real, generated, k), abs=1e-12)


def test_density_coverage_hand_computed_case():
    # real points 0, 1, 3 on a line, k = 1: radii 1, 1, 2. A sample at 0.5 lies in the balls of 0 and 1
    # (density 2 / 1), one at 10 in none; so density = (2 + 0) / 2 = 1, coverage = 2 / 3.
    real = torch.tensor([[0.0], [1.0], [3.0]])
    assert yardstick.density_coverage_from_features(real, torch.tensor([[0.5], [10.0]]), k=1) == (1.0, 2 / 3)


def test_a_repeated_point_has_no_recall_or_coverage_beyond_its_own_ball():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(200, 3, generator=generator)
    one = real[:1].repeat(50, 1) + 1e-3  # near one real point, repeated
    _, recall = yardstick.precision_recall_from_features(real, one, k=3)
    density, coverage = yardstick.density_coverage_from_features(real, one, k=3)
    assert recall == 0  # the repeated set's balls have radius 0
    assert coverage <= 5 / 200  # only the few real balls around that point hold it
    assert density > 0


def test_measures_reject_too_few_points():
    with pytest.raises(ValueError, match="needs more than 5 real points"):
        yardstick.density_coverage_from_features(torch.zeros(5, 2), torch.zeros(9, 2), k=5)
    with pytest.raises(ValueError, match="needs more than 3 points per set"):
        yardstick.precision_recall_from_features(torch.zeros(9, 2), torch.zeros(3, 2), k=3)


def test_class_histogram_and_classes_present(mnist):
    _, _, test_images, test_labels = mnist
    histogram = yardstick.class_histogram(test_images)
    assert histogram.sum().item() == pytest.approx(1.0)
    assert yardstick.classes_present(histogram) == 10
    ones = test_images[test_labels == 1][:50]
    assert yardstick.classes_present(yardstick.class_histogram(ones)) == 1
    assert yardstick.classes_present(torch.tensor([0.5, 0.45, 0.05] + [0.0] * 7)) == 3


# ------------------------------------------------------------------------------------- sample_quality
def test_split_held_out_gives_disjoint_halves(mnist):
    test_images = mnist[2]
    reference, source = yardstick.split_held_out(test_images, num_images=300, seed=1)
    assert reference.shape == source.shape == (300, 1, 28, 28)
    keys = {row.numpy().tobytes() for row in reference.flatten(1)}
    assert not keys & {row.numpy().tobytes() for row in source.flatten(1)}
    again, _ = yardstick.split_held_out(test_images, num_images=300, seed=1)
    assert torch.equal(again, reference)
    with pytest.raises(ValueError, match="at least 2 \\* num_images = 2000"):
        yardstick.split_held_out(test_images, num_images=1000)


def test_sample_quality_rows(mnist, vae):
    train_images, _, test_images, _ = mnist
    reference, real = yardstick.split_held_out(test_images, num_images=200)
    samples = vae.sample(200, generator=torch.Generator().manual_seed(0))
    rows = yardstick.sample_quality({"tiny VAE": samples, "one digit": real[:1].repeat(200, 1, 1, 1)},
                                    reference=reference, real=real, num_images=200, train_images=train_images[:1000])
    assert [row.name for row in rows] == ["real held-out digits", "uniform noise", "tiny VAE", "one digit"]
    real_row, noise, model, one = rows
    # Decided in advance: noise is at least 10x farther from real digits than other real digits are.
    assert noise.frechet_distance > 10 * real_row.frechet_distance > 0
    assert real_row.frechet_distance < model.frechet_distance  # a 3-epoch VAE is no match for real digits
    assert real_row.coverage > 0.8 and real_row.density > 0.8 and real_row.classes == 10
    assert noise.coverage < 0.1 and one.coverage < 0.1 and one.classes == 1
    assert all(0.1 <= row.confidence <= 1 for row in rows)
    assert all(row.nn_distance > 0 for row in rows)
    table = yardstick.format_quality_table(rows)
    assert len(table.splitlines()) == 5 and "uniform noise" in table and "coverage" in table
    again = yardstick.sample_quality({"tiny VAE": samples, "one digit": real[:1].repeat(200, 1, 1, 1)},
                                     reference=reference, real=real, num_images=200, train_images=train_images[:1000])
    assert again == rows  # seeded subsets and noise


def test_sample_quality_without_train_images_has_nan_distance(mnist):
    reference, real = yardstick.split_held_out(mnist[2], num_images=50)
    rows = yardstick.sample_quality({}, reference=reference, real=real, num_images=50)
    assert [row.name for row in rows] == ["real held-out digits", "uniform noise"]
    assert all(math.isnan(row.nn_distance) for row in rows)


def test_sample_quality_errors(mnist):
    train_images, test_images = mnist[0], mnist[2]
    reference, real = yardstick.split_held_out(test_images[:100], num_images=50)
    with pytest.raises(ValueError, match=r"reference needs at least num_images = 60 images, got 50"):
        yardstick.sample_quality({}, reference=reference, real=real, num_images=60)
    with pytest.raises(ValueError, match=r"samples\['few'\] has 10 images; sample_quality needs 50"):
        yardstick.sample_quality({"few": real[:10]}, reference=reference, real=real, num_images=50)
    with pytest.raises(ValueError, match=r"samples\['rgb'\] must have shape"):
        yardstick.sample_quality({"rgb": torch.rand(50, 3, 28, 28)}, reference=reference, real=real, num_images=50)


def test_sample_quality_refuses_overlapping_sets(mnist):
    train_images, test_images = mnist[0], mnist[2]
    reference, real = yardstick.split_held_out(test_images[:100], num_images=50)
    with pytest.raises(ValueError, match=r"samples\['held-out'\] contains images of the reference set"):
        yardstick.sample_quality({"held-out": test_images[:100]}, reference=reference, real=real, num_images=50)
    with pytest.raises(ValueError, match=r"samples\['real held-out digits'\] contains images of the reference"):
        yardstick.sample_quality({}, reference=reference, real=reference, num_images=50)
    with pytest.raises(ValueError, match="train_images and reference share images"):
        yardstick.sample_quality({}, reference=reference, real=real, num_images=50,
                                 train_images=torch.cat([train_images[:10], reference[:1]]))


def test_nearest_neighbour_returns_the_index_of_the_copy(mnist):
    train_images = mnist[0][:300]
    distance, index = yardstick.nearest_neighbour(train_images[[7, 250]], train_images)
    assert distance.tolist() == [0.0, 0.0] and index.tolist() == [7, 250]


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
    scores = fresh.yardstick.confidence(images[:5])
    assert scores.shape == (5,)
    assert DSprites is not fresh.data.DSprites  # the checks really ran on the fresh modules


def test_first_use_inside_the_yardstick_trains_the_classifier(tmp_path, monkeypatch, mnist):
    # The yardstick's forward passes run under no_grad; training on first use must still get gradients.
    monkeypatch.setitem(classifier.CLASSIFIER_CONFIG, "epochs", 1)  # a different cache name, and quick
    monkeypatch.setenv("VAECOURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(classifier, "_classifier", None)
    features = yardstick.classifier_features(mnist[2][:10])
    assert features.shape == (10, 64)
    assert list(tmp_path.glob("reference_classifier_*.pt"))
