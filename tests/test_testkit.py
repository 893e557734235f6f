"""Unit tests of vaecourse.testkit, the machinery of the assignments' hidden tests.

Each helper is checked on an input where a wrong helper would give a different answer: a sampler
that skipped, repeated or reordered noise, a ban that stayed in force or never raised, a reference
with a sign, a normalisation or an off-by-one wrong.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Beta

from vaecourse import testkit


def test_pooled_gaussian_hands_out_the_pool_in_order_then_refuses():
    loc, scale = torch.tensor([[1.0, -2.0]]), torch.tensor([[2.0, 0.5]])
    pool = torch.arange(16.0).reshape(8, 1, 2)  # 8 draws of batch (1,), event (2,)
    q = testkit.PooledGaussian(loc, scale, pool)
    first = q.rsample((3,))
    second = q.rsample((2,))
    torch.testing.assert_close(first, loc + scale * pool[:3])
    torch.testing.assert_close(second, loc + scale * pool[3:5])  # continues where the first call stopped
    assert q.used == 5 and q.expected == 2  # expected defaults to len(pool) // 4
    q.sample((3,))  # exactly the rest of the pool
    with pytest.raises(AssertionError, match=r"expected num_samples = 2, got 9 so far"):
        q.rsample((1,))


def test_pooled_gaussian_rsample_carries_the_gradient_and_sample_does_not():
    loc = torch.zeros(1, 2, requires_grad=True)
    pool = torch.ones(4, 1, 2)
    q = testkit.PooledGaussian(loc, torch.ones(1, 2), pool, expected=1)
    assert q.rsample((1,)).requires_grad
    assert not q.sample((1,)).requires_grad
    assert q.batch_shape == (1,) and q.event_shape == (2,)
    # its density is the Gaussian's: log_prob comes from Independent(Normal)
    torch.testing.assert_close(q.log_prob(torch.zeros(1, 2)), torch.tensor([-math.log(2 * math.pi)]))


def test_pooled_beta_samples_repeat_the_same_draws_and_restore_torch():
    state = torch.get_rng_state()
    with testkit.pooled_beta_samples(2.0, 3.0, 5, seed=7):
        a = torch.full((5,), 2.0, dtype=torch.float64)
        b = torch.full((5,), 3.0, dtype=torch.float64)
        first = Beta(a, b).rsample()
        rest = Beta(a[:3], b[:3]).rsample()
    assert torch.equal(torch.get_rng_state(), state)  # the pool was drawn without moving the global state
    with testkit.pooled_beta_samples(2.0, 3.0, 5, seed=7):
        again = Beta(torch.full((8,), 2.0, dtype=torch.float64), torch.full((8,), 3.0, dtype=torch.float64)).rsample()
    torch.testing.assert_close(torch.cat([first, rest]), again)  # in order, however the answer batches its draws
    assert bool(((first > 0) & (first < 1)).all()) and len(set(first.tolist())) == 5
    with testkit.pooled_beta_samples(2.0, 3.0, 5, seed=8):
        other_seed = Beta(a, b).rsample()
    assert not torch.equal(first, other_seed)
    # other concentrations go to torch; after the block torch samples again
    with testkit.pooled_beta_samples(2.0, 3.0, 5, seed=7):
        torch.manual_seed(0)
        elsewhere = Beta(torch.tensor([1.5], dtype=torch.float64), torch.tensor([1.5], dtype=torch.float64)).rsample()
    torch.manual_seed(0)
    torch.testing.assert_close(
        elsewhere, Beta(torch.tensor([1.5], dtype=torch.float64), torch.tensor([1.5], dtype=torch.float64)).rsample())
    torch.manual_seed(0)
    after = Beta(a, b).rsample()
    assert not torch.equal(after, first)


def test_pooled_dirichlet_refuses_more_than_four_times_num():
    sample = testkit.pooled_dirichlet(2.0, 3.0, 2, seed=0)
    alpha = torch.tensor([2.0, 3.0], dtype=torch.float64).expand(8, 2)
    assert sample(alpha).shape == (8, 2)
    with pytest.raises(AssertionError, match=r"expected num_samples = 2, got 9 so far"):
        sample(alpha[:1])


def test_pooled_beta_gradients_flow_through_the_pool():
    a_n = torch.full((4,), 2.0, dtype=torch.float64, requires_grad=True)
    b_n = torch.full((4,), 3.0, dtype=torch.float64, requires_grad=True)
    with testkit.pooled_beta_samples(2.0, 3.0, 4, seed=1):
        z = Beta(a_n, b_n).rsample()
    grad_a, grad_b = torch.autograd.grad(z.sum(), (a_n, b_n))
    assert bool((grad_a > 0).all()) and bool((grad_b < 0).all())  # more a, larger z; more b, smaller z


def test_functions_of_finds_methods_accessors_and_class_methods():
    class Model:
        def method(self):
            return 1

        @property
        def size(self):
            return 2

        @classmethod
        def make(cls):
            return cls()

        @staticmethod
        def helper():
            return 3

    found = testkit.functions_of(Model)
    assert {f.__name__ for f in found} == {"method", "size", "make", "helper"}
    with pytest.raises(AssertionError, match="no model"):  # every way in is refused
        with testkit.forbid(AssertionError("no model"), *found):
            Model.make()
    with pytest.raises(AssertionError, match="no model"):
        with testkit.forbid(AssertionError("no model"), *found):
            Model().size
    assert Model.make().size == 2 and Model.helper() == 3  # restored


def test_random_state_watch_sees_a_draw_and_only_a_draw():
    with testkit.RandomStateWatch() as quiet:
        torch.softmax(torch.ones(3), dim=0)
    assert quiet.changed is False
    with testkit.RandomStateWatch() as drawing:
        torch.rand(1)
    assert drawing.changed is True


def test_grad_or_zeros():
    x = torch.ones(2, requires_grad=True)
    torch.testing.assert_close(testkit.grad_or_zeros(x), torch.zeros(2))
    (3 * x).sum().backward()
    torch.testing.assert_close(testkit.grad_or_zeros(x), torch.full((2,), 3.0))


def test_diagonal_gaussian_kl_against_torch():
    loc_q, scale_q = torch.tensor([[0.5, -1.0], [2.0, 0.0]]), torch.tensor([[0.3, 2.0], [1.0, 1.0]])
    loc_p, scale_p = torch.tensor([1.0, 0.5]), torch.tensor([0.7, 1.5])
    expected = torch.distributions.kl_divergence(
        torch.distributions.Independent(torch.distributions.Normal(loc_q, scale_q), 1),
        torch.distributions.Independent(torch.distributions.Normal(loc_p, scale_p), 1))
    torch.testing.assert_close(testkit.diagonal_gaussian_kl(loc_q, scale_q, loc_p, scale_p), expected)
    assert float(testkit.diagonal_gaussian_kl(loc_p, scale_p, loc_p, scale_p)) == 0.0


def test_z_scores():
    estimate = torch.tensor([1.0, 2.0], requires_grad=True)
    assert testkit.z_scores(estimate, torch.tensor([0.0, 3.0]), torch.tensor([0.5, 2.0])) == [2.0, -0.5]


def test_beta_expectation_and_central_differences_match_closed_forms():
    a, b = 2.0, 3.0
    assert testkit.beta_expectation(lambda z: z, a, b) == pytest.approx(a / (a + b), abs=1e-11)
    assert testkit.beta_expectation(lambda z: z * z, a, b) == pytest.approx(a * (a + 1) / ((a + b) * (a + b + 1)), abs=1e-11)
    gradient = testkit.central_differences(lambda s, t: s / (s + t), a, b, 1e-5)
    torch.testing.assert_close(gradient, torch.tensor([b, -a], dtype=torch.float64) / (a + b) ** 2, rtol=0, atol=1e-9)
    # the order is [d/da, d/db]: a function of a only has a zero second entry
    assert testkit.central_differences(lambda s, t: s**2, a, b, 1e-4).tolist() == pytest.approx([4.0, 0.0])


def test_beta_gradient_estimators_are_unbiased_with_their_own_spreads():
    torch.manual_seed(0)
    a, b, num = 2.0, 3.0, 40_000
    pathwise, z = testkit.beta_pathwise_gradients(a, b, lambda z: z, num)
    score = testkit.beta_score_function_gradients(a, b, lambda z: z, z)
    exact = torch.tensor([b, -a], dtype=torch.float64) / (a + b) ** 2
    for estimator in (pathwise, score):
        assert estimator.shape == (num, 2)
        z_scores = testkit.z_scores(estimator.mean(0), exact, estimator.std(0) / math.sqrt(num))
        assert all(abs(v) < 5 for v in z_scores), z_scores
    assert bool((score.std(0) > 1.5 * pathwise.std(0)).all())  # why the stderr test tells them apart
    spread = testkit.beta_pathwise_spread(a, b, lambda z: z, 40_000, seed=3)
    assert spread.tolist() == pytest.approx(pathwise.std(0).tolist(), rel=0.05)
    state = torch.get_rng_state()
    testkit.beta_pathwise_spread(a, b, lambda z: z, 100, seed=3)
    assert torch.equal(torch.get_rng_state(), state)


def test_reference_discretize_is_np_histogram():
    codes = np.stack([np.arange(11.0), np.linspace(-1, 1, 11) ** 3], axis=1)
    binned = testkit.reference_discretize(codes, 5)
    assert binned[:, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]  # the maximum in the last bin
    for j in range(2):
        assert np.bincount(binned[:, j], minlength=5).tolist() == np.histogram(codes[:, j], bins=5)[0].tolist()


def test_reference_mig_on_codes_with_known_answers():
    grid = np.stack(np.meshgrid(np.arange(2), np.arange(8), indexing="ij"), axis=-1).reshape(-1, 2)
    factors = np.repeat(grid, 5, axis=0)  # independent factors with 2 and 8 values
    copied = factors.astype(float)
    assert testkit.reference_mig(copied, factors) == pytest.approx(1.0)
    # without H(v) the gaps are the factors' entropies in nats
    unnormalised = testkit.reference_mig_gaps(copied, factors, normalise=False)
    assert unnormalised.tolist() == pytest.approx([math.log(2), math.log(8)])
    # a duplicated code leaves its factor no gap; a code without factor 1 leaves factor 1 none either
    duplicated = np.concatenate([copied, copied[:, :1]], axis=1)
    assert testkit.reference_mig_gaps(duplicated, factors).tolist() == pytest.approx([0.0, 1.0])
    constant = np.concatenate([copied[:, :1], np.zeros((len(factors), 1))], axis=1)
    assert testkit.reference_mig_gaps(constant, factors).tolist() == pytest.approx([1.0, 0.0])


def test_forbid_catches_the_function_under_any_name_and_restores_it():
    import functools

    import torch.distributions as distributions
    from torch.distributions import kl_divergence as alias  # bound before the ban, as an answer cell would

    p = distributions.Normal(torch.tensor(0.0), torch.tensor(1.0))
    q = distributions.Normal(torch.tensor(1.0), torch.tensor(2.0))
    expected = distributions.kl_divergence(q, p)
    partial = functools.partial(alias, q)
    error = AssertionError("no library KL, please")
    for call in (lambda: alias(q, p), lambda: partial(p), lambda: distributions.kl.kl_divergence(q, p)):
        with pytest.raises(AssertionError, match="no library KL"):
            with testkit.forbid(error, distributions.kl_divergence):
                call()
    assert torch.equal(alias(q, p), expected)  # restored


def test_forbid_control_a_module_patch_misses_the_alias():
    # The negative control: a module attribute patch (unittest.mock) lets an alias made before it through.
    from unittest import mock

    import torch.distributions as distributions
    from torch.distributions import kl_divergence as alias

    p = distributions.Normal(torch.tensor(0.0), torch.tensor(1.0))
    with mock.patch("torch.distributions.kl_divergence", side_effect=AssertionError("banned")):
        assert torch.isfinite(alias(p, p))  # not caught


def test_forbid_keeps_closures_working_after_and_restores_after_an_error():
    def make_adder(k):
        def add(x):
            return x + k
        return add

    add = make_adder(3)
    with pytest.raises(RuntimeError, match="inside"):
        with testkit.forbid(AssertionError("forbidden"), add):
            with pytest.raises(AssertionError, match="forbidden"):
                add(1)
            raise RuntimeError("inside")
    assert add(1) == 4  # its code and closure are back


def test_forbid_fails_the_block_when_the_forbidden_call_was_caught():
    # an answer that tries the library first and falls back on its own code on failure
    def sneaky(x):
        try:
            return torch.logsumexp(x, 0)
        except AssertionError:
            return torch.logsumexp(x, 0)

    with pytest.raises(AssertionError, match="forbidden"):
        with testkit.forbid(AssertionError("forbidden"), torch.logsumexp):
            sneaky(torch.zeros(3))


def _logsumexp_calls():
    import functools

    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    alias = torch.logsumexp
    return {"torch.logsumexp": lambda: torch.logsumexp(x, 0), "an alias": lambda: alias(x, 0),
            "the method": lambda: x.logsumexp(0), "Tensor.logsumexp": lambda: torch.Tensor.logsumexp(x, 0),
            "a partial of the bound method (called from C)": lambda: functools.partial(x.logsumexp)(0),
            "map (called from C)": lambda: list(map(functools.partial(torch.logsumexp, dim=0), [x])),
            "torch.special.logsumexp": lambda: torch.special.logsumexp(x, 0)}


@pytest.mark.parametrize("how", list(_logsumexp_calls()))
def test_forbid_catches_torch_builtins_however_called(how):
    call = _logsumexp_calls()[how]
    with pytest.raises(AssertionError, match="no logsumexp"):
        with testkit.forbid(AssertionError("no logsumexp"), torch.logsumexp, torch.Tensor.logsumexp,
                            torch.special.logsumexp):
            call()
    call()  # allowed again after the block


def test_forbid_control_other_torch_functions_still_run_and_the_profile_hook_is_restored():
    import sys

    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    before = sys.getprofile()
    with testkit.forbid(AssertionError("no logsumexp"), torch.logsumexp, torch.Tensor.logsumexp):
        own = x.exp().sum(0).log()
        softplus = torch.nn.functional.softplus(x)
    assert torch.allclose(own, torch.logsumexp(x, 0)) and softplus.shape == x.shape
    assert sys.getprofile() is before


def test_forbid_catches_other_builtins_called_from_python():
    import math

    with pytest.raises(AssertionError, match="no fsum"):
        with testkit.forbid(AssertionError("no fsum"), math.fsum):
            math.fsum([0.1, 0.2])
    assert math.fsum([0.5, 0.5]) == 1.0


def test_forbid_refuses_what_it_cannot_catch():
    with pytest.raises(TypeError, match="functions and builtins, got 'len'"):
        with testkit.forbid(AssertionError("x"), "len"):
            pass


def test_chosen_distances_against_hand_counts_and_unusable_answers():
    z = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    codebook = torch.tensor([[1.0, 0.0], [3.0, 3.0]])
    got = testkit.chosen_distances(z, codebook, torch.tensor([0, 1]))
    assert got.dtype == torch.float64 and got.tolist() == [1.0, 1.0]  # |(0,0)-(1,0)|^2, |(3,4)-(3,3)|^2
    for unusable in (torch.tensor([0, 2]), torch.tensor([0.0, 1.0]), torch.tensor([[0, 1]]), [0, 1]):
        assert torch.isnan(testkit.chosen_distances(z, codebook, unusable)).all(), unusable
