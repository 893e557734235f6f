# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-header", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # q4 · β-VAE and disentanglement: the β-weighted loss, the mutual information gap and latent traversals
#
# Homework Question 4 asks what the idea of the β-VAE is, how it differs from a VAE, why
# disentanglement metrics matter and how they are used. A common answer says that β > 1 "prioritises
# disentanglement" and that the metrics "verify interpretability". In this assignment you build the
# tools that let you check such claims: the β-VAE objective from a model's distributions, the mutual
# information gap (MIG) from arrays (a discrete mutual information, then the gap itself, on codes
# discretised by a given helper), with the sanity checks every metric implementation should pass; then
# you *read* MIG and the β-VAE metric on constructed codes whose answer is known, including a code on
# which the β-VAE metric is fooled, and decode a latent traversal, the picture that β-VAE papers show.
# Then you answer Question 4 in writing.
# Lecture notebook 08 trains β-VAEs on dSprites and measures what β does. Nothing is trained here;
# every cell runs in a few seconds at most.
#
# | task | what you do | points | graded |
# | --- | --- | --- | --- |
# | 1 | `beta_vae_loss`: $\mathrm{NLL} + \beta\,\mathrm{KL}$ per example from the encoder's and decoder's distributions | 2 | automatically |
# | 1 | `beta_vae_loss`: gradients, and β weighs only the KL's gradient | 1 | automatically |
# | 2 | `discretize`: equal-width bins per code dimension (given) | 0 | |
# | 3 | `mutual_information`: the discrete mutual information of two label arrays, in nats | 2 | automatically |
# | 4 | `mig`: the mutual information gap from codes and ground-truth factors | 2 | automatically |
# | 4 | `mig` sanity checks: perfect, rotated, noise, redundant codes; invariances | 1 | automatically |
# | 5 | `mig_gaps`: the gap of each factor, with and without the entropy normalisation | 1 | automatically |
# | 5 | reading MIG and the β-VAE metric on constructed codes: which code, which factor, the β-VAE metric's blind spot | 2 | automatically |
# | 6 | `latent_traversal`: decode a sweep around an image's posterior mean (`traversal_codes` given) | 1 | automatically |
# | 7 | Q4, part 1: the idea of β-VAE and its difference from the VAE (written answer) | 3 | by hand |
# | 8 | Q4, part 2: what disentanglement metrics measure and how they are used (written answer) | 4 | by hand |
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

# %% nbgrader={"grade": false, "grade_id": "q4-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math
import os

import numpy as np
import torch
from torch.distributions import Bernoulli, Independent, Normal

import vaecourse as vc

device = vc.setup_notebook(seed=0)


# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-loss-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 1 · The β-VAE objective from a model's distributions (3 points)
#
# A VAE maximises the ELBO; the β-VAE of Higgins et al. (2017) keeps the same encoder, decoder and
# prior and only weighs the KL term by a number $\beta \ge 0$:
#
# $$
# \mathcal L_\beta(x) = \mathbb E_{q(z \mid x)}[\log p(x \mid z)] - \beta\, \mathrm{KL}\big(q(z \mid x)\,\|\,p(z)\big),
# \qquad \beta = 1:\ \mathcal L_1 = \mathrm{ELBO} .
# $$
#
# Training *minimises* $-\mathcal L_\beta$. With one sample $z \sim q(z \mid x)$ per example the loss is
# $\mathrm{NLL} + \beta\,\mathrm{KL}$ with $\mathrm{NLL} = -\log p(x \mid z)$, and, for a diagonal
# Gaussian encoder $q(z \mid x) = \mathcal N(\mu, \operatorname{diag} \sigma^2)$ and the prior
# $p(z) = \mathcal N(0, I)$,
#
# $$
# \mathrm{KL}\big(q(z \mid x)\,\|\,p(z)\big) = \tfrac12 \textstyle\sum_{j=1}^{d} \big(\sigma_j^2 + \mu_j^2 - 1 - \log \sigma_j^2\big)
# \quad \text{nats (summed over the latent dimensions)}.
# $$
#
# Implement `beta_vae_loss(x, q_z, p_x, beta)`. `q_z` is the encoder's distribution, an
# `Independent(Normal(mu, sigma), 1)` with batch shape `(B,)` and event shape `(d,)`; `p_x` is the
# decoder's distribution at one sample $z \sim q_z$, with batch shape `(B,)` and the pixels as its event
# (the course's models return exactly these: `model.encode(x)` and `model.decode(z)`); `x` holds the
# `(B, C, H, W)` images. Return a dict of four tensors of shape `(B,)`, in nats: `"nll"`, `"kl"`,
# `"neg_elbo"` $= \mathrm{NLL} + \mathrm{KL}$ and `"beta_loss"` $= \mathrm{NLL} + \beta\,\mathrm{KL}$.
# Models trained with different β are compared on `neg_elbo` (the same bound for all), which is why it
# is reported next to the objective. Use `p_x.log_prob` for the NLL; write the KL yourself from the mean
# and variance of `q_z` (the hidden tests switch `torch.distributions.kl_divergence` off), and keep
# everything differentiable.

# %% nbgrader={"grade": false, "grade_id": "q4-loss-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def beta_vae_loss(x: torch.Tensor, q_z, p_x, beta: float) -> dict[str, torch.Tensor]:
    """Per-example terms of the beta-VAE objective for a Gaussian encoder and the prior N(0, I).

    Parameters
    ----------
    x : torch.Tensor, shape (B, C, H, W)
        The images.
    q_z : torch.distributions.Independent over Normal, batch shape (B,), event shape (d,)
        The encoder's q(z | x).
    p_x : torch.distributions.Distribution, batch shape (B,), event shape (C, H, W)
        The decoder's p(x | z) at one sample z ~ q(z | x).
    beta : float
        Weight of the KL term, >= 0.

    Returns
    -------
    dict of torch.Tensor, each of shape (B,), in nats
        ``"nll"`` = -log p(x | z); ``"kl"`` = KL(q(z | x) || N(0, I)) in closed form;
        ``"neg_elbo"`` = nll + kl; ``"beta_loss"`` = nll + beta * kl.
    """
    ### BEGIN SOLUTION
    nll = -p_x.log_prob(x)
    mu, var = q_z.mean, q_z.variance
    kl = 0.5 * (var + mu**2 - 1.0 - torch.log(var)).sum(dim=-1)
    return {"nll": nll, "kl": kl, "neg_elbo": nll + kl, "beta_loss": nll + beta * kl}
    ### END SOLUTION


# %%
# Try it (not graded): an untrained beta-VAE on four 16 x 16 dSprites images. With the same random
# draw of z, your terms should match the course's BetaVAE.loss_terms.
dsprites_try = vc.data.DSprites(resolution=16)
x_try_loss = dsprites_try.render(dsprites_try.sample_factors(4, np.random.default_rng(0)))
model_try_loss = vc.models.BetaVAE(latent_dim=4, image_shape=(1, 16, 16), hidden=(32,), beta=4.0)
torch.manual_seed(1)
package_try_loss = model_try_loss.loss_terms(x_try_loss)
torch.manual_seed(1)
q_z_try = model_try_loss.encode(x_try_loss)
with torch.no_grad():
    terms_try_loss = beta_vae_loss(x_try_loss, q_z_try, model_try_loss.decode(q_z_try.rsample()), beta=4.0)
for name_try in ("nll", "kl", "neg_elbo", "beta_loss"):
    print(f"{name_try:>9}: yours {[round(v, 2) for v in terms_try_loss[name_try].tolist()]}, "
          f"vc.models.BetaVAE {[round(v, 2) for v in package_try_loss[name_try].tolist()]}")

# %% nbgrader={"grade": true, "grade_id": "q4-loss-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""beta_vae_loss returns nll, kl, neg_elbo and beta_loss per example, with the closed-form Gaussian KL."""
gen_q4l = torch.Generator().manual_seed(401)
x_q4l = torch.bernoulli(torch.full((3, 1, 2, 2), 0.5), generator=gen_q4l)
q_z_q4l = Independent(Normal(torch.zeros(3, 5), torch.ones(3, 5)), 1)
p_x_q4l = Independent(Bernoulli(logits=torch.zeros(3, 1, 2, 2)), 3)
terms_q4l = beta_vae_loss(x_q4l, q_z_q4l, p_x_q4l, 4.0)
assert isinstance(terms_q4l, dict), (
    f"the result of beta_vae_loss: expected a dict, got {type(terms_q4l).__name__}. "
    "Hint: return {'nll': ..., 'kl': ..., 'neg_elbo': ..., 'beta_loss': ...}")
assert set(terms_q4l) >= {"nll", "kl", "neg_elbo", "beta_loss"}, (
    f"the keys of the dict: expected 'nll', 'kl', 'neg_elbo' and 'beta_loss', got {sorted(terms_q4l)}. "
    "Hint: spell the keys exactly as in the docstring")
for key_q4l in ("nll", "kl", "neg_elbo", "beta_loss"):
    assert isinstance(terms_q4l[key_q4l], torch.Tensor) and tuple(terms_q4l[key_q4l].shape) == (3,), (
        f"terms['{key_q4l}'] for a batch of 3: expected a tensor of shape (3,), one value per example, got "
        f"{getattr(terms_q4l[key_q4l], 'shape', type(terms_q4l[key_q4l]).__name__)}. "
        "Hint: do not average over the batch; sum over the latent dimensions and the pixels only")
vc.grading.assert_close(terms_q4l["kl"], torch.zeros(3), rtol=1.3e-6, atol=1e-5,
                        what="terms['kl'] for q(z|x) = N(0, I)",
                        hint="q(z|x) = N(0, I) is the prior itself, so the KL must be 0")
vc.grading.assert_close(terms_q4l["nll"], torch.full((3,), 4 * math.log(2.0)), rtol=1.3e-6, atol=1e-5,
                        what="terms['nll'] for logits of 0 on 4 pixels",
                        hint="logits of 0 give each of the 4 pixels probability 1/2: the NLL is 4 log 2 nats")
q_z_wide_q4l = Independent(Normal(torch.ones(3, 5), torch.full((3, 5), 2.0)), 1)
terms_wide_q4l = beta_vae_loss(x_q4l, q_z_wide_q4l, p_x_q4l, 4.0)
kl_wide_q4l = 0.5 * 5 * (4.0 + 1.0 - 1.0 - math.log(4.0))  # every dimension: sigma^2 = 4, mu = 1
vc.grading.assert_close(terms_wide_q4l["kl"], torch.full((3,), kl_wide_q4l), rtol=1.3e-6, atol=1e-5,
                        what="terms['kl'] for q(z|x) = N(1, 2^2 I) in d = 5",
                        hint="0.5 * sum over the 5 latent dimensions of (sigma^2 + mu^2 - 1 - log sigma^2), with "
                             "sigma^2 = q_z.variance (not q_z.stddev): a sum over the dimensions, not a mean")
nll_wide_q4l = torch.full((3,), 4 * math.log(2.0))
vc.grading.assert_close(torch.stack([terms_wide_q4l["neg_elbo"], terms_wide_q4l["beta_loss"]]),
                        torch.stack([nll_wide_q4l + kl_wide_q4l, nll_wide_q4l + 4.0 * kl_wide_q4l]),
                        rtol=1.3e-6, atol=1e-5, what="[neg_elbo, beta_loss] for beta = 4 and the KL above",
                        hint="neg_elbo = nll + kl whatever beta is; beta_loss = nll + beta * kl: beta weighs the KL, "
                             "not the NLL")
print("beta_vae_loss: visible tests passed")
### BEGIN HIDDEN TESTS
import torch.nn.functional as F_q4lh

from vaecourse import testkit

gen_q4lh = torch.Generator().manual_seed(402)
mu_q4lh = 1.5 * torch.randn(10, 6, generator=gen_q4lh, dtype=torch.float64)
logvar_q4lh = 1.5 * torch.randn(10, 6, generator=gen_q4lh, dtype=torch.float64)
x_q4lh = torch.bernoulli(torch.full((10, 1, 3, 4), 0.4, dtype=torch.float64), generator=gen_q4lh)
logits_q4lh = 3 * torch.randn(10, 1, 3, 4, generator=gen_q4lh, dtype=torch.float64)
q_z_q4lh = Independent(Normal(mu_q4lh, torch.exp(0.5 * logvar_q4lh)), 1)
p_x_q4lh = Independent(Bernoulli(logits=logits_q4lh), 3)
betas_q4lh = (0.0, 0.25, 1.0, 4.0, 16.0)
keys_q4lh = ("nll", "kl", "neg_elbo", "beta_loss")
no_reference_q4lh = AssertionError(
    "beta_vae_loss called torch.distributions.kl_divergence: expected the closed-form KL, got a library call. "
    "Hint: write 0.5 * sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2) from q_z.mean and q_z.variance")
all_terms_q4lh = []
for beta_q4lh in betas_q4lh:
    with testkit.forbid(no_reference_q4lh, torch.distributions.kl.kl_divergence,
                        *set(torch.distributions.kl._KL_REGISTRY.values())):
        all_terms_q4lh.append(beta_vae_loss(x_q4lh, q_z_q4lh, p_x_q4lh, beta_q4lh))
hint_q4lh = ("nll = -p_x.log_prob(x); kl = 0.5 * sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2) with sigma^2 = "
             "q_z.variance; neg_elbo = nll + kl; beta_loss = nll + beta * kl; one value per example")
vc.grading.record("nll, kl, neg_elbo, beta_loss on the visible batch (float32, beta = 4)",
                  {key: terms_q4l[key] for key in keys_q4lh}, rtol=1e-5, atol=1e-5, hint=hint_q4lh)
for beta_q4lh, terms_q4lh in zip(betas_q4lh, all_terms_q4lh):
    vc.grading.record(f"nll, kl, neg_elbo, beta_loss on a hidden float64 batch (10 x 6), beta = {beta_q4lh:g}",
                      {key: terms_q4lh[key] for key in keys_q4lh}, rtol=1e-10, atol=1e-10, hint=hint_q4lh)
nll_ref_q4lh = F_q4lh.binary_cross_entropy_with_logits(logits_q4lh, x_q4lh, reduction="none").sum(dim=(1, 2, 3))
kl_ref_q4lh = 0.5 * (torch.exp(logvar_q4lh) + mu_q4lh**2 - 1 - logvar_q4lh).sum(-1)
kl_mean_q4lh = 0.5 * (torch.exp(logvar_q4lh) + mu_q4lh**2 - 1 - logvar_q4lh).mean(-1)
for beta_q4lh, terms_q4lh in zip(betas_q4lh, all_terms_q4lh):
    vc.grading.assert_close(terms_q4lh["nll"], nll_ref_q4lh, rtol=1e-10, atol=1e-10,
                            what=f"terms['nll'] on a hidden float64 batch (beta = {beta_q4lh:g})",
                            hint="the NLL is -p_x.log_prob(x): one value per example, summed over all pixels")
    assert not torch.allclose(terms_q4lh["kl"], kl_mean_q4lh), (
        "terms['kl'] on a hidden batch: expected the sum over the latent dimensions, got their mean. "
        "Hint: the KL of a diagonal Gaussian is the sum of the per-dimension KLs (.sum(dim=-1))")
    vc.grading.assert_close(
        terms_q4lh["kl"], kl_ref_q4lh, rtol=1e-10, atol=1e-10,
        what=f"terms['kl'] on a hidden float64 batch (10 examples, d = 6, beta = {beta_q4lh:g})",
        hint="0.5 * sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2); q_z.mean is mu and q_z.variance is sigma^2 "
             "(not sigma)")
    vc.grading.assert_close(terms_q4lh["neg_elbo"], nll_ref_q4lh + kl_ref_q4lh, rtol=1e-10, atol=1e-10,
                            what=f"terms['neg_elbo'] on a hidden float64 batch (beta = {beta_q4lh:g})",
                            hint="neg_elbo is nll + kl, whatever beta is (the beta = 1 objective)")
    vc.grading.assert_close(terms_q4lh["beta_loss"], nll_ref_q4lh + beta_q4lh * kl_ref_q4lh, rtol=1e-10, atol=1e-10,
                            what=f"terms['beta_loss'] on a hidden float64 batch (beta = {beta_q4lh:g})",
                            hint=f"beta_loss must be nll + beta * kl, here with beta = {beta_q4lh:g}")
    if beta_q4lh >= 1:
        assert bool((terms_q4lh["beta_loss"] >= terms_q4lh["neg_elbo"] - 1e-12).all()), (
            f"beta_loss against neg_elbo with beta = {beta_q4lh:g}: expected beta_loss >= neg_elbo for every "
            f"example, got {terms_q4lh['beta_loss'].tolist()} and {terms_q4lh['neg_elbo'].tolist()}. "
            "Hint: with beta >= 1 the beta-VAE loss bounds -ELBO from above (KL >= 0)")
    else:
        assert bool((terms_q4lh["beta_loss"] <= terms_q4lh["neg_elbo"] + 1e-12).all()), (
            f"beta_loss against neg_elbo with beta = {beta_q4lh:g}: expected beta_loss <= neg_elbo for every "
            f"example, got {terms_q4lh['beta_loss'].tolist()} and {terms_q4lh['neg_elbo'].tolist()}. "
            "Hint: with beta < 1 the beta-VAE loss lies below -ELBO: it is no longer a bound")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q4-loss-grad-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""beta_vae_loss is differentiable, and beta scales only the KL's gradient."""
gen_q4g = torch.Generator().manual_seed(411)
weight_q4g = torch.randn(3, 6, generator=gen_q4g)
x_q4g = torch.bernoulli(torch.full((4, 1, 2, 3), 0.5), generator=gen_q4g)
eps_q4g = torch.randn(4, 3, generator=gen_q4g)
mu_q4g = torch.randn(4, 3, generator=gen_q4g).requires_grad_()
logvar_q4g = torch.randn(4, 3, generator=gen_q4g).requires_grad_()
z_q4g = mu_q4g + torch.exp(0.5 * logvar_q4g) * eps_q4g
terms_q4g = beta_vae_loss(x_q4g, Independent(Normal(mu_q4g, torch.exp(0.5 * logvar_q4g)), 1),
                          Independent(Bernoulli(logits=(z_q4g @ weight_q4g).view(4, 1, 2, 3)), 3), 2.0)
vc.grading.assert_equal(terms_q4g["beta_loss"].requires_grad, True, what="terms['beta_loss'].requires_grad",
                        hint="the loss is cut off from mu and logvar: avoid .detach(), .item(), numpy and "
                             "torch.no_grad()")
terms_q4g["beta_loss"].sum().backward()
vc.grading.assert_equal([mu_q4g.grad is not None, logvar_q4g.grad is not None], [True, True],
                        what="[a gradient reached mu, a gradient reached logvar]",
                        hint="compute the KL from q_z.mean and q_z.variance with torch operations")
mu_ref_q4g = mu_q4g.detach().clone().requires_grad_()
logvar_ref_q4g = logvar_q4g.detach().clone().requires_grad_()
z_ref_q4g = mu_ref_q4g + torch.exp(0.5 * logvar_ref_q4g) * eps_q4g
nll_ref_q4g = torch.nn.functional.binary_cross_entropy_with_logits(
    (z_ref_q4g @ weight_q4g).view(4, 1, 2, 3), x_q4g, reduction="none").sum(dim=(1, 2, 3))
kl_ref_q4g = 0.5 * (torch.exp(logvar_ref_q4g) + mu_ref_q4g**2 - 1 - logvar_ref_q4g).sum(-1)
grads_ref_q4g = torch.autograd.grad((nll_ref_q4g + 2.0 * kl_ref_q4g).sum(), (mu_ref_q4g, logvar_ref_q4g))
vc.grading.assert_close(torch.stack([mu_q4g.grad, logvar_q4g.grad]), torch.stack(grads_ref_q4g), rtol=1e-4, atol=1e-5,
                        what="[d sum(beta_loss) / d mu, d sum(beta_loss) / d logvar] at beta = 2",
                        hint="the NLL reaches mu and logvar through z; beta multiplies the KL (summed over the latent "
                             "dimensions) and nothing else")
print("beta_vae_loss gradients: visible tests passed")
### BEGIN HIDDEN TESTS
import torch.nn.functional as F_q4gh

gen_q4gh = torch.Generator().manual_seed(412)
weight_q4gh = torch.randn(5, 12, generator=gen_q4gh, dtype=torch.float64)
x_q4gh = torch.bernoulli(torch.full((6, 1, 3, 4), 0.5, dtype=torch.float64), generator=gen_q4gh)
eps_q4gh = torch.randn(6, 5, generator=gen_q4gh, dtype=torch.float64)
mu0_q4gh = torch.randn(6, 5, generator=gen_q4gh, dtype=torch.float64)
logvar0_q4gh = torch.randn(6, 5, generator=gen_q4gh, dtype=torch.float64)


def grads_q4gh(beta, use_student):
    mu = mu0_q4gh.clone().requires_grad_()
    logvar = logvar0_q4gh.clone().requires_grad_()
    z = mu + torch.exp(0.5 * logvar) * eps_q4gh
    logits = (z @ weight_q4gh).view(6, 1, 3, 4)
    if use_student:
        loss = beta_vae_loss(x_q4gh, Independent(Normal(mu, torch.exp(0.5 * logvar)), 1),
                             Independent(Bernoulli(logits=logits), 3), beta)["beta_loss"]
    else:
        nll = F_q4gh.binary_cross_entropy_with_logits(logits, x_q4gh, reduction="none").sum(dim=(1, 2, 3))
        loss = nll + beta * 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).sum(-1)
    mu_grad, logvar_grad = torch.autograd.grad(loss.sum(), (mu, logvar))
    return mu_grad, logvar_grad


betas_q4gh = (0.0, 1.0, 3.0)
student_grads_q4gh = [grads_q4gh(beta_q4gh, True) for beta_q4gh in betas_q4gh]
hint_q4gh = ("the NLL must reach mu and logvar through z, and beta must multiply the KL only: "
             "d beta_loss = d nll + beta * d kl")
vc.grading.record("d sum(beta_loss) / d mu and d logvar on the visible batch (float32, beta = 2)",
                  [mu_q4g.grad, logvar_q4g.grad], rtol=1e-5, atol=1e-5, hint=hint_q4gh)
for beta_q4gh, student_q4gh in zip(betas_q4gh, student_grads_q4gh):
    vc.grading.record(f"d sum(beta_loss) / d mu and d logvar on a hidden float64 batch, beta = {beta_q4gh:g}",
                      list(student_q4gh), rtol=1e-9, atol=1e-10, hint=hint_q4gh)
for beta_q4gh, student_q4gh in zip(betas_q4gh, student_grads_q4gh):
    for student_grad_q4gh, reference_grad_q4gh, name_q4gh in zip(student_q4gh, grads_q4gh(beta_q4gh, False),
                                                                  ("mu", "logvar")):
        vc.grading.assert_close(
            student_grad_q4gh, reference_grad_q4gh, rtol=1e-9, atol=1e-10, hint=hint_q4gh,
            what=f"the gradient of sum(beta_loss) with respect to {name_q4gh}, beta = {beta_q4gh:g}")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-discretize-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 2 · Discretising the codes (given, not graded)
#
# The mutual information gap of Chen et al. (2018) compares, for each ground-truth factor $v_k$ (the
# shape, scale, position ... of a dSprites image), how much information each code dimension $z_j$
# carries about it. The factors are discrete, the codes continuous; the reference implementation
# (`disentanglement_lib`, Locatello et al. 2019) and `vc.metrics.mig` discretise each code dimension
# into **20 equal-width bins over its own range** and compute discrete mutual informations.
#
# The read-only cell below defines `discretize(codes, num_bins=20)`, which Tasks 4 and 5 use: `codes`
# is a NumPy array `(N, D)`; it returns an integer array `(N, D)` whose column $j$ holds the bin index in $\{0, \dots, \text{num\_bins} - 1\}$ of each
# value of code $j$, with exactly the bins of `np.histogram(codes[:, j], bins=num_bins)`: edges from
# `np.histogram_bin_edges`, each bin $[e_b, e_{b+1})$ closed on the left, and the last bin
# $[e_{n-1}, e_n]$ closed on both sides, so the minimum lands in bin 0 and the maximum in the last bin
# (`np.digitize` with the interior edges). A constant column lands in one bin. Read it: the number of
# bins is an estimator choice that every MIG value depends on. (`disentanglement_lib` numbers the bins 1 to 20;
# the numbering changes no mutual information.)

# %% nbgrader={"grade": false, "grade_id": "q4-discretize-given", "locked": true, "schema_version": 3, "solution": false, "task": false}
def discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Bin each code dimension into ``num_bins`` equal-width bins over its own range.

    Parameters
    ----------
    codes : np.ndarray, shape (N, D)
        Continuous codes, one row per example.
    num_bins : int
        Number of bins per dimension.

    Returns
    -------
    np.ndarray of int, shape (N, D)
        Bin indices in 0 .. num_bins - 1, the bins of ``np.histogram(codes[:, j], bins=num_bins)``.
    """
    codes = np.asarray(codes, dtype=np.float64)
    binned = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, j], bins=num_bins)
        binned[:, j] = np.digitize(codes[:, j], edges[1:-1])  # interior edges: 0 .. num_bins - 1
    return binned


# %%
# Try it: 11 evenly spaced values in 5 bins, next to np.histogram's counts.
codes_try_bins = np.stack([np.arange(11.0), np.linspace(-1, 1, 11) ** 3], axis=1)
binned_try = discretize(codes_try_bins, num_bins=5)
print(f"shape {binned_try.shape}, dtype {binned_try.dtype}")
print("column 0 bins:", binned_try[:, 0].tolist())
print("column 1 bins:", binned_try[:, 1].tolist())
print("your counts per bin (column 1):", np.bincount(binned_try[:, 1], minlength=5).tolist(),
      "| np.histogram:", np.histogram(codes_try_bins[:, 1], bins=5)[0].tolist())

# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-mi-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 3 · The discrete mutual information (2 points)
#
# For two discrete variables observed together $N$ times, $a_1, \dots, a_N$ and $b_1, \dots, b_N$, count
# the joint frequencies $\hat p(a, b)$ and the marginals $\hat p(a)$, $\hat p(b)$; then
#
# $$
# I(a; b) = \sum_{a, b:\ \hat p(a, b) > 0} \hat p(a, b) \log \frac{\hat p(a, b)}{\hat p(a)\, \hat p(b)}
# \quad \text{nats}, \qquad I(a; a) = H(a) = -\sum_a \hat p(a) \log \hat p(a) .
# $$
#
# It is 0 exactly when the empirical joint is the product of its marginals, symmetric, and at most
# $\min(H(a), H(b))$. The second identity gives the entropy $H(v_k)$ that MIG divides by.
#
# Implement `mutual_information(a, b)`: two 1-D integer arrays of the same length $N$, whose values are
# arbitrary labels (not necessarily $0, 1, \dots$; they may be negative or have gaps). Return a Python
# float in nats (natural log). Cells with $\hat p(a, b) = 0$ contribute 0. Write it yourself with NumPy
# (`np.unique(..., return_inverse=True)` turns labels into $0, 1, \dots$; `np.add.at` or
# `np.histogram2d` counts pairs): the hidden tests switch off scikit-learn's `mutual_info_score` and
# the functions of `vc.metrics` while your function runs.

# %% nbgrader={"grade": false, "grade_id": "q4-mi-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information I(a; b) in nats of two discrete label arrays, from their joint frequencies.

    Parameters
    ----------
    a, b : np.ndarray, shape (N,)
        Integer labels of the same N observations; any values.

    Returns
    -------
    float
        The empirical mutual information in nats, >= 0.
    """
    ### BEGIN SOLUTION
    _, a_index = np.unique(np.asarray(a), return_inverse=True)
    _, b_index = np.unique(np.asarray(b), return_inverse=True)
    a_index, b_index = a_index.ravel(), b_index.ravel()
    joint = np.zeros((a_index.max() + 1, b_index.max() + 1))
    np.add.at(joint, (a_index, b_index), 1.0)
    joint /= joint.sum()
    product = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float(max(0.0, (joint[nonzero] * np.log(joint[nonzero] / product[nonzero])).sum()))
    ### END SOLUTION


# %%
# Try it (not graded): a label with itself (its entropy), a function of it, and an independent label.
a_try_mi = np.array([0, 0, 1, 1, 2, 2, 3, 3])
print(f"I(a; a) = {mutual_information(a_try_mi, a_try_mi):.4f} nats, H(a) = log 4 = {math.log(4):.4f}")
print(f"I(a; a mod 2) = {mutual_information(a_try_mi, a_try_mi % 2):.4f} nats (log 2 = {math.log(2):.4f})")
print(f"I(a; independent) = {mutual_information(a_try_mi, np.array([0, 1, 0, 1, 0, 1, 0, 1])):.4f} nats")

# %% nbgrader={"grade": true, "grade_id": "q4-mi-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""mutual_information is the empirical I(a; b) in nats for arbitrary integer labels, without scikit-learn."""
labels_q4m = np.array([0, 0, 1, 1, 2, 2])
info_q4m = mutual_information(labels_q4m, labels_q4m)
assert isinstance(info_q4m, float), (
    f"the result of mutual_information: expected a Python float, got {type(info_q4m).__name__}. "
    "Hint: return float(...)")
vc.grading.assert_close(info_q4m, math.log(3), rtol=0, atol=1e-12,
                        what="I(a; a) for three equally frequent labels (the entropy log 3)",
                        hint="I(a; a) is the entropy H(a); use the natural log")
independent_q4m = mutual_information(np.array([0, 0, 1, 1]), np.array([5, 7, 5, 7]))
vc.grading.assert_close(independent_q4m, 0.0, rtol=0, atol=1e-12,
                        what="I(a; b) of independent labels (every pair occurs once)",
                        hint="when the joint frequencies are the product of the marginals, every log term is 0")
print("mutual_information: visible tests passed")
### BEGIN HIDDEN TESTS
from sklearn.metrics import mutual_info_score as reference_mi_q4mh

from vaecourse import testkit

gen_q4mh = np.random.default_rng(431)
cases_q4mh = []
for size_q4mh, num_a_q4mh, num_b_q4mh in ((50, 3, 4), (1000, 20, 7), (3000, 2, 40), (7, 7, 7)):
    a_q4mh = gen_q4mh.integers(0, num_a_q4mh, size_q4mh)
    b_q4mh = (a_q4mh * 3 + gen_q4mh.integers(0, num_b_q4mh, size_q4mh)) % num_b_q4mh  # dependent on a
    cases_q4mh.append((a_q4mh, b_q4mh))
labels_q4mh = gen_q4mh.integers(0, 5, 400)
cases_q4mh.append((np.array([-3, 10, 7])[gen_q4mh.integers(0, 3, 400)], labels_q4mh * 100 - 250))  # odd labels
cases_q4mh.append((labels_q4mh, 2 * labels_q4mh + 1))  # a function of a: I = H(a)
references_q4mh = [reference_mi_q4mh(a, b) for a, b in cases_q4mh]
no_reference_q4mh = AssertionError(
    "mutual_information called a library's mutual information: expected your own count of the pairs, got a "
    "library call. Hint: count the joint frequencies with np.unique(..., return_inverse=True) and np.add.at")
import sklearn.metrics

# the function objects, whatever name the answer calls them by (the course's own MIG in testkit included)
with testkit.forbid(no_reference_q4mh, sklearn.metrics.mutual_info_score, vc.metrics.discrete_mutual_info,
                    vc.metrics._mutual_info, vc.metrics.mig, testkit.reference_mig, testkit.reference_mig_gaps):
    results_q4mh, swapped_q4mh = [], []
    for a_case_q4mh, b_case_q4mh in cases_q4mh:
        try:
            results_q4mh.append(mutual_information(a_case_q4mh.copy(), b_case_q4mh.copy()))
            swapped_q4mh.append(mutual_information(b_case_q4mh.copy(), a_case_q4mh.copy()))
        except Exception as error_q4mh:
            if isinstance(error_q4mh, AssertionError):
                raise
            raise AssertionError(
                f"mutual_information of labels such as {sorted(set(a_case_q4mh.tolist()))[:5]} and "
                f"{sorted(set(b_case_q4mh.tolist()))[:5]}: expected a float, got {type(error_q4mh).__name__}: "
                f"{error_q4mh}. Hint: labels can be any integers; map them to 0, 1, ... with "
                "np.unique(labels, return_inverse=True) before counting") from error_q4mh
hint_q4mh = ("use the empirical joint frequencies (counts / N), skip empty cells, natural log; labels may be "
             "negative or have gaps")
vc.grading.record("I(a; a) of three equally frequent labels and I(a; b) of independent labels",
                  [info_q4m, independent_q4m], rtol=0, atol=1e-12, hint=hint_q4mh)
vc.grading.record("I(a; b) on 6 hidden label pairs (nats)", results_q4mh, rtol=0, atol=1e-9, hint=hint_q4mh)
vc.grading.record("I(b; a) on the same 6 pairs, arguments swapped", swapped_q4mh, rtol=0, atol=1e-9,
                  hint="the mutual information is symmetric: I(b; a) = I(a; b)")
for index_q4mh, (result_q4mh, swapped_result_q4mh, reference_q4mh) in enumerate(
        zip(results_q4mh, swapped_q4mh, references_q4mh)):
    assert isinstance(result_q4mh, float), (
        f"case {index_q4mh}: expected a Python float, got {type(result_q4mh).__name__}. Hint: return float(...)")
    vc.grading.assert_close(result_q4mh, reference_q4mh, rtol=0, atol=1e-9,
                            what=f"case {index_q4mh}: I(a; b) in nats", hint=hint_q4mh)
    vc.grading.assert_close(swapped_result_q4mh, reference_q4mh, rtol=0, atol=1e-9,
                            what=f"case {index_q4mh}: I(b; a), the arguments swapped",
                            hint="the mutual information is symmetric: I(b; a) should equal I(a; b)")
    assert result_q4mh >= -1e-12, (
        f"case {index_q4mh}: expected a mutual information >= 0, got {result_q4mh}. "
        "Hint: a mutual information cannot be negative; check the ratio p(a, b) / (p(a) p(b)) inside the log")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-mig-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 4 · The mutual information gap (3 points)
#
# For ground-truth factors $v_1, \dots, v_K$ (integer indices, as `vc.data.DSprites.sample_factors`
# gives them) and codes $z_1, \dots, z_D$ (for a VAE: the posterior means), MIG (Chen et al. 2018) is
#
# $$
# \mathrm{MIG} = \frac1K \sum_{k=1}^K \frac{I(z_{j^{(1)}_k}; v_k) - I(z_{j^{(2)}_k}; v_k)}{H(v_k)} \in [0, 1],
# $$
#
# where $j^{(1)}_k$ and $j^{(2)}_k$ are the code dimensions with the largest and second-largest mutual
# information with factor $k$, computed on the discretised codes. Dividing by $H(v_k)$ puts factors with
# 3 and with 40 values on the same scale, and the gap rewards a factor captured by *one* dimension only.
# The homework's "difference between the top two latent dimensions" leaves out the normalisation and
# the average.
#
# Implement `mig(codes, factors, num_bins=20)` with `discretize` (given) and your `mutual_information`: `codes`
# is `(N, D)` with $D \ge 2$, `factors` is an integer array `(N, K)` whose columns all vary; return the
# MIG as a Python float. The first test cell compares it with an independent computation (2 points);
# the second runs the sanity checks that any implementation of a disentanglement metric should pass
# (1 point): a code that copies the factors scores near 1, a rotated copy much lower, pure noise near 0,
# and neither permuting the code dimensions nor rescaling them changes the score.

# %% nbgrader={"grade": false, "grade_id": "q4-mig-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> float:
    """Mutual information gap of codes with respect to ground-truth factors.

    Parameters
    ----------
    codes : np.ndarray, shape (N, D)
        Continuous codes (D >= 2).
    factors : np.ndarray of int, shape (N, K)
        Ground-truth factor values; every column varies.
    num_bins : int
        Bins per code dimension for the discretisation.

    Returns
    -------
    float
        The mean over factors of (top mutual information - second) / H(factor), in [0, 1].
    """
    ### BEGIN SOLUTION
    binned = discretize(codes, num_bins)
    factors = np.asarray(factors)
    gaps = []
    for k in range(factors.shape[1]):
        information = np.array([mutual_information(binned[:, j], factors[:, k]) for j in range(binned.shape[1])])
        top_two = np.sort(information)[::-1][:2]
        gaps.append((top_two[0] - top_two[1]) / mutual_information(factors[:, k], factors[:, k]))
    return float(np.mean(gaps))
    ### END SOLUTION


# %%
# Try it (not graded): dSprites squares at one orientation (free factors: scale, x, y). The code is
# the physical factor values with a little noise, then the same code with x and y mixed by a 45-degree
# rotation. Your MIG next to the course's vc.metrics.mig (20 bins as well), and the package's gap per
# factor. Expect the aligned code to score below 1: 20 bins cannot tell 32 positions apart.
squares_try = vc.data.DSpritesSubset(vc.data.DSprites(resolution=32), fixed={"shape": 0, "orientation": 0})
factors_try_mig = squares_try.sample_factors(5000, np.random.default_rng(0))
codes_try_mig = factors_try_mig / (np.array(squares_try.factor_sizes) - 1.0)  # each factor in [0, 1]
codes_try_mig = codes_try_mig + 0.01 * np.random.default_rng(1).standard_normal(codes_try_mig.shape)
half_try = 2**-0.5
rotation_try = np.array([[1.0, 0.0, 0.0], [0.0, half_try, half_try], [0.0, -half_try, half_try]])  # new code = R @ old
for name_try_mig, c_try in (("aligned code", codes_try_mig), ("x, y rotated by 45 degrees", codes_try_mig @ rotation_try.T)):
    package_try_mig = vc.metrics.mig(c_try, factors_try_mig)
    print(f"{name_try_mig}: your MIG {mig(c_try, factors_try_mig):.3f}, vc.metrics.mig "
          f"{package_try_mig['discrete_mig']:.3f}; gap per factor "
          + ", ".join(f"{name} {package_try_mig[f'mig_{k}']:.3f}" for k, name in enumerate(squares_try.factor_names)))

# %% nbgrader={"grade": true, "grade_id": "q4-mig-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""mig matches an independent computation (np.histogram bins, scikit-learn's mutual information)."""
grid_q4g = np.stack(np.meshgrid(np.arange(3), np.arange(4), indexing="ij"), axis=-1).reshape(-1, 2)
factors_q4g = np.repeat(grid_q4g, 5, axis=0)  # every combination 5 times: the two factors are independent
codes_q4g = factors_q4g.astype(float)[:, ::-1].copy()  # code 0 copies factor 1, code 1 copies factor 0
score_q4g = mig(codes_q4g, factors_q4g)
assert isinstance(score_q4g, float), (
    f"the result of mig: expected a Python float, got {type(score_q4g).__name__}. Hint: return float(...)")
vc.grading.assert_close(score_q4g, 1.0, rtol=0, atol=1e-9,
                        what="MIG of two independent factors, each copied exactly into one code",
                        hint="each gap is H(v_k) / H(v_k) = 1; did you divide each gap by the factor's entropy "
                             "and average over factors?")
codes_redundant_q4g = factors_q4g.astype(float)[:, [1, 0, 0]].copy()  # factor 0 copied into two codes
vc.grading.assert_close(mig(codes_redundant_q4g, factors_q4g), 0.5, rtol=0, atol=1e-9,
                        what="MIG when factor 0 is copied into two codes and factor 1 into one",
                        hint="factor 0's top two codes carry the same information, so its gap is 0 and MIG is "
                             "(0 + 1) / 2: subtract the second-largest mutual information, not the smallest")
print("mig: visible tests passed")
### BEGIN HIDDEN TESTS
from vaecourse import testkit

gen_q4gh2 = np.random.default_rng(441)
cases_q4gh = []
for num_q4gh, sizes_q4gh, num_codes_q4gh in ((2000, (3, 6, 10), 5), (800, (2, 5), 4), (3000, (4, 4, 8, 3), 10)):
    factors_case_q4gh = np.stack([gen_q4gh2.integers(0, s, num_q4gh) for s in sizes_q4gh], axis=1)
    mixing_q4gh = gen_q4gh2.normal(size=(len(sizes_q4gh), num_codes_q4gh))
    mixing_q4gh[:, 0] *= 4  # one code dominated by the first factors
    codes_case_q4gh = (factors_case_q4gh @ mixing_q4gh + 0.5 * gen_q4gh2.normal(size=(num_q4gh, num_codes_q4gh)))
    codes_case_q4gh[:, -1] = np.tanh(factors_case_q4gh[:, -1] - 1.0) + 0.05 * gen_q4gh2.normal(size=num_q4gh)
    cases_q4gh.append((codes_case_q4gh, factors_case_q4gh, 20))
cases_q4gh.append((cases_q4gh[0][0], cases_q4gh[0][1], 7))
references_q4gh = [testkit.reference_mig(c, f, n) for c, f, n in cases_q4gh]  # np.histogram bins, scikit-learn
no_reference_q4gh = AssertionError(
    "mig called a library's MIG or mutual information: expected your own discretize and mutual_information, got "
    "a library call. Hint: use the functions you wrote in Tasks 2 and 3")
import sklearn.metrics

with testkit.forbid(no_reference_q4gh, sklearn.metrics.mutual_info_score, vc.metrics.discrete_mutual_info,
                    vc.metrics._mutual_info, vc.metrics.mig, testkit.reference_mig, testkit.reference_mig_gaps,
                    vc.metrics._entropy, vc.metrics.discretize, testkit.reference_discretize):
    results_q4gh = [mig(c.copy(), f.copy(), num_bins=n) for c, f, n in cases_q4gh]
hint_q4gh = ("for each factor: the mutual information of every discretised code with it, the largest minus the "
             "second largest, divided by the factor's entropy; then the mean over factors. Use num_bins as given")
vc.grading.record("MIG of the visible copied code", score_q4g, rtol=0, atol=1e-9, hint=hint_q4gh)
vc.grading.record("MIG on 4 hidden mixed codes (num_bins 20, 20, 20, 7)", results_q4gh, rtol=0, atol=1e-9,
                  hint=hint_q4gh)
for index_q4gh, (result_q4gh, reference_q4gh) in enumerate(zip(results_q4gh, references_q4gh)):
    assert isinstance(result_q4gh, float), (
        f"case {index_q4gh}: expected a Python float, got {type(result_q4gh).__name__}. Hint: return float(...)")
    vc.grading.assert_close(result_q4gh, reference_q4gh, rtol=0, atol=1e-9,
                            what=f"case {index_q4gh}: MIG of a mixed code", hint=hint_q4gh)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q4-mig-sanity-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Sanity checks of mig: perfect code near 1, rotated code lower, noise near 0, invariant to permutation and scale."""
gen_q4s = np.random.default_rng(451)
grid_q4s = np.stack(np.meshgrid(np.arange(5), np.arange(8), np.arange(10), indexing="ij"), axis=-1).reshape(-1, 3)
factors_q4s = np.repeat(grid_q4s, 10, axis=0)  # 4000 rows, every combination 10 times
perfect_q4s = np.concatenate([factors_q4s + 0.05 * gen_q4s.normal(size=factors_q4s.shape),
                              gen_q4s.normal(size=(len(factors_q4s), 2))], axis=1)  # + 2 unused dimensions
noise_q4s = gen_q4s.normal(size=(len(factors_q4s), 5))
perfect_score_q4s, noise_score_q4s = mig(perfect_q4s, factors_q4s), mig(noise_q4s, factors_q4s)
print(f"perfect code: MIG = {perfect_score_q4s:.3f}; noise code: MIG = {noise_score_q4s:.3f}")
for name_q4s, score_q4s in (("perfect", perfect_score_q4s), ("noise", noise_score_q4s)):
    assert -1e-9 <= score_q4s <= 1 + 1e-9, (
        f"MIG of the {name_q4s} code: expected a value in [0, 1], got {score_q4s}. Hint: divide each factor's gap "
        "by its entropy H(v_k) = I(v_k; v_k), then average over the factors")
assert perfect_score_q4s > 0.9, (
    f"MIG of a code that copies each factor into its own dimension: expected near 1 (> 0.9), got "
    f"{perfect_score_q4s}. Hint: each factor's top code carries nearly all of H(v_k) and the second almost none")
assert noise_score_q4s < 0.05, (
    f"MIG of a code independent of the factors: expected near 0 (< 0.05), got {noise_score_q4s}. "
    "Hint: with no information about the factors, every gap is small")
duplicated_score_q4s = mig(np.concatenate([perfect_q4s, perfect_q4s[:, [0]]], axis=1), factors_q4s)
assert duplicated_score_q4s < perfect_score_q4s - 0.25, (
    f"MIG with an exact second copy of factor 0's code: expected about a third below the perfect code's "
    f"{perfect_score_q4s:.3f} (by more than 0.25), got {duplicated_score_q4s:.3f}. Hint: the copy leaves factor 0 no "
    "gap between its two largest mutual informations (the largest minus the second largest, not the smallest)")
print("mig sanity checks: visible tests passed")
### BEGIN HIDDEN TESTS
standard_q4sh = (factors_q4s - factors_q4s.mean(0)) / factors_q4s.std(0)
rotated_q4sh = standard_q4sh.copy()
rotated_q4sh[:, 0] = (standard_q4sh[:, 0] - standard_q4sh[:, 1]) / 2**0.5  # factors 0 and 1 mixed at 45 degrees
rotated_q4sh[:, 1] = (standard_q4sh[:, 0] + standard_q4sh[:, 1]) / 2**0.5
rotated_q4sh = rotated_q4sh + 0.05 * gen_q4s.normal(size=rotated_q4sh.shape)
rotated_score_q4sh = mig(rotated_q4sh, factors_q4s)
permutation_q4sh = gen_q4s.permutation(perfect_q4s.shape[1])
scaled_q4sh = (perfect_q4s[:, permutation_q4sh] * np.array([3.0, -0.01, 250.0, -1.0, 0.5])
               + np.array([1.0, -5.0, 0.0, 2e3, 7.0]))
variants_q4sh = (("permuted", perfect_q4s[:, permutation_q4sh]), ("permuted and rescaled", scaled_q4sh))
variant_scores_q4sh = [mig(variant_q4sh, factors_q4s) for _, variant_q4sh in variants_q4sh]
redundant_q4sh = np.concatenate([perfect_q4s, perfect_q4s[:, [0]] + 0.01 * gen_q4s.normal(size=(len(perfect_q4s), 1))],
                                axis=1)
redundant_score_q4sh = mig(redundant_q4sh, factors_q4s)
hint_q4sh = ("MIG = mean over factors of (largest - second largest mutual information of a discretised code "
             "with the factor) / H(factor), each code binned over its own range")
vc.grading.record("MIG of the perfect, noise, rotated, permuted, permuted and rescaled, redundant codes",
                  [perfect_score_q4s, noise_score_q4s, rotated_score_q4sh, *variant_scores_q4sh, redundant_score_q4sh],
                  rtol=0, atol=1e-9, hint=hint_q4sh)
assert rotated_score_q4sh < perfect_score_q4s - 0.4, (
    f"MIG of a code with factors 0 and 1 mixed by a 45-degree rotation: expected well below the perfect code's "
    f"{perfect_score_q4s:.3f} (by more than 0.4), got {rotated_score_q4sh:.3f}. Hint: the rotation spreads each "
    "of the two factors over two codes, so their gaps should nearly vanish")
for (name_q4sh, _), variant_score_q4sh in zip(variants_q4sh, variant_scores_q4sh):
    vc.grading.assert_close(variant_score_q4sh, perfect_score_q4s, rtol=0, atol=1e-9,
                            what=f"MIG of the perfect code with its dimensions {name_q4sh}",
                            hint="MIG should not change: each dimension is binned over its own range, and the "
                                 "gap does not depend on the order of the codes")
assert redundant_score_q4sh < perfect_score_q4s - 0.25, (
    f"MIG with a second copy of factor 0's code: expected about a third below the perfect code's "
    f"{perfect_score_q4s:.3f} (by more than 0.25), got {redundant_score_q4sh:.3f}. Hint: a duplicate leaves "
    "factor 0 no gap between its top two codes")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-reading-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 5 · Reading the metrics on codes with a known answer (3 points)
#
# A metric is only as useful as its reading. The read-only cell below builds three independent
# factors with 2, 6 and 20 values (every combination 10 times: 2,400 rows) and four codes of four
# dimensions each, every dimension with a little noise:
#
# - `"aligned"`: each factor (standardised) in its own dimension, and a noise dimension;
# - `"missing"`: factors 0 and 1 in their own dimensions, factor 2 in **no** dimension (two noise dimensions);
# - `"rotated"`: factor 0 in its own dimension, factors 1 and 2 mixed by a 45-degree rotation;
# - `"redundant"`: as `"aligned"`, with the noise dimension replaced by a second copy of factor 0.
#
# It also scores every code with the **β-VAE metric** of Higgins et al. (2017), `vc.metrics.beta_vae_score`:
# pairs of examples that share one factor, the mean absolute difference of their codes as the features,
# and the accuracy of a linear classifier that names the shared factor. Kim and Mnih (2018) pointed out
# that it can be perfect on a code that is not: when a code leaves one factor out entirely, the
# classifier still names that factor, by elimination (a pair that shares it differs in every dimension
# the code does use, and no other factor gives that pattern).
#
# 1. Implement `mig_gaps(codes, factors, num_bins=20, normalise=True)`: the NumPy array `(K,)` of the
#    per-factor gaps $I(z_{j^{(1)}_k}; v_k) - I(z_{j^{(2)}_k}; v_k)$, divided by $H(v_k)$ when `normalise`
#    is true (the terms that MIG averages) and in nats when it is false. Use `discretize` and your
#    `mutual_information`; the hidden tests switch the libraries' mutual informations off. (1 point)
# 2. Fill in the dict `reading`, with `mig`, `mig_gaps`, `mutual_information` and the printed β-VAE
#    scores (2 points):
#    - `"best_by_mig"`: the name of the code that MIG ranks first;
#    - `"betavae_blind_spot"`: the name of the code that the β-VAE metric scores at least 0.99 although
#      one factor is carried by no code dimension at all. Careful: a gap of 0 can mean that no
#      dimension carries the factor, or that two carry it equally; the largest mutual information
#      itself tells them apart;
#    - `"factor_left_out"`: the index (0, 1 or 2) of the factor that this code leaves out;
#    - `"factor_without_gap_in_redundant"`: the index of the factor whose gap the `"redundant"` code destroys;
#    - `"largest_gap_in_nats"`: in the `"aligned"` code, the index of the factor with the largest gap
#      *without* the normalisation. Every factor is captured there, so the normalised gaps are all near
#      1; the gaps in nats show why MIG divides by $H(v_k)$ before it averages over factors.

# %% nbgrader={"grade": false, "grade_id": "q4-reading-data", "locked": true, "schema_version": 3, "solution": false, "task": false}
factor_sizes_read = (2, 6, 20)
grid_read = np.stack(np.meshgrid(*(np.arange(n) for n in factor_sizes_read), indexing="ij"), axis=-1).reshape(-1, 3)
factors_read = np.repeat(grid_read, 10, axis=0)  # 2,400 rows, every combination 10 times
names_read = ("aligned", "missing", "rotated", "redundant")


def construct_code_read(name, factors, rng):
    """The code ``name`` of the factor values ``factors`` (M, 3): 4 dimensions, plus noise of standard deviation 0.05."""
    sizes = np.array(factor_sizes_read)
    s0, s1, s2 = ((factors - (sizes - 1) / 2) / np.sqrt((sizes**2 - 1) / 12)).T  # each factor standardised
    noise = rng.standard_normal(len(factors))
    columns = {"aligned": [s0, s1, s2, noise], "missing": [s0, s1, rng.standard_normal(len(factors)), noise],
               "rotated": [s0, (s1 - s2) / 2**0.5, (s1 + s2) / 2**0.5, noise], "redundant": [s0, s1, s2, s0]}[name]
    return np.stack(columns, axis=1) + 0.05 * rng.standard_normal((len(factors), 4))


class FactorsAsData:
    """Ground-truth "data" whose images are the factor values themselves, for vc.metrics.beta_vae_score."""

    factor_sizes = factor_sizes_read

    def sample_factors(self, num, rng):
        return np.stack([rng.integers(0, size, num) for size in self.factor_sizes], axis=1)

    def render(self, factors):
        return factors


codes_read = {name: construct_code_read(name, factors_read, np.random.default_rng(481 + index))
              for index, name in enumerate(names_read)}
betavae_read = {}
for index_read, name_read in enumerate(names_read):
    rng_read = np.random.default_rng(491 + index_read)
    betavae_read[name_read] = vc.metrics.beta_vae_score(
        FactorsAsData(), lambda factors, name=name_read, rng=rng_read: construct_code_read(name, factors, rng),
        random_state=0, batch_size=32, num_train=500, num_eval=300)["eval_accuracy"]
print("beta-VAE metric (accuracy on 300 new points):", {name: round(v, 3) for name, v in betavae_read.items()})

# %% nbgrader={"grade": false, "grade_id": "q4-gaps-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mig_gaps(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20, normalise: bool = True) -> np.ndarray:
    """Per-factor mutual information gaps: largest minus second-largest I(code_j; factor_k).

    Parameters
    ----------
    codes : np.ndarray, shape (N, D), D >= 2
    factors : np.ndarray of int, shape (N, K); every column varies
    num_bins : int
        Bins per code dimension (``discretize``).
    normalise : bool
        Divide each gap by the factor's entropy H(v_k) (as MIG does); otherwise the gaps are in nats.

    Returns
    -------
    np.ndarray, shape (K,)
    """
    ### BEGIN SOLUTION
    binned = discretize(codes, num_bins)
    factors = np.asarray(factors)
    gaps = np.empty(factors.shape[1])
    for k in range(factors.shape[1]):
        information = np.sort([mutual_information(binned[:, j], factors[:, k]) for j in range(binned.shape[1])])[::-1]
        gaps[k] = information[0] - information[1]
        if normalise:
            gaps[k] /= mutual_information(factors[:, k], factors[:, k])
    return gaps
    ### END SOLUTION


# %%
# Try it (not graded): MIG, the normalised gaps and the gaps in nats of each constructed code.
for name_try_read, codes_try_read in codes_read.items():
    print(f"{name_try_read:>9}: MIG {mig(codes_try_read, factors_read):.3f}, gaps "
          f"{np.round(mig_gaps(codes_try_read, factors_read), 3).tolist()}, in nats "
          f"{np.round(mig_gaps(codes_try_read, factors_read, normalise=False), 3).tolist()}, "
          f"beta-VAE metric {betavae_read[name_try_read]:.3f}")

# %% nbgrader={"grade": true, "grade_id": "q4-gaps-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""mig_gaps returns each factor's gap, divided by H(v_k) or in nats, from the two largest mutual informations."""
grid_q4p = np.stack(np.meshgrid(np.arange(3), np.arange(4), indexing="ij"), axis=-1).reshape(-1, 2)
factors_q4p = np.repeat(grid_q4p, 5, axis=0)  # two independent factors with 3 and 4 values
copied_q4p = factors_q4p.astype(float)[:, ::-1].copy()  # each factor copied into one code
gaps_q4p = mig_gaps(copied_q4p, factors_q4p)
vc.grading.assert_equal([type(gaps_q4p).__name__, list(np.shape(gaps_q4p))], ["ndarray", [2]],
                        what="[type, shape] of mig_gaps for 2 factors",
                        hint="return one gap per factor, as a NumPy array of shape (K,)")
vc.grading.assert_close(gaps_q4p, np.ones(2), rtol=0, atol=1e-9,
                        what="the normalised gaps of two factors, each copied exactly into one code",
                        hint="(largest - second-largest mutual information) / H(v_k) is 1 for a factor copied into "
                             "one code")
nats_q4p = mig_gaps(copied_q4p, factors_q4p, normalise=False)
vc.grading.assert_close(nats_q4p, np.log([3.0, 4.0]), rtol=0, atol=1e-9,
                        what="the gaps in nats (normalise=False) of the same code",
                        hint="without the normalisation the gap of a copied factor is its entropy in nats, "
                             "log(number of values) here")
duplicated_q4p = mig_gaps(factors_q4p.astype(float)[:, [0, 1, 0]].copy(), factors_q4p)
vc.grading.assert_close(duplicated_q4p, np.array([0.0, 1.0]), rtol=0, atol=1e-9,
                        what="the normalised gaps when factor 0 is copied into two codes",
                        hint="subtract the second-largest mutual information (here factor 0's copy), not the smallest")
print("mig_gaps: visible tests passed")
### BEGIN HIDDEN TESTS
from vaecourse import testkit

gen_q4ph = np.random.default_rng(501)
factors_mixed_q4ph = np.stack([gen_q4ph.integers(0, size, 1500) for size in (3, 7, 12)], axis=1)
codes_mixed_q4ph = factors_mixed_q4ph @ gen_q4ph.normal(size=(3, 5)) + 0.3 * gen_q4ph.normal(size=(1500, 5))
cases_q4ph = [(codes_read[name], factors_read) for name in names_read] + [(codes_mixed_q4ph, factors_mixed_q4ph)]
references_q4ph = [(testkit.reference_mig_gaps(c, f), testkit.reference_mig_gaps(c, f, normalise=False))
                   for c, f in cases_q4ph]
reference_bins_q4ph = testkit.reference_mig_gaps(codes_mixed_q4ph, factors_mixed_q4ph, num_bins=7)
no_reference_q4ph = AssertionError(
    "mig_gaps called a library's mutual information: expected your own count, got a library call. "
    "Hint: use discretize and the mutual_information you wrote in Task 3")
import sklearn.metrics

with testkit.forbid(no_reference_q4ph, sklearn.metrics.mutual_info_score, vc.metrics.discrete_mutual_info,
                    vc.metrics._mutual_info, vc.metrics.mig, testkit.reference_mig, testkit.reference_mig_gaps,
                    vc.metrics._entropy):
    results_q4ph = [(np.asarray(mig_gaps(c.copy(), f.copy())), np.asarray(mig_gaps(c.copy(), f.copy(), normalise=False)))
                    for c, f in cases_q4ph]
    result_bins_q4ph = np.asarray(mig_gaps(codes_mixed_q4ph.copy(), factors_mixed_q4ph.copy(), num_bins=7))
hint_q4ph = ("per factor: the largest minus the second-largest mutual information of a discretised code with it, "
             "divided by H(v_k) = I(v_k; v_k) when normalise is true and in nats otherwise; num_bins as given")
vc.grading.record("normalised gaps of the visible copied and duplicated codes", [gaps_q4p, duplicated_q4p], rtol=0,
                  atol=1e-9, hint=hint_q4ph)
vc.grading.record("gaps in nats of the visible copied code", nats_q4p, rtol=0, atol=1e-9, hint=hint_q4ph)
vc.grading.record("normalised gaps of the aligned, missing, rotated, redundant and a hidden mixed code",
                  [normalised for normalised, _ in results_q4ph], rtol=0, atol=1e-9, hint=hint_q4ph)
vc.grading.record("gaps in nats of the same five codes", [nats for _, nats in results_q4ph], rtol=0, atol=1e-9,
                  hint=hint_q4ph)
vc.grading.record("normalised gaps of the hidden mixed code with 7 bins", result_bins_q4ph, rtol=0, atol=1e-9,
                  hint="pass num_bins on to discretize")
for index_q4ph, ((normalised_q4ph, nats_q4ph), (ref_normalised_q4ph, ref_nats_q4ph)) in enumerate(
        zip(results_q4ph, references_q4ph)):
    vc.grading.assert_close(normalised_q4ph, ref_normalised_q4ph, rtol=0, atol=1e-9,
                            what=f"case {index_q4ph}: the normalised gaps", hint=hint_q4ph)
    vc.grading.assert_close(nats_q4ph, ref_nats_q4ph, rtol=0, atol=1e-9, what=f"case {index_q4ph}: the gaps in nats",
                            hint=hint_q4ph)
vc.grading.assert_close(result_bins_q4ph, reference_bins_q4ph, rtol=0, atol=1e-9,
                        what="the normalised gaps of a mixed code with num_bins = 7", hint="pass num_bins on to discretize")
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "q4-reading-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
# Fill in the five answers; compute them with mig, mig_gaps, mutual_information and betavae_read.
reading = {"best_by_mig": None, "betavae_blind_spot": None, "factor_left_out": None,
           "factor_without_gap_in_redundant": None, "largest_gap_in_nats": None}
### BEGIN SOLUTION
mig_read = {name: mig(codes, factors_read) for name, codes in codes_read.items()}
gaps_read = {name: mig_gaps(codes, factors_read) for name, codes in codes_read.items()}
entropy_read = [mutual_information(factors_read[:, k], factors_read[:, k]) for k in range(3)]
# A factor is left out when even its most informative dimension carries (almost) nothing about it.
left_out_read = {}
for name, codes in codes_read.items():
    binned = discretize(codes)
    top = [max(mutual_information(binned[:, j], factors_read[:, k]) for j in range(4)) for k in range(3)]
    left_out_read[name] = [k for k in range(3) if top[k] < 0.1 * entropy_read[k]]
blind_read = [name for name in codes_read if betavae_read[name] >= 0.99 and left_out_read[name]]
reading = {
    "best_by_mig": max(mig_read, key=mig_read.get),
    "betavae_blind_spot": blind_read[0],  # "missing": a perfect beta-VAE score, factor 2 in no dimension
    "factor_left_out": left_out_read[blind_read[0]][0],
    "factor_without_gap_in_redundant": int(np.argmin(gaps_read["redundant"])),  # a gap of 0, the factor twice
    "largest_gap_in_nats": int(np.argmax(mig_gaps(codes_read["aligned"], factors_read, normalise=False))),
}
### END SOLUTION
print(reading)

# %% nbgrader={"grade": true, "grade_id": "q4-reading-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""The reading: the code MIG ranks first, the beta-VAE metric's blind spot and its left-out factor, the gaps."""
keys_q4r = ["best_by_mig", "betavae_blind_spot", "factor_left_out", "factor_without_gap_in_redundant",
            "largest_gap_in_nats"]
vc.grading.assert_equal(sorted(reading), sorted(keys_q4r), what="the keys of reading",
                        hint="fill in the dict as given; do not rename or add keys")
for key_q4r in keys_q4r[:2]:
    assert reading[key_q4r] in codes_read, (
        f"reading['{key_q4r}']: expected one of the code names {list(codes_read)}, got {reading[key_q4r]!r}. "
        "Hint: a name, as a string")
for key_q4r in keys_q4r[2:]:
    assert isinstance(reading[key_q4r], (int, np.integer)) and 0 <= reading[key_q4r] < 3, (
        f"reading['{key_q4r}']: expected a factor index 0, 1 or 2, got {reading[key_q4r]!r}. "
        "Hint: an int counted from 0 (np.argmin and np.argmax give one)")
# The facts, computed here with the course's package (vc.metrics), independently of your functions
entropy_q4r = np.log(np.array(factor_sizes_read, dtype=float))  # every factor value equally frequent
top_two_q4r = {name: -np.sort(-vc.metrics.discrete_mutual_info(vc.metrics.discretize(codes), factors_read), axis=0)[:2]
               for name, codes in codes_read.items()}  # (2, K): the two largest I(z_j; v_k) per factor
mig_q4r = {name: float(((top[0] - top[1]) / entropy_q4r).mean()) for name, top in top_two_q4r.items()}
carried_q4r = {name: top[0] / entropy_q4r for name, top in top_two_q4r.items()}  # largest I(z_j; v_k) / H(v_k)
best_q4r = reading["best_by_mig"]
assert mig_q4r[best_q4r] == max(mig_q4r.values()), (
    f"reading['best_by_mig']: expected the code with the largest MIG ({max(mig_q4r.values()):.3f}), got "
    f"{best_q4r!r}, whose MIG is {mig_q4r[best_q4r]:.3f}. Hint: compute mig(codes_read[name], factors_read) for "
    "every name and take the largest")
blind_q4r = reading["betavae_blind_spot"]
assert betavae_read[blind_q4r] >= 0.99 and bool((carried_q4r[blind_q4r] < 0.1).any()), (
    f"reading['betavae_blind_spot']: expected a code that the beta-VAE metric scores at least 0.99 although some "
    f"factor has no informative dimension, got {blind_q4r!r} (beta-VAE metric {betavae_read[blind_q4r]:.3f}; largest "
    f"mutual information of a dimension with each factor, divided by its entropy: "
    f"{np.round(carried_q4r[blind_q4r], 3).tolist()}). Hint: a gap of 0 also comes from two dimensions that both carry "
    "the factor; look at the largest mutual information itself")
left_q4r = reading["factor_left_out"]
assert carried_q4r[blind_q4r][left_q4r] < 0.1, (
    f"reading['factor_left_out']: expected the factor that no dimension of {blind_q4r!r} carries, got factor "
    f"{left_q4r} (its most informative dimension carries {carried_q4r[blind_q4r][left_q4r]:.3f} of its entropy). "
    "Hint: factors are numbered from 0; the left-out factor's largest mutual information with any dimension is near 0")
gaps_redundant_q4r = (top_two_q4r["redundant"][0] - top_two_q4r["redundant"][1]) / entropy_q4r
lost_q4r = reading["factor_without_gap_in_redundant"]
assert gaps_redundant_q4r[lost_q4r] < 0.1, (
    f"reading['factor_without_gap_in_redundant']: expected the factor whose normalised gap the duplicate destroys "
    f"(near 0), got factor {lost_q4r}, whose gap is {gaps_redundant_q4r[lost_q4r]:.3f}. Hint: the copied factor's "
    "two largest mutual informations are equal; factors are numbered from 0")
nats_aligned_q4r = top_two_q4r["aligned"][0] - top_two_q4r["aligned"][1]
largest_q4r = reading["largest_gap_in_nats"]
assert nats_aligned_q4r[largest_q4r] == nats_aligned_q4r.max(), (
    f"reading['largest_gap_in_nats']: expected the factor with the largest unnormalised gap in the aligned code "
    f"({nats_aligned_q4r.max():.3f} nats), got factor {largest_q4r}, whose gap is {nats_aligned_q4r[largest_q4r]:.3f} "
    "nats. Hint: without dividing by H(v_k), a factor captured perfectly has a gap equal to its entropy, so the "
    "factor with the most values weighs most: compute mig_gaps(..., normalise=False)")
print("reading the metrics: visible tests passed")
### BEGIN HIDDEN TESTS
from vaecourse import testkit

hint_q4rh = ("the code with the largest MIG; the code with a beta-VAE score of at least 0.99 that leaves a factor out "
             "(not the one with two copies of a factor); factors numbered from 0")
vc.grading.record("reading: the code MIG ranks first and the beta-VAE metric's blind spot",
                  [str(reading["best_by_mig"]), str(reading["betavae_blind_spot"])], hint=hint_q4rh)
vc.grading.record("reading: the factor left out, the factor without a gap in the redundant code, the largest gap in nats",
                  [int(reading[key]) for key in keys_q4r[2:]], rtol=0, atol=0, hint=hint_q4rh)
# The same facts from testkit's independent MIG (np.histogram bins, scikit-learn's mutual information)
mig_q4rh = {name: testkit.reference_mig(codes, factors_read) for name, codes in codes_read.items()}
vc.grading.assert_equal(reading["best_by_mig"], max(mig_q4rh, key=mig_q4rh.get),
                        what="the code with the largest MIG (an independent computation)", hint=hint_q4rh)
vc.grading.assert_equal(int(reading["factor_without_gap_in_redundant"]),
                        int(np.argmin(testkit.reference_mig_gaps(codes_read["redundant"], factors_read))),
                        what="the factor without a gap in the redundant code (an independent computation)",
                        hint=hint_q4rh)
vc.grading.assert_equal(int(reading["largest_gap_in_nats"]),
                        int(np.argmax(testkit.reference_mig_gaps(codes_read["aligned"], factors_read, normalise=False))),
                        what="the factor with the largest gap in nats (an independent computation)", hint=hint_q4rh)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-traversal-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 6 · Latent traversals (1 point)
#
# A *latent traversal* decodes a code in which one coordinate sweeps a range of values while all the
# others stay fixed, usually at the posterior mean of one image. If the model has disentangled the
# data, the sweep of one dimension changes one factor only (the position, or the size, ...); if a
# dimension is inactive (its KL is near 0), nothing changes at all. It is the picture of β-VAE papers,
# and a qualitative one: it shows a few rows for one base image and one model, so it cannot replace a
# metric.
#
# The read-only cell below gives `traversal_codes(base_code, dimension, values)`: a new tensor `(K, D)`
# whose row $i$ is `base_code` (shape `(D,)`) with coordinate `dimension` replaced by `values[i]`.
# Implement `latent_traversal(model, x, dimension, values)`: `x` is one image, shape `(1, C, H, W)`, and `model`
#   has `encode(x)` (a distribution whose `.mean` is `(1, D)`) and `decode(z)` (a distribution whose
#   `.mean` is the images). Take the **posterior mean** of `x` as the base code (a sample would make the
#   picture random), build the codes with `traversal_codes`, decode them in one call, and return the
#   decoder means, shape `(K, C, H, W)`, computed without gradients (`torch.no_grad()`).

# %% nbgrader={"grade": false, "grade_id": "q4-traversal-codes-given", "locked": true, "schema_version": 3, "solution": false, "task": false}
def traversal_codes(base_code: torch.Tensor, dimension: int, values) -> torch.Tensor:
    """Copies of ``base_code`` with coordinate ``dimension`` set to each of ``values``.

    Parameters
    ----------
    base_code : torch.Tensor, shape (D,)
    dimension : int
        The coordinate to sweep, 0 <= dimension < D.
    values : torch.Tensor or sequence of float, shape (K,)

    Returns
    -------
    torch.Tensor, shape (K, D), dtype of ``base_code``
        Row i is ``base_code`` with ``[dimension]`` replaced by ``values[i]``.
    """
    values = torch.as_tensor(values, dtype=base_code.dtype, device=base_code.device)
    codes = base_code.detach().unsqueeze(0).repeat(len(values), 1)
    codes[:, dimension] = values
    return codes


# %% nbgrader={"grade": false, "grade_id": "q4-traversal-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def latent_traversal(model, x: torch.Tensor, dimension: int, values) -> torch.Tensor:
    """Decoder means along a sweep of one latent coordinate around the posterior mean of ``x``.

    Parameters
    ----------
    model : object with ``encode(x)`` and ``decode(z)`` returning distributions
    x : torch.Tensor, shape (1, C, H, W)
        One image.
    dimension : int
        The latent coordinate to sweep.
    values : torch.Tensor or sequence of float, shape (K,)

    Returns
    -------
    torch.Tensor, shape (K, C, H, W)
        ``model.decode(codes).mean`` for the K traversal codes, without gradients.
    """
    ### BEGIN SOLUTION
    with torch.no_grad():
        base_code = model.encode(x).mean[0]
        return model.decode(traversal_codes(base_code, dimension, values)).mean
    ### END SOLUTION


# %%
# Try it (not graded): an ideal "decoder" that renders dSprites squares from a 3-D code (scale, x, y,
# each in [0, 1]). Traversing its own axes moves one factor per row; behind a 45-degree rotation of
# (x, y), the second and third rows move the square diagonally: the same images, an entangled code.
def render_squares_try(z):
    indices = np.rint(z.clamp(0, 1).numpy() * (np.array(squares_try.factor_sizes) - 1)).astype(np.int64)
    return squares_try.render(indices)


base_try_traversal = torch.tensor([0.6, 0.5, 0.5])
values_try_traversal = torch.linspace(0.1, 0.9, 7)
rotation_inverse_try = torch.tensor(np.linalg.inv(rotation_try), dtype=torch.float32)
rows_try_traversal = []
for decode_try in (render_squares_try, lambda z: render_squares_try((z - 0.5) @ rotation_inverse_try.T + 0.5)):
    for dimension_try in range(3):
        rows_try_traversal.append(decode_try(traversal_codes(base_try_traversal, dimension_try, values_try_traversal)))
fig = vc.plotting.strip(torch.stack(rows_try_traversal), title="aligned code (rows 1-3), rotated code (rows 4-6)",
                        row_labels=["z0", "z1", "z2", "z0 rot", "z1 rot", "z2 rot"],
                        column_labels=[f"{v:.2f}" for v in values_try_traversal.tolist()])

# %% nbgrader={"grade": true, "grade_id": "q4-traversal-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""latent_traversal decodes the sweep around the posterior mean in one call, without gradients."""
model_q4v = vc.models.BetaVAE(latent_dim=3, image_shape=(1, 6, 6), hidden=(8,), beta=4.0)
x_q4v = torch.bernoulli(torch.full((1, 1, 6, 6), 0.3), generator=torch.Generator().manual_seed(471))
images_q4v = latent_traversal(model_q4v, x_q4v, 2, torch.linspace(-2, 2, 5))
assert isinstance(images_q4v, torch.Tensor) and tuple(images_q4v.shape) == (5, 1, 6, 6), (
    f"latent_traversal with 5 values on a (1, 1, 6, 6) image: expected images of shape (5, 1, 6, 6), one per value, "
    f"got {getattr(images_q4v, 'shape', type(images_q4v).__name__)}. Hint: decode the (K, D) codes in one batch")
vc.grading.assert_equal(images_q4v.requires_grad, False, what="images.requires_grad",
                        hint="compute the traversal under torch.no_grad(): it is a picture, not a loss")
assert bool(((images_q4v >= 0) & (images_q4v <= 1)).all()), (
    f"the traversal images: expected pixel probabilities in [0, 1], got values from {images_q4v.min().item():.3g} "
    f"to {images_q4v.max().item():.3g}. Hint: return the decoder's mean (decode(codes).mean), not logits")
with torch.no_grad():
    mean_q4v = model_q4v.encode(x_q4v).mean[0]
    through_mean_q4v = model_q4v.decode(mean_q4v[None]).mean
torch.manual_seed(0)
at_mean_q4v = latent_traversal(model_q4v, x_q4v, 1, mean_q4v[1:2])
torch.manual_seed(1)
at_mean_again_q4v = latent_traversal(model_q4v, x_q4v, 1, mean_q4v[1:2])
vc.grading.assert_close(torch.cat([at_mean_q4v, at_mean_again_q4v]), torch.cat([through_mean_q4v, through_mean_q4v]),
                        rtol=1e-5, atol=1e-6,
                        what="the traversal of dimension 1 through its posterior-mean value, under seeds 0 and 1",
                        hint="the base code is the posterior mean model.encode(x).mean (not a sample, not zeros), "
                             "so sweeping a coordinate through its own mean value decodes the mean code itself")
print("latent_traversal: visible tests passed")
### BEGIN HIDDEN TESTS
gen_q4vh = torch.Generator().manual_seed(472)


class LinearModelQ4vh:
    """A tiny model with a linear Gaussian encoder and a linear Bernoulli decoder; records decode calls."""

    def __init__(self):
        self.encoder_weight = torch.randn(16, 4, generator=gen_q4vh)
        self.decoder_weight = torch.randn(4, 16, generator=gen_q4vh)
        self.decoder_weight[2] = 0.0  # latent 2 is ignored by the decoder: an inactive unit
        self.decoded = []

    def encode(self, x):
        mu = x.flatten(1) @ self.encoder_weight
        return Independent(Normal(mu, torch.full_like(mu, 0.7)), 1)

    def decode(self, z):
        self.decoded.append(z.detach().clone())
        return Independent(Bernoulli(logits=(z @ self.decoder_weight).view(-1, 1, 4, 4)), 3)


model_q4vh = LinearModelQ4vh()
x_q4vh = torch.rand(1, 1, 4, 4, generator=gen_q4vh)
values_q4vh = torch.linspace(-3, 3, 6)
mu_q4vh = x_q4vh.flatten(1)[0] @ model_q4vh.encoder_weight
torch.manual_seed(0)
images_q4vh = latent_traversal(model_q4vh, x_q4vh, 1, values_q4vh)
torch.manual_seed(1)
images_again_q4vh = latent_traversal(model_q4vh, x_q4vh, 1, values_q4vh)
decode_calls_q4vh = len(model_q4vh.decoded)
inactive_q4vh = latent_traversal(model_q4vh, x_q4vh, 2, values_q4vh)
with torch.random.fork_rng(devices=[]):  # a small BetaVAE with seeded weights; the global generator is restored
    torch.manual_seed(473)
    model_seeded_q4vh = vc.models.BetaVAE(latent_dim=3, image_shape=(1, 6, 6), hidden=(8,), beta=4.0)
images_seeded_q4vh = latent_traversal(model_seeded_q4vh, x_q4v, 0, torch.linspace(-2, 2, 5))
hint_q4vh = ("take the posterior mean model.encode(x).mean as the base code (not a sample), sweep the coordinate "
             "with traversal_codes, decode all K codes in one call and return decode(codes).mean")
vc.grading.record("decode calls for two traversals", decode_calls_q4vh,
                  hint="decode the K codes in one call (one batch) per traversal")
vc.grading.record("codes passed to decode (linear model, dimension 1)", model_q4vh.decoded[0], rtol=1e-5, atol=1e-5,
                  hint=hint_q4vh)
vc.grading.record("traversal images (linear model, dimension 1), seeds 0 and 1", [images_q4vh, images_again_q4vh],
                  rtol=1e-5, atol=1e-6, hint=hint_q4vh)
vc.grading.record("traversal images of the inactive latent 2 (linear model)", inactive_q4vh, rtol=1e-5, atol=1e-6,
                  hint=hint_q4vh)
vc.grading.record("traversal images of a seeded BetaVAE (dimension 0, 5 values)", images_seeded_q4vh,
                  rtol=1e-5, atol=1e-6, hint=hint_q4vh)
vc.grading.assert_equal(decode_calls_q4vh, 2, what="the number of decode calls for 2 traversals",
                        hint="decode the K codes in one call (one batch)")
codes_q4vh = model_q4vh.decoded[0]
vc.grading.assert_equal(tuple(codes_q4vh.shape), (6, 4), what="the shape of the codes passed to decode",
                        hint="decode should receive the (K, D) = (6, 4) traversal codes")
expected_codes_q4vh = mu_q4vh.repeat(6, 1)
expected_codes_q4vh[:, 1] = values_q4vh
vc.grading.assert_close(codes_q4vh, expected_codes_q4vh, rtol=1e-5, atol=1e-5,
                        what="the codes passed to decode (posterior mean of x, coordinate 1 swept)",
                        hint="did you use a sample (rsample) instead of q_z.mean?")
vc.grading.assert_close(images_q4vh, images_again_q4vh, rtol=0, atol=0,
                        what="the traversal with torch.manual_seed(1) against the one with torch.manual_seed(0)",
                        hint="the traversal must not depend on the random seed: use the mean")
vc.grading.assert_close(images_q4vh, torch.sigmoid(expected_codes_q4vh @ model_q4vh.decoder_weight).view(6, 1, 4, 4),
                        rtol=1e-5, atol=1e-5, what="the traversal images of the linear model",
                        hint="return decode(codes).mean, the pixel probabilities")
vc.grading.assert_close(inactive_q4vh, inactive_q4vh[:1].expand_as(inactive_q4vh), rtol=0, atol=1e-6,
                        what="the traversal of latent 2, which the decoder ignores",
                        hint="the decoder ignores latent 2, so its traversal must show one image six times")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-demo-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Optional demo · your functions on trained β-VAEs (not graded)
#
# The next cell trains two small β-VAEs with 6 latent dimensions on 4,000 dSprites squares (free
# factors: scale, x, y), one with β = 1 and one with β = 4, each for a few seconds, and uses your
# functions on them: `beta_vae_loss` on a batch next to the package's terms, `mig` on the posterior
# means, and `latent_traversal` of every latent dimension around one image, each row labelled with
# that dimension's KL averaged over the data (a dimension with a KL near 0 carries no information,
# and its row should show no change). It is one seed and short training, a quick look and not a
# measurement: lecture notebook 08 runs the β sweep over several seeds and asks what β does to the
# reconstruction, the KL and the metrics. The grader skips this cell (it checks `NBGRADER_EXECUTION`).

# %%
if not os.environ.get("NBGRADER_EXECUTION"):
    factors_demo = squares_try.sample_factors(4000, np.random.default_rng(2))
    x_demo = squares_try.render(factors_demo)
    rows_demo, labels_demo = [], []
    for beta_demo in (1.0, 4.0):
        torch.manual_seed(0)
        model_demo = vc.models.BetaVAE(latent_dim=6, image_shape=(1, 32, 32), hidden=(256,), beta=beta_demo)
        vc.train.fit(model_demo, x_demo, epochs=10, seed=0, device=device, progress=False)
        model_demo.cpu()
        torch.manual_seed(1)
        with torch.no_grad():
            q_z_demo = model_demo.encode(x_demo)
            q_z_batch_demo = model_demo.encode(x_demo[:500])
            terms_demo = beta_vae_loss(x_demo[:500], q_z_batch_demo, model_demo.decode(q_z_batch_demo.rsample()),
                                       beta_demo)
        kl_per_dim_demo = (0.5 * (q_z_demo.variance + q_z_demo.mean**2 - 1 - q_z_demo.variance.log())).mean(0)
        print(f"beta = {beta_demo:g}: nll {terms_demo['nll'].mean():.1f}, kl {terms_demo['kl'].mean():.1f}, "
              f"neg_elbo {terms_demo['neg_elbo'].mean():.1f}, beta_loss {terms_demo['beta_loss'].mean():.1f} "
              f"nats (500 images, one z each); MIG {mig(q_z_demo.mean.numpy(), factors_demo):.3f}")
        for j_demo in range(6):
            rows_demo.append(latent_traversal(model_demo, x_demo[:1], j_demo, torch.linspace(-2.5, 2.5, 7)))
            labels_demo.append(f"b={beta_demo:g} z{j_demo} KL {kl_per_dim_demo[j_demo]:.1f}")
    fig = vc.plotting.strip(torch.stack(rows_demo), row_labels=labels_demo,
                            title="traversals around the first image, beta = 1 (top) and beta = 4 (bottom)")

# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-idea-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 7 · Q4, part 1: the idea of β-VAE and its difference from the VAE (3 points, graded by hand)
#
# *In brief, what is the idea of β-VAE, and what is its difference with VAEs?* A homework answer wrote:
# "When β > 1, the model prioritizes disentanglement, often at the cost of reconstruction fidelity.
# This trade-off makes β-VAE particularly effective at discovering disentangled latent factors
# compared to standard VAEs, which equally weigh reconstruction and regularization terms."
#
# In 6–10 sentences: state what changes between a VAE and a β-VAE and what does not; say whether
# $\mathcal L_\beta$ is still a lower bound on $\log p(x)$ for $\beta > 1$ and for $\beta < 1$, and on
# which quantity models with different β should be compared (Task 1); say what a KL weight above 1
# actually penalises, in terms of the information the code carries about $x$, and what it reliably
# costs; say whether disentanglement follows, and why or why not; and say what "equally weigh" depends
# on. Correct or qualify the homework's sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q4-idea-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** A β-VAE (Higgins et al. 2017) is a VAE with a different *objective*, not a different
# model: the encoder $q(z \mid x)$, the decoder $p(x \mid z)$ and the prior $\mathcal N(0, I)$ are the
# same, and training maximises $\mathbb E_q[\log p(x \mid z)] - \beta\, \mathrm{KL}(q(z \mid x) \,\|\, p(z))$,
# that is, it minimises $\mathrm{NLL} + \beta\,\mathrm{KL}$ (Task 1); $\beta = 1$ is the VAE. Because
# $\mathrm{KL} \ge 0$, for $\beta \ge 1$ we have $\mathcal L_\beta \le \mathrm{ELBO} \le \log p(x)$: still
# a lower bound, only a looser one; for $\beta < 1$ it is no bound at all. Models trained with different
# β must therefore be compared on the same quantity, the ELBO (or an importance-weighted estimate of
# $\log p(x)$), not on their own objectives. Averaged over the data, the KL term is the *rate*:
# $\mathbb E_x \mathrm{KL}(q(z \mid x) \,\|\, p(z)) = I_q(x; z) + \mathrm{KL}(q(z) \,\|\, p(z))$ (Hoffman and
# Johnson 2016), so $\beta > 1$ penalises the information the code carries about $x$ and pulls the
# aggregate posterior $q(z)$ towards the factorised prior. What it reliably costs is reconstruction
# (a lower rate means a higher distortion, Alemi et al. 2018), and at large β whole latent dimensions
# collapse to the prior (KL ≈ 0, inactive units whose traversals show no change). Disentanglement is a
# hoped-for *side effect*, not a guarantee: the prior $\mathcal N(0, I)$ is rotation invariant, so the
# objective alone does not prefer axis-aligned factors; the alignment observed on data such as
# dSprites comes from inductive biases such as the diagonal Gaussian posterior (Rolinek et al. 2019),
# and Locatello et al. (2019) proved that unsupervised disentanglement is impossible without such
# biases and found that random seeds and hyperparameters mattered more than the choice of model or β.
# So the homework is right that $\beta > 1$ trades reconstruction for a stronger KL, but imprecise in
# saying that it "prioritises disentanglement" and is "particularly effective" at it: it prioritises a
# low rate, and whether disentanglement follows must be measured, with ground-truth factors (Task 4),
# over several seeds. Finally, $\beta = 1$ "weighs the terms equally" only relative to the likelihood's
# scale: with a Gaussian decoder of variance $\sigma^2$, $-\log p(x \mid z) = \lVert x - \hat x \rVert^2 /
# (2\sigma^2) + \text{const}$, so "MSE + β·KL" is the ELBO at $\sigma^2 = \beta / 2$; changing $\sigma^2$,
# the pixel scale, or averaging instead of summing the NLL over pixels changes the effective β.
#
# *Marking (3 points):* 1 point for "same model, only the KL weight changes" with the objective and
# the bound ($\beta \ge 1$: a looser lower bound; $\beta < 1$: none; compare on the ELBO); 1 point for
# what β > 1 penalises (rate / information in the code / closeness of $q(z)$ to the prior) and its
# reliable cost (reconstruction, collapsed dimensions); 1 point for "disentanglement is not guaranteed"
# with a reason (rotation-invariant prior, inductive biases, Locatello et al. 2019) or the
# likelihood-scale caveat on "equal weight".

# %% [markdown] nbgrader={"grade": false, "grade_id": "q4-metrics-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 8 · Q4, part 2: disentanglement metrics, what they measure and how they are used (4 points, graded by hand)
#
# *What is the importance of the disentanglement metric, and how is it used?* A homework answer said the
# metrics "help verify that the latent space aligns with the data's underlying factors, making
# representations more interpretable"; that "the paper highlights" MIG, the β-VAE metric and DCI;
# that MIG "measures the difference in mutual information between the top two latent dimensions for
# each factor"; and that the metrics "guide hyperparameter tuning, such as selecting an optimal β".
#
# In 8–12 sentences: say what data every such metric needs, and what follows for real data sets; define
# in one sentence each what the β-VAE metric, the FactorVAE metric, MIG and DCI compute, and who
# introduced them; give one known failure mode or disagreement (Task 5 measured one); say how the
# metrics are used in practice, what they cannot do (Locatello et al. 2019), and which sanity checks
# an implementation should pass (Task 4). Correct or qualify each of the homework's statements.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q4-metrics-answer", "locked": false, "points": 4, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** Every disentanglement metric compares codes with **ground-truth factors of
# variation**, so it needs data whose generating factors are known and labelled: synthetic sets such as
# dSprites, 3D Shapes, MPI3D or SmallNORB. On real, unlabelled data none of them can be computed, so they
# cannot "verify" that a latent space aligns with the data's factors or is interpretable there; they
# measure, on benchmarks, how well a *method* recovers known factors. The metrics come from different
# papers (the homework's "the paper" is none of them): the **β-VAE metric** (Higgins et al. 2017) draws
# pairs of images that share one factor, averages the absolute differences of their codes, and reports
# the accuracy of a linear classifier that predicts the shared factor from that average; the
# **FactorVAE metric** (Kim and Mnih 2018) fixes one factor in a batch, normalises each code dimension
# by its overall spread, and lets the dimension of least variance vote for the factor (the accuracy of a
# majority-vote classifier); **MIG** (Chen et al. 2018) is, per factor, the gap between the two largest
# mutual informations of single codes with the factor, *divided by the factor's entropy* and *averaged
# over factors* (Task 4; the homework's definition lacks both); **DCI** (Eastwood and Williams 2018)
# fits a regressor (Lasso or trees) of each factor on all codes and turns the importance matrix into
# disentanglement (each code matters for one factor), completeness (each factor is captured by one
# code) and informativeness (prediction error). SAP (Kumar et al. 2018) and modularity are further
# variants; Locatello et al. (2019) compared them all. They measure different things and can disagree
# on the same codes: the β-VAE metric can score 100 % when only $K - 1$ of $K$ factors are
# disentangled (the failure mode that motivated the FactorVAE metric), MIG rewards each factor being in
# one code but does not penalise one code holding two factors, and every number depends on estimator
# choices (20 histogram bins, posterior means or samples, which factors are included). In practice the
# metrics are used to compare methods and hyperparameters on such benchmarks, over many random seeds
# and reported as distributions; Locatello et al. (2019) found that the seed mattered as much as the
# method and that good models "cannot be identified without access to ground-truth labels", so in a
# truly unsupervised setting they cannot select β; choosing β with them means using labels. Before
# trusting any implementation, check it on codes with a known answer: a code that copies the factors
# scores near 1, a rotated copy much lower, noise near 0, and permuting or rescaling the code
# dimensions changes nothing (Task 4's checks); a duplicated code dimension lowers MIG, since its factor
# loses its gap.
#
# *Marking (4 points):* 1 point for "needs ground-truth factors, so only on labelled (synthetic)
# benchmarks; cannot verify interpretability on real data"; 1 point for correct definitions of at least
# two metrics, including MIG with its normalisation and average, with correct attributions; 1 point for
# one failure mode or disagreement (β-VAE metric with $K - 1$ factors, as measured in Task 5; estimator
# choices; MIG and multi-factor codes); 1 point for the use and its limits (comparison over seeds on
# benchmarks; no unsupervised model selection, Locatello et al. 2019) or for the sanity checks.
