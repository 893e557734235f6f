"""The sample-quality yardstick and likelihood estimates (notebooks 00-03, 05-07).

- A small reference digit classifier, trained deterministically on the embedded MNIST train split on
  first use and cached (:func:`reference_classifier`).
- :func:`frechet_distance`: the Frechet distance between two image sets, computed on the classifier's
  hidden features (a "mini-FID"). This is the main quality measure: lower is better; real held-out
  digits give the floor and uniform noise a ceiling (:func:`sample_quality` adds both rows).
- :func:`nearest_neighbour_distance`: pixel distance from each image to its closest training image, to
  tell new samples from copies of the training set.
- :func:`confidence`: the classifier's top softmax probability. Kept to show why it is *not* a quality
  measure: uniform noise can score high on it.
- :func:`iwae_log_likelihood`: the importance-weighted estimate of log p(x) for a VAE.
- :func:`spread`: "mean [min, max]" over seeds, the way the notebooks report every repeated measure.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import sys
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from vaecourse.config import cache_dir, seeded
from vaecourse.data import as_image_batch, load_mnist
from vaecourse.train import eval_mode

# Everything that determines the classifier's weights; it names the cache file.
CLASSIFIER_CONFIG = {"arch": "conv5x8-pool-conv5x16-pool-fc64", "data": "embedded-train-v1", "epochs": 15,
                     "batch_size": 64, "lr": 1e-3, "seed": 0, "version": 1}


class DigitClassifier(nn.Module):
    """A LeNet-style CNN; ``features(x)`` is its 64-d hidden layer, the space of the Frechet distance."""

    feature_dim = 64

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 4 * 4, self.feature_dim), nn.ReLU())
        self.head = nn.Linear(self.feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


_classifier: DigitClassifier | None = None


def _classifier_path() -> str:
    key = json.dumps({**CLASSIFIER_CONFIG, "torch": torch.__version__.split("+")[0]}, sort_keys=True)
    return os.path.join(cache_dir(), f"reference_classifier_{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt")


def train_reference_classifier(progress: bool = False) -> DigitClassifier:
    """Train the classifier from scratch, deterministically (fixed seed, fixed batch order, CPU)."""
    config = CLASSIFIER_CONFIG
    images, labels = load_mnist("embedded", "train")
    with torch.random.fork_rng(devices=[]):  # leave the caller's random stream untouched
        torch.manual_seed(config["seed"])
        net = DigitClassifier()
        optimizer = torch.optim.Adam(net.parameters(), lr=config["lr"])
        order = torch.Generator().manual_seed(config["seed"])
        for epoch in range(config["epochs"]):
            for index in torch.randperm(len(images), generator=order).split(config["batch_size"]):
                loss = nn.functional.cross_entropy(net(images[index]), labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            if progress:
                print(f"  epoch {epoch + 1}/{config['epochs']}", file=sys.stderr)
    return net.eval()


def reference_classifier() -> DigitClassifier:
    """The reference classifier, loaded from the cache or trained once (a few seconds) and cached."""
    global _classifier
    if _classifier is not None:
        return _classifier
    path = _classifier_path()
    net = DigitClassifier()
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
        print(f"training the reference digit classifier once; it is cached in {path}", file=sys.stderr)
        net = train_reference_classifier()
        temporary = f"{path}.{os.getpid()}.tmp"
        torch.save(net.state_dict(), temporary)
        os.replace(temporary, path)  # atomic: a concurrent reader never sees half a file
    _classifier = net.eval()
    for parameter in _classifier.parameters():
        parameter.requires_grad_(False)
    return _classifier


@torch.no_grad()
def _apply(fn, images, batch_size: int = 1000) -> torch.Tensor:
    batch = as_image_batch(images, (1, 28, 28)).detach().cpu()
    return torch.cat([fn(chunk) for chunk in batch.split(batch_size)])


def classifier_features(images) -> torch.Tensor:
    """Hidden features ``(N, 64)`` of the reference classifier."""
    return _apply(reference_classifier().features, images)


def predict(images) -> torch.Tensor:
    """Predicted digit classes ``(N,)``."""
    return _apply(reference_classifier(), images).argmax(dim=1)


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
    return _apply(reference_classifier(), images).softmax(dim=1).max(dim=1).values


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


@torch.no_grad()
def nearest_neighbour_distance(images, train_images, *, batch_size: int = 500) -> torch.Tensor:
    """Euclidean pixel distance ``(N,)`` from each image to its nearest training image.

    Copies of training images score near 0; genuinely new digits score about as much as held-out
    real digits do.
    """
    queries = as_image_batch(images).detach().cpu().flatten(1)
    train = as_image_batch(train_images, name="train_images").detach().cpu().flatten(1)
    distances = []
    for chunk in queries.split(batch_size):
        # cdist's fast matrix-product form finds the neighbour; the distance to it is then recomputed
        # directly, because that form leaves rounding error of order 1e-3 where the answer is 0.
        nearest = torch.cdist(chunk, train).argmin(dim=1)
        distances.append((chunk - train[nearest]).norm(dim=1))
    return torch.cat(distances)


class QualityRow(NamedTuple):
    name: str
    frechet_distance: float
    confidence: float
    nn_distance: float  # NaN when no training images were given


def sample_quality(samples: dict, *, reference, train_images=None, num_images: int = 500,
                   seed: int = 0) -> list[QualityRow]:
    """Score sets of generated images against real held-out digits; one row per set.

    ``reference`` (held-out real digits, at least ``2 * num_images``) is cut into two disjoint halves:
    the first is what every set is compared with, the second is scored like a sample set and gives
    the row "real held-out digits" (the floor: what a perfect generator would get). A row "uniform
    noise" gives a ceiling. Every set is subsampled to ``num_images`` so the Frechet distances are
    comparable. With ``train_images``, the mean nearest-training-neighbour distance is added.
    """
    reference = as_image_batch(reference, name="reference").cpu()
    if len(reference) < 2 * num_images:
        raise ValueError(f"reference needs at least 2 * num_images = {2 * num_images} images, got {len(reference)}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(reference), generator=generator)
    compare_to, real = reference[order[:num_images]], reference[order[num_images:2 * num_images]]
    noise = torch.rand(num_images, 1, 28, 28, generator=generator)
    rows = []
    reference_features = classifier_features(compare_to)
    for name, images in {"real held-out digits": real, "uniform noise": noise, **samples}.items():
        images = as_image_batch(images, name=f"samples[{name!r}]").detach().cpu()
        if len(images) < num_images:
            raise ValueError(f"samples[{name!r}] has {len(images)} images; sample_quality needs {num_images}")
        images = images[torch.randperm(len(images), generator=generator)[:num_images]]
        nn_distance = (nearest_neighbour_distance(images, train_images).mean().item()
                       if train_images is not None else math.nan)
        rows.append(QualityRow(name, frechet_distance_from_features(classifier_features(images), reference_features),
                               confidence(images).mean().item(), nn_distance))
    return rows


def spread(values, digits: int = 1) -> str:
    """``values`` measured over seeds (or runs) as text: ``"mean [min, max]"``, ``digits`` decimals."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if not isinstance(values, np.ndarray):
        values = [float(v) for v in values]  # any iterable: lists of tensors, generators
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("spread needs at least one value")
    return f"{values.mean():.{digits}f} [{values.min():.{digits}f}, {values.max():.{digits}f}]"


def format_quality_table(rows: list[QualityRow]) -> str:
    """The rows of :func:`sample_quality` as a fixed-width text table."""
    lines = [f"{'image set':<32} {'Frechet dist.':>13} {'confidence':>10} {'NN dist.':>9}"]
    for row in rows:
        lines.append(f"{row.name:<32} {row.frechet_distance:>13.2f} {row.confidence:>10.3f} {row.nn_distance:>9.2f}")
    return "\n".join(lines)


@torch.no_grad()
def iwae_log_likelihood(model, x, *, num_samples: int = 100, batch_size: int = 100,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) per example ``(B,)``, in nats (Burda et al. 2016).

    log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K, z_k ~ q(z|x). It is a
    lower bound in expectation that rises with K toward log p(x); K = 1 is the ELBO.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    x = as_image_batch(x, model.image_shape, name="x")
    device = next(model.parameters()).device
    estimates = []
    with eval_mode(model), seeded(generator):
        for batch in x.split(max(1, batch_size)):
            batch = batch.to(device)
            q_z = model.encode(batch)
            z = q_z.sample((num_samples,))  # (K, B, D)
            p_x = model.decode(z.flatten(0, 1))
            log_px_given_z = p_x.log_prob(batch.repeat(num_samples, *([1] * (batch.dim() - 1)))).view(num_samples, -1)
            log_w = log_px_given_z + model.prior().log_prob(z) - q_z.log_prob(z)
            estimates.append((torch.logsumexp(log_w, dim=0) - math.log(num_samples)).cpu())
    return torch.cat(estimates)
