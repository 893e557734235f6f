# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "q2-header", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # q2 · Likelihoods: the Bernoulli NLL, the ELBO, the importance-weighted bound and an exact identity
#
# Homework Question 2 is about likelihoods: why we maximise $\sum_i \log p_\theta(x_i)$, why that is the
# same as minimising a cross-entropy, why a VAE maximises the ELBO instead, and why its reconstruction
# term is a binary cross-entropy. In this assignment you write the pieces yourself, from scratch and in a
# numerically stable way: the Bernoulli negative log-likelihood from logits, the negative ELBO of a VAE
# for a batch, the importance-weighted bound from log-weights, and the ELBO of a small linear-Gaussian
# model in closed form, where the identity of Question 2(c)(i) can be checked exactly. Then you answer
# the parts of Question 2 in writing. Lecture notebooks 04–06 measure everything behind these tasks.
# Nothing is trained; every cell runs in about a second.
#
# | task | what you do | points | graded |
# | --- | --- | --- | --- |
# | 1 | `bernoulli_nll`: the Bernoulli NLL from logits, stable for extreme logits | 3 | automatically |
# | 2 | `negative_elbo`: reconstruction NLL + closed-form KL, one value per example | 3 | automatically |
# | 3 | `importance_weighted_bound`: $\log \frac1K \sum_k w_k$ with a hand-written log-sum-exp | 2 | automatically |
# | 3 | `importance_weighted_bound` on a toy model: exact for equal weights, rising with $K$ | 1 | automatically |
# | 4 | `linear_gaussian_elbo`: the ELBO identity, checked exactly on a linear-Gaussian model | 2 | automatically |
# | 5 | Q2(a): why maximise $\sum_i \log p_\theta(x_i)$ (written answer) | 2 | by hand |
# | 6 | Q2(b): cross-entropy and maximum likelihood (written answer) | 2 | by hand |
# | 7 | Q2(c)(i): why the ELBO, and a proof of the identity (written answer) | 3 | by hand |
# | 8 | Q2(c)(ii): cross-entropy as the reconstruction term (written answer) | 3 | by hand |
# | | **total** | **21** | |
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

# %% nbgrader={"grade": false, "grade_id": "q2-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import torch
import torch.nn.functional as F

import vaecourse as vc

device = vc.setup_notebook(seed=0)


# %% [markdown] nbgrader={"grade": false, "grade_id": "q2-bce-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 1 · The Bernoulli negative log-likelihood from logits (3 points)
#
# A decoder with Bernoulli pixels outputs one **logit** $\ell_d$ per pixel; the pixel's probability of
# being 1 is $\lambda_d = \sigma(\ell_d) = 1 / (1 + e^{-\ell_d})$. For a binary image $x \in \{0, 1\}^D$
#
# $$
# -\log p(x \mid \ell) = -\sum_{d=1}^{D} \big[ x_d \log \sigma(\ell_d) + (1 - x_d) \log(1 - \sigma(\ell_d)) \big]
# \quad \text{nats},
# $$
#
# which is the binary cross-entropy (BCE) summed over pixels. Computed literally, it breaks down when a
# unit saturates: in float32, $\sigma(-100)$ is a tiny number whose log is fine, but $1 - \sigma(100)$
# rounds to exactly 0 and its log is $-\infty$. Rewrite each term with
# $\log \sigma(\ell) = -\log(1 + e^{-\ell})$ and $\log(1 - \sigma(\ell)) = -\ell - \log(1 + e^{-\ell})$
# into a form that never exponentiates a large positive number (hint: $\max(\ell, 0)$ and
# $\log(1 + e^{-|\ell|})$, with `torch.log1p`).
#
# Implement `bernoulli_nll(logits, x)`: inputs of shape `(B, D)`, one NLL per example, shape `(B,)`,
# summed over the $D$ pixels. It must equal `F.binary_cross_entropy_with_logits(logits, x,
# reduction="none").sum(-1)`, also for pixel values $x_d$ strictly between 0 and 1 (the same formula),
# and stay finite and exact for logits of $\pm 100$. Do not call `F.binary_cross_entropy_with_logits`,
# `F.binary_cross_entropy` or `torch.distributions.Bernoulli`: the hidden tests switch them off while
# your function runs.

# %% nbgrader={"grade": false, "grade_id": "q2-bce-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of ``x`` under independent Bernoulli pixels with the given logits.

    Parameters
    ----------
    logits : torch.Tensor, shape (B, D)
        Logits ``l`` of the pixel probabilities ``sigmoid(l)``; any real values, including +-100.
    x : torch.Tensor, shape (B, D)
        Targets, binary in {0, 1} (values in [0, 1] use the same formula).

    Returns
    -------
    torch.Tensor, shape (B,)
        ``-sum_d [x_d log sigmoid(l_d) + (1 - x_d) log(1 - sigmoid(l_d))]`` per example, in nats.
    """
    ### BEGIN SOLUTION
    per_pixel = torch.clamp(logits, min=0) - logits * x + torch.log1p(torch.exp(-logits.abs()))
    return per_pixel.sum(dim=-1)
    ### END SOLUTION


# %%
# Try it (not graded): your NLL next to PyTorch's BCE, and the literal formula at saturated logits.
logits_try = torch.tensor([[0.0, 0.0, 0.0], [2.0, -1.0, 0.5], [100.0, -100.0, 100.0]])
x_try = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
nll_try = bernoulli_nll(logits_try, x_try)
print(f"nll shape: {tuple(nll_try.shape)}, dtype: {nll_try.dtype}")
print("yours  (nats):", [round(v, 4) for v in nll_try.tolist()])
print("PyTorch (nats):", [round(v, 4) for v in F.binary_cross_entropy_with_logits(logits_try, x_try, reduction="none").sum(-1).tolist()])
probs_try = torch.sigmoid(logits_try)
literal_try = -(x_try * torch.log(probs_try) + (1 - x_try) * torch.log(1 - probs_try)).sum(-1)
print("literal formula (nats):", literal_try.tolist())

# %% nbgrader={"grade": true, "grade_id": "q2-bce-tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""bernoulli_nll equals the summed BCE with logits per example, stably, without PyTorch's BCE or Bernoulli."""
gen_q2b = torch.Generator().manual_seed(202)
logits_q2b = torch.randn(4, 6, generator=gen_q2b)
x_q2b = torch.bernoulli(torch.full((4, 6), 0.5), generator=gen_q2b)
nll_q2b = bernoulli_nll(logits_q2b, x_q2b)
vc.grading.assert_equal(type(nll_q2b).__name__, "Tensor", what="the type of the result of bernoulli_nll",
                        hint="compute the NLL with torch operations and return the tensor")
vc.grading.assert_equal(tuple(nll_q2b.shape), (4,), what="the shape of the NLL of 4 examples with 6 pixels",
                        hint="one NLL per example: sum over the pixels (dim=-1) and do not reduce over the batch")
vc.grading.assert_equal(str(nll_q2b.dtype), "torch.float32", what="the dtype of the NLL for float32 inputs",
                        hint="float32 in should give float32 out: stay in the inputs' dtype")
nll_half_q2b = bernoulli_nll(torch.zeros(2, 5), torch.ones(2, 5))
vc.grading.assert_close(nll_half_q2b, torch.full((2,), 5 * math.log(2.0)), rtol=1.3e-6, atol=1e-5,
                        what="the NLL of 5 pixels at logit 0",
                        hint="at logit 0 every pixel has probability 1/2, so 5 pixels cost 5 log 2 nats")
nll_wrong_q2b = bernoulli_nll(torch.tensor([[100.0, -100.0]]), torch.tensor([[0.0, 1.0]]))
vc.grading.assert_close(nll_wrong_q2b, torch.tensor([200.0]), rtol=1e-6, atol=1e-4,
                        what="the NLL of 2 wrong pixels at logits +100 and -100 (float32)",
                        hint="a pixel predicted at logit l but wrong costs log(1 + exp(|l|)), about |l| nats: 200 in "
                             "all. log(sigmoid(l)) and log(1 + exp(l)) overflow or round to log(0) here; use "
                             "max(l, 0) - l * x + log1p(exp(-|l|))")
print("bernoulli_nll: visible tests passed")
### BEGIN HIDDEN TESTS
from vaecourse import testkit

gen_q2bh = torch.Generator().manual_seed(9)
logits_q2bh = 4 * torch.randn(16, 30, generator=gen_q2bh, dtype=torch.float64)
x_q2bh = torch.bernoulli(torch.full((16, 30), 0.3, dtype=torch.float64), generator=gen_q2bh)
grey_q2bh = torch.rand(16, 30, generator=gen_q2bh, dtype=torch.float64)
extreme_logits_q2bh = torch.tensor([[100.0, -100.0, 100.0, -100.0], [30.0, -30.0, 0.0, 100.0]], dtype=torch.float64)
extreme_x_q2bh = torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
reference_q2bh = F.binary_cross_entropy_with_logits(logits_q2bh, x_q2bh, reduction="none").sum(-1)
reference_grey_q2bh = F.binary_cross_entropy_with_logits(logits_q2bh, grey_q2bh, reduction="none").sum(-1)
reference_extreme_q2bh = F.binary_cross_entropy_with_logits(
    extreme_logits_q2bh, extreme_x_q2bh, reduction="none").sum(-1)
no_reference_q2bh = AssertionError(
    "bernoulli_nll called PyTorch's binary cross-entropy or Bernoulli.log_prob: expected your own formula, got a "
    "library call. Hint: write max(l, 0) - l * x + log1p(exp(-|l|)) yourself")
# the function objects, whatever name the answer calls them by (and the builtins the functional forms call)
with testkit.forbid(no_reference_q2bh, F.binary_cross_entropy_with_logits, F.binary_cross_entropy,
                    torch.binary_cross_entropy_with_logits, torch._C._nn.binary_cross_entropy,
                    torch.distributions.Bernoulli.log_prob):
    nll_q2bh = bernoulli_nll(logits_q2bh, x_q2bh)
    nll_grey_q2bh = bernoulli_nll(logits_q2bh, grey_q2bh)
    nll_extreme_q2bh = bernoulli_nll(extreme_logits_q2bh, extreme_x_q2bh)
    nll_extreme32_q2bh = bernoulli_nll(extreme_logits_q2bh.float(), extreme_x_q2bh.float())
hint_q2bh = ("-sum_d [x_d log sigmoid(l_d) + (1 - x_d) log(1 - sigmoid(l_d))] = sum_d [max(l, 0) - l * x "
             "+ log1p(exp(-|l|))]: check the sign of each term and sum over dim=-1")
vc.grading.record("NLL on the visible float32 batch (4 x 6)", nll_q2b, rtol=1e-5, atol=1e-5, hint=hint_q2bh)
vc.grading.record("NLL of 5 pixels at logit 0 (float32)", nll_half_q2b, rtol=1e-5, atol=1e-5,
                  hint="at logit 0 every pixel has probability 1/2, so 5 pixels cost 5 log 2 nats")
vc.grading.record("NLL on a hidden float64 batch (16 x 30, binary x)", nll_q2bh, rtol=1e-10, atol=1e-10,
                  hint=hint_q2bh)
vc.grading.record("NLL on a hidden float64 batch (16 x 30, x in (0, 1))", nll_grey_q2bh, rtol=1e-10, atol=1e-10,
                  hint="for x strictly between 0 and 1 the same formula applies: do not round or threshold x")
vc.grading.record("NLL at logits of +-100 (float64)", nll_extreme_q2bh, rtol=1e-12, atol=1e-12,
                  hint="a wrong pixel at a logit of +-100 costs about 100 nats, exactly: do not clamp the logits or "
                       "the log, and avoid log(sigmoid(l)) and log(1 - sigmoid(l))")
vc.grading.record("NLL at logits of +-100 (float32)", nll_extreme32_q2bh, rtol=1e-6, atol=1e-4,
                  hint="in float32, too, a wrong pixel at a logit of +-100 costs about 100 nats: use "
                       "max(l, 0) - l * x + log1p(exp(-|l|)), in the inputs' dtype")
vc.grading.assert_close(nll_q2bh, reference_q2bh, rtol=1e-10, atol=1e-10,
                        what="bernoulli_nll against the summed BCE with logits (float64, 16 x 30, binary x)",
                        hint="check the sign of each term and that you sum over dim=-1")
vc.grading.assert_close(nll_grey_q2bh, reference_grey_q2bh, rtol=1e-10, atol=1e-10,
                        what="bernoulli_nll against the summed BCE with logits (float64, 16 x 30, x in (0, 1))",
                        hint="for x strictly between 0 and 1 the same formula applies: do not round or threshold x")
assert bool(torch.isfinite(nll_extreme_q2bh).all()) and bool(torch.isfinite(nll_extreme32_q2bh).all()), (
    f"bernoulli_nll at logits of +-100: expected finite values, got {nll_extreme_q2bh.tolist()} (float64) and "
    f"{nll_extreme32_q2bh.tolist()} (float32). Hint: avoid log(sigmoid(l)) and log(1 - sigmoid(l)); use "
    "max(l, 0) - l * x + log1p(exp(-|l|))")
vc.grading.assert_close(nll_extreme_q2bh, reference_extreme_q2bh, rtol=1e-12, atol=1e-12,
                        what="bernoulli_nll at logits of +-100 (float64)",
                        hint="a wrong pixel costs about 100 nats, exactly. Do not clamp the logits or the log "
                             "(PyTorch's probability-based BCE clamps the log at -100)")
vc.grading.assert_close(nll_extreme32_q2bh, reference_extreme_q2bh.float(), rtol=1e-6, atol=1e-4,
                        what="bernoulli_nll at logits of +-100 (float32)",
                        hint="in float32 the NLL at logits of +-100 must be right too (about 100 nats per wrong "
                             "pixel)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q2-elbo-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 2 · The negative ELBO of a VAE for a batch (3 points)
#
# For one image $x$, a VAE with encoder $q(z \mid x) = \mathcal N(\mu, \operatorname{diag} \sigma^2)$,
# prior $p(z) = \mathcal N(0, I)$ and Bernoulli decoder $p(x \mid z)$ **maximises** the ELBO
#
# $$
# \mathrm{ELBO}(x) = \mathbb E_{q(z \mid x)}[\log p(x \mid z)] - \mathrm{KL}\big(q(z \mid x)\,\|\,p(z)\big)
# \;\le\; \log p(x),
# $$
#
# so the loss that training *minimises* is $-\mathrm{ELBO}$. With one reparameterised sample
# $z = \mu + \sigma \odot \varepsilon$, $\sigma = \exp(\tfrac12 \log\sigma^2)$, the usual single-sample
# estimate is
#
# $$
# -\widehat{\mathrm{ELBO}}(x) = \underbrace{-\log p(x \mid z)}_{\text{Bernoulli NLL of the decoder's logits at } z}
# + \underbrace{\tfrac12 \textstyle\sum_{j} \big(\sigma_j^2 + \mu_j^2 - 1 - \log \sigma_j^2\big)}_{\mathrm{KL}(q \,\|\, p(z)) \text{ in closed form}} .
# $$
#
# Implement `negative_elbo(x, mu, logvar, eps, decoder)`. `mu`, `logvar` and `eps` have shape `(B, d)`;
# `x` has shape `(B, D)`; `decoder` is a callable that maps `z` of shape `(B, d)` to logits of shape
# `(B, D)`. Return one value per example, shape `(B,)`, in nats. Use the `eps` passed in (draw no noise),
# call `decoder` once, and keep the result differentiable with respect to `mu` and `logvar`. You may
# use your `bernoulli_nll` from Task 1 or `F.binary_cross_entropy_with_logits`; write the KL yourself
# (the hidden tests switch `torch.distributions.kl_divergence` off).

# %% nbgrader={"grade": false, "grade_id": "q2-elbo-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def negative_elbo(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor, decoder) -> torch.Tensor:
    """Single-sample estimate of ``-ELBO(x)`` per example: Bernoulli NLL at ``z`` plus ``KL(q || N(0, I))``.

    Parameters
    ----------
    x : torch.Tensor, shape (B, D)
        The images, flattened, with pixels in {0, 1}.
    mu, logvar : torch.Tensor, shape (B, d)
        Mean and log-variance of the encoder's diagonal Gaussian q(z | x).
    eps : torch.Tensor, shape (B, d)
        Standard normal noise, drawn by the caller.
    decoder : callable
        Maps ``z`` of shape (B, d) to pixel logits of shape (B, D).

    Returns
    -------
    torch.Tensor, shape (B,)
        ``-log p(x | z) + KL(q(z | x) || p(z))`` with ``z = mu + exp(0.5 * logvar) * eps``, in nats.
    """
    ### BEGIN SOLUTION
    z = mu + torch.exp(0.5 * logvar) * eps
    reconstruction = bernoulli_nll(decoder(z), x)
    kl = 0.5 * (torch.exp(logvar) + mu.pow(2) - 1.0 - logvar).sum(dim=-1)
    return reconstruction + kl
    ### END SOLUTION


# %%
# Try it (not graded): an untrained VAE's decoder on two binarised digits.
vae_try = vc.models.VAE(latent_dim=4)
x_digits_try = (vc.data.load_mnist(split="test")[0][:2].flatten(1) > 0.5).float()
gen_elbo_try = torch.Generator().manual_seed(3)
mu_elbo_try = torch.randn(2, 4, generator=gen_elbo_try)
logvar_elbo_try = torch.zeros(2, 4)
eps_elbo_try = torch.randn(2, 4, generator=gen_elbo_try)
with torch.no_grad():
    loss_try = negative_elbo(x_digits_try, mu_elbo_try, logvar_elbo_try, eps_elbo_try,
                             lambda z: vae_try.decode(z).base_dist.logits.flatten(1))
print(f"negative ELBO shape: {tuple(loss_try.shape)}, dtype: {loss_try.dtype}")
print("negative ELBO (nats, rounded):", [round(v, 1) for v in loss_try.tolist()])

# %% nbgrader={"grade": true, "grade_id": "q2-elbo-tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""negative_elbo returns the Bernoulli NLL at the reparameterised z plus the closed-form KL, per example."""
gen_q2e = torch.Generator().manual_seed(31)
weight_q2e = torch.randn(3, 8, generator=gen_q2e)
x_q2e = torch.bernoulli(torch.full((5, 8), 0.5), generator=gen_q2e)
mu_q2e = torch.randn(5, 3, generator=gen_q2e)
logvar_q2e = torch.randn(5, 3, generator=gen_q2e)
eps_q2e = torch.randn(5, 3, generator=gen_q2e)
loss_q2e = negative_elbo(x_q2e, mu_q2e, logvar_q2e, eps_q2e, lambda z: z @ weight_q2e)
vc.grading.assert_equal(type(loss_q2e).__name__, "Tensor", what="the type of the result of negative_elbo",
                        hint="compute the loss with torch operations and return the tensor")
vc.grading.assert_equal(tuple(loss_q2e.shape), (5,), what="the shape of the negative ELBO of 5 examples",
                        hint="one value per example: sum the NLL over pixels and the KL over latent dimensions, "
                             "and do not average over the batch")
zeros_q2e = torch.zeros(5, 3)
loss_prior_q2e = negative_elbo(x_q2e, zeros_q2e, zeros_q2e, eps_q2e, lambda z: torch.zeros(z.shape[0], 8))
vc.grading.assert_close(loss_prior_q2e, torch.full((5,), 8 * math.log(2.0)), rtol=1.3e-6, atol=1e-5,
                        what="the negative ELBO with q = N(0, I) and logits 0 (8 pixels)",
                        hint="with q = N(0, I) the KL is 0, and logits of 0 cost log 2 per pixel: 8 log 2 per example")
# A q far from N(0, I), so that the KL matters; the reference uses PyTorch's own BCE and KL
z_q2e = mu_q2e + torch.exp(0.5 * logvar_q2e) * eps_q2e
kl_q2e = torch.distributions.kl_divergence(torch.distributions.Normal(mu_q2e, torch.exp(0.5 * logvar_q2e)),
                                           torch.distributions.Normal(0.0, 1.0)).sum(-1)
reference_q2e = F.binary_cross_entropy_with_logits(z_q2e @ weight_q2e, x_q2e, reduction="none").sum(-1) + kl_q2e
vc.grading.assert_close(loss_q2e, reference_q2e, rtol=1e-5, atol=1e-4,
                        what=f"the negative ELBO of 5 examples whose KL is {kl_q2e.min().item():.1f} to "
                             f"{kl_q2e.max().item():.1f} nats",
                        hint="-ELBO = NLL at z + KL, with z = mu + exp(0.5 * logvar) * eps and the KL summed (not "
                             "averaged) over the latent dimensions: 0.5 * sum(exp(logvar) + mu**2 - 1 - logvar)")
print("negative_elbo: visible tests passed")
### BEGIN HIDDEN TESTS
from vaecourse import testkit

gen_q2eh = torch.Generator().manual_seed(32)
weight_q2eh = torch.randn(6, 20, generator=gen_q2eh, dtype=torch.float64)
bias_q2eh = torch.randn(20, generator=gen_q2eh, dtype=torch.float64)
x_q2eh = torch.bernoulli(torch.full((12, 20), 0.4, dtype=torch.float64), generator=gen_q2eh)
mu_q2eh = 1.5 * torch.randn(12, 6, generator=gen_q2eh, dtype=torch.float64)
logvar_q2eh = 2 * torch.randn(12, 6, generator=gen_q2eh, dtype=torch.float64)
eps_q2eh = torch.randn(12, 6, generator=gen_q2eh, dtype=torch.float64)
calls_q2eh = []


def decoder_q2eh(z):
    calls_q2eh.append(z.detach().clone())
    return torch.tanh(z @ weight_q2eh + bias_q2eh) * 3


z_ref_q2eh = mu_q2eh + torch.exp(0.5 * logvar_q2eh) * eps_q2eh
logits_ref_q2eh = torch.tanh(z_ref_q2eh @ weight_q2eh + bias_q2eh) * 3
nll_ref_q2eh = F.binary_cross_entropy_with_logits(logits_ref_q2eh, x_q2eh, reduction="none").sum(-1)
kl_ref_q2eh = torch.distributions.kl_divergence(
    torch.distributions.Independent(torch.distributions.Normal(mu_q2eh, torch.exp(0.5 * logvar_q2eh)), 1),
    torch.distributions.Independent(torch.distributions.Normal(torch.zeros_like(mu_q2eh), torch.ones_like(mu_q2eh)), 1))
no_reference_q2eh = AssertionError(
    "negative_elbo called torch.distributions.kl_divergence: expected the closed-form KL, got a library call. "
    "Hint: write 0.5 * sum(exp(logvar) + mu**2 - 1 - logvar) over dim=-1 yourself")
mu_grad_q2eh = mu_q2eh.clone().requires_grad_()
logvar_grad_q2eh = logvar_q2eh.clone().requires_grad_()
with testkit.forbid(no_reference_q2eh, torch.distributions.kl.kl_divergence,
                    *set(torch.distributions.kl._KL_REGISTRY.values())):
    loss_q2eh = negative_elbo(x_q2eh, mu_grad_q2eh, logvar_grad_q2eh, eps_q2eh, decoder_q2eh)
if isinstance(loss_q2eh, torch.Tensor) and loss_q2eh.requires_grad:
    loss_q2eh.sum().backward()  # the gradients are recorded below; a loss cut off from the graph records None
hint_q2eh = ("-ELBO = bernoulli_nll(decoder(z), x) + 0.5 * sum(exp(logvar) + mu**2 - 1 - logvar) over dim=-1, "
             "with z = mu + exp(0.5 * logvar) * eps")
vc.grading.record("negative ELBO on the visible float32 batch (5 x 3 -> 8)", loss_q2e, rtol=1e-5, atol=1e-5,
                  hint=hint_q2eh)
vc.grading.record("negative ELBO with q = N(0, I) and logits 0 (float32)", loss_prior_q2e, rtol=1e-5, atol=1e-5,
                  hint="with q = N(0, I) the KL is 0, and logits of 0 cost log 2 per pixel: 8 log 2 per example")
vc.grading.record("the z of each decoder call on a hidden float64 batch (12 x 6)", calls_q2eh, rtol=1e-12,
                  atol=1e-12, hint="call the decoder exactly once, with z = mu + exp(0.5 * logvar) * eps (the "
                                   "standard deviation, not the variance, scales eps; use the eps passed in)")
vc.grading.record("negative ELBO on a hidden float64 batch (12 x 6 -> 20)", loss_q2eh, rtol=1e-10, atol=1e-10,
                  hint=hint_q2eh + "; the negative ELBO adds the KL, it does not subtract it")
vc.grading.record("d sum(-ELBO) / d mu on the hidden batch", mu_grad_q2eh.grad, rtol=1e-10, atol=1e-10,
                  hint="keep the loss differentiable: build z and the KL from mu with torch operations, no .detach()")
vc.grading.record("d sum(-ELBO) / d logvar on the hidden batch", logvar_grad_q2eh.grad, rtol=1e-10, atol=1e-10,
                  hint="keep the loss differentiable: build z and the KL from logvar with torch operations, "
                       "no .detach()")
vc.grading.assert_equal(len(calls_q2eh), 1, what="the number of decoder calls for one batch",
                        hint="call the decoder exactly once per batch, on the reparameterised z")
vc.grading.assert_close(calls_q2eh[0], z_ref_q2eh, rtol=1e-12, atol=1e-12, what="the z the decoder received",
                        hint="z = mu + exp(0.5 * logvar) * eps (the standard deviation, not the variance, scales "
                             "eps; use the eps passed in)")
vc.grading.assert_equal(tuple(loss_q2eh.shape), (12,), what="the shape of the negative ELBO of 12 examples",
                        hint="one value per example: do not average over the batch")
kl_mistake_q2eh = 0.5 * (torch.exp(logvar_q2eh) + mu_q2eh**2 - 1 - logvar_q2eh).sum(-1)
assert not torch.allclose(loss_q2eh.detach(), nll_ref_q2eh - kl_mistake_q2eh), (
    "negative_elbo on a hidden batch: expected NLL + KL, got NLL - KL. Hint: the negative ELBO is NLL + KL "
    "(the ELBO is E[log p(x|z)] - KL)")
vc.grading.assert_close(loss_q2eh.detach(), nll_ref_q2eh + kl_ref_q2eh, rtol=1e-10, atol=1e-10,
                        what="negative_elbo against NLL + KL in float64 (12 examples, d = 6, D = 20)",
                        hint="the KL is 0.5 * sum(exp(logvar) + mu**2 - 1 - logvar) over dim=-1")
vc.grading.assert_equal(loss_q2eh.requires_grad, True, what="the negative ELBO's requires_grad",
                        hint="the loss is cut off from mu and logvar: avoid .detach(), .item(), numpy, no_grad")
vc.grading.assert_equal([mu_grad_q2eh.grad is not None, logvar_grad_q2eh.grad is not None], [True, True],
                        what="[a gradient reached mu, a gradient reached logvar]",
                        hint="compute z and the KL from mu and logvar with torch operations")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q2-iw-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 3 · The importance-weighted bound (3 points)
#
# Draw $K$ samples $z_1, \dots, z_K$ from $q(z \mid x)$ and form the importance weights
# $w_k = p(x, z_k) / q(z_k \mid x)$. Each $w_k$ is an unbiased estimate of $p(x)$, and so is their mean,
# but the log of the mean is biased *down* (Jensen):
#
# $$
# \mathcal L_K(x) = \mathbb E\Big[\log \tfrac1K \textstyle\sum_{k=1}^K w_k\Big] \le \log p(x),
# \qquad \mathcal L_1 = \mathrm{ELBO} \le \mathcal L_2 \le \dots, \qquad \mathcal L_K \to \log p(x).
# $$
#
# You are given the **log**-weights $\log w_k$, shape `(B, K)`. The weights themselves can be $e^{-500}$
# (an MNIST image's $\log p(x)$ is of the order of $-100$ nats) and underflow to 0, so compute the
# log-mean-exp stably: with $m = \max_k \log w_k$,
#
# $$
# \log \tfrac1K \textstyle\sum_k w_k = m + \log \sum_k e^{\log w_k - m} - \log K .
# $$
#
# Implement `importance_weighted_bound(log_w)` returning shape `(B,)`. Write the log-sum-exp yourself:
# the hidden tests switch `torch.logsumexp` off. The first test cell checks the values and the
# stability (2 points); the second uses your function on a toy model whose $\log p(x)$ is known: with
# all weights equal the bound is exact, and its average over many draws must not fall as $K$ grows
# (1 point).

# %% nbgrader={"grade": false, "grade_id": "q2-iw-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def importance_weighted_bound(log_w: torch.Tensor) -> torch.Tensor:
    """The importance-weighted estimate ``log((1/K) * sum_k exp(log_w[:, k]))`` per example, computed stably.

    Parameters
    ----------
    log_w : torch.Tensor, shape (B, K)
        Log importance weights ``log p(x, z_k) - log q(z_k | x)`` of K samples per example; finite values.

    Returns
    -------
    torch.Tensor, shape (B,)
        The log of the mean weight of each example, in nats.
    """
    ### BEGIN SOLUTION
    num_samples = log_w.shape[-1]
    m = log_w.max(dim=-1, keepdim=True).values
    return (m + torch.log(torch.exp(log_w - m).sum(dim=-1, keepdim=True))).squeeze(-1) - math.log(num_samples)
    ### END SOLUTION


# %%
# Try it (not graded): weights far below float's range, and the naive log(mean(exp(.))) next to yours.
log_w_try = torch.tensor([[-500.0, -501.0, -502.0], [0.0, 0.0, 0.0]])
bound_try = importance_weighted_bound(log_w_try)
print(f"bound shape: {tuple(bound_try.shape)}, dtype: {bound_try.dtype}")
print("yours (nats):", [round(v, 4) for v in bound_try.tolist()])
print("naive (nats):", torch.log(torch.exp(log_w_try).mean(-1)).tolist())

# %% nbgrader={"grade": true, "grade_id": "q2-iw-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""importance_weighted_bound is log(mean(exp(log_w))) per example, stable far outside float range, without torch.logsumexp."""
log_w_q2i = torch.tensor([[0.0, math.log(3.0)], [1.0, 1.0]])
bound_q2i = importance_weighted_bound(log_w_q2i)
vc.grading.assert_equal(type(bound_q2i).__name__, "Tensor", what="the type of the result of importance_weighted_bound",
                        hint="compute the bound with torch operations and return the tensor")
vc.grading.assert_equal(tuple(bound_q2i.shape), (2,), what="the shape of the bound of 2 examples with K = 2",
                        hint="one value per example: reduce over the K samples (dim=-1) only")
vc.grading.assert_close(bound_q2i, torch.tensor([math.log(2.0), 1.0]), rtol=1.3e-6, atol=1e-5,
                        what="the bound for weights (1, 3) and for log-weights (1, 1)",
                        hint="weights 1 and 3 have mean 2, so the bound is log 2; equal log-weights 1 give 1. Did "
                             "you subtract log K?")
bound_far_q2i = importance_weighted_bound(torch.tensor([[-1000.0, -1000.0 + math.log(3.0)]]))
vc.grading.assert_close(bound_far_q2i, torch.tensor([-1000.0 + math.log(2.0)]), rtol=1e-6, atol=1e-3,
                        what="the bound for log-weights -1000 and -1000 + log 3 (weights that underflow to 0)",
                        hint="the same weights as above times exp(-1000): the bound is -1000 + log 2. Subtract the "
                             "maximum before exponentiating and add it back after the log")
print("importance_weighted_bound: visible tests passed")
### BEGIN HIDDEN TESTS
from vaecourse import testkit

gen_q2ih = torch.Generator().manual_seed(41)
log_w_q2ih = 5 * torch.randn(10, 37, generator=gen_q2ih, dtype=torch.float64) - 200
far_q2ih = torch.tensor([[-1000.0, -1001.0, -1002.5], [800.0, 790.0, 805.0], [-1e4, -1e4, -1e4]], dtype=torch.float64)
reference_q2ih = torch.logsumexp(log_w_q2ih, dim=-1) - math.log(37)
reference_far_q2ih = torch.logsumexp(far_q2ih, dim=-1) - math.log(3)
no_reference_q2ih = AssertionError(
    "importance_weighted_bound called logsumexp: expected your own max-shift, got a library call. "
    "Hint: with m = max_k log_w, compute m + log(sum(exp(log_w - m))) - log K yourself")
with testkit.forbid(no_reference_q2ih, torch.logsumexp, torch.special.logsumexp, torch.Tensor.logsumexp):
    bound_q2ih = importance_weighted_bound(log_w_q2ih)
    bound_far_q2ih = importance_weighted_bound(far_q2ih)
    bound_far32_q2ih = importance_weighted_bound(far_q2ih.float())
    bound_single_q2ih = importance_weighted_bound(log_w_q2ih[:, :1])
hint_q2ih = "with m = max_k log_w: m + log(sum_k exp(log_w - m)) - log K, over dim=-1"
vc.grading.record("bound on the visible float32 log-weights (2 x 2)", bound_q2i, rtol=1e-5, atol=1e-6,
                  hint=hint_q2ih + "; did you subtract log K?")
vc.grading.record("bound on hidden float64 log-weights near -200 (10 x 37)", bound_q2ih, rtol=1e-12, atol=1e-10,
                  hint=hint_q2ih)
vc.grading.record("bound for log-weights near -1000, +800 and -10000 (float64)", bound_far_q2ih, rtol=1e-12,
                  atol=1e-9, hint="subtract the maximum before exponentiating and add it back after the log")
vc.grading.record("bound for log-weights near -1000, +800 and -10000 (float32)", bound_far32_q2ih, rtol=1e-6,
                  atol=1e-3, hint="subtract the maximum before exponentiating and add it back after the log, in the "
                                  "inputs' dtype")
vc.grading.record("bound with K = 1 (10 x 1, float64)", bound_single_q2ih, rtol=1e-12, atol=1e-10,
                  hint="with K = 1 the bound is the single log-weight itself (the ELBO estimate), shape (B,)")
vc.grading.assert_close(bound_q2ih, reference_q2ih, rtol=1e-12, atol=1e-10,
                        what="the bound against logsumexp(log_w) - log K (float64, 10 x 37, log-weights near -200)",
                        hint=hint_q2ih)
assert bool(torch.isfinite(bound_far_q2ih).all()) and bool(torch.isfinite(bound_far32_q2ih).all()), (
    f"the bound for log-weights near -1000, +800 and -10000: expected finite values, got {bound_far_q2ih.tolist()} "
    f"(float64) and {bound_far32_q2ih.tolist()} (float32). Hint: subtract the maximum before exponentiating and "
    "add it back after the log")
vc.grading.assert_close(bound_far_q2ih, reference_far_q2ih, rtol=1e-12, atol=1e-9,
                        what="the bound for log-weights near -1000, +800 and -10000 (float64)", hint=hint_q2ih)
vc.grading.assert_close(bound_far32_q2ih, reference_far_q2ih.float(), rtol=1e-6, atol=1e-3,
                        what="the bound for log-weights near -1000, +800 and -10000 (float32)",
                        hint=hint_q2ih + ", in the inputs' dtype")
vc.grading.assert_close(bound_single_q2ih, log_w_q2ih[:, 0], rtol=1e-12, atol=1e-10, what="the bound with K = 1",
                        hint="with K = 1 the bound is the single log-weight itself (the ELBO estimate), shape (B,)")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q2-iw-toy-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""On a toy model with known log p(x): equal weights give log p(x) exactly, and the bound does not fall as K grows."""
# Toy model: z ~ N(0, 1), x | z ~ N(z, 1), so p(x) = N(x; 0, 2). With q(z | x) the true posterior
# N(x/2, 1/2) every weight equals p(x): the bound is exact for any K.
def log_normal_q2t(value, mean, var):
    return -0.5 * (math.log(2 * math.pi) + torch.log(var) + (value - mean) ** 2 / var)


x_q2t = torch.tensor(1.3, dtype=torch.float64)
log_px_q2t = log_normal_q2t(x_q2t, torch.tensor(0.0, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64))
gen_q2t = torch.Generator().manual_seed(51)
z_post_q2t = x_q2t / 2 + math.sqrt(0.5) * torch.randn(3, 5, generator=gen_q2t, dtype=torch.float64)
one_q2t = torch.tensor(1.0, dtype=torch.float64)
log_w_post_q2t = (log_normal_q2t(z_post_q2t, 0.0, one_q2t) + log_normal_q2t(x_q2t, z_post_q2t, one_q2t)
                  - log_normal_q2t(z_post_q2t, x_q2t / 2, torch.tensor(0.5, dtype=torch.float64)))
bound_post_q2t = importance_weighted_bound(log_w_post_q2t)
vc.grading.assert_close(bound_post_q2t, log_px_q2t.expand(3), rtol=0, atol=1e-10,
                        what="the bound with q equal to the posterior (3 examples, K = 5)",
                        hint="with q equal to the posterior all weights equal p(x), so the bound must be log p(x) "
                             "exactly")
print("importance_weighted_bound on the toy model: visible tests passed")
### BEGIN HIDDEN TESTS
# A poor q = N(-1, 0.5^2): L_K must rise with K (each step within 3 standard errors), stay below log p(x)
# within 3 standard errors, and end closer to log p(x) than L_1. The draws come from a seeded generator, so
# the bounds are deterministic: they are recorded and compared with the model solution's.
gen_q2th = torch.Generator().manual_seed(52)
num_repeats_q2th = 4000
means_q2th, stderrs_q2th, shapes_q2th = [], [], []
hint_q2th = "m + log(sum_k exp(log_w - m)) - log K per row, with m = max_k log_w, over dim=-1"
vc.grading.record("bound with q equal to the posterior (3 examples, K = 5)", bound_post_q2t, rtol=1e-10,
                  atol=1e-10, hint="with q equal to the posterior all weights equal p(x): the bound is log p(x)")
for k_q2th in (1, 4, 16, 64):
    z_q2th = -1.0 + 0.5 * torch.randn(num_repeats_q2th, k_q2th, generator=gen_q2th, dtype=torch.float64)
    log_w_q2th = (log_normal_q2t(z_q2th, 0.0, one_q2t) + log_normal_q2t(x_q2t, z_q2th, one_q2t)
                  - log_normal_q2t(z_q2th, -1.0, torch.tensor(0.25, dtype=torch.float64)))
    bounds_q2th = importance_weighted_bound(log_w_q2th)
    vc.grading.record(f"the first 8 of {num_repeats_q2th} bounds with K = {k_q2th} (poor q)", bounds_q2th[:8],
                      rtol=1e-10, atol=1e-10, hint=hint_q2th)
    shapes_q2th.append(tuple(bounds_q2th.shape))
    means_q2th.append(bounds_q2th.mean().item())
    stderrs_q2th.append(bounds_q2th.std().item() / num_repeats_q2th**0.5)
vc.grading.record("average bound over 4000 draws for K = 1, 4, 16, 64 (poor q)", means_q2th, rtol=1e-10, atol=1e-10,
                  hint="the average of log((1/K) sum_k w_k) rises with K towards log p(x): " + hint_q2th)
for k_q2th, shape_q2th in zip((1, 4, 16, 64), shapes_q2th):
    vc.grading.assert_equal(shape_q2th, (num_repeats_q2th,), what=f"the shape of the bounds of {num_repeats_q2th} "
                            f"examples with K = {k_q2th}", hint="one value per example: reduce over dim=-1 only")
for i_q2th in range(3):
    step_se_q2th = (stderrs_q2th[i_q2th] ** 2 + stderrs_q2th[i_q2th + 1] ** 2) ** 0.5
    assert means_q2th[i_q2th + 1] >= means_q2th[i_q2th] - 3 * step_se_q2th, (
        f"the average bound for K = 1, 4, 16, 64: expected it to rise towards log p(x) = {log_px_q2t.item():.4f}, "
        f"got {means_q2th}, falling as K grew. Hint: average the weights, not the log-weights, and subtract log K")
for mean_q2th, se_q2th in zip(means_q2th, stderrs_q2th):
    assert mean_q2th <= log_px_q2t.item() + 3 * se_q2th, (
        f"the average bound for K = 1, 4, 16, 64: expected at most log p(x) = {log_px_q2t.item():.4f} (within 3 "
        f"standard errors), got {means_q2th}. Hint: the bound is below log p(x); did you subtract log K?")
assert abs(means_q2th[-1] - log_px_q2t.item()) < abs(means_q2th[0] - log_px_q2t.item()), (
    f"the average bound for K = 1, 4, 16, 64: expected L_64 closer to log p(x) = {log_px_q2t.item():.4f} than L_1, "
    f"got {means_q2th}. Hint: the log of the mean weight tightens as K grows; the mean of the log-weights does not")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q2-lg-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 4 · The ELBO identity, checked exactly on a linear-Gaussian model (2 points)
#
# For a neural decoder nothing in the identity of Question 2(c)(i) can be computed exactly. For a
# *linear-Gaussian* model everything can, which makes it the place to check the identity to float64
# precision (notebook 05 does it in several dimensions). Take the 1-D model
#
# $$
# z \sim \mathcal N(0, 1), \qquad x \mid z \sim \mathcal N(w z + b,\; s^2),
# $$
#
# and any Gaussian $q(z) = \mathcal N(m, v)$ with $v > 0$. Derive the ELBO in closed form:
#
# $$
# \mathrm{ELBO}(x; m, v) = \mathbb E_q[\log p(x \mid z)] - \mathrm{KL}\big(\mathcal N(m, v)\,\|\,\mathcal N(0, 1)\big).
# $$
#
# Hint: $\log p(x \mid z) = -\tfrac12 \log(2\pi s^2) - (x - w z - b)^2 / (2 s^2)$, and under $q$,
# $\mathbb E_q[(x - w z - b)^2] = (x - w m - b)^2 + w^2 v$ (mean squared plus variance). The KL is the
# 1-D case of the formula in Task 2, with $\sigma^2 = v$.
#
# Implement `linear_gaussian_elbo(x, w, b, s, q_mean, q_var)`: `x`, `q_mean` and `q_var` are float64
# tensors of shape `(B,)` (one $q$ per example), `w`, `b` and `s > 0` are Python floats; return the ELBO
# per example, shape `(B,)`, in nats, with no sampling. The tests check the identity of Question 2(c)(i)
# with the course's exact model `vaecourse.linear_gaussian.LinearGaussian`: your ELBO must equal
# $\log p(x) - \mathrm{KL}(q \,\|\, p(z \mid x))$ within $10^{-10}$ nats for many random $q$, and equal
# $\log p(x)$ when $q$ is the exact posterior. Write the formula yourself: the tests switch off every
# method of the model (`log_marginal`, `posterior`, `kl_to_posterior`, `elbo`, ...) while your function
# runs. Returning $\log p(x) - \mathrm{KL}(q \,\|\, p(z \mid x))$ would use the identity the tests check as
# its own answer.

# %% nbgrader={"grade": false, "grade_id": "q2-lg-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def linear_gaussian_elbo(x: torch.Tensor, w: float, b: float, s: float, q_mean: torch.Tensor,
                         q_var: torch.Tensor) -> torch.Tensor:
    """Closed-form ELBO of q(z) = N(q_mean, q_var) for the model z ~ N(0, 1), x | z ~ N(w z + b, s^2).

    Parameters
    ----------
    x : torch.Tensor, shape (B,)
        Observations (float64).
    w, b : float
        Weight and bias of the decoder mean ``w z + b``.
    s : float
        Standard deviation of the decoder noise, ``s > 0``.
    q_mean, q_var : torch.Tensor, shape (B,)
        Mean and variance (> 0) of the Gaussian q(z) used for each example.

    Returns
    -------
    torch.Tensor, shape (B,)
        ``E_q[log p(x | z)] - KL(q || N(0, 1))`` per example, in nats.
    """
    ### BEGIN SOLUTION
    expected_sq = (x - w * q_mean - b) ** 2 + w**2 * q_var
    expected_log_lik = -0.5 * math.log(2 * math.pi * s**2) - expected_sq / (2 * s**2)
    kl = 0.5 * (q_var + q_mean**2 - 1.0 - torch.log(q_var))
    return expected_log_lik - kl
    ### END SOLUTION


# %%
# Try it (not graded): the ELBO of a few q next to log p(x) = log N(x; b, w^2 + s^2) and a
# Monte Carlo estimate of the ELBO from 100,000 samples of q.
w_try, b_try, s_try = 1.5, 0.5, 0.8
x_lg_try = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
q_mean_try = torch.tensor([0.0, 0.5, 0.3], dtype=torch.float64)
q_var_try = torch.tensor([1.0, 0.2, 0.2], dtype=torch.float64)
elbo_lg_try = linear_gaussian_elbo(x_lg_try, w_try, b_try, s_try, q_mean_try, q_var_try)
log_px_try = torch.distributions.Normal(b_try, math.sqrt(w_try**2 + s_try**2)).log_prob(x_lg_try)
z_mc_try = q_mean_try + q_var_try.sqrt() * torch.randn(100_000, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
log_w_mc_try = (torch.distributions.Normal(w_try * z_mc_try + b_try, s_try).log_prob(x_lg_try)
                + torch.distributions.Normal(0.0, 1.0).log_prob(z_mc_try)
                - torch.distributions.Normal(q_mean_try, q_var_try.sqrt()).log_prob(z_mc_try))
print(f"ELBO shape: {tuple(elbo_lg_try.shape)}, dtype: {elbo_lg_try.dtype}")
print("your ELBO (nats):      ", [round(v, 4) for v in elbo_lg_try.tolist()])
print("Monte Carlo ELBO (nats):", [round(v, 4) for v in log_w_mc_try.mean(0).tolist()])
print("log p(x) (nats):       ", [round(v, 4) for v in log_px_try.tolist()])

# %% nbgrader={"grade": true, "grade_id": "q2-lg-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""linear_gaussian_elbo satisfies log p(x) - KL(q || p(z|x)) = ELBO to 1e-10, and equals log p(x) at the posterior."""
import contextlib
from unittest import mock

from vaecourse.linear_gaussian import LinearGaussian

w_q2l, b_q2l, s_q2l = 1.2, -0.3, 0.7
model_q2l = LinearGaussian(torch.tensor([[w_q2l]], dtype=torch.float64), torch.tensor([b_q2l], dtype=torch.float64), s_q2l)
x_q2l = torch.tensor([0.4, -1.0, 2.5], dtype=torch.float64)
post_mean_q2l, post_cov_q2l = model_q2l.posterior(x_q2l[:, None])
log_px_q2l = model_q2l.log_marginal(x_q2l[:, None])


def without_the_model_q2l(function, *args):
    """Run the answer with every method of LinearGaussian and PyTorch's KL switched off."""
    def refuse(*_, **__):
        raise AssertionError("linear_gaussian_elbo used the course's LinearGaussian model or PyTorch's KL: expected "
                             "your own closed form, got a library call. Hint: write E_q[log p(x|z)] - KL(q || N(0, 1)) "
                             "from x, w, b, s, q_mean and q_var")
    names = [name for name, value in vars(LinearGaussian).items()
             if not name.startswith("__") and (callable(value) or isinstance(value, (property, classmethod)))]
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(mock.patch.object(LinearGaussian, name, property(refuse) if isinstance(
                vars(LinearGaussian)[name], property) else refuse))
        stack.enter_context(mock.patch("torch.distributions.kl_divergence", side_effect=refuse))
        return function(*args)


elbo_post_q2l = without_the_model_q2l(linear_gaussian_elbo, x_q2l, w_q2l, b_q2l, s_q2l, post_mean_q2l[:, 0],
                                      post_cov_q2l[0, 0].expand(3))
vc.grading.assert_equal(type(elbo_post_q2l).__name__, "Tensor", what="the type of the result of linear_gaussian_elbo",
                        hint="compute the ELBO with torch operations and return the tensor")
vc.grading.assert_equal(tuple(elbo_post_q2l.shape), (3,), what="the shape of the ELBO of 3 examples",
                        hint="one ELBO per example: combine x, q_mean and q_var elementwise, do not sum or average")
vc.grading.assert_equal(str(elbo_post_q2l.dtype), "torch.float64", what="the dtype of the ELBO for float64 inputs",
                        hint="float64 in should give float64 out: do not convert with .float() or torch.tensor(...)")
hint_q2l = ("E_q[log p(x|z)] = -0.5 log(2 pi s^2) - ((x - w m - b)^2 + w^2 v) / (2 s^2), and "
            "KL(N(m, v) || N(0, 1)) = 0.5 (v + m^2 - 1 - log v)")
vc.grading.assert_close(elbo_post_q2l, log_px_q2l, rtol=0, atol=1e-10,
                        what="the ELBO with q the exact posterior p(z|x), against log p(x)",
                        hint="with q equal to p(z|x), KL(q || p(z|x)) = 0 and the ELBO must equal log p(x). Check "
                             "E_q[(x - w z - b)^2] = (x - w m - b)^2 + w^2 v and the KL")
print("linear_gaussian_elbo: visible tests passed")
### BEGIN HIDDEN TESTS
from vaecourse import testkit

vc.grading.record("ELBO with q the exact posterior (w = 1.2, b = -0.3, s = 0.7)", elbo_post_q2l, rtol=1e-10,
                  atol=1e-10, hint="with q equal to p(z|x) the ELBO equals log p(x): " + hint_q2l)
no_reference_q2lh = AssertionError(
    "linear_gaussian_elbo used the course's LinearGaussian model or PyTorch's KL: expected your own closed form, "
    "got a library call. Hint: write E_q[log p(x|z)] - KL(q || N(0, 1)) from x, w, b, s, q_mean and q_var")
gen_q2lh = torch.Generator().manual_seed(71)
for w_q2lh, b_q2lh, s_q2lh in ((1.5, 0.5, 0.8), (-0.7, -2.0, 0.3), (3.0, 1.0, 2.5)):
    model_q2lh = LinearGaussian(torch.tensor([[w_q2lh]], dtype=torch.float64), torch.tensor([b_q2lh], dtype=torch.float64), s_q2lh)
    x_q2lh = 3 * torch.randn(200, generator=gen_q2lh, dtype=torch.float64)
    q_mean_q2lh = 2 * torch.randn(200, generator=gen_q2lh, dtype=torch.float64)
    q_var_q2lh = torch.exp(1.5 * torch.randn(200, generator=gen_q2lh, dtype=torch.float64))
    log_px_q2lh = model_q2lh.log_marginal(x_q2lh[:, None])
    kl_post_q2lh = model_q2lh.kl_to_posterior(x_q2lh[:, None], q_mean_q2lh[:, None], q_var_q2lh[:, None, None])
    # the function objects of the model's methods and properties and of PyTorch's KL, whatever name calls them
    with testkit.forbid(no_reference_q2lh, *testkit.functions_of(LinearGaussian), torch.distributions.kl.kl_divergence,
                        *set(torch.distributions.kl._KL_REGISTRY.values())):
        elbo_q2lh = linear_gaussian_elbo(x_q2lh, w_q2lh, b_q2lh, s_q2lh, q_mean_q2lh, q_var_q2lh)
    vc.grading.record(f"ELBO of 200 random q for w = {w_q2lh}, b = {b_q2lh}, s = {s_q2lh}", elbo_q2lh, rtol=1e-10,
                      atol=1e-10, hint=hint_q2l + "; s^2 (not s) is the noise variance and q_var a variance")
    vc.grading.assert_equal(tuple(elbo_q2lh.shape), (200,), what="the shape of the ELBO of 200 examples",
                            hint="one ELBO per example: combine x, q_mean and q_var elementwise")
    assert bool((elbo_q2lh <= log_px_q2lh + 1e-10).all()), (
        f"the ELBO for w={w_q2lh}, b={b_q2lh}, s={s_q2lh}: expected at most log p(x) (it is a lower bound), got "
        f"{int((elbo_q2lh > log_px_q2lh + 1e-10).sum())} of 200 values above it. Hint: check the signs")
    vc.grading.assert_close(
        elbo_q2lh, log_px_q2lh - kl_post_q2lh, rtol=0, atol=1e-10,
        what=f"your ELBO against log p(x) - KL(q || p(z|x)) for w={w_q2lh}, b={b_q2lh}, s={s_q2lh} (200 random q, "
             "float64)",
        hint="did you include the w^2 v term of E_q[(x - w z - b)^2], use s^2 (not s) as the noise variance, and "
             "q_var as a variance (not a standard deviation)?")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q2-qa-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 5 · Q2(a): why maximise $\sum_i \log p_\theta(x_i)$? (2 points, graded by hand)
#
# Our data set is $D = \{x_1, \dots, x_n\}$. Explain in 4–8 sentences why the maximum-likelihood
# parameters maximise $\sum_{i=1}^n \log p_\theta(x_i)$. Say which assumption turns the likelihood of
# the data set into a product, why taking the log changes nothing about the maximiser and what it buys
# numerically, what $p_\theta(x_i)$ is when $x$ is continuous, and what maximising it does (and does not)
# guarantee about the fitted model.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q2-qa-answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** Maximum likelihood picks the $\theta$ under which the observed data set is most
# probable, $p_\theta(x_1, \dots, x_n)$. If the examples are drawn independently from the same
# distribution (i.i.d.), this joint factorises into $\prod_i p_\theta(x_i)$. The log is strictly
# increasing, so $\arg\max_\theta \prod_i p_\theta(x_i) = \arg\max_\theta \sum_i \log p_\theta(x_i)$: the
# log changes the objective's value, not its maximiser. It turns the product into a sum, whose gradient is
# a sum of per-example gradients (so minibatches give unbiased estimates), and it keeps the numbers
# representable: a product of hundreds of pixel probabilities underflows to exactly 0 in float32, while
# the sum of their logs is an ordinary number of a few hundred nats. For continuous $x$, $p_\theta(x_i)$
# is a *density*, not a probability: it can exceed 1 and the log-likelihood can be positive. Maximising
# the average log-likelihood is the same as minimising $\mathrm{KL}(\hat p_{\text{data}} \,\|\, p_\theta)$,
# the forward KL from the empirical distribution, so the fit covers all the data's modes; it does not by
# itself "ensure the model captures the data distribution": that needs a model family that contains it
# and enough data, and the likelihood can even be unbounded (a mixture component collapsing onto one
# data point).
#
# *Marking (2 points):* 1 point for the i.i.d. factorisation and the monotone log (same maximiser);
# 1 point for one of: underflow of the product / sums of gradients, density vs probability, or MLE =
# minimum forward KL with its limits.

# %% [markdown] nbgrader={"grade": false, "grade_id": "q2-qb-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 6 · Q2(b): cross-entropy and maximum likelihood (2 points, graded by hand)
#
# Show that minimising a cross-entropy is maximum likelihood. A homework answer argued: "cross-entropy
# is $-\sum_i y_i \log \hat y_i$; when $y_i = 1$ for observed data points it reduces to maximising
# $\sum_i \log p_\theta(x_i)$." Say what is wrong or missing in that argument, and give the derivation
# with the cross-entropy between *which two distributions* it needs. Then state the classification case.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q2-qb-answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** The homework argument mixes the cross-entropy over the *classes* of one example with
# a likelihood over the *examples* of a data set, and never says which distributions the cross-entropy
# compares. The right statement uses the empirical distribution $\hat p(x) = \frac1n \sum_i
# \delta(x - x_i)$ and the model $p_\theta$:
#
# $$
# H(\hat p, p_\theta) = -\mathbb E_{x \sim \hat p}[\log p_\theta(x)] = -\frac1n \sum_{i=1}^n \log p_\theta(x_i),
# $$
#
# which is exactly the average negative log-likelihood, so minimising it over $\theta$ is maximum
# likelihood. Moreover $H(\hat p, p_\theta) = H(\hat p) + \mathrm{KL}(\hat p \,\|\, p_\theta)$ and
# $H(\hat p)$ does not depend on $\theta$, so minimum cross-entropy = maximum likelihood = minimum
# forward KL. In classification the model is conditional, $p_\theta(y \mid x)$: with a one-hot target the
# per-example cross-entropy $-\sum_c y_{ic} \log \hat y_{ic} = -\log p_\theta(y_i \mid x_i)$ is the
# conditional NLL of the observed label, and its average is the cross-entropy between the empirical
# conditional and the model (this is what `F.cross_entropy` computes from logits). Likewise, per pixel the
# BCE is the NLL of a Bernoulli, which is why a VAE's reconstruction term is a cross-entropy.
#
# *Marking (2 points):* 1 point for naming the flaw (which distributions; conditional vs unconditional
# likelihood); 1 point for $H(\hat p, p_\theta) = -\frac1n\sum_i \log p_\theta(x_i)$ (with or without
# the entropy + KL split) or the correct one-hot classification case.

# %% [markdown] nbgrader={"grade": false, "grade_id": "q2-qci-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 7 · Q2(c)(i): why the ELBO, and the identity (3 points, graded by hand)
#
# Explain why a VAE maximises the ELBO instead of $\sum_i \log p_\theta(x_i)$ directly, and prove
#
# $$
# \log p_\theta(x) - \mathrm{KL}\big(q_\phi(z \mid x)\,\|\,p_\theta(z \mid x)\big)
# = \mathbb E_{q_\phi(z \mid x)}[\log p_\theta(x \mid z)] - \mathrm{KL}\big(q_\phi(z \mid x)\,\|\,p(z)\big).
# $$
#
# A homework answer wrote $\log p_\theta(x) = \mathbb E_q[\log p_\theta(x, z) / q_\phi(z \mid x)]$ and
# spoke of "minimising the ELBO". Point out both errors. Say what maximising the ELBO over $\phi$ does,
# and how Task 3 gives tighter bounds.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q2-qci-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** With a neural decoder $\log p_\theta(x) = \log \int p(z)\, p_\theta(x \mid z)\, dz$
# has no closed form, and neither has the posterior $p_\theta(z \mid x)$. The integral is not just
# "expensive": a Monte Carlo average over prior samples is unbiased for $p(x)$ but has a huge variance,
# and its log is biased. The ELBO replaces it by an expectation under $q_\phi$ that one reparameterised
# sample estimates without bias and with low variance, gives gradients for $\theta$ and $\phi$ jointly,
# and trains an amortised encoder at the same time. (For special models such as the linear-Gaussian one
# of Task 4, $\log p(x)$ is exact and no bound is needed.)
#
# *Proof.* $\log p(x)$ does not depend on $z$, so for any $q$ with the same support,
# $\log p(x) = \mathbb E_q[\log p(x)] = \mathbb E_q\big[\log \tfrac{p(x, z)}{p(z \mid x)}\big]
# = \mathbb E_q\big[\log \tfrac{p(x, z)}{q(z \mid x)}\big] + \mathbb E_q\big[\log \tfrac{q(z \mid x)}{p(z \mid x)}\big]
# = \mathrm{ELBO} + \mathrm{KL}(q \,\|\, p(z \mid x))$. Writing $p(x, z) = p(x \mid z)\, p(z)$ splits the
# ELBO into $\mathbb E_q[\log p(x \mid z)] - \mathrm{KL}(q \,\|\, p(z))$; moving the posterior KL to the
# left gives the identity.
#
# *The homework's errors.* $\mathbb E_q[\log p(x, z)/q(z \mid x)]$ *is* the ELBO, not $\log p(x)$: the two
# differ by $\mathrm{KL}(q \,\|\, p(z \mid x)) \ge 0$ and agree only when $q$ is the exact posterior (so
# "adding and subtracting the KL" proves nothing from a wrong start). And the ELBO is a *lower* bound, so
# it is **maximised** (equivalently, $-\mathrm{ELBO}$ is minimised); minimising it pushes the bound, and
# in practice $\log p(x)$, down. Since $\log p(x)$ does not depend on $\phi$, maximising the ELBO over
# $\phi$ is exactly minimising $\mathrm{KL}(q_\phi \,\|\, p(z \mid x))$: the encoder becomes a posterior
# approximation. Over $\theta$ it raises $\log p(x)$ minus that gap. The importance-weighted bound of
# Task 3 with $K$ samples satisfies $\mathrm{ELBO} = \mathcal L_1 \le \mathcal L_K \le \log p(x)$ and
# $\mathcal L_K \to \log p(x)$ as $K \to \infty$, so it gives tighter estimates of (and objectives for)
# the log-likelihood.
#
# *Marking (3 points):* 1 point for why the ELBO (intractable integral/posterior plus a tractable,
# low-variance reparameterised gradient or amortisation); 1 point for a correct proof; 1 point for
# naming both homework errors (the ELBO is not $\log p(x)$; it is maximised).

# %% [markdown] nbgrader={"grade": false, "grade_id": "q2-qcii-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 8 · Q2(c)(ii): cross-entropy as the reconstruction term (3 points, graded by hand)
#
# The homework asks why "many VAE implementations minimise $\mathbb E_z[\log p_\theta(x_i \mid z)]$
# using cross-entropy loss". Fix the sign in that question, then explain in 6–10 sentences: what the
# BCE has to do with $\log p_\theta(x \mid z)$ for binary pixels (Task 1) and how the expectation over $z$
# is computed (Task 2); whether BCE is a proper log-likelihood for grey-level pixels in $[0, 1]$ and
# what the alternatives are; where the numerical stability comes from; and what a Gaussian decoder
# with fixed variance (MSE) implies.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q2-qcii-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** The objective *maximises* $\mathbb E_q[\log p_\theta(x \mid z)]$, that is, it
# minimises $-\mathbb E_q[\log p_\theta(x \mid z)]$. For binary pixels and a Bernoulli decoder the summed
# BCE is not a substitute for that term: it *is* $-\log p_\theta(x \mid z)$, exactly (Task 1). The
# expectation over $z$ is not avoided either: it is estimated by Monte Carlo, usually with one
# reparameterised sample per example, and averaged over the minibatch (Task 2). For grey-level pixels
# $x \in [0, 1]$ the BCE is no longer a normalised log-likelihood: $\lambda^x (1 - \lambda)^{1 - x}$
# integrates over $x \in [0, 1]$ to less than 1, so the BCE is the loss of a non-normalised density; the
# BCE-optimal $\lambda$ for a grey target equals the target, but the loss is not zero at a perfect
# reconstruction (it contains the target's own entropy) and BCE values are not comparable
# log-likelihoods. Proper choices are to binarise the data and keep the Bernoulli, to use the continuous
# Bernoulli (BCE plus its log-normaliser $\log C(\lambda)$), or a Gaussian or other density on
# $[0, 1]$. "Smooth gradients" is not the real reason either: with a sigmoid output the gradient of the
# BCE with respect to the logit is $\sigma(\ell) - x$, which does not vanish when the unit saturates on
# the wrong side, while MSE on the sigmoid is multiplied by $\sigma'(\ell) \approx 0$. Numerical
# stability comes from computing the BCE from logits (Task 1: $\max(\ell, 0) - \ell x + \log(1 +
# e^{-|\ell|})$), not from skipping the expectation: the probability-based BCE clamps the log and loses the
# gradient at extreme logits. Finally, a Gaussian decoder with fixed variance $\sigma^2$ gives
# $-\log p(x \mid z) = \lVert x - \hat x \rVert^2 / (2\sigma^2) + \text{const}$, so MSE is a Gaussian NLL
# up to constants and the chosen $\sigma^2$ silently weights the KL term like a $\beta$; learning
# $\sigma^2$ removes that arbitrary choice. The likelihood is a modelling decision, not a convenience.
#
# *Marking (3 points):* 1 point for the sign and "BCE is exactly the Bernoulli NLL at a sampled $z$ (MC
# estimate of the expectation)"; 1 point for "not a normalised likelihood on grey pixels" with an
# alternative (binarise, continuous Bernoulli, Gaussian); 1 point for the logits form as the source of
# stability or the fixed-variance Gaussian = MSE with $\sigma^2$ acting like $\beta$.
