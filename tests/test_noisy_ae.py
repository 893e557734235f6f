"""Unit tests of vaecourse.models.NoisyAE and code_rms_radius (notebook 03, homework Q1c)."""

import math

import pytest
import torch

from vaecourse import models, train


def _codes(num=4000, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 3.0 * torch.randn(num, dim, generator=g) + 5.0  # off-centre, so the centring matters


def test_code_rms_radius_matches_definition():
    z = _codes(500, 4).double()
    expected = math.sqrt(sum(((row - z.mean(0)) ** 2).sum().item() for row in z) / len(z))
    assert models.code_rms_radius(z).item() == pytest.approx(expected, rel=1e-12)


def test_code_rms_radius_is_translation_invariant_and_scales_linearly():
    z = _codes(300, 3).double()
    r = models.code_rms_radius(z)
    torch.testing.assert_close(models.code_rms_radius(z + 7.0), r)
    torch.testing.assert_close(models.code_rms_radius(2.5 * z), 2.5 * r)


def _model(**kwargs):
    torch.manual_seed(0)
    return models.NoisyAE(latent_dim=8, hidden=(32,), **kwargs)


def test_noise_only_in_train_mode():
    model = _model(noise_factor=0.05)
    code = _codes(64)
    model.train()
    assert not torch.equal(model.perturb(code), code)
    model.eval()
    assert torch.equal(model.perturb(code), code)
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model(x).z, model.encode(x))  # eval forward: the code itself


def test_zero_noise_factor_leaves_the_code_unchanged():
    model = _model(noise_factor=0.0).train()
    code = _codes(64)
    assert torch.equal(model.perturb(code), code)


@pytest.mark.parametrize("noise_factor", [0.05, 0.2, 1.0])
def test_noise_variance_is_noise_factor_times_r_squared(noise_factor):
    model = _model(noise_factor=noise_factor).train()
    code = _codes(4000, 8)
    torch.manual_seed(123)
    noise = (model.perturb(code) - code).double()
    radius = models.code_rms_radius(code).double()
    target = noise_factor * radius ** 2
    squares = noise.pow(2).flatten()
    stderr = squares.std() / math.sqrt(len(squares))
    assert abs(squares.mean() - target) < 4 * stderr, (squares.mean().item(), target.item(), stderr.item())
    per_coordinate = noise.var(dim=0)  # every coordinate gets the same variance
    assert torch.all((per_coordinate / target - 1).abs() < 0.1)
    assert noise.mean().abs() < 4 * math.sqrt(target / noise.numel())


def test_same_seed_same_noise():
    model = _model(noise_factor=0.05).train()
    code = _codes(32)
    torch.manual_seed(7)
    first = model.perturb(code)
    torch.manual_seed(7)
    assert torch.equal(model.perturb(code), first)


def test_no_gradient_reaches_the_encoder_through_r():
    """The package's gradient equals a manual version with R detached, and differs from R attached."""
    model = _model(noise_factor=0.2).train()
    base = _codes(64, 8, seed=3)
    target = torch.randn(64, 8, generator=torch.Generator().manual_seed(4))

    def grad_of(noisy_fn):
        code = base.clone().requires_grad_(True)
        torch.manual_seed(11)
        loss = (noisy_fn(code) - target).pow(2).sum()
        return torch.autograd.grad(loss, code)[0]

    def manual(code, detach):
        radius = models.code_rms_radius(code)
        radius = radius.detach() if detach else radius
        return code + 0.2 ** 0.5 * radius * torch.randn_like(code)

    package = grad_of(model.perturb)
    torch.testing.assert_close(package, grad_of(lambda c: manual(c, detach=True)))
    assert not torch.allclose(package, grad_of(lambda c: manual(c, detach=False)))


def test_fixed_scale_mode_uses_the_number_not_r():
    model = _model(noise_factor=0.05, noise_scale=2.0).train()
    code = 100.0 * _codes(4000, 8)  # a huge R must not matter
    torch.manual_seed(5)
    noise = model.perturb(code) - code
    assert noise.pow(2).mean().item() == pytest.approx(0.05 * 2.0 ** 2, rel=0.05)
    torch.manual_seed(5)
    expected = code + 0.05 ** 0.5 * 2.0 * torch.randn_like(code)
    torch.manual_seed(5)
    torch.testing.assert_close(model.perturb(code), expected)


def test_fit_logs_code_rms_per_epoch():
    model = _model(noise_factor=0.05)
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    history = train.fit(model, x, epochs=2, batch_size=64, seed=0, device="cpu", progress=False)
    assert len(history.train["code_rms"]) == 2
    assert all(r > 0 for r in history.train["code_rms"])
    # one batch per epoch: the first logged R is R of the untrained encoder's codes of x
    torch.manual_seed(0)
    again = models.NoisyAE(latent_dim=8, hidden=(32,), noise_factor=0.05)
    with torch.no_grad():
        first_radius = models.code_rms_radius(again.encode(x)).item()
    assert history.train["code_rms"][0] == pytest.approx(first_radius, rel=1e-5)


def test_attached_r_lets_the_gradient_through_r():
    """rms-attached: the same noise as rms for the same seed, a gradient equal to the manual attached
    version, and different from the detached one (the difference is the path through R)."""
    base = _codes(64, 8, seed=3)
    target = torch.randn(64, 8, generator=torch.Generator().manual_seed(4))
    detached, attached = _model(noise_factor=0.2).train(), _model(noise_factor=0.2, noise_scale="rms-attached").train()

    def noisy_and_grad(noisy_fn):
        code = base.clone().requires_grad_(True)
        torch.manual_seed(11)
        noisy = noisy_fn(code)
        return noisy.detach(), torch.autograd.grad((noisy - target).pow(2).sum(), code)[0]

    def manual_attached(code):
        return code + 0.2 ** 0.5 * models.code_rms_radius(code) * torch.randn_like(code)

    noisy_detached, grad_detached = noisy_and_grad(detached.perturb)
    noisy_attached, grad_attached = noisy_and_grad(attached.perturb)
    torch.testing.assert_close(noisy_attached, noisy_detached)  # same values: only the gradient differs
    torch.testing.assert_close(grad_attached, noisy_and_grad(manual_attached)[1])
    assert (grad_attached - grad_detached).abs().max() > 1e-2 * grad_detached.abs().max()
    # the difference is the term through R: (dL/dnoisy . eps) sqrt(c) dR/dcode, rank one in that sense
    torch.manual_seed(11)
    eps = torch.randn_like(base)
    code = base.clone().requires_grad_(True)
    radius_grad = torch.autograd.grad(models.code_rms_radius(code), code)[0]
    through_r = (2 * (noisy_detached - target) * eps).sum() * 0.2 ** 0.5 * radius_grad
    torch.testing.assert_close(grad_attached - grad_detached, through_r, rtol=1e-4, atol=1e-4)


def test_attached_r_has_no_noise_in_eval_mode_and_logs_r():
    model = _model(noise_factor=0.05, noise_scale="rms-attached")
    code = _codes(64)
    model.eval()
    assert torch.equal(model.perturb(code), code)
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model(x).z, model.encode(x))
    model.train()
    torch.manual_seed(3)
    noise = (model.perturb(code) - code).double()
    assert noise.pow(2).mean().item() == pytest.approx(0.05 * models.code_rms_radius(code).item() ** 2, rel=0.2)
    history = train.fit(model, x, epochs=2, batch_size=16, seed=0, device="cpu", progress=False)
    assert len(history.train["code_rms"]) == 2 and all(r > 0 for r in history.train["code_rms"])


@pytest.mark.parametrize("kwargs", [{"noise_factor": -0.1}, {"noise_scale": "std"}, {"noise_scale": 0.0},
                                    {"noise_scale": -1.0}, {"noise_scale": None}, {"noise_scale": "attached"},
                                    {"noise_scale": "RMS-attached"}, {"noise_scale": True},
                                    {"noise_scale": float("nan")}])
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        models.NoisyAE(latent_dim=4, hidden=(8,), **kwargs)
