"""The reference digit classifier of the sample-quality yardstick (vaecourse.yardstick).

A small LeNet-style CNN, trained deterministically on the embedded MNIST train split the first time
it is needed (a few seconds) and cached in ``vc.config.cache_dir()``, under a name that hashes every
setting that determines its weights. :mod:`vaecourse.yardstick` uses its hidden features and outputs;
nothing else in the course depends on how it was trained.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys

import torch
from torch import nn

from vaecourse.config import cache_dir
from vaecourse.data import load_mnist

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
    # enable_grad: the first use may come from inside a no_grad block (the yardstick's forward passes)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # fork: leave the caller's random stream untouched
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
        try:
            torch.save(net.state_dict(), temporary)
            os.replace(temporary, path)  # atomic: a concurrent reader never sees half a file
        except OSError as error:  # a read-only cache (the grading sandbox, a shared image): use it uncached
            print(f"could not cache the reference classifier in {path}: {error}", file=sys.stderr)
    _classifier = net.eval()
    for parameter in _classifier.parameters():
        parameter.requires_grad_(False)
    return _classifier
