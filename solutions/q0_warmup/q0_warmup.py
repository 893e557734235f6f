# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "q0-header", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # q0 · Warm-up: reparameterised sampling and the Gaussian KL
#
# Every VAE in this course rests on two formulas: the **reparameterised sample**
# $z = \mu + \sigma \odot \varepsilon$ and the **closed-form KL divergence** from a diagonal Gaussian
# to the standard normal prior. In this warm-up you write both in a few lines of PyTorch and check them
# against `torch.distributions`. There is no training, so every cell runs in well under a second.
#
# | task | what you do | points | graded |
# | --- | --- | --- | --- |
# | 1 | `reparameterize`: the sample has the right values | 2 | automatically |
# | 1 | `reparameterize`: gradients reach `mu` and `logvar` | 1 | automatically |
# | 2 | `gaussian_kl`: closed form, one value per example | 3 | automatically |
# | 3 | Why reparameterise? (written answer) | 2 | by hand |
# | | **total** | **8** | |
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

# %% nbgrader={"grade": false, "grade_id": "q0-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import torch

import vaecourse as vc

device = vc.setup_notebook(seed=0)


# %% [markdown] nbgrader={"grade": false, "grade_id": "q0-reparam-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 1 · Reparameterised sampling (3 points)
#
# The encoder of a VAE outputs the mean `mu` and the log-variance `logvar` $= \log \sigma^2$ of a
# diagonal Gaussian $q(z \mid x) = \mathcal N(\mu, \operatorname{diag} \sigma^2)$. The
# **reparameterisation trick** writes a sample from $q$ as a deterministic, differentiable function of
# the parameters and of independent noise:
#
# $$
# z = \mu + \sigma \odot \varepsilon, \qquad \sigma = \exp\!\left(\tfrac12 \log \sigma^2\right),
# \qquad \varepsilon \sim \mathcal N(0, I).
# $$
#
# Implement `reparameterize(mu, logvar, eps)`. The noise `eps` is drawn by the caller and passed in,
# which makes the function deterministic and testable: do not draw noise inside it. All three inputs
# have shape `(B, D)`; the result has the same shape and dtype.
#
# Points: 2 for the values (first test cell), 1 for gradients reaching `mu` and `logvar` (second test
# cell).

# %% nbgrader={"grade": false, "grade_id": "q0-reparam-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Return the reparameterised sample ``z = mu + exp(0.5 * logvar) * eps``.

    Parameters
    ----------
    mu : torch.Tensor, shape (B, D)
        Means of the diagonal Gaussian q(z | x).
    logvar : torch.Tensor, shape (B, D)
        Log-variances ``log(sigma ** 2)`` of q(z | x).
    eps : torch.Tensor, shape (B, D)
        Standard normal noise, drawn by the caller.

    Returns
    -------
    torch.Tensor, shape (B, D)
        The sample ``z``, differentiable with respect to ``mu`` and ``logvar``.
    """
    ### BEGIN SOLUTION
    std = torch.exp(0.5 * logvar)
    return mu + std * eps
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
# Try it (not graded): 100,000 samples from N(1.5, 0.5^2) should have mean 1.5 and std 0.5.
gen_try = torch.Generator().manual_seed(1)
num_samples = 100_000
mu_try = torch.full((num_samples, 1), 1.5, dtype=torch.float64)
logvar_try = torch.full((num_samples, 1), 2 * torch.log(torch.tensor(0.5)).item(), dtype=torch.float64)
eps_try = torch.randn(num_samples, 1, generator=gen_try, dtype=torch.float64)
z_try = reparameterize(mu_try, logvar_try, eps_try)
print(f"z shape: {tuple(z_try.shape)}, dtype: {z_try.dtype}")
z_mean_try = vc.checks.check_within_mc_error("sample mean of z is mu = 1.5", z_try.mean(), 1.5, 0.5 / num_samples**0.5)
z_std_try = vc.checks.check_within_mc_error("sample std of z is sigma = 0.5", z_try.std(), 0.5, 0.5 / (2 * num_samples) ** 0.5)

# %% nbgrader={"grade": true, "grade_id": "q0-reparam-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""reparameterize returns mu + exp(0.5 * logvar) * eps, with the shape and dtype of mu."""
gen_q0_reparam = torch.Generator().manual_seed(2024)
mu_q0r = torch.randn(5, 3, generator=gen_q0_reparam)
logvar_q0r = torch.randn(5, 3, generator=gen_q0_reparam)
eps_q0r = torch.randn(5, 3, generator=gen_q0_reparam)
z_q0r = reparameterize(mu_q0r, logvar_q0r, eps_q0r)
vc.grading.assert_equal(type(z_q0r).__name__, "Tensor", what="the type of the result",
                        hint="build z with torch operations and return the tensor")
vc.grading.assert_equal(tuple(z_q0r.shape), (5, 3), what="the shape of z for mu of shape (5, 3)",
                        hint="z has the shape of mu: combine the inputs elementwise, do not sum or reshape")
vc.grading.assert_equal(str(z_q0r.dtype), "torch.float32", what="the dtype of z for float32 inputs",
                        hint="do not convert with .double() or torch.tensor(...); stay in the inputs' dtype")
vc.grading.assert_close(reparameterize(mu_q0r, logvar_q0r, torch.zeros_like(eps_q0r)), mu_q0r,
                        what="z with eps = 0", hint="with no noise the sample is mu; is eps the only source of noise?")
vc.grading.assert_close(reparameterize(mu_q0r, torch.zeros_like(logvar_q0r), eps_q0r), mu_q0r + eps_q0r,
                        what="z with logvar = 0 (sigma = 1)", hint="then z = mu + eps; did you use the eps passed in?")
# logvar = (log 4, log 9): sigma = (2, 3), so z = mu + (2, 3) * eps; the variance (4, 9) would give (4, -8).
vc.grading.assert_close(reparameterize(torch.tensor([[0.0, 1.0]], dtype=torch.float64),
                                       torch.log(torch.tensor([[4.0, 9.0]], dtype=torch.float64)),
                                       torch.tensor([[1.0, -1.0]], dtype=torch.float64)),
                        torch.tensor([[2.0, -2.0]], dtype=torch.float64),
                        what="z for mu = (0, 1), logvar = (log 4, log 9), eps = (1, -1)",
                        hint="sigma = exp(0.5 * logvar) = (2, 3), so z = (0 + 2 * 1, 1 - 3 * 1) = (2, -2). (4, -8) "
                             "means you scaled eps by the variance exp(logvar), not by the standard deviation")
print("reparameterize: visible tests passed")
### BEGIN HIDDEN TESTS
gen_q0_reparam_hidden = torch.Generator().manual_seed(77)
mu_q0rh = 3 * torch.randn(64, 8, generator=gen_q0_reparam_hidden, dtype=torch.float64)
logvar_q0rh = 2 * torch.randn(64, 8, generator=gen_q0_reparam_hidden, dtype=torch.float64)
eps_q0rh = torch.randn(64, 8, generator=gen_q0_reparam_hidden, dtype=torch.float64)
inputs_before_q0rh = [t.clone() for t in (mu_q0rh, logvar_q0rh, eps_q0rh)]
z_q0rh = reparameterize(mu_q0rh, logvar_q0rh, eps_q0rh)
vc.grading.record("z on the visible float32 batch", z_q0r, rtol=1e-6, atol=1e-6,
                  hint="z = mu + exp(0.5 * logvar) * eps, elementwise, in the dtype of mu")
vc.grading.record("z on a hidden float64 batch (64 x 8)", z_q0rh, rtol=1e-12, atol=1e-12,
                  hint="z = mu + exp(0.5 * logvar) * eps: scale eps by the standard deviation, not the variance")
vc.grading.record("mu, logvar and eps after the call", [mu_q0rh, logvar_q0rh, eps_q0rh],
                  hint="reparameterize must not change its inputs in place; build a new tensor")
z_variance_mistake_q0rh = mu_q0rh + torch.exp(logvar_q0rh) * eps_q0rh
assert not torch.allclose(z_q0rh, z_variance_mistake_q0rh), (
    "z on a hidden batch: expected mu + exp(0.5 * logvar) * eps, got mu + exp(logvar) * eps. "
    "Hint: scale eps by the standard deviation exp(0.5 * logvar), not by the variance exp(logvar)")
vc.grading.assert_close(z_q0rh, mu_q0rh + torch.exp(0.5 * logvar_q0rh) * eps_q0rh, rtol=1e-12, atol=1e-12,
                        what="z on a hidden float64 batch (64 x 8)",
                        hint="z = mu + exp(0.5 * logvar) * eps, in the dtype of the inputs")
for name_q0rh, before_q0rh, after_q0rh in zip(("mu", "logvar", "eps"), inputs_before_q0rh, (mu_q0rh, logvar_q0rh, eps_q0rh)):
    vc.grading.assert_close(after_q0rh, before_q0rh, rtol=0, atol=0, what=f"{name_q0rh} after the call",
                            hint="reparameterize changed its input in place (e.g. mu += ...); build a new tensor")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q0-reparam-grad-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Gradients of z flow back to mu and logvar: dz/dmu = 1 and dz/dlogvar = 0.5 * sigma * eps."""
gen_q0_grad = torch.Generator().manual_seed(11)
mu_q0g = torch.randn(3, 4, generator=gen_q0_grad, dtype=torch.float64).requires_grad_()
logvar_q0g = torch.randn(3, 4, generator=gen_q0_grad, dtype=torch.float64).requires_grad_()
eps_q0g = torch.randn(3, 4, generator=gen_q0_grad, dtype=torch.float64)
z_q0g = reparameterize(mu_q0g, logvar_q0g, eps_q0g)
vc.grading.assert_equal(z_q0g.requires_grad, True, what="z.requires_grad",
                        hint="z is cut off from mu and logvar: avoid .detach(), .item(), .data, numpy and torch.no_grad()")
z_q0g.sum().backward()
vc.grading.assert_equal([mu_q0g.grad is not None, logvar_q0g.grad is not None], [True, True],
                        what="[a gradient reached mu, a gradient reached logvar]",
                        hint="z must be computed from mu and logvar with torch operations")
print("reparameterize gradients: visible tests passed")
### BEGIN HIDDEN TESTS
vc.grading.record("d sum(z) / d mu", mu_q0g.grad, rtol=1e-12, atol=1e-12,
                  hint="z depends on mu as mu + (something without mu), so the gradient is 1 everywhere")
vc.grading.record("d sum(z) / d logvar", logvar_q0g.grad, rtol=1e-12, atol=1e-12,
                  hint="d z / d logvar = 0.5 * exp(0.5 * logvar) * eps")
vc.grading.assert_close(mu_q0g.grad, torch.ones_like(mu_q0g), what="d sum(z) / d mu",
                        hint="z depends on mu as mu + (something without mu), so the gradient is 1 everywhere")
vc.grading.assert_close(logvar_q0g.grad, 0.5 * torch.exp(0.5 * logvar_q0g.detach()) * eps_q0g, rtol=1e-12, atol=1e-12,
                        what="d sum(z) / d logvar", hint="d z / d logvar = 0.5 * exp(0.5 * logvar) * eps")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q0-kl-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 2 · The KL divergence to the prior, in closed form (3 points)
#
# The VAE loss penalises the distance of $q(z \mid x) = \mathcal N(\mu, \operatorname{diag} \sigma^2)$
# from the prior $p(z) = \mathcal N(0, I)$. For diagonal Gaussians the KL divergence has a closed form,
# a sum over the $D$ latent dimensions:
#
# $$
# \mathrm{KL}\big(q(z \mid x)\,\|\,p(z)\big)
# = \frac12 \sum_{d=1}^{D} \left( \sigma_d^2 + \mu_d^2 - 1 - \log \sigma_d^2 \right) \quad \text{nats}.
# $$
#
# Implement `gaussian_kl(mu, logvar)`. It returns **one value per example**, shape `(B,)`: sum over the
# latent dimensions and do not average over the batch (callers take `.mean()` themselves).
#
# Do not call `torch.distributions.kl_divergence`: the hidden tests compare your result with it in
# float64 and switch it off while your function runs.

# %% nbgrader={"grade": false, "grade_id": "q0-kl-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence ``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per example, in nats.

    Parameters
    ----------
    mu : torch.Tensor, shape (B, D)
        Means of the diagonal Gaussian q(z | x).
    logvar : torch.Tensor, shape (B, D)
        Log-variances ``log(sigma ** 2)`` of q(z | x).

    Returns
    -------
    torch.Tensor, shape (B,)
        The KL divergence of each example, summed over the D latent dimensions.
    """
    ### BEGIN SOLUTION
    return 0.5 * (torch.exp(logvar) + mu.pow(2) - 1.0 - logvar).sum(dim=-1)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
# Try it (not graded): the KL of the prior to itself is 0, and it grows as q moves away from N(0, I).
mu_try_kl = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
logvar_try_kl = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, -1.0]])
kl_try = gaussian_kl(mu_try_kl, logvar_try_kl)
print(f"kl shape: {tuple(kl_try.shape)}, dtype: {kl_try.dtype}")
print(f"KL per example (nats, rounded): {[round(v, 3) for v in kl_try.tolist()]}")

# %% nbgrader={"grade": true, "grade_id": "q0-kl-tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""gaussian_kl returns one KL per example, shape (B,), equal to torch.distributions.kl_divergence in float64."""
gen_q0_kl = torch.Generator().manual_seed(3)
mu_q0k = torch.randn(6, 4, generator=gen_q0_kl, dtype=torch.float64)
logvar_q0k = torch.randn(6, 4, generator=gen_q0_kl, dtype=torch.float64)
kl_q0k = gaussian_kl(mu_q0k, logvar_q0k)
vc.grading.assert_equal(type(kl_q0k).__name__, "Tensor", what="the type of the result",
                        hint="compute the KL with torch operations and return the tensor")
vc.grading.assert_equal(tuple(kl_q0k.shape), (6,), what="the shape of the KL of 6 examples with 4 latent dimensions",
                        hint="one KL per example: sum over the latent dimension (dim=-1), do not reduce over the batch")
vc.grading.assert_equal(str(kl_q0k.dtype), "torch.float64", what="the dtype of the KL for float64 inputs",
                        hint="stay in the inputs' dtype")
zeros_q0k = torch.zeros(2, 3, dtype=torch.float64)
vc.grading.assert_close(gaussian_kl(zeros_q0k, zeros_q0k), torch.zeros(2, dtype=torch.float64),
                        what="the KL of N(0, I) to itself", hint="it must be 0: check the '- 1' and the '- logvar' terms")
vc.grading.assert_equal(bool((kl_q0k >= 0).all()), True, what="every KL >= 0",
                        hint="a KL divergence is never negative: check the signs")
print("gaussian_kl: visible tests passed")
### BEGIN HIDDEN TESTS
from vaecourse import testkit

gen_q0_kl_hidden = torch.Generator().manual_seed(5)
mu_q0kh = 2 * torch.randn(32, 10, generator=gen_q0_kl_hidden, dtype=torch.float64)
logvar_q0kh = 3 * torch.randn(32, 10, generator=gen_q0_kl_hidden, dtype=torch.float64)
no_reference_q0kh = AssertionError(
    "gaussian_kl called torch.distributions.kl_divergence: expected the closed form, got a library call. "
    "Hint: write 0.5 * sum(exp(logvar) + mu**2 - 1 - logvar) yourself")
# the function objects themselves, so that an alias (from torch.distributions import kl_divergence as kld)
# is caught too, and the closed forms it dispatches to
with testkit.forbid(no_reference_q0kh, torch.distributions.kl.kl_divergence,
                    *set(torch.distributions.kl._KL_REGISTRY.values())):
    kl_q0kh = gaussian_kl(mu_q0kh, logvar_q0kh)
    kl_single_q0kh = gaussian_kl(mu_q0kh[:1], logvar_q0kh[:1])
hint_q0kh = ("0.5 * sum over d of (exp(logvar) + mu**2 - 1 - logvar): the variance is exp(logvar), "
             "not exp(0.5 * logvar), and the sum runs over dim=-1")
vc.grading.record("KL on the visible batch (6 x 4)", kl_q0k, rtol=1e-10, atol=1e-10, hint=hint_q0kh)
vc.grading.record("KL on a hidden batch (32 x 10)", kl_q0kh, rtol=1e-10, atol=1e-10, hint=hint_q0kh)
vc.grading.record("KL of a batch of one example", kl_single_q0kh, rtol=1e-10, atol=1e-10,
                  hint="a batch of one gives shape (1,): do not squeeze")
q_z_q0kh = torch.distributions.Independent(torch.distributions.Normal(mu_q0kh, torch.exp(0.5 * logvar_q0kh)), 1)
p_z_q0kh = torch.distributions.Independent(
    torch.distributions.Normal(torch.zeros_like(mu_q0kh), torch.ones_like(mu_q0kh)), 1)
vc.grading.assert_close(kl_q0kh, torch.distributions.kl_divergence(q_z_q0kh, p_z_q0kh), rtol=1e-10, atol=1e-10,
                        what="gaussian_kl against torch.distributions.kl_divergence (float64, 32 x 10)", hint=hint_q0kh)
vc.grading.assert_equal(tuple(kl_single_q0kh.shape), (1,), what="the shape of the KL of a batch of one example",
                        hint="do not squeeze the batch dimension")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q0-why-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 3 · Why reparameterise? (2 points, graded by hand)
#
# In the cell below, answer in 3–6 sentences: why does a VAE compute $z = \mu + \sigma \odot \varepsilon$
# instead of drawing $z \sim \mathcal N(\mu, \sigma^2)$ directly (for example with
# `torch.normal(mu, std)`)? Say what goes wrong with the gradient of the loss with respect to `mu` and
# `logvar` in the direct version, and what the trick changes. Name one other way to get gradients
# through a sample and one reason it is worse here.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q0-why-answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** Drawing $z \sim \mathcal N(\mu, \sigma^2)$ directly makes $z$ a random number that
# does not depend on $\mu$ and $\sigma$ through any differentiable operation: autograd cannot
# differentiate through the sampling step (`torch.normal(mu, std)` reports a gradient of zero for its
# arguments, and `Normal(mu, std).sample()` returns a tensor cut off from the graph), so the decoder's
# loss sends no useful gradient back to the encoder's `mu` and `logvar`. The
# reparameterisation moves the randomness into a parameter-free noise $\varepsilon \sim \mathcal N(0, I)$
# and writes $z = \mu + \sigma \odot \varepsilon$, a deterministic, differentiable function of the
# parameters. Then $\nabla_{\mu,\sigma} \mathbb E_\varepsilon[f(z)] = \mathbb E_\varepsilon[\nabla_{\mu,\sigma} f(\mu + \sigma \varepsilon)]$,
# which a single sample estimates without bias, with $\partial z / \partial \mu = 1$ and
# $\partial z / \partial \log\sigma^2 = \tfrac12 \sigma \varepsilon$. The alternative is the score-function
# (REINFORCE) estimator $\mathbb E[f(z) \nabla \log q(z)]$: it needs no differentiable sampler and works
# for discrete $z$ too, but it ignores the gradient of $f$ and has a much higher variance, so it needs
# many samples or control variates to train as well.
#
# *Marking (2 points):* 1 point for explaining that direct sampling blocks the gradient to the
# parameters, 1 point for explaining that the trick makes $z$ a differentiable function of
# $\mu, \sigma$ with the noise outside, or for naming the score-function estimator and its higher
# variance.
