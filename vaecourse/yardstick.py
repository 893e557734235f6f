"""The sample-quality yardstick: every measure of a set of generated digits (notebooks 00-03, 06, 07, 09).

All measures are computed on the reference digit classifier (:mod:`vaecourse.classifier`): its 64-d
hidden features, or its predicted classes.

- :func:`frechet_distance`: the Frechet distance between the feature clouds of two image sets (a
  "mini-FID", Heusel et al. 2017). One number mixing two things: how digit-like each sample is
  (fidelity) and how much of the data's variety the set covers (coverage).
- :func:`density_coverage`: the two things apart (Naeem et al. 2020). Around each real digit's
  features lies a ball reaching to its k-th nearest real neighbour. Density counts how many real
  balls hold each sample, divided by k (fidelity: about 1 for real digits, 0 far from them);
  coverage is the share of real balls that hold at least one sample (variety: a generator that
  repeats one digit covers almost nothing).
- :func:`precision_recall`: the older pair of the same kind (Kynkaanniemi et al. 2019), kept because
  notebook 00 measures why the course does not use it: on these features, its precision accepts most
  of a set of pixel noise.
- :func:`class_histogram`: the predicted classes of a set; a generator that drops digits shows it here.
- :func:`nearest_neighbour_distance`: pixel distance from each image to its closest training image,
  to tell new samples from copies of the training set.
- :func:`confidence`: the classifier's top softmax probability. Kept to show why it is *not* a
  quality measure: uniform noise can score high on it.

:func:`sample_quality` scores several sets on all of these at once. Its comparison set and its
"real digits" row are two *disjoint* halves of the held-out split (:func:`split_held_out`); a sample
source built from held-out images must come from the second half, never from the first.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from vaecourse.classifier import reference_classifier
from vaecourse.data import as_image_batch

NUM_CLASSES = 10
CLASS_SHARE = 0.05  # a class is "present" in a set when at least this share of it is predicted as that class


@torch.no_grad()
def _features_and_logits(batch: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass of the classifier over an already converted ``(N, 1, 28, 28)`` CPU batch."""
    net = reference_classifier()
    features = torch.cat([net.features(chunk) for chunk in batch.split(batch_size)])
    return features, net.head(features)


def _images(images, name: str = "images") -> torch.Tensor:
    """The one conversion at the boundary: any accepted image layout to a float32 CPU batch."""
    return as_image_batch(images, (1, 28, 28), name=name).detach().cpu()


def classifier_features(images) -> torch.Tensor:
    """Hidden features ``(N, 64)`` of the reference classifier."""
    return _features_and_logits(_images(images))[0]


def predict(images) -> torch.Tensor:
    """Predicted digit classes ``(N,)``."""
    return _features_and_logits(_images(images))[1].argmax(dim=1)


def accuracy(images, labels) -> float:
    """Fraction of ``images`` the reference classifier labels correctly."""
    labels = torch.as_tensor(labels)
    predictions = predict(images)
    if predictions.shape != labels.shape:
        raise ValueError(f"labels must have shape {tuple(predictions.shape)}, got {tuple(labels.shape)}")
    return (predictions == labels.cpu()).double().mean().item()


def confidence(images) -> torch.Tensor:
    """Top softmax probability of the reference classifier per image, ``(N,)``, in [0.1, 1].

    Not a quality measure: a classifier is only trained on digits, so it is free to be confident on
    images that look nothing like one (see notebook 00, where uniform noise is scored).
    """
    return _features_and_logits(_images(images))[1].softmax(dim=1).max(dim=1).values


def _share_per_class(predictions: torch.Tensor) -> torch.Tensor:
    return torch.bincount(predictions, minlength=NUM_CLASSES).double() / len(predictions)


def class_histogram(images) -> torch.Tensor:
    """Share of ``images`` predicted as each digit class, ``(10,)``, summing to 1."""
    return _share_per_class(predict(images))


def classes_present(histogram: torch.Tensor, share: float = CLASS_SHARE) -> int:
    """Number of classes making up at least ``share`` of a set (mode coverage; 10 for real digits)."""
    return int((torch.as_tensor(histogram) >= share).sum())


def frechet_distance_from_features(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """||m_a - m_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)) between two feature sets, in float64."""
    a, b = features_a.double().numpy(), features_b.double().numpy()
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"the Frechet distance needs at least 2 images per set, got {len(a)} and {len(b)}")
    mean_a, mean_b = a.mean(0), b.mean(0)
    # atleast_2d: np.cov returns a 0-d array for one feature
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # tr (C_a C_b)^(1/2) = sum of square roots of the eigenvalues of C_a^(1/2) C_b C_a^(1/2), a symmetric
    # positive semi-definite matrix: eigh on it is stable where a general matrix square root is not.
    eigval_a, eigvec_a = np.linalg.eigh(cov_a)
    sqrt_a = (eigvec_a * np.sqrt(np.clip(eigval_a, 0, None))) @ eigvec_a.T
    middle = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def frechet_distance(images_a, images_b) -> float:
    """Frechet distance between two image sets on the reference classifier's hidden features.

    Lower is better. It depends on the set sizes (it is biased upwards for small sets), so compare
    only numbers computed with the same sizes, as :func:`sample_quality` does.
    """
    return frechet_distance_from_features(classifier_features(images_a), classifier_features(images_b))


def _kth_neighbour_radius(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each point to its k-th nearest *other* point of the same set."""
    distances = torch.cdist(features, features)
    # column 0 of the sorted rows is the point itself (distance 0); a duplicate point gives 0 too
    return distances.sort(dim=1).values[:, k]


def precision_recall_from_features(real: torch.Tensor, generated: torch.Tensor, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) between two feature sets.

    precision = share of generated points inside some real point's k-NN ball (fidelity);
    recall = share of real points inside some generated point's k-NN ball (coverage).
    """
    real, generated = real.double(), generated.double()
    if min(len(real), len(generated)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} points per set, "
                         f"got {len(real)} and {len(generated)}")
    between = torch.cdist(generated, real)  # (G, R)
    precision = (between <= _kth_neighbour_radius(real, k)[None, :]).any(dim=1).double().mean().item()
    recall = (between.T <= _kth_neighbour_radius(generated, k)[None, :]).any(dim=1).double().mean().item()
    return precision, recall


def precision_recall(real_images, generated_images, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall of ``generated_images`` against ``real_images`` on classifier features."""
    return precision_recall_from_features(classifier_features(real_images), classifier_features(generated_images), k=k)


def density_coverage_from_features(real: torch.Tensor, generated: torch.Tensor, *, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020) of a generated feature set against a real one.

    density = (1 / (k G)) sum_j #{real balls holding generated point j}; coverage = share of real
    points whose ball (radius: distance to the k-th nearest other real point) holds a generated point.
    """
    real, generated = real.double(), generated.double()
    if len(real) <= k or len(generated) < 1:
        raise ValueError(f"density/coverage with k={k} needs more than {k} real points and at least one generated "
                         f"point, got {len(real)} and {len(generated)}")
    inside = torch.cdist(generated, real) <= _kth_neighbour_radius(real, k)[None, :]  # (G, R)
    return inside.sum(dim=1).double().mean().item() / k, inside.any(dim=0).double().mean().item()


def density_coverage(real_images, generated_images, *, k: int = 5) -> tuple[float, float]:
    """Density and coverage of ``generated_images`` against ``real_images`` on classifier features."""
    return density_coverage_from_features(classifier_features(real_images), classifier_features(generated_images), k=k)


@torch.no_grad()
def nearest_neighbour(images, train_images, *, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean pixel distance ``(N,)`` from each image to its nearest training image, and that image's index.

    Copies of training images score near 0; genuinely new digits score about as much as held-out
    real digits do.
    """
    queries = _images(images).flatten(1)
    train = _images(train_images, name="train_images").flatten(1)
    distances, indices = [], []
    for chunk in queries.split(batch_size):
        # cdist's fast matrix-product form finds the neighbour; the distance to it is then recomputed
        # directly, because that form leaves rounding error of order 1e-3 where the answer is 0.
        nearest = torch.cdist(chunk, train).argmin(dim=1)
        distances.append((chunk - train[nearest]).norm(dim=1))
        indices.append(nearest)
    return torch.cat(distances), torch.cat(indices)


def nearest_neighbour_distance(images, train_images, *, batch_size: int = 500) -> torch.Tensor:
    """Euclidean pixel distance ``(N,)`` from each image to its nearest training image."""
    return nearest_neighbour(images, train_images, batch_size=batch_size)[0]


def split_held_out(images, *, num_images: int = 500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint random subsets of ``num_images`` held-out images: ``(reference, source)``.

    ``reference`` is what :func:`sample_quality` compares every set with; ``source`` gives its
    "real held-out digits" row and is the only half a sample set may be built from (reconstructions,
    posterior samples), so that no set is compared with the images it came from.
    """
    images = _images(images, name="held-out images")
    if len(images) < 2 * num_images:
        raise ValueError(f"split_held_out needs at least 2 * num_images = {2 * num_images} images, got {len(images)}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[:num_images]], images[order[num_images:2 * num_images]]


def _row_keys(batch: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in batch.flatten(1)}


class QualityRow(NamedTuple):
    name: str
    frechet_distance: float
    density: float  # fidelity: about 1 for real digits
    coverage: float  # variety: share of the reference covered
    classes: int  # classes making up at least CLASS_SHARE of the set
    confidence: float
    nn_distance: float  # NaN when no training images were given


def sample_quality(samples: dict, *, reference, real, train_images=None, num_images: int = 500, seed: int = 0,
                   k: int = 5) -> list[QualityRow]:
    """Score sets of generated images against real held-out digits on every measure; one row per set.

    ``reference`` and ``real`` are the two halves of :func:`split_held_out`. Every set is compared
    with ``reference``. Two rows come first: ``real`` itself ("real held-out digits", the floor: what
    a perfect generator would get) and "uniform noise" (a ceiling). Every set is subsampled to
    ``num_images`` so the numbers are comparable. With ``train_images``, the mean distance to the
    nearest training image is added. A set that contains an image of ``reference`` (and
    ``train_images`` or ``real`` overlapping ``reference``) is refused: a set must never be compared
    with itself.
    """
    reference = _images(reference, name="reference")
    if len(reference) < num_images:
        raise ValueError(f"reference needs at least num_images = {num_images} images, got {len(reference)}")
    generator = torch.Generator().manual_seed(seed)
    reference = reference[torch.randperm(len(reference), generator=generator)[:num_images]]
    reference_keys = _row_keys(reference)
    reference_features, reference_logits = _features_and_logits(reference)
    train = None
    if train_images is not None:
        train = _images(train_images, name="train_images")
        if reference_keys & _row_keys(train):
            raise ValueError("train_images and reference share images: the comparison set must be held out")
    noise = torch.rand(num_images, 1, 28, 28, generator=generator)
    rows = []
    for name, images in {"real held-out digits": real, "uniform noise": noise, **samples}.items():
        images = _images(images, name=f"samples[{name!r}]")
        if len(images) < num_images:
            raise ValueError(f"samples[{name!r}] has {len(images)} images; sample_quality needs {num_images}")
        images = images[torch.randperm(len(images), generator=generator)[:num_images]]
        if reference_keys & _row_keys(images):
            raise ValueError(f"samples[{name!r}] contains images of the reference set; build sample sets from the "
                             "other half of split_held_out")
        features, logits = _features_and_logits(images)
        density, coverage = density_coverage_from_features(reference_features, features, k=k)
        nn_distance = nearest_neighbour(images, train)[0].mean().item() if train is not None else math.nan
        rows.append(QualityRow(name, frechet_distance_from_features(features, reference_features), density, coverage,
                               classes_present(_share_per_class(logits.argmax(dim=1))),
                               logits.softmax(dim=1).max(dim=1).values.mean().item(), nn_distance))
    return rows


def format_quality_table(rows: list[QualityRow]) -> str:
    """The rows of :func:`sample_quality` as a fixed-width text table."""
    lines = [f"{'image set':<32} {'Frechet':>8} {'density':>8} {'coverage':>8} {'classes':>7} {'confidence':>10} "
             f"{'NN dist.':>8}"]
    for row in rows:
        lines.append(f"{row.name:<32} {row.frechet_distance:>8.2f} {row.density:>8.3f} {row.coverage:>8.3f} "
                     f"{row.classes:>7d} {row.confidence:>10.3f} {row.nn_distance:>8.2f}")
    return "\n".join(lines)
