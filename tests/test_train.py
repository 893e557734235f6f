"""Unit tests of vaecourse.train: fit lowers the loss, is deterministic, validates its input."""

import copy
import math

import pytest
import torch
from torch import nn

from vaecourse.data import load_mnist
from vaecourse.models import AE, VAE
from vaecourse.train import History, evaluate_terms, fit


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """512 training and 256 held-out embedded digits with labels."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAECOURSE_CACHE", str(tmp_path_factory.mktemp("cache")))
        train_images, train_labels = load_mnist("embedded", "train")
        test_images, _ = load_mnist("embedded", "test")
    return train_images[:512], train_labels[:512], test_images[:256]


def small_vae(seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(latent_dim=4, hidden=(64,))


def params_equal(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


# ------------------------------------------------------------------------------------------ training
def test_fit_lowers_the_loss(mnist):
    images, _, _ = mnist
    history = fit(small_vae(), images, epochs=3, batch_size=32, lr=1e-3, progress=False)
    first, last = history.train["neg_elbo"][0], history.train["neg_elbo"][-1]
    # Decided in advance: three epochs of Adam from random weights cut the negative ELBO by over 25%
    # (a VAE starts near 784 * log 2 = 543 nats and reaches the low 200s within a few epochs).
    assert last < 0.75 * first, history.train["neg_elbo"]


def test_fit_lowers_the_autoencoder_loss(mnist):
    images, _, _ = mnist
    torch.manual_seed(0)
    history = fit(AE(latent_dim=4, hidden=(64,)), images, epochs=3, batch_size=32, progress=False)
    assert history.objective == "nll"
    assert history.train["nll"][-1] < 0.75 * history.train["nll"][0]


def test_fit_history_contents(mnist):
    images, _, _ = mnist
    history = fit(small_vae(), images, epochs=2, batch_size=128, progress=False)
    assert isinstance(history, History) and history.objective == "neg_elbo"
    assert history.epochs == 2 and len(history.epoch_seconds) == 2
    assert set(history.train) == {"neg_elbo", "nll", "kl"}
    assert all(len(v) == 2 and all(isinstance(e, float) and math.isfinite(e) for e in v) for v in history.train.values())
    assert history.num_examples == 512
    for epoch in range(2):  # the epoch means add up like the per-example terms
        total = history.train["nll"][epoch] + history.train["kl"][epoch]
        assert history.train["neg_elbo"][epoch] == pytest.approx(total, rel=1e-5)
    assert not history.val  # no validation data, no validation values


def test_history_final_and_speed(mnist):
    images, _, _ = mnist
    history = fit(small_vae(), images, epochs=2, batch_size=128, progress=False)
    assert history.final() == history.train["neg_elbo"][-1]
    assert history.final("kl") == history.train["kl"][-1]
    with pytest.raises(KeyError, match="no val values for 'neg_elbo'"):
        history.final(split="val")
    with pytest.raises(KeyError, match="no train values for 'banana'"):
        history.final("banana")
    with pytest.raises(ValueError, match="split must be 'train' or 'val'"):
        history.final(split="test")
    assert history.examples_per_second == pytest.approx(512 * 2 / sum(history.epoch_seconds))
    assert history.examples_per_second > 0


def test_history_speed_without_timing_is_nan():
    assert math.isnan(History(objective="nll").examples_per_second)


def test_fit_is_deterministic(mnist):
    images, _, _ = mnist
    start = small_vae()
    models = [copy.deepcopy(start) for _ in range(3)]
    histories = [fit(m, images, epochs=2, batch_size=64, seed=s, progress=False)
                 for m, s in zip(models, (0, 0, 1))]
    assert histories[0].train == histories[1].train
    assert params_equal(models[0], models[1])
    assert histories[0].train != histories[2].train
    assert not params_equal(models[0], models[2])


def test_fit_accepts_images_and_labels_pair(mnist):
    images, labels, _ = mnist
    start = small_vae()
    a, b = copy.deepcopy(start), copy.deepcopy(start)
    from_pair = fit(a, (images, labels), epochs=1, progress=False)
    from_images = fit(b, images, epochs=1, progress=False)
    assert from_pair.train == from_images.train and params_equal(a, b)


def test_fit_with_validation_data(mnist):
    images, _, held_out = mnist
    history = fit(small_vae(), images, epochs=2, val_data=(held_out, None), progress=False)
    assert set(history.val) == {"neg_elbo", "nll", "kl"}
    assert all(len(v) == 2 for v in history.val.values())
    assert history.final(split="val") == history.val["neg_elbo"][-1]
    assert history.final(split="val") != history.final()


def test_fit_trains_in_place_and_returns_eval_mode(mnist):
    images, _, _ = mnist
    model = small_vae()
    before = copy.deepcopy(model)
    fit(model, images, epochs=1, progress=False)
    assert not model.training
    assert not params_equal(model, before)


def test_fit_zero_epochs_changes_nothing(mnist):
    images, _, _ = mnist
    model = small_vae()
    before = copy.deepcopy(model)
    history = fit(model, images, epochs=0, progress=False)
    assert history.epochs == 0 and not history.train
    assert params_equal(model, before)


def test_fit_on_cpu_device(mnist):
    images, _, _ = mnist
    model = small_vae()
    fit(model, images[:64], epochs=1, device="cpu", progress=False)
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_fit_uses_given_optimizer(mnist):
    images, _, _ = mnist
    model = small_vae()
    before = copy.deepcopy(model)
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)
    fit(model, images[:128], epochs=1, optimizer=frozen, progress=False)
    assert params_equal(model, before)  # lr=0: the given optimizer, not a fresh Adam, did the steps


def test_fit_progress_false_is_silent(mnist, capsys):
    images, _, _ = mnist
    fit(small_vae(), images[:64], epochs=1, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_fit_progress_bar_goes_to_stderr(mnist, capsys):
    images, _, _ = mnist
    fit(small_vae(), images[:64], epochs=1, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "training VAE" in captured.err


# ----------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": -1}, "need epochs >= 0 and batch_size >= 1, got epochs=-1"),
    ({"epochs": 1, "batch_size": 0}, "batch_size=0"),
])
def test_fit_rejects_bad_hyperparameters(mnist, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(small_vae(), mnist[0], progress=False, **kwargs)


@pytest.mark.parametrize("empty", [torch.zeros(0, 1, 28, 28), (torch.zeros(0, 1, 28, 28), torch.zeros(0))])
def test_fit_rejects_empty_data(empty):
    with pytest.raises(ValueError, match="data is empty"):
        fit(small_vae(), empty, epochs=1, progress=False)


def test_fit_rejects_non_tensor_data():
    with pytest.raises(TypeError, match="data must be a tensor or an \\(images, labels\\) pair, got ndarray"):
        import numpy as np

        fit(small_vae(), np.zeros((4, 1, 28, 28), dtype=np.float32), epochs=1, progress=False)


def test_fit_rejects_other_models(mnist):
    with pytest.raises(TypeError, match="Linear has no loss_terms\\(\\)/objective; fit trains vaecourse models"):
        fit(nn.Linear(784, 2), mnist[0], epochs=1, progress=False)


def test_fit_rejects_unknown_device(mnist):
    with pytest.raises(ValueError, match="unknown device 'banana'"):
        fit(small_vae(), mnist[0], epochs=1, device="banana", progress=False)


def test_fit_rejects_wrong_image_shape():
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 28, 28\).*got \(8, 3, 28, 28\)"):
        fit(small_vae(), torch.rand(8, 3, 28, 28), epochs=1, batch_size=8, progress=False)


# ------------------------------------------------------------------------------------ evaluate_terms
def test_evaluate_terms_matches_a_manual_mean(mnist):
    _, _, held_out = mnist
    torch.manual_seed(0)
    model = AE(latent_dim=4, hidden=(64,))  # deterministic loss: the mean can be compared exactly
    with torch.no_grad():
        manual = model.loss_terms(held_out)["nll"].double().mean().item()
    result = evaluate_terms(model, held_out, batch_size=100)  # 3 uneven batches: 100, 100, 56
    assert set(result) == {"nll"}
    assert result["nll"] == pytest.approx(manual, rel=1e-6)


def test_evaluate_terms_of_a_vae(mnist):
    _, _, held_out = mnist
    model = small_vae()
    torch.manual_seed(4)
    result = evaluate_terms(model, held_out, batch_size=1024)
    torch.manual_seed(4)
    with torch.no_grad():
        terms = model.loss_terms(held_out)
    assert set(result) == {"neg_elbo", "nll", "kl"}
    for name, value in terms.items():
        assert result[name] == pytest.approx(value.double().mean().item(), rel=1e-6)


def test_evaluate_terms_restores_training_mode_and_needs_no_grad(mnist):
    _, _, held_out = mnist
    model = small_vae()
    model.train()
    evaluate_terms(model, held_out[:10])
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_terms_accepts_images_and_labels_pair(mnist):
    _, _, held_out = mnist
    torch.manual_seed(0)
    model = AE(latent_dim=4, hidden=(64,))
    labels = torch.zeros(len(held_out), dtype=torch.int64)
    assert evaluate_terms(model, (held_out, labels)) == pytest.approx(evaluate_terms(model, held_out))


def test_fit_applies_the_transform_to_every_training_batch(mnist):
    train_images, _, _ = mnist
    seen = []

    def record(batch):
        seen.append(len(batch))
        return batch

    fit(small_vae(), train_images, epochs=2, batch_size=128, progress=False, transform=record)
    assert sum(seen) == 2 * len(train_images) and len(seen) == 2 * math.ceil(len(train_images) / 128)


def test_fit_transform_changes_what_is_trained_on(mnist):
    train_images, _, _ = mnist
    plain, transformed = small_vae(), small_vae()
    fit(plain, train_images, epochs=1, progress=False, seed=0)
    fit(transformed, train_images, epochs=1, progress=False, seed=0, transform=lambda batch: 1 - batch)
    assert not params_equal(plain, transformed)
