"""Unit tests of vaecourse.quantize and the VQ-VAE: exact nearest codes, the straight-through identity,
which parameters each loss term moves, the EMA update against a hand computation, dead-code restarts."""

import math

import pytest
import torch

from vaecourse import quantize
from vaecourse.models import VQVAE


def generator(seed):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------ nearest codes
def test_nearest_codes_on_a_hand_made_case():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    z = torch.tensor([[0.1, -0.1], [0.9, 0.2], [0.2, 1.5], [0.5, 0.0]])  # the last is a tie: lower index wins
    assert quantize.nearest_codes(z, codebook).tolist() == [0, 1, 2, 0]


@pytest.mark.parametrize("n, k, d", [(1, 1, 1), (50, 7, 3), (200, 64, 16)])
def test_nearest_codes_match_brute_force(n, k, d):
    z = torch.randn(n, d, generator=generator(n), dtype=torch.float64)
    codebook = torch.randn(k, d, generator=generator(k), dtype=torch.float64)
    brute_force = ((z[:, None, :] - codebook[None, :, :]) ** 2).sum(-1).argmin(1)
    assert torch.equal(quantize.nearest_codes(z, codebook), brute_force)


def test_nearest_codes_never_allocate_an_n_by_k_by_d_tensor():
    n, k, d = 2048, 256, 64
    z, codebook = torch.randn(n, d, generator=generator(0)), torch.randn(k, d, generator=generator(1))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as profile:
        quantize.nearest_codes(z, codebook)
    largest = max((event.cpu_memory_usage for event in profile.events()), default=0)
    assert 0 < largest < n * k * d * 4 / 16  # the N x K distances (2 MiB) are fine; N x K x D (128 MiB) is not


def test_nearest_codes_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        quantize.nearest_codes(torch.zeros(5, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="codebook must be"):
        quantize.nearest_codes(torch.zeros(5, 2), torch.zeros(4))


# ------------------------------------------------------------------------- straight-through estimator
def test_straight_through_forward_is_f_and_gradient_is_the_upstream_gradient():
    a = torch.randn(4, 6, generator=generator(2), requires_grad=True)
    f_of_a = torch.round(a * 3) / 3  # a function with zero gradient almost everywhere
    b = quantize.straight_through(a, f_of_a)
    # a + (f(a) - a) is f(a) up to one rounding of the float32 sum (exactly f(a) where the
    # subtraction is exact, e.g. when f(a) and a are within a factor of 2 of each other).
    one_rounding = torch.finfo(a.dtype).eps * torch.maximum(a.abs(), f_of_a.abs()).detach()
    assert bool(((b - f_of_a).abs() <= one_rounding).all())
    upstream = torch.randn(4, 6, generator=generator(3))
    b.backward(upstream)
    assert torch.equal(a.grad, upstream)


# -------------------------------------------------------------------------------------- the layer
def test_each_loss_term_moves_only_its_own_parameters():
    torch.manual_seed(4)
    layer = quantize.VectorQuantizer(8, 3)
    z_e = torch.randn(2, 3, 4, 4, generator=generator(5), requires_grad=True)
    out = layer(z_e)
    grads = {}
    for name, term in [("codebook", out.codebook_loss.sum()), ("commitment", out.commitment_loss.sum()),
                       ("decoder path", (out.z_q * torch.randn_like(out.z_q)).sum())]:
        codebook_grad, z_grad = torch.autograd.grad(term, [layer.codebook, z_e], retain_graph=True, allow_unused=True)
        grads[name] = (codebook_grad is not None and bool(codebook_grad.abs().sum() > 0),
                       z_grad is not None and bool(z_grad.abs().sum() > 0))
    assert grads == {"codebook": (True, False), "commitment": (False, True), "decoder path": (False, True)}


def test_losses_are_squared_distances_to_the_chosen_codes():
    torch.manual_seed(6)
    layer = quantize.VectorQuantizer(5, 2)
    z_e = torch.randn(3, 2, generator=generator(7))
    out = layer(z_e)
    expected = ((z_e - layer.codebook[out.indices]) ** 2).sum(1)
    torch.testing.assert_close(out.codebook_loss, expected)
    torch.testing.assert_close(out.commitment_loss, expected)
    torch.testing.assert_close(out.z_q, layer.codebook[out.indices])


def test_ema_update_matches_a_hand_computation():
    torch.manual_seed(8)
    decay, epsilon = 0.9, 1e-5
    layer = quantize.VectorQuantizer(3, 2, ema=True, decay=decay, epsilon=epsilon)
    with torch.no_grad():
        layer.codebook.copy_(torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]]))
        layer.ema_sum.copy_(layer.codebook)
    z = torch.tensor([[0.1, 0.2], [-0.3, 0.1], [4.0, 6.0]])  # two inputs to code 0, one to code 1, none to code 2
    layer.train()
    layer(z)
    size = decay * torch.ones(3) + (1 - decay) * torch.tensor([2.0, 1.0, 0.0])  # counts start at 1
    total_sum = decay * torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]]) + (1 - decay) * torch.stack(
        [z[0] + z[1], z[2], torch.zeros(2)])
    smoothed = (size + epsilon) / (size.sum() + 3 * epsilon) * size.sum()
    torch.testing.assert_close(layer.ema_cluster_size, size)
    torch.testing.assert_close(layer.ema_sum, total_sum)
    torch.testing.assert_close(layer.codebook, total_sum / smoothed[:, None])
    # In evaluation mode nothing moves.
    before = layer.codebook.clone()
    layer.eval()
    layer(z)
    assert torch.equal(layer.codebook, before)


def train_ema_codebook_on_three_clusters(layer, steps=200):
    """Updates on 2-D data near 3 points within norm 1.6, which uses only a few of the codes."""
    centres = torch.tensor([[1.0, 0.5], [-0.8, 1.2], [0.3, -1.4]])
    data_generator = generator(12)
    layer.train()
    for _ in range(steps):
        batch = centres[torch.randint(3, (64,), generator=data_generator)]
        layer(batch + 0.05 * torch.randn(batch.shape, generator=data_generator))
    return centres


def codes_stay_near_the_data_and_choosable(layer, centres):
    """Every code within distance 2 of the origin (the data lie within norm 1.6 plus noise, the initial
    codes within 1/16) and each code is the nearest code to itself, so some input would choose it."""
    codebook = layer.codebook
    near = bool((codebook.norm(dim=1) < 2.0).all())
    choosable = torch.equal(quantize.nearest_codes(codebook, codebook), torch.arange(len(codebook)))
    return near and choosable


def test_ema_codebook_keeps_unused_codes_near_the_data():
    torch.manual_seed(11)
    layer = quantize.VectorQuantizer(16, 2, ema=True)
    centres = train_ema_codebook_on_three_clusters(layer)
    assert codes_stay_near_the_data_and_choosable(layer, centres)
    # the used codes sit on the clusters
    for centre in centres:
        assert (layer.codebook - centre).norm(dim=1).min() < 0.05


def test_ema_codebook_with_counts_started_at_zero_throws_unused_codes_away():
    # the negative control of the test above: the old initialisation (counts 0, sums at the codebook)
    torch.manual_seed(11)
    layer = quantize.VectorQuantizer(16, 2, ema=True)
    layer.ema_cluster_size.zero_()
    centres = train_ema_codebook_on_three_clusters(layer)
    assert not codes_stay_near_the_data_and_choosable(layer, centres)
    assert layer.codebook.norm(dim=1).max() > 100


def test_dead_codes_are_restarted_onto_encoder_outputs():
    torch.manual_seed(9)
    layer = quantize.VectorQuantizer(4, 2, restart_after=3)
    with torch.no_grad():
        layer.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [50.0, 50.0], [-50.0, 50.0]]))
    z = torch.tensor([[0.1, 0.0], [0.9, 0.1], [0.2, -0.1]])  # codes 2 and 3 are never chosen
    layer.train()
    for step in range(3):
        layer(z)
        if step < 2:
            assert int(layer.restarts) == 0
    assert int(layer.restarts) == 2
    assert torch.equal(layer.codebook[:2], torch.tensor([[0.0, 0.0], [1.0, 0.0]]))  # used codes untouched
    for restarted in layer.codebook[2:]:
        assert any(torch.equal(restarted, row) for row in z)


def test_usage_and_perplexity():
    assert quantize.code_usage(torch.tensor([[0, 0], [2, 0]]), 4).tolist() == [3.0, 0.0, 1.0, 0.0]
    assert float(quantize.perplexity(torch.ones(16))) == pytest.approx(16.0)
    assert float(quantize.perplexity(torch.tensor([5.0, 0.0, 0.0]))) == pytest.approx(1.0)
    counts = torch.tensor([1.0, 3.0])
    entropy = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert float(quantize.perplexity(counts)) == pytest.approx(math.exp(entropy))


def test_quantizer_refuses_bad_input():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        quantize.VectorQuantizer(4, 3)(torch.zeros(2, 5, 4, 4))
    with pytest.raises(ValueError, match="decay"):
        quantize.VectorQuantizer(4, 3, decay=1.0)
    with pytest.raises(ValueError, match="restart_after"):
        quantize.VectorQuantizer(4, 3, restart_after=0)


# ------------------------------------------------------------------------------------------ VQ-VAE
@pytest.mark.parametrize("ema", [False, True])
def test_vqvae_loss_terms(ema):
    torch.manual_seed(10)
    model = VQVAE(num_codes=16, code_dim=4, width=8, commitment_beta=0.5, ema=ema)
    x = torch.rand(5, 1, 28, 28, generator=generator(11))
    terms = model.loss_terms(x)
    assert set(terms) == {"loss", "nll", "codebook", "commitment", "perplexity"}
    assert all(t.shape == (5,) for t in terms.values())
    expected = terms["nll"] + 0.5 * terms["commitment"] + (0 if ema else terms["codebook"])
    torch.testing.assert_close(terms["loss"], expected)
    assert 1.0 <= float(terms["perplexity"][0]) <= 16.0
    indices = model.encode(x)
    assert indices.shape == (5, 7, 7) and indices.dtype == torch.long
    assert model.decode_indices(indices).mean.shape == (5, 1, 28, 28)
    terms["loss"].mean().backward()
    assert model.quantizer.codebook.grad is None if ema else model.quantizer.codebook.grad is not None


def test_vqvae_refuses_images_it_cannot_halve_twice():
    with pytest.raises(ValueError, match="multiples of 4"):
        VQVAE(image_shape=(1, 30, 30))
