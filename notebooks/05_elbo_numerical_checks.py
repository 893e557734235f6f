# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown]
# # 05 · The ELBO, checked numerically
#
# A VAE is trained by maximising the evidence lower bound (ELBO) instead of the log-likelihood
# log p(x) it really wants. This notebook derives the ELBO line by line and then checks every line
# with numbers, on a latent-variable model small enough that log p(x), the posterior p(z|x) and the
# ELBO of any Gaussian q are known exactly: the linear-Gaussian model. The homework's answer to
# Q2(c)(i) gets the sign of the objective and the central identity wrong; both errors are executed
# here, not only pointed out. Then the same bounds on a VAE trained on MNIST, and the two reasons the
# homework leaves out for training on the ELBO: why log p(x) cannot simply be estimated from prior
# samples, and why the reparameterised gradient is what makes the ELBO trainable.
#
# **Learning goals**
# - derive the ELBO twice: with Jensen's inequality, and as the exact identity
#   log p(x) = ELBO + KL(q(z|x) || p(z|x));
# - check the identity in closed form (float64) and by Monte Carlo, and see that the bound is tight
#   exactly at the true posterior;
# - compute the Gaussian KL in closed form and check it against `torch.distributions` and sampling;
# - see what minimising the ELBO (the homework's sign) does to log p(x);
# - tighten the bound with importance weighting (IWAE) and read the gaps on a trained VAE;
# - measure how far the prior-sampling estimate of log p(x) falls below importance sampling, and how
#   much noisier the score-function gradient is than the reparameterised one;
# - put the course's test NLL on binarised digits beside the published figures, and measure one
#   part of the gap.
#
# **Prerequisites:** 02 (the VAE), 04 (maximum likelihood). **Budget:** runs in at most 60 s on
# 2 CPU cores (see `benchmarks/`).

# %% tags=["parameters"]
SEED = 0
DEVICE = "auto"
BUDGET = "ci"  # "ci": the short run that CI executes; "full": longer training, better numbers
LATENT_DIM = 20  # the MNIST VAE of section 7
NUM_SEEDS = 2

# %%
import copy
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.distributions import MultivariateNormal, Normal, Independent, kl_divergence

import vaecourse as vc
from vaecourse.evaluate import spread
from vaecourse.linear_gaussian import LinearGaussian

device = vc.setup_notebook(seed=SEED, device=DEVICE)

# %% [markdown]
# ## 1. The derivation, done right
#
# A latent-variable model p(x, z) = p(x|z) p(z) has the likelihood p(x) = ∫ p(x|z) p(z) dz. With a
# neural decoder this integral has no closed form, and neither has the posterior
# p(z|x) = p(x, z) / p(x). Take any density q(z|x) (the encoder) that is positive wherever the
# posterior is.
#
# **Route 1: Jensen.** Multiply and divide by q inside the integral, then use that log is concave:
#
# log p(x) = log E_q[ p(x, z) / q(z|x) ] ≥ E_q[ log p(x, z) / q(z|x) ] =: ELBO(q).
#
# **Route 2: the exact identity.** log p(x) does not depend on z, so it equals its own average
# under q; then write p(x) = p(x, z) / p(z|x) and multiply and divide by q:
#
# log p(x) = E_q[ log p(x) ] = E_q[ log p(x, z) / p(z|x) ]
#          = E_q[ log p(x, z) / q(z|x) ] + E_q[ log q(z|x) / p(z|x) ]
#          = ELBO(q) + KL(q(z|x) || p(z|x)).
#
# Because the KL is never negative, this gives the bound of route 1 and says what the gap is: the
# ELBO equals log p(x) exactly when q is the true posterior. Splitting p(x, z) = p(x|z) p(z) in the
# ELBO gives the form a VAE computes:
#
# log p(x) − KL(q(z|x) || p(z|x)) = ELBO(q) = E_q[ log p(x|z) ] − KL(q(z|x) || p(z)).
#
# Two consequences. Maximising the ELBO over the encoder q does not change log p(x), so it *minimises*
# KL(q || posterior): the encoder learns to approximate the posterior. Maximising it over the decoder
# raises a lower bound on log p(x).
#
# > **Common mistakes in the homework's answer to Q2(c)(i)**
# >
# > - **"Minimising the ELBO".** The ELBO is a *lower* bound on log p(x); pushing a lower bound down
# >   says nothing about log p(x), and in practice drags it down too. The ELBO is **maximised**, which
# >   is the same as minimising −ELBO (the `neg_elbo` that `vc.models.VAE` reports). Section 5 executes
# >   the wrong sign on a model whose log p(x) is exact.
# > - **"log p(x) = E_q[log p(x, z) / q(z|x)]".** The right-hand side *is* the ELBO, not log p(x);
# >   the two differ by KL(q(z|x) || p(z|x)), which is zero only at the true posterior. Section 3
# >   measures that gap for many q. "Adding and subtracting the KL" to an equation that already
# >   (wrongly) equates the two proves nothing: the proof is route 2 above.
# > - **"The integral is merely expensive".** For a neural decoder it has no closed form, and a naive
# >   Monte Carlo estimate with prior samples has huge variance; the importance-weighted bound of
# >   section 6 is the practical way to estimate log p(x).

# %% [markdown]
# ## 2. A model where everything is exact
#
# The linear-Gaussian model (probabilistic PCA): z ~ N(0, I_k), x | z ~ N(W z + b, σ² I_d).
# Integrating z out gives x ~ N(b, W Wᵀ + σ² I), and the posterior is Gaussian:
# p(z|x) = N(S Wᵀ (x − b) / σ², S) with S = (I + Wᵀ W / σ²)⁻¹. For a Gaussian q = N(μ, C) the
# ELBO is closed form too:
#
# E_q[log p(x|z)] = −(‖x − W μ − b‖² + tr(W C Wᵀ)) / (2σ²) − (d/2) log(2πσ²),
# KL(N(μ, C) || N(0, I)) = (tr C + ‖μ‖² − k − log det C) / 2.
#
# `vaecourse.linear_gaussian` implements these (float64, nats, per example); its unit tests compare
# each quantity with brute-force integration on a grid. Below, the key lines are written out and
# checked against the package: **consistency checks** (two routes to the same formulas, labelled so),
# which show that the notebook and the package agree, not that either is right. The independent
# evidence is the package's grid tests, `torch.distributions` (section 4) and the Monte Carlo estimates
# of section 3. The thresholds are float64 rounding: 1e-10 absolute.

# %%
d, k = 5, 2
lg = LinearGaussian.random(d, k, sigma=0.7, generator=torch.Generator().manual_seed(SEED))
x_lg, _ = lg.sample(200, generator=torch.Generator().manual_seed(SEED + 1))

# the notebook's version of the key lines
marginal = MultivariateNormal(lg.b, covariance_matrix=lg.W @ lg.W.T + lg.sigma**2 * torch.eye(d, dtype=torch.float64))
log_px = marginal.log_prob(x_lg)  # (B,) exact log p(x), nats
post_cov = torch.linalg.inv(torch.eye(k, dtype=torch.float64) + lg.W.T @ lg.W / lg.sigma**2)
post_mean = (x_lg - lg.b) @ lg.W @ post_cov / lg.sigma**2  # (B, k)

# %%
# NBVAL_CHECK_OUTPUT
print(f"data {tuple(x_lg.shape)} {x_lg.dtype}, latent dimension {k}")
vc.checks.check_close("log p(x) = log N(x; b, WW^T + sigma^2 I) == LinearGaussian.log_marginal",
                      log_px, lg.log_marginal(x_lg), rtol=0, atol=1e-10, kind="consistency")
pkg_mean, pkg_cov = lg.posterior(x_lg)
vc.checks.check_close("posterior mean == LinearGaussian.posterior", post_mean, pkg_mean, rtol=0, atol=1e-10,
                      kind="consistency")
checked = vc.checks.check_close("posterior covariance == LinearGaussian.posterior", post_cov, pkg_cov, rtol=0,
                                atol=1e-10, kind="consistency")

# %% [markdown]
# ## 3. The identity, for many q: closed form and Monte Carlo
#
# Draw 1,000 random Gaussians q (random means, random full covariances), one per data point and
# five rounds over the data, and evaluate both sides of
# log p(x) − KL(q || p(z|x)) = E_q[log p(x|z)] − KL(q || p(z)).
# Expectation, stated before measuring: in float64 the two sides agree to 1e-10 for every q; the gap
# log p(x) − ELBO is positive for every random q (the bound is strict away from the posterior); at
# q = p(z|x) the ELBO equals log p(x) to 1e-10.

# %%
def random_q(batch, generator):
    mean = 2.0 * torch.randn(batch, k, generator=generator, dtype=torch.float64)
    A = torch.randn(batch, k, k, generator=generator, dtype=torch.float64)
    return mean, A @ A.transpose(-1, -2) + 0.01 * torch.eye(k, dtype=torch.float64)


g = torch.Generator().manual_seed(SEED + 2)
x_rep = x_lg.repeat(5, 1)  # 1,000 (x, q) pairs
q_mean, q_cov = random_q(len(x_rep), g)
lhs = lg.log_marginal(x_rep) - lg.kl_to_posterior(x_rep, q_mean, q_cov)
rhs = lg.expected_log_likelihood(x_rep, q_mean, q_cov) - lg.kl_to_prior(q_mean, q_cov)
gap = lg.log_marginal(x_rep) - lg.elbo(x_rep, q_mean, q_cov)

# %%
# NBVAL_CHECK_OUTPUT
print(f"{len(x_rep)} random Gaussians q")
vc.checks.check_true("log p(x) - KL(q||p(z|x)) == E_q[log p(x|z)] - KL(q||p(z)) for every q, |difference| <= 1e-10",
                     (lhs - rhs).abs().max() <= 1e-10, detail=f"largest difference {(lhs - rhs).abs().max():.3e}",
                     kind="identity")
vc.checks.check_true("the ELBO is strictly below log p(x) for every random q", bool((gap > 0).all()),
                     kind="evidence", settles=("C26",))
checked = vc.checks.check_close("at q = p(z|x) the ELBO equals log p(x)", lg.elbo(x_lg, pkg_mean, pkg_cov), log_px,
                                rtol=0, atol=1e-10, kind="evidence", settles=("C26",))

# %%
print(f"largest |lhs - rhs| {(lhs - rhs).abs().max():.2e} nats; gap log p(x) - ELBO: "
      f"median {gap.median():.2f}, max {gap.max():.1f} nats")

# %% [markdown]
# The same identity by Monte Carlo, for three of these q: sample z ~ q, average
# log p(x, z) − log q(z) (the ELBO as its definition reads, no closed form used), and compare with
# log p(x) − KL(q || p(z|x)) from the closed forms. A Monte Carlo mean is exact only in expectation,
# so the threshold is three standard errors (about a 0.3 % chance per check of a false alarm).

# %%
num_mc = 20_000
g = torch.Generator().manual_seed(SEED + 3)
mc = []
for i in range(3):
    q_i = MultivariateNormal(q_mean[i], q_cov[i])
    eps = torch.randn(num_mc, k, generator=g, dtype=torch.float64)
    z = q_mean[i] + eps @ torch.linalg.cholesky(q_cov[i]).T  # z ~ q, reparameterised
    terms = lg.log_joint(x_rep[i:i + 1], z.unsqueeze(1))[:, 0] - q_i.log_prob(z)  # (S,)
    mc.append((terms.mean(), terms.std() / math.sqrt(num_mc), lhs[i]))

# %%
# NBVAL_CHECK_OUTPUT
for i, (estimate, stderr, target) in enumerate(mc):
    vc.checks.check_within_mc_error(f"q #{i}: mean of log p(x,z) - log q(z), z ~ q == log p(x) - KL(q||p(z|x))",
                                    estimate, target, stderr, k=3, kind="evidence", settles=("C28",))

# %% [markdown]
# ## 4. The Gaussian KL: closed form, `torch.distributions`, Monte Carlo
#
# A VAE's encoder is a diagonal Gaussian q = N(μ, diag σ²) and its prior N(0, I). Their KL, the
# regulariser in the ELBO, is KL = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²). Written out below, it must
# match `torch.distributions.kl_divergence` and the full-covariance formula of the package to
# float64 rounding (1e-10), and a Monte Carlo average of log q(z) − log p(z), z ~ q, within three
# standard errors.

# %%
g = torch.Generator().manual_seed(SEED + 4)
mu = torch.randn(8, LATENT_DIM, generator=g, dtype=torch.float64)
logvar = torch.randn(8, LATENT_DIM, generator=g, dtype=torch.float64)
kl_closed = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1)  # (B,) nats

q_z = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
p_z = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
kl_torch = kl_divergence(q_z, p_z)
kl_package = LinearGaussian(torch.zeros(1, LATENT_DIM), torch.zeros(1), 1.0).kl_to_prior(mu, torch.diag_embed(logvar.exp()))
z = mu + (0.5 * logvar).exp() * torch.randn(50_000, *mu.shape, generator=g, dtype=torch.float64)
kl_terms = q_z.log_prob(z) - p_z.log_prob(z)  # (S, B)

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_close("closed-form diagonal-Gaussian KL == torch.distributions.kl_divergence", kl_closed, kl_torch,
                      rtol=0, atol=1e-10, kind="evidence", settles=("C27",))
vc.checks.check_close("closed-form KL == LinearGaussian.kl_to_prior (full-covariance formula)", kl_closed, kl_package,
                      rtol=0, atol=1e-10, kind="consistency")
checked = vc.checks.check_within_mc_error("closed-form KL (summed over the batch) == Monte Carlo mean of log q(z) - log p(z)",
                                          kl_terms.sum(1).mean(), kl_closed.sum(),
                                          kl_terms.sum(1).std() / math.sqrt(len(z)), k=3, kind="evidence",
                                          settles=("C27",))

# %% [markdown]
# ## 5. The homework's sign, executed
#
# Fit a linear-Gaussian model (W, b, σ) and a linear Gaussian encoder q(z|x) = N(x A + a, diag v)
# to the 200 points of section 2, the way a VAE is fitted: gradient steps on the ELBO, in closed form,
# for all parameters jointly. Once with the right sign (ascend the ELBO, i.e. descend −ELBO) and once
# with the homework's ("minimise the ELBO"). The exact log p(x) of the data is tracked at every
# step. A reference: for this model the maximum-likelihood fit is known in closed form (Tipping and
# Bishop 1999: b = the data mean, σ² = the mean of the d − k smallest eigenvalues of the data
# covariance, W from the top k eigenvectors).
#
# Expectation: with the right sign the ELBO and log p(x) rise, the ELBO stays below log p(x), and
# log p(x) ends within 0.05 nats per point of the closed-form maximum; with the homework's sign the
# ELBO falls, and since ELBO = log p(x) − KL(q || p(z|x)) it can fall through both terms: log p(x)
# falls, and the encoder moves away from the posterior (the KL grows). The check that both rise,
# run on the homework's sign, is its own negative control: it must fail there.

# %%
def fit_linear_gaussian(sign, num_steps=300, lr=0.05):
    g = torch.Generator().manual_seed(SEED + 5)
    params = {"W": 0.1 * torch.randn(d, k, generator=g, dtype=torch.float64), "b": torch.zeros(d, dtype=torch.float64),
              "log_sigma": torch.zeros((), dtype=torch.float64), "A": torch.zeros(d, k, dtype=torch.float64),
              "a": torch.zeros(k, dtype=torch.float64), "log_v": torch.zeros(k, dtype=torch.float64)}
    for p in params.values():
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params.values(), lr=lr)
    trace = {"elbo": [], "log_px": [], "sigma": [], "kl_post": []}
    for _ in range(num_steps):
        model = LinearGaussian(params["W"], params["b"], params["log_sigma"].exp())
        q_args = (x_lg @ params["A"] + params["a"], torch.diag(params["log_v"].exp()))
        elbo = model.elbo(x_lg, *q_args).mean()
        trace["elbo"].append(elbo.item())
        trace["sigma"].append(params["log_sigma"].exp().item())
        trace["kl_post"].append(model.kl_to_posterior(x_lg, *q_args).mean().item())
        trace["log_px"].append(model.log_marginal(x_lg).mean().item())
        optimizer.zero_grad()
        (-sign * elbo).backward()  # sign=+1: maximise the ELBO; sign=-1: the homework's "minimise the ELBO"
        optimizer.step()
    return {key: np.array(value) for key, value in trace.items()}


num_lg_steps = {"ci": 150, "full": 300}[BUDGET]
runs = {"maximise the ELBO (right)": fit_linear_gaussian(+1, num_steps=num_lg_steps),
        "minimise the ELBO (homework)": fit_linear_gaussian(-1, num_steps=num_lg_steps)}

# %%
centred = x_lg - x_lg.mean(0)
eigvals, eigvecs = torch.linalg.eigh(centred.T @ centred / len(x_lg))  # ascending
sigma2_ml = eigvals[: d - k].mean()
W_ml = eigvecs[:, d - k:] @ torch.diag((eigvals[d - k:] - sigma2_ml).sqrt())
log_px_ml = LinearGaussian(W_ml, x_lg.mean(0), sigma2_ml.sqrt()).log_marginal(x_lg).mean().item()
right, wrong = runs["maximise the ELBO (right)"], runs["minimise the ELBO (homework)"]

# %%
# NBVAL_CHECK_OUTPUT
for name, run in runs.items():
    vc.checks.check_true(f"{name}: ELBO <= log p(x) at every step", bool((run["elbo"] <= run["log_px"] + 1e-9).all()),
                         kind="evidence", settles=("C29",))


def check_both_rise(run):
    vc.checks.check_true("the ELBO and log p(x) both rise", run["elbo"][-1] > run["elbo"][0]
                         and run["log_px"][-1] > run["log_px"][0], kind="evidence", settles=("C24", "C29"),
                         control=True)


check_both_rise(right)
with vc.checks.negative_control("the run with the homework's sign"):
    check_both_rise(wrong)
vc.checks.check_true("right sign: log p(x) ends within 0.05 nats/point of the closed-form maximum likelihood",
                     abs(right["log_px"][-1] - log_px_ml) <= 0.05, kind="evidence", settles=("C29",))
vc.checks.check_true("homework's sign: the ELBO falls", wrong["elbo"][-1] < wrong["elbo"][0], kind="evidence",
                     settles=("C24",))
vc.checks.check_true("homework's sign: the exact log p(x) falls", wrong["log_px"][-1] < wrong["log_px"][0],
                     kind="evidence", settles=("C24",))
vc.checks.check_true("homework's sign: KL(q || p(z|x)) grows", wrong["kl_post"][-1] > wrong["kl_post"][0],
                     kind="evidence", settles=("C24",))

# %% mystnb={"image": {"alt": "Two line plots against gradient step. Left, 'maximise the ELBO (right)': exact log p(x) and ELBO (dashed) in nats per point rise to the grey max. likelihood line. Right, 'minimise the ELBO (homework)': minus log p(x) and minus ELBO on a log scale grow without bound."}}
for name, run in runs.items():
    print(f"{name:<30} log p(x)/point {run['log_px'][0]:.3f} -> {run['log_px'][-1]:.4g}, "
          f"ELBO/point {run['elbo'][0]:.3f} -> {run['elbo'][-1]:.4g}, sigma {run['sigma'][0]:.3g} -> {run['sigma'][-1]:.3g}, "
          f"KL(q||p(z|x)) {run['kl_post'][0]:.3g} -> {run['kl_post'][-1]:.3g}")
print(f"{'closed-form maximum likelihood':<30} log p(x)/point {log_px_ml:.3f}")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for ax, (name, run), scale in zip(axes, runs.items(), [1, -1]):  # right panel: minus the values, on a log scale
    ax.plot(scale * run["log_px"], label="exact log p(x)" if scale > 0 else "−log p(x)")
    ax.plot(scale * run["elbo"], label="ELBO" if scale > 0 else "−ELBO", linestyle="--")
    ax.axhline(scale * log_px_ml, color="grey", linewidth=0.8, label="max. likelihood")
    ax.set(title=name, xlabel="gradient step", ylabel="nats per point" if scale > 0 else "minus nats per point (log scale)",
           yscale="linear" if scale > 0 else "log")
    ax.legend()
fig.tight_layout()

# %% [markdown]
# With the homework's sign the printout shows where the ELBO went: the encoder moved away from the
# posterior (the KL grew) and the model itself got worse (log p(x) fell; see how σ moved). The ELBO
# is only useful as something to push *up*: raising a lower bound either raises log p(x) or
# tightens the bound, and both are wanted.

# %% [markdown]
# ## 6. The importance-weighted bound
#
# Route 1 applied to an average of K importance weights w_i = p(x, z_i) / q(z_i|x), z_i ~ q, gives
# the importance-weighted bound (Burda et al. 2016):
#
# L_K = E[ log (1/K) Σ_i p(x, z_i) / q(z_i|x) ] ≤ log p(x),
#
# with L_1 = ELBO, L_K non-decreasing in K, and L_K → log p(x) as K → ∞ (the average of the weights
# is an unbiased estimate of p(x), and its spread shrinks like 1/√K). On the linear-Gaussian model
# with a deliberately poor encoder, q(z|x) = the posterior shifted by 1.5 posterior standard
# deviations along each axis and with twice its covariance, every term is checkable.
#
# Expectations, with a Monte Carlo estimate of each L_K over 5 draws for each of the 200 points: the
# estimate of L_1 agrees with the closed-form ELBO within three standard errors; each step
# up in K does not lower the estimate by more than three standard errors (of the difference); no L_K
# exceeds log p(x) by more than three standard errors; and the gap log p(x) − L_K at the largest K is
# under a tenth of the ELBO's gap (for large K the gap falls roughly like 1/K). Negative control for
# the last: the same check on a wrong estimator, the mean of the K log-weights instead of the log of
# their mean (an ELBO estimate for every K), must fail.

# %%
num_reps, ks_lg = 5, [1, 4, 16, 64, 256, 1024]
x_iw = x_lg.repeat(num_reps, 1)  # (R*N, d), row r*N + n is draw r of point n
iw_mean = lg.posterior(x_iw)[0] + 1.5 * torch.diagonal(pkg_cov).sqrt()
iw_cov = 2.0 * pkg_cov
chol = torch.linalg.cholesky(iw_cov)
g = torch.Generator().manual_seed(SEED + 6)


def iw_bound(num_samples, mean_of_logs=False):
    """One estimate of L_K per row of x_iw: logsumexp_i log w_i - log K, z_i ~ q.

    ``mean_of_logs``: the wrong estimator of the negative control, the mean of the log-weights.
    """
    z = iw_mean + torch.randn(num_samples, len(x_iw), k, generator=g, dtype=torch.float64) @ chol.T  # (K, B, k)
    log_q = MultivariateNormal(iw_mean, scale_tril=chol).log_prob(z)
    log_w = lg.log_joint(x_iw, z) - log_q  # (K, B)
    if mean_of_logs:
        return log_w.mean(dim=0)
    return torch.logsumexp(log_w, dim=0) - math.log(num_samples)


def mean_and_stderr(per_row):
    """Mean over all rows; standard error from the spread of the draws of each point (not between points)."""
    draws = per_row.view(num_reps, -1)
    return per_row.mean().item(), math.sqrt(draws.var(0).mean().item() / per_row.numel())


log_px_mean = log_px.mean().item()
elbo_iw = lg.elbo(x_lg, lg.posterior(x_lg)[0] + 1.5 * torch.diagonal(pkg_cov).sqrt(), iw_cov).mean().item()
ladder = {num: mean_and_stderr(iw_bound(num)) for num in ks_lg}

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_within_mc_error("L_1 estimate == closed-form ELBO of this q", ladder[1][0], elbo_iw, ladder[1][1], k=3,
                                kind="evidence")
for small, large in zip(ks_lg, ks_lg[1:]):
    (low, se_low), (high, se_high) = ladder[small], ladder[large]
    vc.checks.check_true(f"L_{large} >= L_{small} (within 3 standard errors)", high >= low - 3 * math.hypot(se_low, se_high),
                         kind="evidence", settles=("C29",))
vc.checks.check_true("every L_K <= log p(x) (within 3 standard errors)",
                     all(value <= log_px_mean + 3 * se for value, se in ladder.values()), kind="evidence",
                     settles=("C29",))


def check_tightens(estimate_at_largest_k):
    vc.checks.check_true(f"gap log p(x) - L_{ks_lg[-1]} < a tenth of the ELBO gap",
                         log_px_mean - estimate_at_largest_k < 0.1 * (log_px_mean - elbo_iw), kind="evidence",
                         settles=("C29",), control=True)


check_tightens(ladder[ks_lg[-1]][0])
with vc.checks.negative_control(f"the mean of the {ks_lg[-1]} log-weights instead of the log of their mean"):
    check_tightens(iw_bound(ks_lg[-1], mean_of_logs=True).mean().item())

# %%
print(f"exact log p(x) {log_px_mean:.4f}, closed-form ELBO of q {elbo_iw:.4f} (nats per point, mean over 200)")
for num, (value, se) in ladder.items():
    print(f"L_{num:<5} {value:.4f} ± {se:.4f}   gap to log p(x) {log_px_mean - value:.4f}")

# %% [markdown]
# ## 7. The same bounds on a VAE trained on MNIST
#
# Now a model where log p(x) is not known: the VAE of notebook 02 (784-400-20, Bernoulli decoder),
# trained from two seeds on **binarised** digits: each pixel drawn once as 1 with probability its grey
# level, with a fixed seed (the literature's "static" binarisation, `vc.data.binarize`). On binary
# pixels the Bernoulli decoder is a probability of the data, so every number below is a bound on a
# log-likelihood, in nats per image and in bits per pixel (nats / (784 ln 2)); on grey pixels it would
# not be one (notebook 06). On held-out digits we estimate the ELBO (100 samples of z for the reconstruction
# term, the KL in closed form) and the importance-weighted bound L_K with
# `vc.evaluate.iwae_log_likelihood` for K = 1, 10, 100 and 1000 on 50 images (300 with
# `BUDGET = "full"`; the cost grows linearly with K, the time of each is printed below).
#
# Expectations, checked for each seed: L_1, a one-sample ELBO estimate, agrees with the ELBO within
# three standard errors; each step up in K does not lower the bound by more than three standard
# errors of the difference (on the same images).

# %%
x_train_grey, _ = vc.data.load_mnist(split="train")
x_test_grey, _ = vc.data.load_mnist(split="test")
binarise_generator = torch.Generator().manual_seed(SEED + 60)
x_train = vc.data.binarize(x_train_grey, generator=binarise_generator)
x_test = vc.data.binarize(x_test_grey, generator=binarise_generator)
num_held = {"ci": 50, "full": 300}[BUDGET]
x_held = x_test[:num_held]  # at most the first 300 test digits; the sets below start at 300
x_literature = x_test[410:510]  # section 10's held-out digits, disjoint from every other set here
num_epochs = {"ci": 12, "full": 50}[BUDGET]
seeds = [SEED + s for s in range(NUM_SEEDS)]
vaes, vae_histories = {}, {}
for seed in seeds:
    torch.manual_seed(seed)
    vaes[seed] = vc.models.VAE(LATENT_DIM, hidden=(400,))
    # the held-out curve (one-sample -ELBO after each epoch) is read in section 10
    vae_histories[seed] = vc.train.fit(vaes[seed], x_train, epochs=num_epochs, seed=seed, device=device,
                                       val_data=x_literature)
    vaes[seed] = vaes[seed].cpu().eval()

# %%
# NBVAL_CHECK_OUTPUT
print(f"held-out images {tuple(x_held.shape)}; {len(vaes)} VAEs, latent dimension {LATENT_DIM}, {num_epochs} epochs")


# %%
@torch.no_grad()
def vae_elbo(model, x, num_samples=100, generator=None):
    """ELBO per image (B,): E_q[log p(x|z)] by sampling z ~ q(z|x), minus KL(q(z|x) || p(z)) in closed form."""
    result = []
    for batch in x.split(50):  # 50 images x 100 samples at a time keeps memory small
        q_z = model.encode(batch)
        z = q_z.mean + q_z.stddev * torch.randn(num_samples, *q_z.mean.shape, generator=generator)  # (S, B, D)
        log_px_z = model.decode(z.flatten(0, 1)).log_prob(batch.repeat(num_samples, 1, 1, 1)).view(num_samples, -1)
        result.append(log_px_z.mean(0) - kl_divergence(q_z, model.prior()))
    return torch.cat(result)


ks_vae = [1, 10, 100, 1000]
bounds, timings = {}, {}
for seed, model in vaes.items():
    bounds[seed, "ELBO"] = vae_elbo(model, x_held, generator=torch.Generator().manual_seed(SEED + 7))
    for num in ks_vae:
        start = time.perf_counter()
        bounds[seed, num] = vc.evaluate.iwae_log_likelihood(model, x_held, num_samples=num, batch_size=max(1, 10_000 // num),
                                                            generator=torch.Generator().manual_seed(SEED + 8 + num))
        timings[seed, num] = time.perf_counter() - start

# %%
# NBVAL_CHECK_OUTPUT
def stderr(values):
    return (values.std() / math.sqrt(len(values))).item()


for seed in seeds:
    diff = bounds[seed, 1] - bounds[seed, "ELBO"]
    vc.checks.check_within_mc_error(f"seed {seed}: L_1 == ELBO", diff.mean(), 0.0, stderr(diff), k=3, kind="evidence")
    for small, large in zip(ks_vae, ks_vae[1:]):
        step = bounds[seed, large] - bounds[seed, small]
        vc.checks.check_true(f"seed {seed}: L_{large} >= L_{small} (within 3 standard errors of the difference)",
                             step.mean() >= -3 * stderr(step), kind="evidence")

# %% [markdown]
# Those checks would also pass for an estimator that never tightens: an ELBO estimate stays the
# ELBO however many samples it averages. So one more check, with such an estimator as its negative
# control (`vae_elbo` above, with 1000 samples of z): L_1000 exceeds L_1 by more than three standard
# errors of the difference (same images), for each seed.

# %%
not_tightening = {seed: vae_elbo(vaes[seed], x_held, num_samples=1000, generator=torch.Generator().manual_seed(SEED + 9))
                  for seed in seeds}

# %%
# NBVAL_CHECK_OUTPUT
def check_l1000_above_l1(large):
    vc.checks.check_true("L_1000 exceeds L_1 by more than 3 standard errors of the difference, every seed",
                         all((large[s] - bounds[s, 1]).mean() > 3 * stderr(large[s] - bounds[s, 1]) for s in seeds),
                         kind="evidence", settles=("C29",), control=True)


check_l1000_above_l1({seed: bounds[seed, 1000] for seed in seeds})
with vc.checks.negative_control("the ELBO estimated from 1000 samples in place of L_1000"):
    check_l1000_above_l1(not_tightening)

# %%
rows = {"ELBO": [bounds[s, "ELBO"].mean().item() for s in seeds]}
rows.update({f"L_{num}": [bounds[s, num].mean().item() for s in seeds] for num in ks_vae})
print(f"nats per image on {len(x_held)} held-out images, mean [min, max] over {len(seeds)} seeds")
num_pixels = x_held[0].numel()
for name, values in rows.items():
    print(f"{name:<7} {spread(values, 2)}   bits/dim {spread([-v / (num_pixels * math.log(2)) for v in values], 4)}")
kl_lower = [(bounds[s, 1000] - bounds[s, "ELBO"]).mean().item() for s in seeds]
print(f"L_1000 - ELBO (a lower bound on the mean KL(q(z|x) || p(z|x))): {spread(kl_lower, 2)} nats per image")
for num in ks_vae:
    print(f"time for L_{num:<5} {np.mean([timings[s, num] for s in seeds]):.2f} s "
          f"({len(bounds[seeds[0], num])} images, {num} samples each)")

# %% [markdown]
# **Reading the gaps.** By section 1, log p(x) − ELBO = KL(q(z|x) || p(z|x)): the ELBO of a trained
# VAE sits below log p(x) by how far its encoder's Gaussian is from the true posterior, which is not
# Gaussian and which a single amortised encoder only approximates. Every L_K is still a lower bound,
# so L_1000 − ELBO is a *lower bound* on that mean KL: the table shows how many nats of the ELBO are
# inference gap rather than model. The increments of L_K shrink as K grows, as on the linear-Gaussian
# model, but here there is no exact log p(x) to show how far the last step is from it; IWAE numbers
# in papers (K = 5000) are estimates from below for the same reason. Note the cost: the time of L_K
# grows about linearly in K (one decoder pass per sample).

# %% [markdown]
# ## 8. Why not sample the prior? (C25)
#
# The homework says that computing $\log p(x) = \log \int p(x \mid z)\, p(z)\, dz$ exactly "is
# computationally expensive". With a neural decoder there is no closed form at any cost; the question
# is how well the integral can be *estimated*. The plain Monte Carlo estimate draws $z_k$ from the
# prior: $\frac1K \sum_k p(x \mid z_k)$ is unbiased for $p(x)$, and its log is the **prior-sampling
# estimate**. Importance sampling draws $z_k$ from the encoder's $q(z \mid x)$ instead: that is $L_K$
# of section 7. On 10 held-out digits (not those of section 7), for each trained VAE, both estimates
# are repeated 5 times with fresh samples (10 with `BUDGET = "full"`), at K = 10, 100 and 1000.
#
# Prediction: almost no prior draw decodes to a given digit, so the prior-sampling estimate sits far
# below. We expect it to be below importance sampling's $L_{10}$ even with K = 1000 (a hundred times
# more samples), for every digit and seed (means over the repeats), and to spread more over the
# repeats than importance sampling at every K. Negative control: the first check with importance
# sampling's own $L_{1000}$ in place of prior sampling must fail, since $L_K$ rises with K.

# %%
x_few = x_test[300:310]  # 10 held-out digits, disjoint from x_held
ks_estimate = [10, 100, 1000]
num_repeats = {"ci": 5, "full": 10}[BUDGET]


@torch.no_grad()
def prior_sampling_log_px(model, x, num, generator):
    """log((1/K) sum_k p(x | z_k)) with z_k ~ N(0, I), per image (B,)."""
    estimates = []
    for image in x:
        z = torch.randn(num, model.latent_dim, generator=generator)
        log_px_z = model.decode(z).log_prob(image.expand(num, *image.shape))  # (K,)
        estimates.append(torch.logsumexp(log_px_z, 0) - math.log(num))
    return torch.stack(estimates)


estimates = {}  # (sampler, seed, K) -> (repeats, images)
for seed, model in vaes.items():
    for num in ks_estimate:
        generator = torch.Generator().manual_seed(SEED + 20 + num)
        estimates["prior", seed, num] = torch.stack([prior_sampling_log_px(model, x_few, num, generator)
                                                     for _ in range(num_repeats)])
        estimates["q", seed, num] = torch.stack([vc.evaluate.iwae_log_likelihood(model, x_few, num_samples=num,
                                                                                 generator=generator)
                                                 for _ in range(num_repeats)])

print(f"nats per image on {len(x_few)} digits: mean over digits of the mean [sd] over {num_repeats} repeats")
for seed in seeds:
    for sampler, name in [("prior", "prior sampling"), ("q", "importance sampling (q)")]:
        print(f"seed {seed}, {name:<24}" + "".join(
            f"  K={num}: {estimates[sampler, seed, num].mean().item():8.1f} "
            f"[{estimates[sampler, seed, num].std(0).mean().item():5.1f}]" for num in ks_estimate))

# %%
# NBVAL_CHECK_OUTPUT
def check_below_l10(candidate):
    vc.checks.check_true("with K = 1000 the estimate is below importance sampling's L_10, for every digit and seed",
                         all(bool((estimates[candidate, s, 1000].mean(0) < estimates["q", s, 10].mean(0)).all())
                             for s in seeds), kind="evidence", settles=("C25",), control=True)


check_below_l10("prior")
with vc.checks.negative_control("importance sampling's own L_1000"):
    check_below_l10("q")
vc.checks.check_true("prior sampling spreads more over the repeats than importance sampling (mean sd over digits), "
                     "at every K and seed",
                     all(estimates["prior", s, num].std(0).mean() > estimates["q", s, num].std(0).mean()
                         for s in seeds for num in ks_estimate), kind="evidence", settles=("C25",))

# %% [markdown]
# The integral is not merely expensive: its direct estimate is poor at every K measured here. With
# K = 1000 prior samples it still sits tens of nats below what importance sampling reaches with 10,
# it is still rising with K, and it spreads several times more over repeats. The prior almost never
# proposes a z that explains the digit, and the log of an average of rare large terms is biased
# down until K is large enough to find them. Sampling from an
# approximate posterior, which is what the encoder provides, is what makes the estimate work; the
# ELBO is its K = 1 case, cheap enough to train on.
#
# ## 9. Why the reparameterised ELBO (C29, C30)
#
# The homework justifies the ELBO by intractability only. What makes it the training objective is
# that its gradient has a cheap, low-variance estimate. Two unbiased estimators of the gradient of
# $\mathbb E_{q_\phi(z \mid x)}[\log p(x \mid z)]$ with respect to the encoder's parameters $\phi$:
# - **reparameterised**: $\nabla_\phi \log p(x \mid \mu_\phi + \sigma_\phi \odot \varepsilon)$,
#   $\varepsilon \sim \mathcal N(0, I)$;
# - **score function** (REINFORCE): $\log p(x \mid z)\, \nabla_\phi \log q_\phi(z \mid x)$, with $z$
#   drawn without a gradient; it needs no reparameterisation, but multiplies a number of the order of
#   $-100$ nats by the score.
#
# On a batch of M = 100 held-out digits and the seed-0 VAE, each estimator is computed 20 times with
# fresh noise (30 with `BUDGET = "full"`), with L = 1 and L = 10 samples per image. We measure the
# total variance (summed over the encoder's parameters) across the repeats. Predictions: the score
# function's variance is larger than the reparameterised one's by more than a factor of 10 at the
# same L (we expect orders of magnitude); L = 10 divides each variance by about 10 (between 5 and 20), because the L samples are
# independent. Negative control for the first: a second, independent set of reparameterised repeats in
# place of the score function must fail it.

# %%
num_grad_repeats = {"ci": 20, "full": 30}[BUDGET]
x_batch = x_test[310:410]  # M = 100 digits, disjoint from the sets above
model = vaes[seeds[0]]
encoder_params = list(model.encoder.parameters())


def gradient_estimate(estimator, num_samples):
    """One estimate of d/d phi of the batch mean of E_q[log p(x|z)], flattened over the encoder's parameters."""
    q_z = model.encode(x_batch)
    if estimator == "reparameterised":
        z = q_z.rsample((num_samples,))  # (L, M, d), differentiable in phi
        objective = model.decode(z.flatten(0, 1)).log_prob(x_batch.repeat(num_samples, 1, 1, 1)).mean()
    else:
        z = q_z.sample((num_samples,))  # no gradient through z
        with torch.no_grad():
            log_px_z = model.decode(z.flatten(0, 1)).log_prob(x_batch.repeat(num_samples, 1, 1, 1))
        objective = (log_px_z.view(num_samples, -1) * q_z.log_prob(z)).mean()
    return torch.cat([g.flatten() for g in torch.autograd.grad(objective, encoder_params)])


def gradient_stats(estimator, num_samples, seed):
    with vc.config.seeded(torch.Generator().manual_seed(seed)):
        grads = torch.stack([gradient_estimate(estimator, num_samples) for _ in range(num_grad_repeats)])
    return {"variance": grads.var(0).sum().item(), "mean_sq_norm": grads.mean(0).pow(2).sum().item()}


grad_stats = {(name, num): gradient_stats(name, num, SEED + 30 + num) for name in ["reparameterised", "score"]
              for num in (1, 10)}
grad_stats.update({("reparameterised, again", num): gradient_stats("reparameterised", num, SEED + 50 + num)
                   for num in (1, 10)})
print(f"{'estimator':<24} {'L':>3} {'total variance':>15} {'|mean gradient|^2':>18}")
for (name, num), stats in grad_stats.items():
    print(f"{name:<24} {num:>3} {stats['variance']:15.3e} {stats['mean_sq_norm']:18.3e}")

# %%
# NBVAL_CHECK_OUTPUT
def check_lower_variance(other):
    vc.checks.check_true("the reparameterised gradient's variance is over 10 times below the other estimator's, "
                         "at L = 1 and at L = 10",
                         all(grad_stats["reparameterised", num]["variance"] * 10 < grad_stats[other, num]["variance"]
                             for num in (1, 10)), kind="evidence", settles=("C30",), control=True)


check_lower_variance("score")
with vc.checks.negative_control("a second, independent set of reparameterised repeats"):
    check_lower_variance("reparameterised, again")
for name in ["reparameterised", "score"]:
    ratio = grad_stats[name, 1]["variance"] / grad_stats[name, 10]["variance"]
    vc.checks.check_true(f"{name}: L = 10 divides the gradient's variance by 5 to 20", 5 < ratio < 20,
                         kind="evidence")

# %% [markdown]
# Maximising the ELBO over $\phi$ and $\theta$ together is possible *because* of this estimator: with
# one sample per image, on a batch of 100, the reparameterised gradient's total variance is already
# below the squared norm of the mean gradient (both printed above), which is Kingma and Welling's
# "L = 1 suffices for large enough M". The score function is unbiased too, but its variance is
# over a thousand times larger than that squared norm: without a baseline or other control variates its
# noise swamps the signal.
# The rest of C29 and C30, measured above: the ELBO is a lower bound that rises toward log p(x) as the
# encoder approaches the posterior (sections 3 and 5), and tighter bounds exist (sections 6 and 7).

# %% [markdown]
# ## 10. Beside the literature
#
# Is section 7's number good? Published MNIST numbers are on binarised digits too, so section 7's
# models can be set beside them directly: we estimate their test NLL with L_1000 on 100 further
# held-out digits (`x_literature`, disjoint from the digits of sections 7-9), for both seeds. Beside
# it, the published figures of Burda et al. (2016) for a VAE with one stochastic layer.
#
# The course's model differs from theirs in data (4,000 training images, the embedded subset, against
# the full training set), training (12 epochs against very long training) and evaluation (K = 1000 on
# 100 digits against K = 5000 on the test set). Three of these we can measure here:
# - **data**: the same model trained on 1,000 of the 4,000 images, for 48 epochs so that it takes as
#   many gradient steps, should reach a worse (higher) test NLL than the 4,000-image model, for each
#   seed, if more data is part of the gap;
# - **training length**: section 7's models trained for 12 more epochs (a fresh Adam state) should
#   reach a lower test NLL than at 12 epochs, for each seed, if longer training is part of the gap;
#   the held-out one-sample -ELBO after every epoch of section 7's runs shows whether it had flattened;
# - **evaluation**: L_1000 - L_100 on section 7's held-out digits bounds how much more samples still add.

# %%
literature_models = {"4,000 images, 12 epochs": vaes}
literature_models["4,000 images, 24 epochs"] = {}
literature_models["1,000 images, 48 epochs"] = {}
for seed in seeds:
    longer = copy.deepcopy(vaes[seed])
    vc.train.fit(longer, x_train, epochs=num_epochs, seed=seed + 100, device=device)
    literature_models["4,000 images, 24 epochs"][seed] = longer.cpu().eval()
    torch.manual_seed(seed)
    fewer_images = vc.models.VAE(LATENT_DIM, hidden=(400,))
    vc.train.fit(fewer_images, x_train[:1000], epochs=4 * num_epochs, seed=seed, device=device)
    literature_models["1,000 images, 48 epochs"][seed] = fewer_images.cpu().eval()
binarised_nll = {(label, seed): -vc.evaluate.iwae_log_likelihood(
                     runs[seed], x_literature, num_samples=1000, batch_size=10,
                     generator=torch.Generator().manual_seed(SEED + 61)).mean().item()
                 for label, runs in literature_models.items() for seed in seeds}

published = [("Burda et al. 2016, VAE, dynamic binarisation", "86.76", "full training set, k = 5000"),
             ("Burda et al. 2016, IWAE (k = 50), dynamic binarisation", "84.78", "full training set, k = 5000"),
             ("Burda et al. 2016, IWAE (k = 1), static binarisation", "88.71", "full training set, k = 5000")]
print(f"{'model':<56} {'test NLL, nats':>16} {'bits/dim':>8}   setting")
for label in literature_models:
    nll = [binarised_nll[label, s] for s in seeds]
    print(f"{'this course, ' + label:<56} {spread(nll, 1):>16} {np.mean(nll) / (num_pixels * math.log(2)):8.3f}   "
          f"784-400-{LATENT_DIM}, static binarisation, L_1000 on 100 digits")
for name, value, setting in published:
    print(f"{name:<56} {value:>16} {float(value) / (num_pixels * math.log(2)):8.3f}   {setting}")
curve = np.array([vae_histories[s].val["neg_elbo"] for s in seeds])  # (seeds, epochs)
print("held-out one-sample -ELBO after epochs 1, 3, 6, 9, 12 (mean of seeds): "
      + ", ".join(f"{curve[:, e - 1].mean():.1f}" for e in [1, 3, 6, 9, num_epochs]))
gap_parts = {
    "data: 1,000 minus 4,000 images, equal steps": [binarised_nll["1,000 images, 48 epochs", s]
                                                    - binarised_nll["4,000 images, 12 epochs", s] for s in seeds],
    "training: 12 minus 24 epochs, 4,000 images": [binarised_nll["4,000 images, 12 epochs", s]
                                                   - binarised_nll["4,000 images, 24 epochs", s] for s in seeds],
    "evaluation: L_1000 minus L_100 (section 7)": [rows["L_1000"][i] - rows["L_100"][i] for i in range(len(seeds))],
}
for part, values in gap_parts.items():
    print(f"{part:<46} {', '.join(f'{v:.2f}' for v in values)} nats (per seed)")
print(f"gap of the 24-epoch model to Burda et al.'s VAE: "
      f"{min(binarised_nll['4,000 images, 24 epochs', s] for s in seeds) - 86.76:.0f} nats or more")

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("the 1,000-image model's test NLL (binarised, L_1000) is higher than the 4,000-image model's, "
                     "every seed", all(binarised_nll["1,000 images, 48 epochs", s]
                                       > binarised_nll["4,000 images, 12 epochs", s] for s in seeds),
                     kind="evidence")
vc.checks.check_true("12 more epochs lower the test NLL (binarised, L_1000) by more than the data effect, every seed",
                     all(gap_parts["training: 12 minus 24 epochs, 4,000 images"][i]
                         > gap_parts["data: 1,000 minus 4,000 images, equal steps"][i] for i in range(len(seeds))),
                     kind="evidence")

# %% [markdown]
# At 12 epochs the course's number is about 40 nats above the published ones (0.24 against 0.16 bits
# per pixel). The measured parts of that gap, in the lines above: **data** at an equal number of
# gradient steps, about a nat (a quarter of the data is worse for each seed, as predicted, but only
# by that much); **evaluation**, about a nat from K = 100 to K = 1000, with the steps shrinking as K
# grows; **training length**, the largest by far: 12 more epochs lower the test NLL by about 15 nats
# for each seed, and the held-out curve was still falling by about 3 nats per epoch at epoch 12. So
# the course's VAE is far from converged at the CI budget, by design (it has to run in a minute on a
# laptop); the published models were trained for thousands of passes over the full training set.
# What remains after 24 epochs (about 26 nats) is not measured here: more training, the full data,
# and Burda et al.'s architecture (two hidden layers of 200 units, 50 latent dimensions) all differ.
# `BUDGET = "full"` trains for 50 epochs instead of 12.

# %% [markdown]
# ## Summary
#
# The numbers below were measured in this run (section 7: mean [min, max] over the training seeds).

# %%
summary = {
    "identity, largest |difference| over 1,000 q (nats)": f"{(lhs - rhs).abs().max().item():.1e}",
    "ELBO - log p(x) at the true posterior (nats)": f"{(lg.elbo(x_lg, pkg_mean, pkg_cov) - log_px).abs().max().item():.1e}",
    "log p(x)/point, right sign: start -> end (max lik.)": f"{right['log_px'][0]:.3f} -> {right['log_px'][-1]:.3f} ({log_px_ml:.3f})",
    "log p(x)/point, homework's sign: start -> end": f"{wrong['log_px'][0]:.3f} -> {wrong['log_px'][-1]:.3g}",
    "linear-Gaussian: ELBO / L_1024 / log p(x)": f"{elbo_iw:.3f} / {ladder[ks_lg[-1]][0]:.3f} / {log_px_mean:.3f}",
    "MNIST VAE (binarised): ELBO, nats/image": spread(rows["ELBO"], 2),
    "MNIST VAE (binarised): L_1000, nats/image": spread(rows["L_1000"], 2),
    "MNIST VAE: L_1000 - ELBO (<= mean KL to posterior)": spread(kl_lower, 2),
    "log p(x) estimate, K = 1000: prior sampling / q": " / ".join(
        spread([estimates[sampler, s, 1000].mean().item() for s in seeds], 1) for sampler in ("prior", "q")),
    "gradient variance, L = 1: score / reparameterised": f"{grad_stats['score', 1]['variance'] / grad_stats['reparameterised', 1]['variance']:.0f}x",
    "test NLL, L_1000, 24 epochs (Burda et al.: 86.76)": spread([binarised_nll["4,000 images, 24 epochs", s]
                                                                 for s in seeds], 1),
}
for key, value in summary.items():
    print(f"{key:<55} {value}")

# %% [markdown]
# **What to take away.** The ELBO is log p(x) minus the KL from the encoder to the true posterior:
# an exact identity, not an approximation, and it holds for every q to the last float64 digit. So
# the ELBO is pushed *up*: over the encoder that shrinks the KL (tightens the bound), over the
# decoder that raises log p(x) or the bound. Pushed down, it drags log p(x) down with it. The
# expression E_q[log p(x, z) / q(z|x)] is the ELBO itself, tight only at the true posterior.
# Averaging K importance weights inside the log gives a family of tighter bounds, L_1 = ELBO ≤ L_K ≤
# log p(x), which is how a VAE's log-likelihood is estimated in practice, and which also measures
# (from below) how much the encoder's approximation costs.
#
# **Try it**
# 1. In section 6, change the shift of q from 1.5 to 3 posterior standard deviations, or make its
#    covariance *narrower* than the posterior (0.5 instead of 2). How fast does L_K approach log p(x)
#    now, and why is a too-narrow q worse for importance sampling than a too-wide one?
# 2. In section 5, freeze the encoder (A, a, v) and fit only the model, with both signs. Which
#    parameter does the wrong sign move first?
# 3. Set `BUDGET = "full"`: does the gap L_1000 − ELBO of the MNIST VAE grow or shrink with training?
#
# **References.** Kingma and Welling 2014, *Auto-encoding variational Bayes*; Burda, Grosse and
# Salakhutdinov 2016, *Importance weighted autoencoders*; Tipping and Bishop 1999, *Probabilistic
# principal component analysis*; Cremer, Li and Duvenaud 2018, *Inference suboptimality in
# variational autoencoders* (the approximation and amortisation gaps).
