# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "q3-header", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # q3 · Priors beyond the Gaussian: Monte Carlo KL, Gumbel-softmax, Beta gradients and the decoder's reshaping
#
# Homework Question 3 asks why the latent space of a VAE is typically Gaussian, "apart from
# simplifying computations", and whether other distributions are used in practice. The usual answer
# lists the closed-form KL, the reparameterisation trick $z = \mu + \sigma \odot \varepsilon$ and the
# central limit theorem. In this assignment you test those reasons by writing the tools that make
# other latents trainable: a Monte Carlo KL with its standard error (for a mixture prior, where no
# closed form exists), a Gumbel-softmax sample (discrete latents), a pathwise gradient through a
# Beta sample, checked against finite differences of the exact expectation, and the map that turns
# $\mathcal N(0, 1)$ into an exponential distribution (what a decoder can do to a Gaussian prior).
# Then you answer Question 3 in writing. Lecture notebook 07 trains VAEs with these priors. Nothing is
# trained here; every cell runs in about a second.
#
# | task | what you do | points | graded |
# | --- | --- | --- | --- |
# | 1 | `monte_carlo_kl`: KL(q ‖ p) by sampling, with its standard error, against a Gaussian closed form | 2 | automatically |
# | 1 | `monte_carlo_kl` against a mixture prior (no closed form): bounds and a long-run reference | 1 | automatically |
# | 2 | `gumbel_softmax_sample`: the relaxed one-hot sample from given uniform noise | 2 | automatically |
# | 2 | `gumbel_softmax_sample`: its argmax is a categorical draw; temperature limits; gradients | 1 | automatically |
# | 3 | `pathwise_gradient`: gradient of $\mathbb E_{\mathrm{Beta}(a, b)}[f(z)]$ through `rsample`, against finite differences | 2 | automatically |
# | 3 | `pathwise_gradient`: its standard error is that of the pathwise estimator | 1 | automatically |
# | 4 | `normal_to_exponential`: the inverse-CDF map from $\mathcal N(0, 1)$ to an exponential, stable in the tails | 2 | automatically |
# | 5 | Q3, part 1: why Gaussian latents? Which of the usual reasons hold (written answer) | 4 | by hand |
# | 6 | Q3, part 2: which other latent distributions are used in practice (written answer) | 4 | by hand |
# | | **total** | **19** | |
#
# **Rules**
# - Write code only where the notebook says `# YOUR CODE HERE`, and delete the
#   `raise NotImplementedError()` line below it. Write prose where it says "YOUR ANSWER HERE".
# - Do not edit, delete or move the read-only cells and the test cells: the grader restores them from
#   its own copy before grading. The test cells you see hold the *visible* tests; more (hidden) tests
#   run when your notebook is graded.
# - **Time limit:** the grader stops any cell that runs longer than **120 seconds**, and that cell earns
#   no points.
# - **Before submitting: restart the kernel and run all cells** (Kernel → Restart Kernel and Run All
#   Cells) and check that no cell raises. The grader runs your notebook from top to bottom in a fresh
#   kernel, so a result that depends on cells run out of order will not reproduce.
# - Some tests compare a Monte Carlo estimate with an exact value. They allow 5 standard errors, so a
#   correct answer fails them with a probability below one in a million, whatever random numbers it
#   draws; a failure means a wrong estimate or a wrong standard error.

# %% nbgrader={"grade": false, "grade_id": "q3-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import torch
from torch.distributions import Beta, Categorical, Independent, MixtureSameFamily, Normal

import vaecourse as vc

device = vc.setup_notebook(seed=0)


# %% [markdown] nbgrader={"grade": false, "grade_id": "q3-mckl-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 1 · The KL divergence by Monte Carlo, with its standard error (3 points)
#
# The KL term of the ELBO is an expectation under the encoder's $q(z \mid x)$:
#
# $$
# \mathrm{KL}(q \,\|\, p) = \mathbb E_{z \sim q}\big[\log q(z) - \log p(z)\big]
# \approx \frac1N \sum_{n=1}^N \underbrace{\big(\log q(z_n) - \log p(z_n)\big)}_{r_n},
# \qquad z_n \sim q .
# $$
#
# For a Gaussian $q$ and the prior $\mathcal N(0, I)$ the expectation has a closed form, which is the
# first reason usually given for Gaussian latents. For a *mixture* prior
# $p(z) = \sum_k \pi_k \mathcal N(z; m_k, \operatorname{diag} s_k^2)$ it has none, and
# `torch.distributions.kl_divergence` raises `NotImplementedError`. The Monte Carlo average works for
# any pair whose densities you can evaluate, and it comes with its own error bar: the **standard
# error** $\mathrm{sd}(r_1, \dots, r_N) / \sqrt N$.
#
# Implement `monte_carlo_kl(q, p, num_samples)`. `q` and `p` are `torch.distributions` objects with
# the same event shape `(d,)`; `q` may carry a batch shape `(B,)` (one posterior per example) and `p`
# may have batch shape `()` (one prior for all), so `log_prob` broadcasts. Draw `num_samples` samples
# with `q.rsample`, so that the estimate stays differentiable with respect to the parameters of `q`,
# and return `(estimate, stderr)`, each of shape `(B,)` (the batch shape of `q`): the mean of the
# $r_n$ and their sample standard deviation divided by $\sqrt N$. Do not call
# `torch.distributions.kl_divergence` or `vc.priors.monte_carlo_kl`: the hidden tests switch them off
# while your function runs, and they check your standard error against the true spread of the $r_n$.

# %% nbgrader={"grade": false, "grade_id": "q3-mckl-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def monte_carlo_kl(q, p, num_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte Carlo estimate of KL(q || p) = E_q[log q(z) - log p(z)] and its standard error.

    Parameters
    ----------
    q : torch.distributions.Distribution, batch shape (B,) (or ()), event shape (d,)
        The distribution the expectation is taken under; must support ``rsample``.
    p : torch.distributions.Distribution, event shape (d,), batch shape broadcastable to q's
        The other distribution; only ``p.log_prob`` is used.
    num_samples : int
        Number N of samples z_n ~ q, at least 2.

    Returns
    -------
    estimate : torch.Tensor, shape (B,)
        The mean of r_n = log q(z_n) - log p(z_n) over the N samples, in nats; differentiable with
        respect to q's parameters.
    stderr : torch.Tensor, shape (B,)
        The sample standard deviation of the r_n divided by sqrt(N).
    """
    ### BEGIN SOLUTION
    z = q.rsample((num_samples,))  # (N, B, d)
    log_ratio = q.log_prob(z) - p.log_prob(z)  # (N, B)
    return log_ratio.mean(dim=0), log_ratio.std(dim=0) / math.sqrt(num_samples)
    ### END SOLUTION


# %%
# Try it (not graded): a Gaussian q against N(0, I), where torch knows the closed form, and against a
# mixture of three Gaussians, where it does not.
q_try_kl = Independent(Normal(torch.tensor([[0.0, 0.0], [1.0, -1.0]]), torch.tensor([[1.0, 1.0], [0.5, 0.3]])), 1)
p_try_kl = Independent(Normal(torch.zeros(2), torch.ones(2)), 1)
torch.manual_seed(1)
estimate_try_kl, stderr_try_kl = monte_carlo_kl(q_try_kl, p_try_kl, 10_000)
print(f"estimate shape: {tuple(estimate_try_kl.shape)}, stderr shape: {tuple(stderr_try_kl.shape)}")
print("Monte Carlo KL (nats):", [f"{e:.4f} ± {s:.4f}" for e, s in zip(estimate_try_kl.tolist(), stderr_try_kl.tolist())])
print("closed form (nats):   ", [round(v, 4) for v in torch.distributions.kl_divergence(q_try_kl, p_try_kl).tolist()])
mixture_try_kl = MixtureSameFamily(Categorical(probs=torch.tensor([0.5, 0.3, 0.2])),
                                   Independent(Normal(torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]]), torch.ones(3, 2)), 1))
try:
    torch.distributions.kl_divergence(q_try_kl, mixture_try_kl)
except NotImplementedError:
    print("kl_divergence(q, mixture) raises NotImplementedError: no closed form")
estimate_try_mix, stderr_try_mix = monte_carlo_kl(q_try_kl, mixture_try_kl, 10_000)
print("Monte Carlo KL to the mixture (nats):",
      [f"{e:.4f} ± {s:.4f}" for e, s in zip(estimate_try_mix.tolist(), stderr_try_mix.tolist())])

# %% nbgrader={"grade": true, "grade_id": "q3-mckl-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""monte_carlo_kl agrees with the closed-form Gaussian KL within 5 standard errors, and its standard error is right."""
gen_q3k = torch.Generator().manual_seed(301)
loc_q3k = torch.randn(3, 4, generator=gen_q3k, dtype=torch.float64)
scale_q3k = torch.exp(0.5 * torch.randn(3, 4, generator=gen_q3k, dtype=torch.float64))
q_q3k = Independent(Normal(loc_q3k, scale_q3k), 1)
p_q3k = Independent(Normal(torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)), 1)
exact_q3k = 0.5 * (scale_q3k**2 + loc_q3k**2 - 1 - 2 * torch.log(scale_q3k)).sum(-1)
torch.manual_seed(302)
result_q3k = monte_carlo_kl(q_q3k, p_q3k, 4000)
kind_q3k = type(result_q3k).__name__ + (f" of length {len(result_q3k)}" if isinstance(result_q3k, tuple) else "")
assert isinstance(result_q3k, tuple) and len(result_q3k) == 2, (
    f"the result of monte_carlo_kl: expected a pair (estimate, stderr), got a {kind_q3k}. "
    "Hint: end with return estimate, stderr")
estimate_q3k, stderr_q3k = result_q3k
assert isinstance(estimate_q3k, torch.Tensor) and isinstance(stderr_q3k, torch.Tensor), (
    f"estimate and stderr: expected two torch.Tensors, got {type(estimate_q3k).__name__} and "
    f"{type(stderr_q3k).__name__}. Hint: keep the results as tensors (no .item() or float(...))")
assert tuple(estimate_q3k.shape) == (3,) and tuple(stderr_q3k.shape) == (3,), (
    f"the shapes of estimate and stderr for q of batch shape (3,): expected (3,) and (3,), got "
    f"{tuple(estimate_q3k.shape)} and {tuple(stderr_q3k.shape)}. Hint: average over the samples (dim=0) only; "
    "log_prob already sums over the event")
assert bool((stderr_q3k > 0).all()), (
    f"the standard errors: expected positive values, got {stderr_q3k.tolist()}. Hint: the standard error of a Monte "
    "Carlo average is the sample standard deviation of the r_n divided by sqrt(num_samples)")
z_scores_q3k = ((estimate_q3k.detach() - exact_q3k) / stderr_q3k.detach()).tolist()
assert all(abs(v) < 5 for v in z_scores_q3k), (
    f"the estimate against N(0, I): expected within 5 standard errors {stderr_q3k.tolist()} of the closed-form KL "
    f"{exact_q3k.tolist()}, got {estimate_q3k.tolist()} (z-scores {z_scores_q3k}). Hint: average log q(z) - log p(z) "
    "(in that order) over z drawn from q, not from p")
# Under q, with z = m + s e, each dimension adds (s^2 - 1) / 2 e^2 + m s e to r: Var(r) = sum of 2 c^2 + b^2.
sd_exact_q3k = torch.sqrt((2 * ((scale_q3k**2 - 1) / 2) ** 2 + (loc_q3k * scale_q3k) ** 2).sum(-1))
spread_ratio_q3k = (stderr_q3k.detach() * math.sqrt(4000) / sd_exact_q3k).tolist()
assert all(0.9 < v < 1.1 for v in spread_ratio_q3k), (
    f"stderr * sqrt(N), the standard deviation of log q(z) - log p(z) under q: expected {sd_exact_q3k.tolist()}, got "
    f"{(stderr_q3k.detach() * math.sqrt(4000)).tolist()}. Hint: the standard error is the sample standard deviation of "
    "the r_n divided by sqrt(num_samples), not by num_samples")
# With z = m + s e and p = N(0, I), the gradient of the estimate with respect to m is the mean of the z_n:
# m + s e_bar, within 5 / sqrt(N) standard deviations of the gradient of the KL, m.
loc_grad_q3k = loc_q3k.clone().requires_grad_()
estimate_grad_q3k = monte_carlo_kl(Independent(Normal(loc_grad_q3k, scale_q3k), 1), p_q3k, 4000)[0]
vc.grading.assert_equal(bool(getattr(estimate_grad_q3k, "requires_grad", False)), True,
                        what="estimate.requires_grad for a q whose mean requires grad",
                        hint="keep the estimate a torch expression of z = q.rsample(...): no .detach() or .item()")
grad_q3k = torch.autograd.grad(estimate_grad_q3k.sum(), loc_grad_q3k)[0]
vc.grading.assert_close(grad_q3k, loc_q3k, rtol=0, atol=5 * scale_q3k.max().item() / math.sqrt(4000),
                        what="the gradient of the summed estimate with respect to q's mean (the KL's gradient is "
                             "the mean itself for p = N(0, I))",
                        hint="draw the samples with q.rsample, not q.sample: samples from q.sample do not move with "
                             "q's mean, and the gradient loses its pathwise term")
print("monte_carlo_kl against the Gaussian closed form: visible tests passed")
### BEGIN HIDDEN TESTS
import math

import torch
from torch.distributions import Independent, Normal

import vaecourse as vc
from vaecourse import testkit

# q: batch (6,), d = 5; p: a non-standard diagonal Gaussian shared by the batch. Under q, with
# z = m1 + s1 e, r = const + c e^2 + b e per dimension, so Var(r) = sum over dims of 2 c^2 + b^2.
gen_q3kh = torch.Generator().manual_seed(311)
loc_q_q3kh = torch.randn(6, 5, generator=gen_q3kh, dtype=torch.float64)
scale_q_q3kh = torch.exp(0.4 * torch.randn(6, 5, generator=gen_q3kh, dtype=torch.float64))
loc_p_q3kh = 0.5 * torch.randn(5, generator=gen_q3kh, dtype=torch.float64)
scale_p_q3kh = torch.exp(0.3 * torch.randn(5, generator=gen_q3kh, dtype=torch.float64))
loc_grad_q3kh = loc_q_q3kh.clone().requires_grad_()
q_q3kh = Independent(Normal(loc_grad_q3kh, scale_q_q3kh), 1)
p_q3kh = Independent(Normal(loc_p_q3kh, scale_p_q3kh), 1)
num_q3kh = 5000
# The same q, and the visible q rebuilt from its seed, with noise from fixed pools (for the records).
gen_pool_q3kh = torch.Generator().manual_seed(313)
loc_pooled_q3kh = loc_q_q3kh.clone().requires_grad_()
q_pooled_q3kh = testkit.PooledGaussian(loc_pooled_q3kh, scale_q_q3kh,
                                       torch.randn(4 * num_q3kh, 6, 5, generator=gen_pool_q3kh, dtype=torch.float64))
gen_visible_q3kh = torch.Generator().manual_seed(301)
loc_visible_q3kh = torch.randn(3, 4, generator=gen_visible_q3kh, dtype=torch.float64)
scale_visible_q3kh = torch.exp(0.5 * torch.randn(3, 4, generator=gen_visible_q3kh, dtype=torch.float64))
q_visible_pooled_q3kh = testkit.PooledGaussian(loc_visible_q3kh, scale_visible_q3kh,
                                               torch.randn(4 * 4000, 3, 4, generator=gen_pool_q3kh, dtype=torch.float64))
p_visible_q3kh = Independent(Normal(torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)), 1)
no_reference_q3kh = AssertionError(
    "monte_carlo_kl called a library KL: expected your own average, got a call of kl_divergence or "
    "vc.priors.monte_carlo_kl. Hint: average log q(z) - log p(z) over z = q.rsample((num_samples,)) yourself")
with testkit.forbid(no_reference_q3kh, torch.distributions.kl.kl_divergence,
                    *set(torch.distributions.kl._KL_REGISTRY.values()), vc.priors.monte_carlo_kl):
    torch.manual_seed(312)
    estimate_q3kh, stderr_q3kh = monte_carlo_kl(q_q3kh, p_q3kh, num_q3kh)
    estimate_pooled_q3kh, stderr_pooled_q3kh = monte_carlo_kl(q_pooled_q3kh, p_q3kh, num_q3kh)
    estimate_visible_q3kh, stderr_visible_q3kh = monte_carlo_kl(q_visible_pooled_q3kh, p_visible_q3kh, 4000)
if isinstance(estimate_pooled_q3kh, torch.Tensor) and estimate_pooled_q3kh.requires_grad:
    estimate_pooled_q3kh.sum().backward()
grad_pooled_q3kh = testkit.grad_or_zeros(loc_pooled_q3kh)
hint_estimate_q3kh = ("the mean over the samples (dim=0) of q.log_prob(z) - p.log_prob(z), with z = "
                      "q.rsample((num_samples,)): samples from q, log q minus log p")
hint_stderr_q3kh = "the standard deviation of the r_n over the samples divided by sqrt(num_samples), not by num_samples"
vc.grading.record("KL estimate on a hidden q (6 x 5) against a hidden Gaussian p, fixed noise", estimate_pooled_q3kh,
                  rtol=1e-10, atol=1e-10, hint=hint_estimate_q3kh)
# rtol 0.1, the band of the test below: it accepts N or N - 1 in the standard deviation, and a standard error
# taken from a second draw of num_samples samples
vc.grading.record("standard error on the hidden q, fixed noise", stderr_pooled_q3kh, rtol=0.1, atol=0,
                  hint=hint_stderr_q3kh)
vc.grading.record("gradient of the summed estimate with respect to q's mean, fixed noise", grad_pooled_q3kh,
                  rtol=1e-10, atol=1e-10,
                  hint="draw the samples with q.rsample (not q.sample) so that they move with q's mean")
vc.grading.record("KL estimate on the visible q (3 x 4), fixed noise", estimate_visible_q3kh, rtol=1e-10, atol=1e-10,
                  hint=hint_estimate_q3kh)
vc.grading.record("standard error on the visible q, fixed noise", stderr_visible_q3kh, rtol=0.1, atol=0,
                  hint=hint_stderr_q3kh)
exact_q3kh = testkit.diagonal_gaussian_kl(loc_q_q3kh, scale_q_q3kh, loc_p_q3kh, scale_p_q3kh)
c_q3kh = scale_q_q3kh**2 / (2 * scale_p_q3kh**2) - 0.5
b_q3kh = (loc_q_q3kh - loc_p_q3kh) * scale_q_q3kh / scale_p_q3kh**2
sd_exact_q3kh = torch.sqrt((2 * c_q3kh**2 + b_q3kh**2).sum(-1))
assert tuple(estimate_q3kh.shape) == (6,) and tuple(stderr_q3kh.shape) == (6,), (
    f"the shapes of estimate and stderr for q of batch shape (6,): expected (6,) and (6,), got "
    f"{tuple(estimate_q3kh.shape)} and {tuple(stderr_q3kh.shape)}. Hint: average over the samples (dim=0) only")
spread_ratio_q3kh = (stderr_q3kh.detach() * math.sqrt(num_q3kh) / sd_exact_q3kh).tolist()
assert all(0.9 < v < 1.1 for v in spread_ratio_q3kh), (
    f"stderr * sqrt(N), the standard deviation of log q(z) - log p(z) under q: expected {sd_exact_q3kh.tolist()}, "
    f"got {(stderr_q3kh.detach() * math.sqrt(num_q3kh)).tolist()} (ratios {spread_ratio_q3kh}). "
    "Hint: did you divide the standard deviation by sqrt(num_samples), not by num_samples, and use num_samples samples?")
z_scores_q3kh = testkit.z_scores(estimate_q3kh, exact_q3kh, stderr_q3kh)
assert all(abs(v) < 5 for v in z_scores_q3kh), (
    f"the estimate against a non-standard Gaussian p: expected within 5 standard errors of the closed form "
    f"{exact_q3kh.tolist()}, got {estimate_q3kh.tolist()} (z-scores {z_scores_q3kh}). Hint: {hint_estimate_q3kh}")
assert estimate_q3kh.requires_grad, (
    "estimate.requires_grad: expected True, got False: the estimate is cut off from q's parameters. "
    "Hint: sample with q.rsample (not q.sample) and avoid .detach()/.item()")
estimate_q3kh.sum().backward()
assert loc_grad_q3kh.grad is not None and bool(torch.isfinite(loc_grad_q3kh.grad).all()), (
    f"the gradient of the estimate with respect to q's mean: expected finite values, got {loc_grad_q3kh.grad}. "
    "Hint: compute the estimate from z = q.rsample(...) with torch operations")
# With z = m1 + s1 e the pathwise gradient of the estimate is mean_n (z_n - m2) / s2^2 = (m1 - m2) / s2^2 + s1 e_bar / s2^2,
# e_bar ~ N(0, 1/N): within 5 of its standard deviations of the exact gradient of the KL, (m1 - m2) / s2^2.
grad_exact_q3kh = (loc_q_q3kh - loc_p_q3kh) / scale_p_q3kh**2
grad_sd_q3kh = scale_q_q3kh / scale_p_q3kh**2 / math.sqrt(num_q3kh)
assert bool(((loc_grad_q3kh.grad - grad_exact_q3kh).abs() < 5 * grad_sd_q3kh).all()), (
    f"the gradient of the estimate with respect to q's mean (first example): expected the gradient of the KL "
    f"{grad_exact_q3kh[0].tolist()} within 5 standard deviations, got {loc_grad_q3kh.grad[0].tolist()}. Hint: draw "
    "the samples with q.rsample: with q.sample the samples do not move with q's parameters and the gradient misses "
    "the pathwise term")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q3-mckl-mixture-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Against a mixture prior (no closed form) monte_carlo_kl lies between the bounds and agrees with a long-run reference."""
# KL(q || sum_k pi_k p_k) has two bounds in closed form:
#   upper: log is concave, so log sum_k pi_k p_k(z) >= sum_k pi_k log p_k(z): KL <= sum_k pi_k KL(q || p_k);
#   lower: E_q[log p(z)] <= log E_q[p(z)] (Jensen), and E_q[p_k(z)] = N(mean_q; m_k, var_q + s_k^2) per dimension.
gen_q3m = torch.Generator().manual_seed(321)
loc_q3m = torch.randn(4, 2, generator=gen_q3m, dtype=torch.float64)
scale_q3m = torch.exp(0.5 * torch.randn(4, 2, generator=gen_q3m, dtype=torch.float64))
means_q3m = 2 * torch.randn(3, 2, generator=gen_q3m, dtype=torch.float64)
scales_q3m = torch.exp(0.3 * torch.randn(3, 2, generator=gen_q3m, dtype=torch.float64))
weights_q3m = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
q_q3m = Independent(Normal(loc_q3m, scale_q3m), 1)
p_q3m = MixtureSameFamily(Categorical(probs=weights_q3m), Independent(Normal(means_q3m, scales_q3m), 1))
kl_to_components_q3m = (torch.log(scales_q3m / scale_q3m[:, None])
                        + (scale_q3m[:, None] ** 2 + (loc_q3m[:, None] - means_q3m) ** 2) / (2 * scales_q3m**2) - 0.5).sum(-1)
upper_q3m = (weights_q3m * kl_to_components_q3m).sum(-1)
overlap_q3m = Independent(Normal(means_q3m, torch.sqrt(scale_q3m[:, None] ** 2 + scales_q3m**2)), 1).log_prob(loc_q3m[:, None])
lower_q3m = (-q_q3m.entropy() - torch.logsumexp(torch.log(weights_q3m) + overlap_q3m, dim=-1)).clamp_min(0.0)
torch.manual_seed(322)
result_q3m = monte_carlo_kl(q_q3m, p_q3m, 20_000)
assert isinstance(result_q3m, tuple) and len(result_q3m) == 2 and all(isinstance(t, torch.Tensor) for t in result_q3m), (
    f"the result of monte_carlo_kl: expected a pair of tensors (estimate, stderr), got {type(result_q3m).__name__}. "
    "Hint: return estimate, stderr, both tensors of the batch shape of q")
estimate_q3m, stderr_q3m = result_q3m[0].detach(), result_q3m[1].detach()
assert tuple(estimate_q3m.shape) == (4,), (
    f"the shape of the estimate for q of batch shape (4,) against a mixture of batch shape (): expected (4,), got "
    f"{tuple(estimate_q3m.shape)}. Hint: p.log_prob(z) broadcasts to q's batch shape; average over dim=0 only")
inside_q3m = bool(((estimate_q3m >= lower_q3m - 5 * stderr_q3m) & (estimate_q3m <= upper_q3m + 5 * stderr_q3m)).all())
assert inside_q3m, (
    f"the estimates against the mixture: expected within 5 standard errors of the bounds [{lower_q3m.tolist()}, "
    f"{upper_q3m.tolist()}], got {estimate_q3m.tolist()}. Hint: evaluate the mixture with p.log_prob (it mixes the "
    "component densities, not their logs)")
# The spread of the log-ratios under q, from 20,000 draws of this cell's own
z_check_q3m = loc_q3m + scale_q3m * torch.randn(20_000, 4, 2, generator=gen_q3m, dtype=torch.float64)
spread_q3m = (q_q3m.log_prob(z_check_q3m) - p_q3m.log_prob(z_check_q3m)).std(0)
spread_ratio_q3m = (stderr_q3m * math.sqrt(20_000) / spread_q3m).tolist()
assert all(0.85 < v < 1.15 for v in spread_ratio_q3m), (
    f"stderr * sqrt(N) against the mixture: expected about the spread of log q(z) - log p(z) under q, "
    f"{[round(v, 4) for v in spread_q3m.tolist()]}, got {(stderr_q3m * math.sqrt(20_000)).tolist()}. Hint: the "
    "standard error is the sample standard deviation of the r_n divided by sqrt(num_samples)")
print("lower bound (nats):", [round(v, 3) for v in lower_q3m.tolist()])
print("estimate (nats):   ", [round(v, 3) for v in estimate_q3m.tolist()])
print("upper bound (nats):", [round(v, 3) for v in upper_q3m.tolist()])
print("monte_carlo_kl against a mixture prior: visible tests passed")
### BEGIN HIDDEN TESTS
import math

import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

import vaecourse as vc
from vaecourse import testkit

gen_q3mh = torch.Generator().manual_seed(331)
loc_q3mh = torch.randn(5, 3, generator=gen_q3mh, dtype=torch.float64)
scale_q3mh = torch.exp(0.5 * torch.randn(5, 3, generator=gen_q3mh, dtype=torch.float64))
means_q3mh = 2 * torch.randn(4, 3, generator=gen_q3mh, dtype=torch.float64)
scales_q3mh = torch.exp(0.3 * torch.randn(4, 3, generator=gen_q3mh, dtype=torch.float64))
weights_q3mh = torch.softmax(torch.randn(4, generator=gen_q3mh, dtype=torch.float64), dim=0)
q_q3mh = Independent(Normal(loc_q3mh, scale_q3mh), 1)
p_q3mh = MixtureSameFamily(Categorical(probs=weights_q3mh), Independent(Normal(means_q3mh, scales_q3mh), 1))
num_q3mh = 20_000
# The same q, and the visible q and mixture rebuilt from their seed, with noise from fixed pools (for the records).
gen_pool_q3mh = torch.Generator().manual_seed(333)
q_pooled_q3mh = testkit.PooledGaussian(loc_q3mh, scale_q3mh,
                                       torch.randn(4 * num_q3mh, 5, 3, generator=gen_pool_q3mh, dtype=torch.float64))
gen_visible_q3mh = torch.Generator().manual_seed(321)
loc_visible_q3mh = torch.randn(4, 2, generator=gen_visible_q3mh, dtype=torch.float64)
scale_visible_q3mh = torch.exp(0.5 * torch.randn(4, 2, generator=gen_visible_q3mh, dtype=torch.float64))
means_visible_q3mh = 2 * torch.randn(3, 2, generator=gen_visible_q3mh, dtype=torch.float64)
scales_visible_q3mh = torch.exp(0.3 * torch.randn(3, 2, generator=gen_visible_q3mh, dtype=torch.float64))
q_visible_pooled_q3mh = testkit.PooledGaussian(loc_visible_q3mh, scale_visible_q3mh,
                                               torch.randn(4 * num_q3mh, 4, 2, generator=gen_pool_q3mh, dtype=torch.float64))
p_visible_q3mh = MixtureSameFamily(Categorical(probs=torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)),
                                   Independent(Normal(means_visible_q3mh, scales_visible_q3mh), 1))
no_reference_q3mh = AssertionError(
    "monte_carlo_kl called vc.priors.monte_carlo_kl: expected your own average, got the course's. "
    "Hint: write the average of log q(z) - log p(z) yourself")
with testkit.forbid(no_reference_q3mh, vc.priors.monte_carlo_kl):
    torch.manual_seed(332)
    estimate_q3mh, stderr_q3mh = monte_carlo_kl(q_q3mh, p_q3mh, num_q3mh)
    estimate_pooled_q3mh, stderr_pooled_q3mh = monte_carlo_kl(q_pooled_q3mh, p_q3mh, num_q3mh)
    estimate_visible_q3mh, stderr_visible_q3mh = monte_carlo_kl(q_visible_pooled_q3mh, p_visible_q3mh, num_q3mh)
hint_estimate_q3mh = ("the mean over the samples of q.log_prob(z) - p.log_prob(z), z = q.rsample((num_samples,)); "
                      "p.log_prob of the mixture mixes the component densities, not their logs")
vc.grading.record("KL estimate on a hidden q (5 x 3) against a 4-component mixture, fixed noise", estimate_pooled_q3mh,
                  rtol=1e-10, atol=1e-10, hint=hint_estimate_q3mh)
# rtol 0.1, the band of the test below (N or N - 1 in the standard deviation, or a second draw)
vc.grading.record("standard error against the 4-component mixture, fixed noise", stderr_pooled_q3mh, rtol=0.1,
                  atol=0, hint="the standard deviation of the r_n over the samples divided by sqrt(num_samples)")
vc.grading.record("KL estimate on the visible q (4 x 2) against the visible mixture, fixed noise",
                  estimate_visible_q3mh, rtol=1e-10, atol=1e-10, hint=hint_estimate_q3mh)
# A long-run reference with 400,000 samples drawn here, and the spread of its log-ratios.
num_ref_q3mh = 400_000
log_ratio_chunks_q3mh = []
for _ in range(num_ref_q3mh // 50_000):  # in chunks, to keep the memory small
    z_ref_q3mh = loc_q3mh + scale_q3mh * torch.randn(50_000, 5, 3, generator=gen_q3mh, dtype=torch.float64)
    log_ratio_chunks_q3mh.append(q_q3mh.log_prob(z_ref_q3mh) - p_q3mh.log_prob(z_ref_q3mh))
log_ratio_ref_q3mh = torch.cat(log_ratio_chunks_q3mh)
reference_q3mh = log_ratio_ref_q3mh.mean(0)
reference_se_q3mh = log_ratio_ref_q3mh.std(0) / math.sqrt(num_ref_q3mh)
reference_sd_q3mh = log_ratio_ref_q3mh.std(0)
estimate_q3mh, stderr_q3mh = estimate_q3mh.detach(), stderr_q3mh.detach()
assert tuple(estimate_q3mh.shape) == (5,), (
    f"the shape of the estimate for q of batch shape (5,): expected (5,), got {tuple(estimate_q3mh.shape)}. "
    "Hint: average over the samples (dim=0) only")
z_scores_q3mh = ((estimate_q3mh - reference_q3mh) / torch.sqrt(stderr_q3mh**2 + reference_se_q3mh**2)).tolist()
assert all(abs(v) < 5 for v in z_scores_q3mh), (
    f"the estimates against a 4-component mixture in 3-D: expected within 5 combined standard errors of a "
    f"400,000-sample reference {reference_q3mh.tolist()}, got {estimate_q3mh.tolist()} (z-scores {z_scores_q3mh}). "
    f"Hint: {hint_estimate_q3mh}")
spread_ratio_q3mh = (stderr_q3mh * math.sqrt(num_q3mh) / reference_sd_q3mh).tolist()
assert all(0.9 < v < 1.1 for v in spread_ratio_q3mh), (
    f"stderr * sqrt(N) against the mixture: expected the spread of the log-ratios {reference_sd_q3mh.tolist()}, got "
    f"{(stderr_q3mh * math.sqrt(num_q3mh)).tolist()} (ratios {spread_ratio_q3mh}). Hint: the standard deviation of "
    "the r_n divided by sqrt(num_samples)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q3-gumbel-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 2 · A Gumbel-softmax sample and its temperature (3 points)
#
# A categorical latent with class probabilities $\pi = \operatorname{softmax}(\ell)$ has no
# reparameterisation: its one-hot sample is a step function of $\ell$, with zero gradient almost
# everywhere. The **Gumbel-max trick** writes the sample as a deterministic function of noise: with
# $u_k \sim \mathrm{Uniform}(0, 1)$ independent and $g_k = -\log(-\log u_k)$ (standard Gumbel noise),
# $\arg\max_k (\ell_k + g_k)$ is distributed exactly as $\mathrm{Categorical}(\pi)$. The
# **Gumbel-softmax** (or Concrete) relaxation (Jang et al. 2017; Maddison et al. 2017) replaces the
# argmax by a softmax at a temperature $\tau > 0$:
#
# $$
# y_k = \frac{\exp\big((\ell_k + g_k) / \tau\big)}{\sum_{j} \exp\big((\ell_j + g_j) / \tau\big)} .
# $$
#
# $y$ lies on the simplex (positive, sums to 1), is differentiable in $\ell$, and approaches the one-hot
# vector of the Gumbel-max draw as $\tau \to 0$ (and the uniform vector $1/K$ as $\tau \to \infty$).
#
# Implement `gumbel_softmax_sample(logits, temperature, uniform_noise)`. `logits` has shape `(..., K)`,
# `uniform_noise` holds values strictly inside $(0, 1)$ with a shape that `logits` broadcasts to (for
# example logits `(K,)` and noise `(N, K)` give `N` samples); return $y$ with the noise's shape. Use the
# noise passed in (draw none: the tests check that torch's random state is untouched), keep the
# result differentiable with respect to `logits`, and make it stable: logits of $\pm 1000$ at
# $\tau = 0.1$ must give a finite one-hot vector, not `nan` (use `torch.softmax` or subtract the
# maximum before exponentiating). Do not call `torch.nn.functional.gumbel_softmax`, which draws its own
# noise.

# %% nbgrader={"grade": false, "grade_id": "q3-gumbel-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gumbel_softmax_sample(logits: torch.Tensor, temperature: float, uniform_noise: torch.Tensor) -> torch.Tensor:
    """Relaxed one-hot sample softmax((logits + g) / temperature) with Gumbel noise g = -log(-log u).

    Parameters
    ----------
    logits : torch.Tensor, shape (..., K)
        Unnormalised log-probabilities of K categories.
    temperature : float
        The relaxation temperature tau > 0.
    uniform_noise : torch.Tensor, shape (..., K), broadcastable with ``logits``
        Uniform draws u strictly inside (0, 1).

    Returns
    -------
    torch.Tensor, the broadcast shape of logits and uniform_noise
        Points on the simplex over the last dimension, differentiable with respect to ``logits``.
    """
    ### BEGIN SOLUTION
    gumbel = -torch.log(-torch.log(uniform_noise))
    return torch.softmax((logits + gumbel) / temperature, dim=-1)
    ### END SOLUTION


# %%
# Try it (not graded): one set of noise, four temperatures. The argmax never changes; the sample
# sharpens towards the one-hot Gumbel-max draw as the temperature falls.
logits_try_gs = torch.log(torch.tensor([0.1, 0.2, 0.3, 0.4]))
noise_try_gs = torch.rand(4, generator=torch.Generator().manual_seed(2))
print("Gumbel-max draw (one-hot):", torch.nn.functional.one_hot((logits_try_gs - torch.log(-torch.log(noise_try_gs))).argmax(), 4).tolist())
for tau_try in (10.0, 1.0, 0.5, 0.1):
    sample_try_gs = gumbel_softmax_sample(logits_try_gs, tau_try, noise_try_gs)
    print(f"tau = {tau_try:4}: {[round(v, 3) for v in sample_try_gs.tolist()]}, sum {sample_try_gs.sum().item():.6f}")

# %% nbgrader={"grade": true, "grade_id": "q3-gumbel-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""gumbel_softmax_sample is softmax((logits - log(-log u)) / tau): exact, on the simplex, stable, drawing no noise."""
logits_q3g = torch.tensor([[0.0, 0.0, 0.0], [1.0, -1.0, 0.5]], dtype=torch.float64)
noise_q3g = torch.tensor([[0.5, 0.5, 0.5], [0.2, 0.9, 0.6]], dtype=torch.float64)
sample_q3g = gumbel_softmax_sample(logits_q3g, 1.0, noise_q3g)
vc.grading.assert_equal(type(sample_q3g).__name__, "Tensor", what="the type of the sample",
                        hint="build the sample with torch operations and return the tensor")
vc.grading.assert_equal(tuple(sample_q3g.shape), (2, 3), what="the shape of the sample for logits and noise (2, 3)",
                        hint="a softmax over the last dimension keeps the shape")
vc.grading.assert_close(sample_q3g.sum(-1), torch.ones(2, dtype=torch.float64), what="the sum of each sample",
                        hint="each sample must sum to 1 over the last dimension (a softmax over dim=-1)")
vc.grading.assert_close(sample_q3g[0], torch.full((3,), 1 / 3, dtype=torch.float64),
                        what="the sample for equal logits and equal noise",
                        hint="equal logits and equal noise give the uniform vector (1/3, 1/3, 1/3)")
gumbel_q3g = -torch.log(-torch.log(noise_q3g[1]))  # -0.4759, 2.2504, 0.6717
vc.grading.assert_close(sample_q3g[1], torch.softmax(logits_q3g[1] + gumbel_q3g, dim=-1),
                        what="the second row, softmax(logits + g) with g = -log(-log u)",
                        hint="check both minus signs and that you add the noise to the logits before dividing by "
                             "the temperature")
vc.grading.assert_close(gumbel_softmax_sample(logits_q3g[1], 0.5, noise_q3g[1]),
                        torch.softmax((logits_q3g[1] + gumbel_q3g) / 0.5, dim=-1),
                        what="the second row at temperature 0.5, softmax((logits + g) / 0.5)",
                        hint="divide logits + g by the temperature inside the softmax")
print("gumbel_softmax_sample: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

import vaecourse as vc
from vaecourse import testkit

gen_q3gh = torch.Generator().manual_seed(341)
logits_q3gh = 2 * torch.randn(5, 3, 7, generator=gen_q3gh, dtype=torch.float64)
noise_q3gh = torch.rand(5, 3, 7, generator=gen_q3gh, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
noise_many_q3gh = torch.rand(4, 5, 3, 7, generator=gen_q3gh, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
extreme_logits_q3gh = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]], dtype=torch.float64)
extreme_noise_q3gh = torch.tensor([[0.3, 0.6, 0.9], [0.5, 0.5, 0.5]], dtype=torch.float64)
taus_q3gh = (0.05, 0.5, 1.0, 3.0)
with testkit.RandomStateWatch() as rng_q3gh:
    results_q3gh = {tau: gumbel_softmax_sample(logits_q3gh, tau, noise_q3gh) for tau in taus_q3gh}
    result_many_q3gh = gumbel_softmax_sample(logits_q3gh, 0.7, noise_many_q3gh)
    result_extreme_q3gh = gumbel_softmax_sample(extreme_logits_q3gh, 0.1, extreme_noise_q3gh)
    result_extreme32_q3gh = gumbel_softmax_sample(extreme_logits_q3gh.float(), 0.1, extreme_noise_q3gh.float())
hint_q3gh = ("softmax((logits + g) / tau) over the last dimension with g = -log(-log u): both minus signs, the noise "
             "added before dividing by the temperature")
vc.grading.record("the sample on the visible logits (2 x 3), tau = 1", sample_q3g, rtol=1e-9, atol=1e-12,
                  hint=hint_q3gh)
vc.grading.record("samples on hidden logits (5 x 3 x 7) at tau = 0.05, 0.5, 1, 3", [results_q3gh[t] for t in taus_q3gh],
                  rtol=1e-9, atol=1e-12, hint=hint_q3gh)
vc.grading.record("4 samples from noise (4, 5, 3, 7) and logits (5, 3, 7), tau = 0.7", result_many_q3gh, rtol=1e-9,
                  atol=1e-12, hint="the logits broadcast against the noise's leading sample dimension")
vc.grading.record("logits of +-1000 at tau = 0.1, float64", result_extreme_q3gh, rtol=0, atol=1e-12,
                  hint="the one-hot vector: use torch.softmax or subtract the maximum before exponentiating")
vc.grading.record("logits of +-1000 at tau = 0.1, float32", result_extreme32_q3gh, rtol=0, atol=1e-6,
                  hint="the one-hot vector in float32: use torch.softmax or subtract the maximum before exponentiating")
expected_q3gh = {tau: torch.softmax((logits_q3gh - torch.log(-torch.log(noise_q3gh))) / tau, dim=-1)
                 for tau in taus_q3gh}
expected_many_q3gh = torch.softmax((logits_q3gh - torch.log(-torch.log(noise_many_q3gh))) / 0.7, dim=-1)
one_hot_q3gh = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
assert not rng_q3gh.changed, (
    "torch's random state: expected unchanged, got changed: gumbel_softmax_sample drew its own noise. "
    "Hint: use uniform_noise only (no torch.rand, torch.nn.functional.gumbel_softmax or Gumbel().sample())")
for tau_q3gh in taus_q3gh:
    vc.grading.assert_close(results_q3gh[tau_q3gh], expected_q3gh[tau_q3gh], rtol=1e-9, atol=1e-12,
                            what=f"the sample at temperature {tau_q3gh} (5 x 3 x 7 logits, float64)", hint=hint_q3gh)
vc.grading.assert_equal(tuple(result_many_q3gh.shape), (4, 5, 3, 7),
                        what="the shape of the samples for logits (5, 3, 7) and noise (4, 5, 3, 7)",
                        hint="4 samples: let the logits broadcast against the noise")
vc.grading.assert_close(result_many_q3gh, expected_many_q3gh, rtol=1e-9, atol=1e-12,
                        what="the samples from noise with an extra leading sample dimension", hint=hint_q3gh)
assert bool(torch.isfinite(result_extreme_q3gh).all()) and bool(torch.isfinite(result_extreme32_q3gh).all()), (
    f"the sample for logits of +-1000 at temperature 0.1: expected finite values, got {result_extreme_q3gh.tolist()} "
    f"(float64) and {result_extreme32_q3gh.tolist()} (float32): exp overflows. Hint: use torch.softmax or subtract "
    "the maximum before exponentiating")
vc.grading.assert_close(result_extreme_q3gh, one_hot_q3gh, rtol=0, atol=1e-12,
                        what="the sample for logits of +-1000 at temperature 0.1 (float64)",
                        hint="it must be the one-hot vector; use torch.softmax or subtract the maximum")
vc.grading.assert_close(result_extreme32_q3gh, one_hot_q3gh.float(), rtol=0, atol=1e-6,
                        what="the sample for logits of +-1000 at temperature 0.1 (float32)",
                        hint="in float32 too it must be the one-hot vector, in the dtype of the inputs")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q3-gumbel-temperature-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""The argmax of gumbel_softmax_sample is a categorical draw; tau -> 0 gives one-hot, tau -> inf uniform; gradients reach the logits."""
probs_q3t = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
noise_q3t = torch.rand(40_000, 4, generator=torch.Generator().manual_seed(351), dtype=torch.float64)
samples_q3t = gumbel_softmax_sample(torch.log(probs_q3t), 1.0, noise_q3t)
vc.grading.assert_equal(tuple(samples_q3t.shape), (40_000, 4),
                        what="the shape of the samples for logits (4,) and noise (40000, 4)",
                        hint="the logits broadcast against the noise: return the noise's shape")
frequencies_q3t = torch.bincount(samples_q3t.argmax(-1), minlength=4).double() / 40_000
z_scores_q3t = ((frequencies_q3t - probs_q3t) / torch.sqrt(probs_q3t * (1 - probs_q3t) / 40_000)).tolist()
assert all(abs(v) < 5 for v in z_scores_q3t), (
    f"the frequencies of the argmax of 40,000 samples: expected the probabilities {probs_q3t.tolist()} within 5 "
    f"standard errors (Gumbel-max trick), got {frequencies_q3t.tolist()} (z-scores {z_scores_q3t}). "
    "Hint: did you use g = -log(-log u)?")
print("argmax frequencies:", [round(v, 3) for v in frequencies_q3t.tolist()], "probabilities:", probs_q3t.tolist())
cold_q3t = gumbel_softmax_sample(torch.tensor([2.0, 0.0, 0.0], dtype=torch.float64), 0.01,
                                 torch.full((3,), 0.5, dtype=torch.float64))
vc.grading.assert_close(cold_q3t, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), rtol=0, atol=1e-6,
                        what="the sample at temperature 0.01 for logits (2, 0, 0) and equal noise",
                        hint="as tau -> 0 the sample tends to the one-hot vector of the largest logits + g: divide "
                             "(logits + g) by tau, do not multiply or leave tau out")
print("gumbel_softmax_sample, argmax is a categorical draw: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

import vaecourse as vc
from vaecourse import testkit

gen_q3th = torch.Generator().manual_seed(361)
logits_q3th = torch.randn(200, 6, generator=gen_q3th, dtype=torch.float64)
noise_q3th = torch.rand(200, 6, generator=gen_q3th, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
perturbed_q3th = logits_q3th - torch.log(-torch.log(noise_q3th))
top2_q3th = perturbed_q3th.topk(2, dim=-1).values
clear_q3th = (top2_q3th[:, 0] - top2_q3th[:, 1]) > 0.2  # rows whose winner leads by more than 0.2
one_hot_q3th = torch.nn.functional.one_hot(perturbed_q3th.argmax(-1), 6).double()
weights_q3th = torch.randn(200, 6, generator=gen_q3th, dtype=torch.float64)
taus_q3th = (5.0, 1.0, 0.3, 0.1, 0.01)
samples_q3th = {tau: gumbel_softmax_sample(logits_q3th, tau, noise_q3th) for tau in taus_q3th}
sample_cold_q3th = gumbel_softmax_sample(logits_q3th[clear_q3th], 0.01, noise_q3th[clear_q3th])
sample_hot_q3th = gumbel_softmax_sample(logits_q3th, 1e6, noise_q3th)
samples_grad_q3th, grads_q3th = {}, {}
for tau_q3th in (0.5, 2.0):
    logits_grad_q3th = logits_q3th.clone().requires_grad_()
    samples_grad_q3th[tau_q3th] = gumbel_softmax_sample(logits_grad_q3th, tau_q3th, noise_q3th)
    if samples_grad_q3th[tau_q3th].requires_grad:
        (weights_q3th * samples_grad_q3th[tau_q3th]).sum().backward()
    grads_q3th[tau_q3th] = testkit.grad_or_zeros(logits_grad_q3th)
hint_q3th = "softmax((logits + g) / tau) over the last dimension with g = -log(-log u), in float64"
vc.grading.record("argmax frequencies of the 40,000 visible samples", frequencies_q3t, rtol=0, atol=1e-12,
                  hint="the argmax of the sample is the argmax of logits + g with g = -log(-log u)")
vc.grading.record("mean of the 40,000 visible samples (tau = 1)", samples_q3t.mean(0), rtol=1e-9, atol=1e-12,
                  hint=hint_q3th)
vc.grading.record("argmax of 200 hidden samples at tau = 5, 1, 0.3, 0.1, 0.01",
                  [samples_q3th[t].argmax(-1) for t in taus_q3th], hint="the argmax of logits + g, whatever tau")
vc.grading.record("largest entry of 200 hidden samples at tau = 5, 1, 0.3, 0.1, 0.01",
                  [samples_q3th[t].max(-1).values for t in taus_q3th], rtol=1e-9, atol=1e-12,
                  hint="divide logits + g by the temperature inside the softmax")
vc.grading.record("hidden samples at tau = 0.01 (rows whose winner leads by 0.2)", sample_cold_q3th, rtol=1e-9,
                  atol=1e-12, hint="a low temperature sharpens the sample towards the one-hot Gumbel-max draw")
vc.grading.record("hidden samples at tau = 1e6 (first 50 rows)", sample_hot_q3th[:50], rtol=1e-9, atol=1e-12,
                  hint="a huge temperature flattens the sample towards the uniform vector 1/K")
vc.grading.record("d sum(w * y) / d logits at tau = 0.5 and 2 (first 50 rows)",
                  [grads_q3th[0.5][:50], grads_q3th[2.0][:50]], rtol=1e-8, atol=1e-10,
                  hint="keep the sample differentiable: torch operations on the logits, no .detach(), argmax or no_grad")
# (1) the argmax is the Gumbel-max draw at every temperature
max_entries_q3th = []
for tau_q3th in taus_q3th:
    wrong_rows_q3th = int((samples_q3th[tau_q3th].argmax(-1) != perturbed_q3th.argmax(-1)).sum())
    assert wrong_rows_q3th == 0, (
        f"the argmax of the sample at temperature {tau_q3th}: expected the argmax of logits + Gumbel noise in all 200 "
        f"rows, got a different category in {wrong_rows_q3th} rows. Hint: g = -log(-log u) is added to the logits; "
        "the temperature divides both and does not change the argmax")
    max_entries_q3th.append(samples_q3th[tau_q3th].max(-1).values)
# (2) the largest entry grows as tau falls, and is within 1e-3 of one-hot at tau = 0.01 where the winner leads by 0.2
for tau_warm_q3th, warmer_q3th, colder_q3th in zip(taus_q3th, max_entries_q3th, max_entries_q3th[1:]):
    assert bool((colder_q3th >= warmer_q3th - 1e-12).all()), (
        f"the largest entry of the sample below temperature {tau_warm_q3th}: expected it to grow as the temperature "
        f"falls, got smaller values in {int((colder_q3th < warmer_q3th - 1e-12).sum())} rows. "
        "Hint: divide (logits + g) by tau, do not multiply")
vc.grading.assert_close(sample_cold_q3th, one_hot_q3th[clear_q3th], rtol=0, atol=1e-3,
                        what="the sample at temperature 0.01 (rows whose winner leads by 0.2)",
                        hint="at a low temperature the sample is (almost) the one-hot Gumbel-max draw")
# (3) at a huge temperature the sample is uniform
vc.grading.assert_close(sample_hot_q3th, torch.full((200, 6), 1 / 6, dtype=torch.float64), rtol=0, atol=1e-4,
                        what="the sample at temperature 1e6",
                        hint="as tau grows the sample tends to the uniform vector 1/K")
# (4) gradients reach the logits: d(sum w * y)/d logits = y * (w - sum(w * y)) / tau
for tau_q3th in (0.5, 2.0):
    vc.grading.assert_equal(samples_grad_q3th[tau_q3th].requires_grad, True,
                            what=f"sample.requires_grad for logits that require grad (tau = {tau_q3th})",
                            hint="the sample is cut off from the logits: no .detach(), argmax or no_grad")
    y_q3th = samples_grad_q3th[tau_q3th].detach()
    expected_grad_q3th = y_q3th * (weights_q3th - (weights_q3th * y_q3th).sum(-1, keepdim=True)) / tau_q3th
    vc.grading.assert_close(grads_q3th[tau_q3th], expected_grad_q3th, rtol=1e-8, atol=1e-10,
                            what=f"the gradient of sum(w * y) with respect to the logits at tau = {tau_q3th}",
                            hint="y = softmax((logits + g) / tau): its Jacobian is (diag(y) - y y^T) / tau")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q3-beta-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 3 · A pathwise gradient through a Beta sample, checked by finite differences (3 points)
#
# "The reparameterisation trick relies on Gaussian distributions" is a common claim. The Beta
# distribution has no location-scale form $z = \mu + \sigma \varepsilon$, yet PyTorch's
# `Beta(a, b).rsample()` returns samples that carry gradients with respect to $a$ and $b$: it
# differentiates the sample through the distribution's CDF (*implicit reparameterisation*, Figurnov et
# al. 2018). If those gradients are right, the average of $\partial f(z_n) / \partial a$ over samples
# is an unbiased estimate of
#
# $$
# \frac{\partial}{\partial a}\, \mathbb E_{z \sim \mathrm{Beta}(a, b)}\big[f(z)\big],
# $$
#
# and likewise for $b$. The exact expectation is a 1-D integral, so its derivative can be checked by a
# central finite difference, $\big(E(a + h, b) - E(a - h, b)\big) / 2h$; the tests do that by numerical
# integration.
#
# Implement `pathwise_gradient(a, b, f, num_samples)`. `a, b > 0` are Python floats; `f` maps a tensor of
# samples to a tensor of the same shape, elementwise (for example `lambda z: (z - 0.3) ** 2`). Draw
# `num_samples` samples with `Beta(...).rsample()` in float64, get the **per-sample** gradients
# $\big(\partial f(z_n)/\partial a, \partial f(z_n)/\partial b\big)$ with autograd, and return
# `(estimate, stderr)`, each a float64 tensor of shape `(2,)` holding `[d/da, d/db]`: the mean of the
# per-sample gradients and their standard deviation divided by $\sqrt N$. Hint: one backward pass gives
# every per-sample gradient if each sample has its own copy of the parameters, for example
# `a_n = torch.full((num_samples,), a, dtype=torch.float64, requires_grad=True)` and
# `Beta(a_n, b_n).rsample()`; then $f(z_n)$ depends only on $a_n[n]$ and the gradient of
# $\sum_n f(z_n)$ is the vector of per-sample gradients.
#
# The first test cell checks the estimate against finite differences (2 points), the second checks
# that the standard error is that of the pathwise estimator (1 point). The *score-function*
# estimator $f(z)\, \partial_a \log p(z)$ is unbiased too, but its spread is different, so it fails the
# second test.

# %% nbgrader={"grade": false, "grade_id": "q3-beta-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pathwise_gradient(a: float, b: float, f, num_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pathwise Monte Carlo estimate of the gradient of E_{z ~ Beta(a, b)}[f(z)] with respect to (a, b).

    Parameters
    ----------
    a, b : float
        The Beta concentrations, both positive.
    f : callable
        Maps a tensor of samples to a tensor of the same shape, elementwise and differentiably.
    num_samples : int
        Number N of samples, at least 2.

    Returns
    -------
    estimate : torch.Tensor, shape (2,), float64
        The mean over samples of (d f(z_n) / da, d f(z_n) / db).
    stderr : torch.Tensor, shape (2,), float64
        The standard deviation of the per-sample gradients divided by sqrt(N).
    """
    ### BEGIN SOLUTION
    a_n = torch.full((num_samples,), float(a), dtype=torch.float64, requires_grad=True)
    b_n = torch.full((num_samples,), float(b), dtype=torch.float64, requires_grad=True)
    z = Beta(a_n, b_n).rsample()
    grad_a, grad_b = torch.autograd.grad(f(z).sum(), (a_n, b_n))
    per_sample = torch.stack([grad_a, grad_b], dim=-1)  # (N, 2)
    return per_sample.mean(dim=0), per_sample.std(dim=0) / math.sqrt(num_samples)
    ### END SOLUTION


# %%
# Try it (not graded): f(z) = z, whose expectation a / (a + b) has the exact gradient
# (b, -a) / (a + b)^2, and f(z) = (z - 0.3)^2 with a finite difference of its exact expectation
# E[(z - 0.3)^2] = Var(z) + (E[z] - 0.3)^2.
torch.manual_seed(3)
a_try, b_try = 2.0, 3.0
estimate_try_b, stderr_try_b = pathwise_gradient(a_try, b_try, lambda z: z, 20_000)
print(f"estimate shape: {tuple(estimate_try_b.shape)}, dtype: {estimate_try_b.dtype}")
print("f(z) = z:           pathwise", [f"{e:.4f} ± {s:.4f}" for e, s in zip(estimate_try_b.tolist(), stderr_try_b.tolist())],
      " exact", [round(b_try / (a_try + b_try) ** 2, 4), round(-a_try / (a_try + b_try) ** 2, 4)])


def beta_expectation_try(a, b):
    mean, var = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
    return var + (mean - 0.3) ** 2


h_try = 1e-5
finite_difference_try = [(beta_expectation_try(a_try + h_try, b_try) - beta_expectation_try(a_try - h_try, b_try)) / (2 * h_try),
                         (beta_expectation_try(a_try, b_try + h_try) - beta_expectation_try(a_try, b_try - h_try)) / (2 * h_try)]
estimate_try_sq, stderr_try_sq = pathwise_gradient(a_try, b_try, lambda z: (z - 0.3) ** 2, 20_000)
print("f(z) = (z - 0.3)^2: pathwise", [f"{e:.4f} ± {s:.4f}" for e, s in zip(estimate_try_sq.tolist(), stderr_try_sq.tolist())],
      " finite difference", [round(v, 4) for v in finite_difference_try])

# %% nbgrader={"grade": true, "grade_id": "q3-beta-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""pathwise_gradient agrees with the derivative of the exact expectation within 5 standard errors."""
torch.manual_seed(371)
result_q3b = pathwise_gradient(2.0, 3.0, lambda z: z, 20_000)
kind_q3b = type(result_q3b).__name__ + (f" of length {len(result_q3b)}" if isinstance(result_q3b, tuple) else "")
assert isinstance(result_q3b, tuple) and len(result_q3b) == 2, (
    f"the result of pathwise_gradient: expected a pair (estimate, stderr), got a {kind_q3b}. "
    "Hint: end with return estimate, stderr")
estimate_q3b, stderr_q3b = result_q3b
assert isinstance(estimate_q3b, torch.Tensor) and isinstance(stderr_q3b, torch.Tensor), (
    f"estimate and stderr: expected two torch.Tensors, got {type(estimate_q3b).__name__} and "
    f"{type(stderr_q3b).__name__}. Hint: stack the two gradients into a tensor, e.g. torch.stack([d_da, d_db])")
assert tuple(estimate_q3b.shape) == (2,) and tuple(stderr_q3b.shape) == (2,), (
    f"the shapes of estimate and stderr: expected (2,) and (2,) ([d/da, d/db]), got {tuple(estimate_q3b.shape)} and "
    f"{tuple(stderr_q3b.shape)}. Hint: average the per-sample gradients over the samples, one value for a, one for b")
assert estimate_q3b.dtype == torch.float64, (
    f"the dtype of the estimate: expected torch.float64, got {estimate_q3b.dtype}. Hint: build a and b as float64 "
    "tensors before sampling")
assert bool((stderr_q3b > 0).all()) and bool((stderr_q3b < 0.01).all()), (
    f"the standard errors for 20,000 samples: expected positive and small values (about 2e-4), got "
    f"{stderr_q3b.tolist()}. Hint: the standard deviation of the per-sample gradients divided by sqrt(num_samples)")
exact_q3b = torch.tensor([3.0 / 25.0, -2.0 / 25.0], dtype=torch.float64)  # d/da, d/db of a / (a + b) at (2, 3)
z_scores_q3b = ((estimate_q3b.detach() - exact_q3b) / stderr_q3b.detach()).tolist()
assert all(abs(v) < 5 for v in z_scores_q3b), (
    f"the gradient of E[z] = a / (a + b) at a = 2, b = 3 for f(z) = z: expected {exact_q3b.tolist()} within 5 "
    f"standard errors, got {estimate_q3b.tolist()} ({z_scores_q3b} standard errors away). Hint: differentiate "
    "f(rsample) with respect to a and b, in that order")
print("pathwise_gradient against the exact derivative: visible tests passed")
### BEGIN HIDDEN TESTS
import math

import torch

import vaecourse as vc
from vaecourse import testkit

h_q3bh = 1e-4
cases_q3bh = [(2.0, 3.0, lambda z: (z - 0.3) ** 2, lambda z: (z - 0.3) ** 2, "(z - 0.3)^2"),
              (1.5, 4.0, lambda z: torch.sin(6 * z), lambda z: math.sin(6 * z), "sin(6 z)"),
              (0.8, 2.5, lambda z: torch.exp(-3 * z), lambda z: math.exp(-3 * z), "exp(-3 z)"),
              (5.0, 1.2, lambda z: torch.log1p(z), lambda z: math.log1p(z), "log(1 + z)")]
# Tolerances of the records: 5 standard errors of the pathwise plus 5 of the score-function estimator on the
# fixed samples, so that any unbiased estimate from them passes, as the test below lets it (the score-function
# estimator fails the next test cell).
tolerances_q3bh = []
for index_q3bh, (a_q3bh, b_q3bh, f_q3bh, _, _) in enumerate(cases_q3bh):
    with testkit.pooled_beta_samples(a_q3bh, b_q3bh, 20_000, seed=381 + index_q3bh):
        pathwise_q3bh, z_q3bh = testkit.beta_pathwise_gradients(a_q3bh, b_q3bh, f_q3bh, 20_000)
    score_q3bh = testkit.beta_score_function_gradients(a_q3bh, b_q3bh, f_q3bh, z_q3bh)
    tolerances_q3bh.append(5 * ((pathwise_q3bh.std(0) + score_q3bh.std(0)) / math.sqrt(20_000)).max().item())
results_q3bh = []
for index_q3bh, (a_q3bh, b_q3bh, f_q3bh, _, _) in enumerate(cases_q3bh):
    with testkit.pooled_beta_samples(a_q3bh, b_q3bh, 20_000, seed=381 + index_q3bh):
        results_q3bh.append(pathwise_gradient(a_q3bh, b_q3bh, f_q3bh, 20_000))
for (a_q3bh, b_q3bh, _, _, name_q3bh), (estimate_q3bh, _), tolerance_q3bh in zip(cases_q3bh, results_q3bh,
                                                                                  tolerances_q3bh):
    vc.grading.record(f"gradient estimate [d/da, d/db] for f(z) = {name_q3bh}, a = {a_q3bh}, b = {b_q3bh}, fixed samples",
                      estimate_q3bh, rtol=0, atol=round(tolerance_q3bh, 6),
                      hint="the mean over samples of the autograd gradients of f(Beta(a, b).rsample()) with respect "
                           "to a and b, in that order, in float64")
for index_q3bh, (a_q3bh, b_q3bh, _, f_scalar_q3bh, name_q3bh) in enumerate(cases_q3bh):
    finite_difference_q3bh = testkit.central_differences(
        lambda a, b: testkit.beta_expectation(f_scalar_q3bh, a, b), a_q3bh, b_q3bh, h_q3bh)
    estimate_q3bh, stderr_q3bh = results_q3bh[index_q3bh]
    vc.grading.assert_equal(tuple(estimate_q3bh.shape), (2,), what=f"the shape of the estimate for f(z) = {name_q3bh}",
                            hint="[d/da, d/db]: average the per-sample gradients over the samples")
    z_scores_q3bh = testkit.z_scores(estimate_q3bh, finite_difference_q3bh, stderr_q3bh)
    assert all(abs(v) < 5 for v in z_scores_q3bh), (
        f"f(z) = {name_q3bh}, a = {a_q3bh}, b = {b_q3bh}: expected the finite difference of the exact expectation "
        f"{finite_difference_q3bh.tolist()} within 5 standard errors, got {estimate_q3bh.tolist()} ({z_scores_q3bh} "
        "standard errors away). Hint: differentiate f(Beta(a, b).rsample()) with autograd, with respect to a and b in "
        "that order, and average over the samples")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q3-beta-stderr-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""pathwise_gradient's standard error shrinks like 1/sqrt(N) and matches the spread of the pathwise per-sample gradients."""
torch.manual_seed(391)
_, stderr_small_q3s = pathwise_gradient(2.0, 3.0, lambda z: (z - 0.3) ** 2, 4000)
_, stderr_large_q3s = pathwise_gradient(2.0, 3.0, lambda z: (z - 0.3) ** 2, 16_000)
ratio_q3s = (stderr_small_q3s / stderr_large_q3s).tolist()
assert all(1.8 < v < 2.2 for v in ratio_q3s), (
    f"the ratio of the standard errors for 4,000 and 16,000 samples: expected about 2 (4 times more samples halve "
    f"the standard error), got {ratio_q3s}. Hint: divide the standard deviation by sqrt(num_samples), and draw "
    "num_samples samples")
_, stderr_z_q3s = pathwise_gradient(2.0, 3.0, lambda z: z, 20_000)
a_n_q3s = torch.full((200_000,), 2.0, dtype=torch.float64, requires_grad=True)
b_n_q3s = torch.full((200_000,), 3.0, dtype=torch.float64, requires_grad=True)
spread_q3s = torch.stack(torch.autograd.grad(Beta(a_n_q3s, b_n_q3s).rsample().sum(), (a_n_q3s, b_n_q3s)), dim=-1).std(0)
spread_ratio_q3s = (stderr_z_q3s.detach() * math.sqrt(20_000) / spread_q3s).tolist()
assert all(0.9 < v < 1.1 for v in spread_ratio_q3s), (
    f"stderr * sqrt(N) for f(z) = z at a = 2, b = 3: expected the spread of the pathwise per-sample gradients "
    f"{[round(v, 4) for v in spread_q3s.tolist()]} (200,000 rsample draws), got "
    f"{(stderr_z_q3s.detach() * math.sqrt(20_000)).tolist()}. Hint: differentiate f(rsample) per sample with autograd "
    "(the score function f(z) d log p(z) / da is unbiased too, but spreads differently), then the standard deviation "
    "over the samples divided by sqrt(num_samples)")
print("pathwise_gradient standard error scaling: visible tests passed")
### BEGIN HIDDEN TESTS
import math

import torch

import vaecourse as vc
from vaecourse import testkit

# In these three cases the score-function estimator's spread is 1.8 to 10 times the pathwise one.
cases_q3sh = [(2.0, 3.0, lambda z: z, "z"), (2.0, 3.0, lambda z: (z - 0.3) ** 2, "(z - 0.3)^2"),
              (0.8, 2.5, lambda z: torch.exp(-3 * z), "exp(-3 z)")]
stderrs_q3sh = []
for index_q3sh, (a_q3sh, b_q3sh, f_q3sh, _) in enumerate(cases_q3sh):
    with testkit.pooled_beta_samples(a_q3sh, b_q3sh, 20_000, seed=411 + index_q3sh):
        stderrs_q3sh.append(pathwise_gradient(a_q3sh, b_q3sh, f_q3sh, 20_000)[1])
# rtol 0.1, the band of the test below: N or N - 1 in the standard deviation, other ways to draw Beta samples;
# the score-function estimator's spread is 1.8 to 10 times the pathwise one
vc.grading.record("standard errors [d/da, d/db] for z, (z - 0.3)^2, exp(-3 z), fixed samples", stderrs_q3sh,
                  rtol=0.1, atol=0,
                  hint="the standard deviation over samples of the per-sample pathwise gradients (rsample and "
                       "autograd, not the score function), divided by sqrt(num_samples)")
for index_q3sh, (a_q3sh, b_q3sh, f_q3sh, name_q3sh) in enumerate(cases_q3sh):
    spread_q3sh = testkit.beta_pathwise_spread(a_q3sh, b_q3sh, f_q3sh, 200_000, seed=401 + index_q3sh)
    ratio_q3sh = (stderrs_q3sh[index_q3sh].detach() * math.sqrt(20_000) / spread_q3sh).tolist()
    assert all(0.9 < v < 1.1 for v in ratio_q3sh), (
        f"f(z) = {name_q3sh}, a = {a_q3sh}, b = {b_q3sh}: stderr * sqrt(N), expected the spread of the pathwise "
        f"per-sample gradients {spread_q3sh.tolist()}, got {ratio_q3sh} times that. Hint: use rsample and autograd "
        "(not the score function f(z) * d log p(z) / da), one gradient per sample, and the standard deviation over "
        "samples")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q3-icdf-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 4 · What a decoder can do with a Gaussian: the inverse-CDF map (2 points)
#
# A Gaussian prior does not make the *data* Gaussian: the decoder maps $z$ onto the data. Even a 1-D
# monotone map turns $\varepsilon \sim \mathcal N(0, 1)$ into *any* continuous distribution with CDF
# $F$: $\Phi(\varepsilon)$ is uniform on $(0, 1)$ ($\Phi$ is the standard normal CDF), so
# $x = F^{-1}(\Phi(\varepsilon))$ has CDF $F$. For the exponential distribution with rate $\lambda$,
# $F(x) = 1 - e^{-\lambda x}$ and
#
# $$
# x = F^{-1}(\Phi(\varepsilon)) = -\frac{\log\big(1 - \Phi(\varepsilon)\big)}{\lambda}
#   = -\frac{\log \Phi(-\varepsilon)}{\lambda},
# $$
#
# using $1 - \Phi(\varepsilon) = \Phi(-\varepsilon)$. The last form matters in floating point: for
# $\varepsilon \gtrsim 8.25$ (float64) or $5.35$ (float32), $\Phi(\varepsilon)$ rounds to exactly 1, and
# the first form returns $+\infty$. `torch.special.log_ndtr(t)` computes $\log \Phi(t)$ accurately
# far into both tails.
#
# Implement `normal_to_exponential(eps, rate)`: `eps` is a tensor of any shape (float32 or float64),
# `rate` a positive float; return $x$, same shape and dtype, finite for every finite `eps`, and
# increasing in `eps`. The tests compare with SciPy in float64 for $\varepsilon$ from $-8$ to $30$ and
# in float32 up to $9$, and check that the map of many normal draws is exponential.

# %% nbgrader={"grade": false, "grade_id": "q3-icdf-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def normal_to_exponential(eps: torch.Tensor, rate: float) -> torch.Tensor:
    """Map standard normal values to Exponential(rate) values by x = F^{-1}(Phi(eps)), stably.

    Parameters
    ----------
    eps : torch.Tensor, any shape
        Standard normal values (float32 or float64).
    rate : float
        The rate lambda > 0 of the exponential distribution (its mean is 1 / rate).

    Returns
    -------
    torch.Tensor, the shape and dtype of eps
        ``-log(Phi(-eps)) / rate``: non-negative, increasing in eps, finite for finite eps.
    """
    ### BEGIN SOLUTION
    return -torch.special.log_ndtr(-eps) / rate
    ### END SOLUTION


# %%
# Try it (not graded): the quantiles of the mapped normal draws next to the exponential's, and the
# naive formula in the upper tail.
eps_try_icdf = torch.randn(100_000, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
x_try_icdf = normal_to_exponential(eps_try_icdf, 2.0)
levels_try = torch.tensor([0.1, 0.5, 0.9, 0.99], dtype=torch.float64)
print(f"x shape: {tuple(x_try_icdf.shape)}, dtype: {x_try_icdf.dtype}")
print("quantiles of x:          ", [round(v, 4) for v in torch.quantile(x_try_icdf, levels_try).tolist()])
print("Exponential(2) quantiles:", [round(v, 4) for v in (-torch.log1p(-levels_try) / 2.0).tolist()])
eps_tail_try = torch.tensor([5.0, 9.0, 20.0], dtype=torch.float64)
print("stable map at eps = 5, 9, 20:", [round(v, 3) for v in normal_to_exponential(eps_tail_try, 2.0).tolist()])
print("naive map at eps = 5, 9, 20: ", (-torch.log(1 - torch.special.ndtr(eps_tail_try)) / 2.0).tolist())

# %% nbgrader={"grade": true, "grade_id": "q3-icdf-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""normal_to_exponential is -log(Phi(-eps)) / rate: exact, increasing, finite in the tails, and exponentially distributed."""
eps_q3i = torch.tensor([0.0, -1.0, 1.0, 2.0], dtype=torch.float64)
x_q3i = normal_to_exponential(eps_q3i, 2.0)
vc.grading.assert_equal(type(x_q3i).__name__, "Tensor", what="the type of the result",
                        hint="compute the map with torch operations and return the tensor")
vc.grading.assert_equal([tuple(x_q3i.shape), str(x_q3i.dtype)], [(4,), "torch.float64"],
                        what="[shape, dtype] of the map of eps of shape (4,) in float64",
                        hint="act elementwise and stay in the input's dtype")
vc.grading.assert_close(x_q3i[0], torch.tensor(math.log(2.0) / 2.0, dtype=torch.float64),
                        what="the map of eps = 0 at rate 2",
                        hint="eps = 0 is the normal median, so x must be the exponential median log(2) / rate = 0.3466")
order_q3i = torch.argsort(eps_q3i)
assert bool((x_q3i[order_q3i].diff() > 0).all()) and bool((x_q3i >= 0).all()), (
    f"the map of eps = {eps_q3i.tolist()}: expected non-negative values increasing in eps, got {x_q3i.tolist()}. "
    "Hint: x = -log(Phi(-eps)) / rate, with Phi the standard normal CDF")
x_tail_q3i = normal_to_exponential(torch.tensor([10.0], dtype=torch.float64), 1.0)
assert bool(torch.isfinite(x_tail_q3i).all()), (
    f"the map of eps = 10 at rate 1: expected a finite value (about 53.2), got {x_tail_q3i.tolist()}: Phi(10) rounds "
    "to 1 and log(1 - Phi(10)) = -inf. Hint: use 1 - Phi(eps) = Phi(-eps) and torch.special.log_ndtr")
print("normal_to_exponential: visible tests passed")
### BEGIN HIDDEN TESTS
import math

import torch
from scipy import special, stats

import vaecourse as vc

eps64_q3ih = torch.linspace(-8.0, 30.0, 381, dtype=torch.float64)
eps32_q3ih = torch.linspace(-5.0, 9.0, 141, dtype=torch.float32)
draws_q3ih = torch.randn(200_000, generator=torch.Generator().manual_seed(421), dtype=torch.float64)
x64_q3ih = normal_to_exponential(eps64_q3ih, 1.7)
x32_q3ih = normal_to_exponential(eps32_q3ih, 0.5)
x_draws_q3ih = normal_to_exponential(draws_q3ih, 3.0)
x_grid_q3ih = normal_to_exponential(eps64_q3ih.reshape(-1, 3, 1), 1.7)
hint_q3ih = "x = -log(Phi(-eps)) / rate = -torch.special.log_ndtr(-eps) / rate, elementwise, in the input's dtype"
vc.grading.record("x on the visible eps = (0, -1, 1, 2), rate 2", x_q3i, rtol=1e-9, atol=1e-12, hint=hint_q3ih)
vc.grading.record("x at eps = 10, rate 1", x_tail_q3i, rtol=1e-9, atol=1e-12,
                  hint="compute log(1 - Phi(eps)) as torch.special.log_ndtr(-eps): Phi(10) rounds to 1")
vc.grading.record("x on a float64 grid, eps from -8 to 30, rate 1.7", x64_q3ih, rtol=1e-9, atol=1e-12, hint=hint_q3ih)
vc.grading.record("x on a float32 grid, eps from -5 to 9, rate 0.5", x32_q3ih, rtol=1e-5, atol=1e-6, hint=hint_q3ih)
vc.grading.record("x on eps of shape (127, 3, 1), rate 1.7", x_grid_q3ih, rtol=1e-9, atol=1e-12,
                  hint="act elementwise on any shape")
vc.grading.record("mean of 200,000 mapped normal draws, rate 3", x_draws_q3ih.mean().item(), rtol=1e-10, atol=1e-12,
                  hint="mapped normal draws are Exponential(rate), with mean 1 / rate")
vc.grading.record("Kolmogorov-Smirnov distance of the mapped draws to Exponential(3)",
                  float(stats.kstest(x_draws_q3ih.numpy(), stats.expon(scale=1 / 3).cdf).statistic),
                  rtol=1e-6, atol=1e-9, hint="mapped normal draws are Exponential(rate)")
reference64_q3ih = torch.from_numpy(-special.log_ndtr(-eps64_q3ih.numpy()) / 1.7)
reference32_q3ih = torch.from_numpy(-special.log_ndtr(-eps32_q3ih.double().numpy()) / 0.5)
vc.grading.assert_equal([str(x64_q3ih.dtype), str(x32_q3ih.dtype)], ["torch.float64", "torch.float32"],
                        what="the dtypes of the map for float64 and float32 inputs", hint="return the input's dtype")
vc.grading.assert_equal(tuple(x_grid_q3ih.shape), (127, 3, 1), what="the shape of the map of eps of shape (127, 3, 1)",
                        hint="act elementwise: the result has the shape of eps")
assert bool(torch.isfinite(x64_q3ih).all()) and bool(torch.isfinite(x32_q3ih).all()), (
    "the map of eps in [-8, 30] (float64) and [-5, 9] (float32): expected finite values, got "
    f"{int((~torch.isfinite(x64_q3ih)).sum())} and {int((~torch.isfinite(x32_q3ih)).sum())} non-finite ones. "
    "Hint: compute log(1 - Phi(eps)) as torch.special.log_ndtr(-eps)")
vc.grading.assert_close(x64_q3ih, reference64_q3ih, rtol=1e-9, atol=1e-12,
                        what="the map in float64, eps from -8 to 30, rate 1.7, against SciPy's -log_ndtr(-eps) / rate",
                        hint="near eps = -8 the answer is about 1e-16 / rate: log(1 - Phi(eps)) loses it, "
                             "log_ndtr(-eps) keeps it")
vc.grading.assert_close(x32_q3ih, reference32_q3ih.float(), rtol=1e-5, atol=1e-6,
                        what="the map in float32, eps from -5 to 9, rate 0.5, against SciPy's -log_ndtr(-eps) / rate",
                        hint=hint_q3ih)
vc.grading.assert_close(x_grid_q3ih, x64_q3ih.reshape(-1, 3, 1), rtol=0, atol=0,
                        what="the map of eps reshaped to (127, 3, 1)", hint="the map must act elementwise on any shape")
assert bool((x64_q3ih.diff() > 0).all()), (
    f"the map on the float64 grid: expected strictly increasing values, got {int((x64_q3ih.diff() <= 0).sum())} "
    f"steps that do not increase. Hint: {hint_q3ih}")
# Exponential(3) has mean 1/3 and standard deviation 1/3; the Kolmogorov-Smirnov distance of 200,000 exact
# draws is about 0.002, and 0.01 is out of reach for a correct map.
mean_z_q3ih = (x_draws_q3ih.mean().item() - 1 / 3) / ((1 / 3) / math.sqrt(200_000))
assert abs(mean_z_q3ih) < 5, (
    f"the mean of 200,000 mapped normal draws: expected 1/rate = 1/3 within 5 standard errors, got "
    f"{x_draws_q3ih.mean().item():.5f}. Hint: {hint_q3ih}")
ks_q3ih = stats.kstest(x_draws_q3ih.numpy(), stats.expon(scale=1 / 3).cdf).statistic
assert ks_q3ih < 0.01, (
    f"the Kolmogorov-Smirnov distance of the mapped draws to Exponential(3): expected below 0.01, got {ks_q3ih:.4f}. "
    f"Hint: {hint_q3ih}")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q3-why-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 5 · Q3, part 1: why Gaussian latents? (4 points, graded by hand)
#
# *Why is the latent space of a VAE typically assumed Gaussian, apart from simplifying computations?*
# A homework answer gave these reasons:
#
# 1. the KL between the Gaussian posterior and the prior has a closed form;
# 2. by the central limit theorem the Gaussian "emerges naturally", which makes it "a general and
#    flexible choice for modelling a wide range of data distributions";
# 3. the isotropic prior $\mathcal N(0, I)$ gives "a simple and interpretable latent space structure,
#    enabling meaningful interpolations";
# 4. the Gaussian prior makes the latent space "continuous and dense", so small changes of $z$ give
#    smooth changes of the output;
# 5. the reparameterisation trick $z = \mu + \sigma \odot \varepsilon$ "relies on Gaussian distributions".
#
# For each reason, say whether it holds, is imprecise or is wrong, and why; cite Tasks 1–4 where they
# are evidence. Then give the reasons that do hold (at least two that are not about computation), and
# one cost of the choice. About 10–15 sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q3-why-answer", "locked": false, "points": 4, "schema_version": 3, "solution": true, "task": false}
# **Model answer.**
#
# 1. *Closed-form KL: holds, but it is a convenience, not a requirement.* With a Gaussian encoder and
#    an $\mathcal N(0, I)$ prior the KL term is exact and noiseless. Without it the KL is estimated by
#    Monte Carlo like the reconstruction term already is: Task 1 does so for a mixture prior, with a
#    standard error, and the estimate is unbiased and differentiable through `rsample`. (Beta–Beta and
#    categorical–categorical KLs have closed forms too.)
# 2. *Central limit theorem: wrong reasoning.* The prior does not model the data; the model is
#    $p(x) = \int p(z)\, p_\theta(x \mid z)\, dz$ and the decoder shapes it. Task 4 turns
#    $\mathcal N(0, 1)$ into an exponential distribution exactly with one monotone map
#    $F^{-1} \circ \Phi$; any continuous 1-D distribution can be reached this way, and a flexible decoder
#    can map $\mathcal N(0, I)$ onto complicated distributions in many dimensions (Doersch 2016). The CLT
#    is about sums of many independent variables; latent factors are not such sums.
# 3. *Interpretable axes and interpolation: imprecise.* $\mathcal N(0, I)$ is rotation invariant: a
#    rotated latent space (with the decoder rotated back) has the same prior density and the same model
#    $p(x)$, so the prior alone does not make the axes interpretable or identifiable (Locatello et al.
#    2019); only side effects such as the diagonal posterior break the symmetry (Rolinek et al. 2019).
#    In $d$ dimensions most of its mass lies near the sphere of radius $\approx \sqrt d$, so the midpoint
#    of a straight line between two samples (norm $\approx \sqrt{d/2}$) is atypical; spherical
#    interpolation stays on the shell.
# 4. *Continuous and dense: imprecise.* Smooth outputs come from the decoder being a continuous network
#    and from training it on noisy codes (the posterior's spread); a plain autoencoder's decoder is
#    continuous too. "Dense" fails: the aggregate posterior $q(z) = \frac1n \sum_i q(z \mid x_i)$
#    need not fill the prior, and prior samples that land in its holes decode poorly.
# 5. *Reparameterisation relies on Gaussians: wrong.* Any location-scale family (Laplace, logistic,
#    Student-t) and any family with a computable inverse CDF (Task 4's map, the exponential, the
#    Kumaraswamy) reparameterises; the Beta, Gamma and Dirichlet do so implicitly, and Task 3 shows
#    Beta `rsample` gradients matching finite differences of the exact expectation; categorical latents
#    get a relaxed reparameterisation (Task 2).
#
# *Reasons that hold:* the Gaussian is the maximum-entropy distribution for a given mean and
# covariance, the least committal choice once the scale is fixed; it is rotation invariant with no
# preferred direction, so all latent dimensions are treated alike; it has unbounded support, so every
# encoder output is a valid code; it is trivial and cheap to sample; and because the decoder can
# reshape it (reason 2 inverted), little is lost by the choice in principle, while the closed-form KL
# and the simple reparameterisation give low-variance, stable training. *Cost:* a unimodal prior
# mismatches a clustered aggregate posterior (holes, blurry or off-manifold prior samples), and
# structured latents (bounded, proportions, discrete, directions) are modelled poorly.
#
# *Marking (4 points):* 2 points for the verdicts on the five reasons (at least: the CLT argument is
# wrong because the decoder maps the prior onto the data; reparameterisation is not Gaussian-only);
# 1 point for using the tasks (or equivalent measured evidence); 1 point for at least two valid
# reasons (maximum entropy, rotation invariance, full support, cheap sampling, closed form with low
# variance, the decoder can reshape it) together with one cost.

# %% [markdown] nbgrader={"grade": false, "grade_id": "q3-practice-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 6 · Q3, part 2: other latent distributions in practice (4 points, graded by hand)
#
# *Research and indicate whether distributions other than the Gaussian are used in practice.* Give at
# least four families of priors or posteriors used in published VAE-type models. For each: what
# structure of the data it suits, how it is trained (which of Tasks 1–3 it needs: a Monte Carlo KL, a
# relaxation, an implicit or another reparameterisation) and one reference. A homework answer listed
# "flow-based models" as mapping latent variables "from Gaussian priors to more complex
# distributions", and VQ-VAE as a discrete latent space: say where flows are used inside VAEs, and
# what a VQ-VAE needs before it can generate. End with one sentence on when you would leave the
# Gaussian.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q3-practice-answer", "locked": false, "points": 4, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** Yes; non-Gaussian latents are used wherever the latent structure or the sample
# quality calls for them:
#
# - **Learned mixture priors** for multi-modal, clustered latent spaces: the Gaussian-mixture VAE
#   (Dilokthanakul et al. 2016) and the VampPrior, a mixture of the encoder's posteriors at learned
#   pseudo-inputs (Tomczak and Welling 2018). The KL to a mixture has no closed form and is estimated
#   by Monte Carlo (Task 1).
# - **Flows.** Inside VAEs, normalising flows mostly enrich the *posterior* (planar and radial flows,
#   Rezende and Mohamed 2015; inverse autoregressive flow, Kingma et al. 2016); a learned flow or
#   autoregressive *prior* is also used (Chen et al. 2017). The KL is then estimated by Monte Carlo
#   with the change-of-variables log-density. Standalone flows (RealNVP, Glow) are a separate model
#   class with an exact likelihood and no ELBO.
# - **Bounded and proportion latents.** Beta or Kumaraswamy posteriors in the stick-breaking VAE
#   (Nalisnick and Smyth 2017; the Kumaraswamy has a closed-form inverse CDF, Task 4's route); Dirichlet
#   latents for topic proportions, trained with a Laplace (logistic-normal) approximation in ProdLDA
#   (Srivastava and Sutton 2017) or directly with implicit reparameterisation gradients for Gamma, Beta
#   and Dirichlet (Figurnov et al. 2018, Task 3).
# - **Directional latents.** The von Mises–Fisher distribution on the hypersphere with a uniform prior
#   (Davidson et al. 2018), reparameterised through its rejection sampler.
# - **Discrete latents.** Categorical latents with the Gumbel-softmax / Concrete relaxation (Jang et
#   al. 2017; Maddison et al. 2017; Task 2), used for example in the discrete VAE of DALL·E (Ramesh
#   et al. 2021). VQ-VAE (van den Oord et al. 2017) quantises the encoder output to the nearest
#   codebook vector with a straight-through gradient; its posterior is a deterministic one-hot and its
#   training prior uniform, so the KL is the constant $\log K$. To *generate* it needs a second-stage
#   prior fitted to the codes of the training set (PixelCNN in the paper; VQ-VAE-2, Razavi et al. 2019).
# - **Learned and hierarchical priors** in large models: hierarchical VAEs such as NVAE (Vahdat and
#   Kautz 2020) stack conditional Gaussians whose marginal is far from Gaussian; latent diffusion models
#   (Rombach et al. 2022) train a diffusion model as the prior over an autoencoder's latents.
#
# Leave the Gaussian when the latent variable has a structure it cannot express (bounded, on a
# simplex, discrete, on a sphere) or when prior samples are poor because the aggregate posterior is
# far from $\mathcal N(0, I)$; a learned prior then closes the gap at the cost of a Monte Carlo KL.
#
# *Marking (4 points):* 1 point per correct family with what it suits and how it is trained, up to 3
# (a reference each); 1 point for the flow and VQ-VAE corrections (flows mostly in the posterior;
# VQ-VAE needs a learned prior over the codes to generate) or an equally precise conclusion.
