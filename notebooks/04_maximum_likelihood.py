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
# # 04 · Maximum likelihood, logs, and cross-entropy
#
# Homework question 2(a) asks why the parameters should maximise $\sum_i \log p_\theta(x_i)$, and
# 2(b) asks to show that minimising cross-entropy is maximum likelihood. The homework's answers are
# on the right track but loose: "the logarithm mitigates small values" and "when $y_i = 1$ for observed
# data points, cross-entropy reduces to the log-likelihood". Here we fit three small models by maximum
# likelihood (MLE), twice each (closed form and gradient ascent), watch a product of 784 pixel
# probabilities underflow, and check numerically that maximum likelihood, minimum KL divergence and
# minimum cross-entropy pick the same parameters.
#
# **Learning goals**
# - fit Bernoulli, categorical and Gaussian models by MLE in closed form and by gradient ascent with
#   `torch`, and see them agree;
# - see *why* we sum logs: float32 (and, for a data set, float64) products underflow to exactly 0;
#   the log is monotone, so the maximiser does not change;
# - check that the average negative log-likelihood **is** the cross-entropy $H(\hat p_{data}, p_\theta)$,
#   which is $H(\hat p_{data}) + \mathrm{KL}(\hat p_{data}\,\|\,p_\theta)$;
# - check that `F.cross_entropy` is the categorical negative log-likelihood of the labels;
# - see a likelihood with no maximum: a mixture component shrinking onto one data point.
#
# **Prerequisites:** 00 (data, checks). **Budget:** runs in at most 60 s on 2 CPU cores (no network
# training; a few thousand Adam steps on small parameter vectors).

# %% tags=["parameters"]
SEED = 0
DEVICE = "auto"
BUDGET = "ci"  # nothing heavy here: "ci" and "full" run the same cells
NUM_STEPS = 3000  # Adam steps for each gradient-ascent fit
LEARNING_RATE = 0.1  # Adam, decayed to 0 by a cosine schedule
NUM_GREY_LEVELS = 8  # bins of the categorical model over grey levels

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Categorical, Normal, kl_divergence

import vaecourse as vc

device = vc.setup_notebook(seed=SEED, device=DEVICE)

# %% [markdown]
# ## Data
#
# The embedded MNIST subset of notebook 00. Everything in this notebook is small enough for the CPU,
# so we keep the tensors there. For the Bernoulli model we binarise the pixels at 0.5.

# %%
x_train, labels_train = vc.data.load_mnist(split="train")
x_test, labels_test = vc.data.load_mnist(split="test")
xb_train = (x_train.flatten(1) > 0.5).double()  # (4000, 784) binary pixels
xb_test = (x_test.flatten(1) > 0.5).double()  # (1000, 784)

# %%
# NBVAL_CHECK_OUTPUT
print(f"train {tuple(xb_train.shape)}, test {tuple(xb_test.shape)}, values {sorted(torch.unique(xb_train).int().tolist())}")

# %% [markdown]
# ## 1. Bernoulli: one parameter per pixel
#
# Model: pixel $j$ is on with probability $\theta_j$, independently across pixels and images. With
# $k_j$ = number of training images where pixel $j$ is on, out of $n$,
#
# $$\log p_\theta(\mathcal D) = \sum_{i=1}^n \sum_{j=1}^{784} \big[x_{ij}\log\theta_j + (1-x_{ij})\log(1-\theta_j)\big]
# = \sum_j \big[k_j \log\theta_j + (n-k_j)\log(1-\theta_j)\big].$$
#
# Setting the derivative to zero gives the closed form $\hat\theta_j = k_j/n$, the fraction of images
# with the pixel on. The second form (counts only: the sufficient statistics) is what we optimise by
# gradient ascent; first we check it equals the sum over all 3.1 million pixel terms (float64,
# relative tolerance 1e-10).

# %%
num_train = xb_train.shape[0]
counts = xb_train.sum(dim=0)  # k_j, (784,)
theta_closed = counts / num_train  # closed-form MLE


def bernoulli_loglik_counts(logits):
    """sum_j k_j log theta_j + (n - k_j) log(1 - theta_j), with theta = sigmoid(logits)."""
    return (counts * F.logsigmoid(logits) + (num_train - counts) * F.logsigmoid(-logits)).sum()


probe_logits = torch.randn(784, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
loglik_full = Bernoulli(logits=probe_logits).log_prob(xb_train).sum()

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_close("log-likelihood from counts == sum over all pixels of all images",
                      bernoulli_loglik_counts(probe_logits), loglik_full, rtol=1e-10, atol=0, kind="identity")

# %% [markdown]
# Gradient ascent: Adam on the logits $\eta_j$ ($\theta_j = \sigma(\eta_j)$), maximising the average
# log-likelihood per image. Adam with a constant step keeps hopping around the maximum, so the step is
# decayed to zero (a cosine schedule); that matters most for rare pixels, where the log-likelihood is
# nearly flat in the logit. Pixels that are never on ($k_j = 0$) or always on have their maximum at the
# boundary $\theta_j = 0$ or $1$, which a finite logit never reaches; there we only ask that gradient
# ascent gets close (below 0.01, or above 0.99). Everywhere else we expect agreement with $k_j/n$ to
# within 1e-3 in probability, stated before the run.

# %%
def gradient_ascent(objective, params, num_steps=NUM_STEPS, lr=LEARNING_RATE):
    """Maximise objective(*params) with Adam (we minimise its negative); returns the final value."""
    optimiser = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=num_steps)  # lr -> 0
    for _ in range(num_steps):
        optimiser.zero_grad()
        neg_loglik = -objective(*params)  # ascent on the objective = descent on its negative
        neg_loglik.backward()
        optimiser.step()
        schedule.step()
    return objective(*params).item()


logits_gd = torch.zeros(784, dtype=torch.float64, requires_grad=True)
loglik_gd = gradient_ascent(lambda eta: bernoulli_loglik_counts(eta) / num_train, [logits_gd])
theta_gd = torch.sigmoid(logits_gd.detach())
interior = (counts > 0) & (counts < num_train)

# %%
# NBVAL_CHECK_OUTPUT
print(f"pixels with an interior maximum: {int(interior.sum())}, on the boundary: {int((~interior).sum())}")
vc.checks.check_close("Bernoulli: gradient ascent == k/n (interior pixels)",
                      theta_gd[interior], theta_closed[interior], rtol=0, atol=1e-3, kind="evidence")
vc.checks.check_true("Bernoulli: boundary pixels within 0.01 of their MLE (0 or 1)",
                     (theta_gd[~interior] - theta_closed[~interior]).abs().max() < 0.01, kind="evidence")

# %%
bernoulli_gap = (theta_gd[interior] - theta_closed[interior]).abs().max().item()
loglik_closed_bern = (torch.xlogy(counts, theta_closed)  # xlogy: 0 * log 0 = 0 at boundary pixels
                      + torch.xlogy(num_train - counts, 1 - theta_closed)).sum().item()
print(f"largest |theta_gd - k/n| on interior pixels: {bernoulli_gap:.2e}")
print(f"average log-likelihood per image: closed form {loglik_closed_bern / num_train:.3f} nats, "
      f"gradient ascent {loglik_gd:.3f} nats")

# %% mystnb={"image": {"alt": "Two 28 by 28 grey-scale maps of the per-pixel Bernoulli parameter theta_j, closed form k/n on the left and gradient ascent on the right, with a shared colour bar from 0 to 1; both show the same blurred average digit."}}
fig, axes = plt.subplots(1, 2, figsize=(5, 2.6))
for ax, theta, title in zip(axes, [theta_closed, theta_gd], ["closed form k/n", "gradient ascent"]):
    image = ax.imshow(theta.view(28, 28).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set(title=title, xticks=[], yticks=[])
fig.colorbar(image, ax=axes, shrink=0.8, label="theta_j")

# %% [markdown]
# ## 2. Categorical: a distribution over grey levels
#
# Cut the grey value of every training pixel into `NUM_GREY_LEVELS` equal bins and model the bin of a
# pixel as a categorical with probabilities $\pi_1, \dots, \pi_K$. The log-likelihood is
# $\sum_k c_k \log \pi_k$ with $c_k$ the count of pixels in bin $k$, and under the constraint
# $\sum_k \pi_k = 1$ (a Lagrange multiplier) the maximum is $\hat\pi_k = c_k / N$. Gradient ascent
# uses logits and `Categorical(logits=...)`, which keeps the constraint for free. Expected agreement:
# 1e-4 in probability.

# %%
grey_bins = (x_train.flatten() * NUM_GREY_LEVELS).long().clamp(max=NUM_GREY_LEVELS - 1)  # (3136000,)
bin_counts = torch.bincount(grey_bins, minlength=NUM_GREY_LEVELS).double()
pi_closed = bin_counts / bin_counts.sum()


def categorical_avg_loglik(logits):
    """(1/N) sum_k c_k log pi_k: the average of Categorical(logits).log_prob over all pixels."""
    return (bin_counts * Categorical(logits=logits).logits).sum() / bin_counts.sum()


grey_logits = torch.zeros(NUM_GREY_LEVELS, dtype=torch.float64, requires_grad=True)
loglik_gd_cat = gradient_ascent(categorical_avg_loglik, [grey_logits])
pi_gd = torch.softmax(grey_logits.detach(), dim=0)

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_close("categorical: gradient ascent == bin frequencies", pi_gd, pi_closed, rtol=0, atol=1e-4,
                      kind="evidence")

# %%
print("grey level bin      " + " ".join(f"{k:>7d}" for k in range(NUM_GREY_LEVELS)))
print("closed form c_k/N   " + " ".join(f"{p:7.4f}" for p in pi_closed.tolist()))
print("gradient ascent     " + " ".join(f"{p:7.4f}" for p in pi_gd.tolist()))

# %% [markdown]
# ## 3. Gaussian: the ink of a digit
#
# Let $s_i$ be the mean grey value of image $i$ (how much ink it has), and model
# $s \sim \mathcal N(\mu, \sigma^2)$. The closed-form MLE is the sample mean and the variance **with
# $1/n$** (not the unbiased $1/(n-1)$). Gradient ascent works on $(\mu, \log\sigma)$. Expected
# agreement: relative 1e-3.
#
# Note: $p_\theta(s_i)$ is a *density* here, not a probability. With a narrow Gaussian it exceeds 1 and
# the log-likelihood is positive (the homework's "the probability assigned to each data point" is
# only right for discrete data). We check that the average log-density at the MLE is above 0; the
# same check on the Bernoulli model of section 1, whose values are probabilities, must fail.

# %%
ink = x_train.flatten(1).mean(dim=1).double()  # (4000,)
mu_closed, var_closed = ink.mean(), ink.var(unbiased=False)  # MLE: variance with 1/n


def gaussian_avg_loglik(mu, log_sigma):
    return Normal(mu, log_sigma.exp()).log_prob(ink).mean()


mu_gd = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
log_sigma_gd = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
loglik_gd_gauss = gradient_ascent(gaussian_avg_loglik, [mu_gd, log_sigma_gd])
loglik_closed_gauss = gaussian_avg_loglik(mu_closed, 0.5 * var_closed.log()).item()

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_close("Gaussian: gradient-ascent mean == sample mean", mu_gd.detach(), mu_closed, rtol=1e-3, atol=0,
                      kind="evidence")
vc.checks.check_close("Gaussian: gradient-ascent variance == (1/n) sum (s - mean)^2",
                      (2 * log_sigma_gd.detach()).exp(), var_closed, rtol=1e-3, atol=0, kind="evidence")


def check_above_zero(avg_loglik):
    vc.checks.check_true("a density: average log-likelihood at the MLE is above 0 nats", avg_loglik > 0,
                         kind="evidence", settles=("C20",), control=True)


check_above_zero(loglik_closed_gauss)
with vc.checks.negative_control("the Bernoulli model of section 1 (probabilities, not densities)"):
    check_above_zero(loglik_closed_bern / num_train)

# %%
print(f"mu: closed {mu_closed.item():.5f}, gradient ascent {mu_gd.item():.5f}; "
      f"sigma: closed {var_closed.sqrt().item():.5f}, gradient ascent {log_sigma_gd.exp().item():.5f}")
print(f"average log-density per image at the MLE: {loglik_closed_gauss:.3f} nats "
      f"(peak density {1 / math.sqrt(2 * math.pi * var_closed.item()):.2f})")

# %% [markdown]
# ## 4. Why sums of logs: underflow
#
# The likelihood of one binarised test digit under the per-pixel model of section 1 is a product of
# 784 factors, $\theta_j$ or $1-\theta_j$. We smooth the model to $(k_j+1)/(n+2)$ (Laplace) so that no
# factor is exactly 0 on unseen digits. A typical digit's log-likelihood under such a model is some
# hundreds of nats below zero, while the smallest positive float32 number is about $e^{-103}$. So we
# expect the float32 product to be **exactly 0.0** for at least half of the 1,000 test digits, and
# the float32 sum of logs to be finite for all of them. The same check on the same products taken in
# float64 must fail (its negative control): the zero is float32's range, not the digits.

# %%
theta_smooth = ((counts + 1) / (num_train + 2)).float()  # (784,), in (0, 1)
factors = torch.where(xb_test.bool(), theta_smooth, 1 - theta_smooth)  # (1000, 784) float32
product_f32 = factors.prod(dim=1)  # the likelihood, multiplied out
sum_logs_f32 = factors.log().sum(dim=1)  # the log-likelihood, summed
num_zero_f32 = int((product_f32 == 0.0).sum())

# %%
# NBVAL_CHECK_OUTPUT
def check_underflow(products):
    vc.checks.check_true("product of 784 pixel probabilities is exactly 0.0 for at least half of the test digits",
                         int((products == 0.0).sum()) >= len(products) / 2, kind="evidence", settles=("C19",),
                         control=True)


check_underflow(product_f32)
with vc.checks.negative_control("the same products in float64"):
    check_underflow(factors.double().prod(dim=1))
vc.checks.check_true("float32 sum of logs is finite for every test digit", torch.isfinite(sum_logs_f32).all(),
                     kind="evidence", settles=("C19",))

# %%
print(f"test digits whose float32 product is exactly 0.0: {num_zero_f32} of {len(product_f32)}")
print(f"log-likelihood per digit: median {sum_logs_f32.median().item():.1f}, "
      f"max {sum_logs_f32.max().item():.1f} nats; log of float32's smallest subnormal: "
      f"{math.log(2.0 ** -149):.1f}")

# %% [markdown]
# float64 reaches much further down (its smallest positive number is about $e^{-744}$), so one digit
# is fine in float64. Then two checks, in float64: $\log \prod_j = \sum_j \log$ for each single digit
# where the product did not underflow (relative 1e-10), and the likelihood of the **whole test set**, a
# product over 1,000 digits: we expect that to be exactly 0.0 even in float64, while the sum of logs
# stays finite.

# %%
factors64 = factors.double()
product_f64 = factors64.prod(dim=1)  # one digit at a time
sum_logs_f64 = factors64.log().sum(dim=1)
running = torch.cumprod(product_f64, dim=0)  # likelihood of the first m test digits
first_zero = int((running == 0).nonzero()[0]) + 1 if (running == 0).any() else None

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("float64 product is positive for every single test digit", (product_f64 > 0).all(),
                     kind="evidence")
vc.checks.check_close("float64: log(product) == sum of logs, per digit", product_f64.log(), sum_logs_f64,
                      rtol=1e-10, atol=0, kind="identity")
vc.checks.check_true("float64 likelihood of the whole test set (product over digits) is exactly 0.0",
                     running[-1] == 0.0, kind="evidence", settles=("C19",))
vc.checks.check_true("its sum of logs is finite", torch.isfinite(sum_logs_f64.sum()), kind="evidence",
                     settles=("C19",))

# %%
print(f"the float64 running product hits 0.0 after {first_zero} test digits; "
      f"total log-likelihood of the test set {sum_logs_f64.sum().item():.0f} nats")

# %% [markdown]
# **Monotone, so the maximiser is unchanged.** $\log$ is strictly increasing, so
# $\arg\max_\theta \prod_i p_\theta(x_i) = \arg\max_\theta \sum_i \log p_\theta(x_i)$. We check this on
# a grid of 999 values of $\theta$ for the centre pixel (row 14, column 14) on the first 50 training
# images (few enough that the product does not underflow in float64): the grid index maximising the
# likelihood, the one maximising the log-likelihood, and the grid point nearest $k/n$ must be the same
# integer.

# %%
pixel = xb_train[:50, 14 * 28 + 14]  # (50,) binary
grid = torch.linspace(0.001, 0.999, 999, dtype=torch.float64)  # (999,)
likelihood_grid = torch.where(pixel.bool()[:, None], grid, 1 - grid).prod(dim=0)
loglik_grid = Bernoulli(probs=grid[:, None]).log_prob(pixel[None, :]).sum(dim=1)
argmax_lik, argmax_loglik = int(likelihood_grid.argmax()), int(loglik_grid.argmax())
nearest = int((grid - pixel.mean()).abs().argmin())

# %%
# NBVAL_CHECK_OUTPUT
print(f"grid index: argmax likelihood {argmax_lik}, argmax log-likelihood {argmax_loglik}, nearest k/n {nearest}")
vc.checks.check_true("argmax of the likelihood == argmax of the log-likelihood == grid point nearest k/n",
                     argmax_lik == argmax_loglik == nearest, kind="evidence", settles=("C19",))

# %% [markdown]
# ## 5. Maximum likelihood = minimum KL = minimum cross-entropy
#
# Let $\hat p$ be the **empirical distribution** of a data set $x_1, \dots, x_n$ over a finite set
# (each value gets its share of the data). Then, for any model $q$,
#
# $$-\frac1n\sum_{i=1}^n \log q(x_i) \;=\; -\sum_x \hat p(x)\log q(x) \;=\; H(\hat p, q)
# \;=\; H(\hat p) + \mathrm{KL}(\hat p\,\|\,q).$$
#
# The first equality groups equal data values; the second adds and subtracts
# $\sum_x \hat p(x)\log\hat p(x)$. $H(\hat p)$ does not depend on the model, so the three objectives
# (average negative log-likelihood, cross-entropy with the data, KL from the data) differ by
# constants and have the same minimiser. We check it on the grey-level bins of 10,000 randomly drawn
# training pixels (float64):
# - both equalities for 5 random models $q$, to 1e-10 (a float64 identity);
# - on a grid of 999 two-outcome models ("is the pixel ink?", $q = (1-t, t)$): the three objectives
#   have the same argmin, the grid point nearest the data's frequency, and cross-entropy minus KL is
#   the same constant $H(\hat p)$ at every grid point (1e-10);
# - minimising each of the three by gradient descent from the same start gives the same model,
#   $\hat p$ itself (1e-4 in probability, as in section 2).
#
# The homework's route, "when $y_i = 1$ for observed data points", reads as a cross-entropy with a
# one-hot target. As a negative control, the grid check runs once more with the cross-entropy to the
# one-hot target of the more frequent outcome; its minimiser is the edge of the grid, not the data's
# frequency, so the check must fail.

# %%
pick = torch.randperm(grey_bins.numel(), generator=torch.Generator().manual_seed(2))[:10_000]
data_bins = grey_bins[pick]  # (10000,) integers in 0..K-1
p_data = torch.bincount(data_bins, minlength=NUM_GREY_LEVELS).double() / data_bins.numel()  # empirical


def avg_nll(q_logits):
    return -Categorical(logits=q_logits).log_prob(data_bins).mean()  # over the data points


def cross_entropy(q_logits):
    return -(p_data * torch.log_softmax(q_logits, dim=-1)).sum(-1)  # over the finite set of values


def kl_from_data(q_logits):
    return kl_divergence(Categorical(probs=p_data), Categorical(logits=q_logits))


entropy_data = Categorical(probs=p_data).entropy()
random_logits = torch.randn(5, NUM_GREY_LEVELS, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
nll_random = torch.stack([avg_nll(q) for q in random_logits])

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_close("average NLL of the data == cross-entropy H(p_data, q), 5 random q",
                      nll_random, cross_entropy(random_logits), rtol=0, atol=1e-10, kind="identity")
vc.checks.check_close("H(p_data, q) == H(p_data) + KL(p_data || q), 5 random q",
                      cross_entropy(random_logits), entropy_data + kl_from_data(random_logits), rtol=0, atol=1e-10,
                      kind="identity")

# %%
is_ink = (data_bins > 0).double()  # a two-outcome view of the same data
t_grid = torch.linspace(0.001, 0.999, 999, dtype=torch.float64)
grid_logits = torch.stack([(1 - t_grid).log(), t_grid.log()], dim=1)  # (999, 2): q = (1 - t, t)
p_ink = torch.stack([1 - is_ink.mean(), is_ink.mean()])
nll_grid = -Bernoulli(probs=t_grid[:, None]).log_prob(is_ink[None, :]).mean(dim=1)
ce_grid = -(p_ink * grid_logits).sum(dim=1)
kl_grid = kl_divergence(Categorical(probs=p_ink), Categorical(logits=grid_logits))
argmins = [int(nll_grid.argmin()), int(ce_grid.argmin()), int(kl_grid.argmin())]
nearest_ink = int((t_grid - is_ink.mean()).abs().argmin())

# %%
# NBVAL_CHECK_OUTPUT
print(f"grid argmin: NLL {argmins[0]}, cross-entropy {argmins[1]}, KL {argmins[2]}; nearest data frequency {nearest_ink}")
def check_same_argmin(cross_entropy_grid):
    argmin_ce = int(cross_entropy_grid.argmin())
    vc.checks.check_true("the three objectives have the same argmin on the grid, the point nearest the data frequency",
                         argmins[0] == argmin_ce == argmins[2] == nearest_ink, kind="evidence", settles=("C23",),
                         control=True)


check_same_argmin(ce_grid)
majority = int(p_ink.argmax())  # the outcome a one-hot "y = 1" would pick
with vc.checks.negative_control("the cross-entropy to the one-hot target of the more frequent outcome"):
    check_same_argmin(-grid_logits[:, majority])
vc.checks.check_close("cross-entropy - KL == H(p_data) at every grid point", ce_grid - kl_grid,
                      Categorical(probs=p_ink).entropy(), rtol=0, atol=1e-10, kind="identity")
vc.checks.check_close("average NLL == cross-entropy at every grid point", nll_grid, ce_grid, rtol=0, atol=1e-10,
                      kind="identity")

# %%
fitted = {}
for name, objective in [("avg NLL", avg_nll), ("cross-entropy", cross_entropy), ("KL", kl_from_data)]:
    q_logits = torch.zeros(NUM_GREY_LEVELS, dtype=torch.float64, requires_grad=True)
    gradient_ascent(lambda q, objective=objective: -objective(q), [q_logits], num_steps=1000)
    fitted[name] = torch.softmax(q_logits.detach(), dim=0)

# %%
# NBVAL_CHECK_OUTPUT
for name, q in fitted.items():
    vc.checks.check_close(f"minimising {name} by gradient descent gives q == p_data", q, p_data, rtol=0, atol=1e-4,
                          kind="evidence", settles=("C23",))

# %% mystnb={"image": {"alt": "Line plot titled 'same minimiser; curves differ by H(p)': average NLL, cross-entropy H(p, q) (dashed) and KL(p || q) in nats per pixel against t = q(ink), with a vertical line at the data frequency; NLL and cross-entropy coincide and all three bottom out at that line."}}
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(t_grid, nll_grid, label="average NLL")
ax.plot(t_grid, ce_grid, "--", label="cross-entropy H(p, q)")
ax.plot(t_grid, kl_grid, label="KL(p || q)")
ax.axvline(is_ink.mean().item(), color="grey", lw=0.8, label="data frequency")
ax.set(xlabel="t = q(ink)", ylabel="nats per pixel", ylim=(0, 3), title="same minimiser; curves differ by H(p)")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## 6. `F.cross_entropy` is a categorical negative log-likelihood
#
# In classification the model is conditional: $p_\theta(y \mid x) = \mathrm{softmax}(f_\theta(x))_y$,
# and `F.cross_entropy(logits, labels)` averages $-\log p_\theta(y_i \mid x_i)$ over the batch. The
# homework's $-\sum_k y_k \log \hat y_k$ is the same number: with a one-hot $y$, only the observed
# class's term survives. This is where "$y_i = 1$" belongs: it picks out $\log p_\theta(y_i\mid x_i)$,
# it is not a reason for the equivalence. We compare four forms on the 1,000 test digits with the
# logits of a random linear classifier, in float64, to 1e-10:
# `F.cross_entropy`, `-Categorical(logits).log_prob(labels).mean()`, the log-softmax written out
# ($-z_{y} + \log\sum_k e^{z_k}$), and the one-hot sum.

# %%
weights = 0.05 * torch.randn(784, 10, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
logits = x_test.flatten(1).double() @ weights  # (1000, 10), a random linear classifier
ce_torch = F.cross_entropy(logits, labels_test)
nll_categorical = -Categorical(logits=logits).log_prob(labels_test).mean()
log_softmax_manual = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # z_k - log sum_j exp z_j
nll_manual = -log_softmax_manual.gather(1, labels_test[:, None]).mean()
nll_one_hot = -(F.one_hot(labels_test, 10) * log_softmax_manual).sum(dim=1).mean()  # -sum_k y_k log y_hat_k

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_close("F.cross_entropy == -Categorical(logits).log_prob(labels).mean()", ce_torch, nll_categorical,
                      rtol=0, atol=1e-10, kind="identity")
vc.checks.check_close("F.cross_entropy == manual log-softmax NLL", ce_torch, nll_manual, rtol=0, atol=1e-10,
                      kind="identity")
vc.checks.check_close("F.cross_entropy == -sum_k y_k log y_hat_k with one-hot y", ce_torch, nll_one_hot,
                      rtol=0, atol=1e-10, kind="evidence", settles=("C22",))

# %%
print(f"cross-entropy of the random classifier on the test digits: {ce_torch.item():.4f} nats "
      f"(log 10 = {math.log(10):.4f} for a uniform guess)")

# %% [markdown]
# ## 7. Maximum likelihood can have no maximum
#
# The homework says maximising $\sum_i \log p_\theta(x_i)$ "ensures that the model accurately captures
# the underlying data distribution". Section 5 showed what it does: it minimises
# $\mathrm{KL}(\hat p\,\|\,p_\theta)$ *within the model family*. For densities that can go further
# wrong: a family can contain densities whose likelihood grows without bound while they describe the
# data no better. Take the ink values of section 3 and a two-component Gaussian mixture: the
# single-Gaussian MLE with weight $1 - 1/n$, and a second component of weight $1/n$ centred **on one
# data point** with standard deviation $\sigma$. The spike adds $(1/n)/(\sigma\sqrt{2\pi})$ to the
# density at that point; once that outweighs the broad component's density there (below a
# $\sigma^*$ computed below from the fit, before the run), the log-likelihood should grow like
# $-\log\sigma$ as $\sigma \to 0$, past the single Gaussian's, with no maximum. We predict it rises
# at every step below $\sigma^*$, down to $10^{-300}$, and ends above the single Gaussian's by more
# than 600 nats ($-\log 10^{-300} \approx 691$, less about 10 for the weight $1/n$ and the constant).
# Above $\sigma^*$ the spike is negligible and the curve may wobble. As a negative
# control the second component sits 1.0 below the smallest data value, on no data point: there the
# log-likelihood must fall as $\sigma$ shrinks, so the same check must fail. (float64; each density
# in log space, so no $\sigma$ underflows.)

# %%
sigmas = [1e-2, 1e-4, 1e-8, 1e-16, 1e-32, 1e-64, 1e-128, 1e-300]
weights_mix = torch.tensor([1 - 1 / len(ink), 1 / len(ink)], dtype=torch.float64)


def log_normal(x, centre, sigma):
    """log N(x; centre, sigma^2) with ((x - centre) / sigma)^2, not / sigma^2: sigma^2 = 1e-600 would be 0."""
    return -0.5 * ((x - centre) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)


def mixture_loglik(centre, sigma):
    """Total log-likelihood of the ink values under (1 - 1/n) N(mu, var) + (1/n) N(centre, sigma^2)."""
    log_components = torch.stack([Normal(mu_closed, var_closed.sqrt()).log_prob(ink),
                                  log_normal(ink, centre, sigma)], dim=1)
    return torch.logsumexp(log_components + weights_mix.log(), dim=1).sum().item()


single_loglik = Normal(mu_closed, var_closed.sqrt()).log_prob(ink).sum().item()
# the spike's density (1/n) / (sigma sqrt(2 pi)) equals the broad component's at the point when sigma = sigma_star
broad_at_point = (weights_mix[0] * Normal(mu_closed, var_closed.sqrt()).log_prob(ink[0]).exp()).item()
sigma_star = (1 / len(ink)) / (math.sqrt(2 * math.pi) * broad_at_point)
on_a_point = [mixture_loglik(ink[0].item(), sigma) for sigma in sigmas]
off_the_data = [mixture_loglik(ink.min().item() - 1.0, sigma) for sigma in sigmas]
below_star = [i for i, sigma in enumerate(sigmas) if sigma < sigma_star]
print(f"single Gaussian MLE: total log-likelihood {single_loglik:.1f} nats; sigma* = {sigma_star:.1e}")
print(f"{'sigma':>8s} {'component on a data point':>26s} {'component on no data point':>28s}")
for sigma, on, off in zip(sigmas, on_a_point, off_the_data):
    print(f"{sigma:8.0e} {on:26.1f} {off:28.1f}")

# %%
# NBVAL_CHECK_OUTPUT
def check_unbounded(logliks):
    steps = [logliks[i] for i in below_star]
    vc.checks.check_true("below sigma*, the mixture's log-likelihood rises at every step as sigma shrinks to 1e-300, "
                         "ending 600+ nats above the single Gaussian's MLE",
                         len(steps) >= 5 and all(b > a for a, b in zip(steps, steps[1:]))
                         and steps[-1] > single_loglik + 600, kind="evidence", settles=("C21",), control=True)


check_unbounded(on_a_point)
with vc.checks.negative_control("the second component on no data point"):
    check_unbounded(off_the_data)

# %% [markdown]
# The likelihood has no maximum over this family: any "maximum-likelihood mixture" is a choice of
# where to stop. The density that wins is useless as a model of ink: it puts a spike of mass $1/n$
# on one training value and predicts nothing about new digits there. Practical fits avoid the
# singularity by a floor on $\sigma$, a prior, or by starting EM away from it (Bishop 2006, section
# 9.2.1). Maximum likelihood gives the KL-closest member of a family when one exists; whether that
# member "captures the data distribution" depends on the family, and on where the optimisation stops.

# %% [markdown]
# ## 8. Common mistakes
#
# > **Common mistakes in the homework's answers to Q2(a) and Q2(b)**
# >
# > - *Q2(a): "the logarithm ... mitigates the effects of small probability values."* Too vague to be
# >   checked. What actually happens is **numerical underflow**: the likelihood of one binarised digit
# >   under a per-pixel model is a product of 784 factors and is exactly 0.0 in float32, and the
# >   likelihood of a thousand digits is exactly 0.0 even in float64, while the sums of logs are
# >   ordinary finite numbers (section 4). The log also turns the product over independent examples
# >   into a **sum of independent per-example terms**, so its gradient is a sum of per-example gradients
# >   and a minibatch average is an unbiased estimate of it: that is what makes SGD on the
# >   log-likelihood possible. And it changes nothing about the answer, because log is strictly
# >   increasing: the maximiser of the likelihood is the maximiser of the log-likelihood (section 4,
# >   the grid check). The homework also leaves out the assumption that makes the product appear at
# >   all: the $x_i$ are independent and identically distributed.
# > - *Q2(a): "$p_\theta(x_i)$ represents the probability assigned by the model to each data point".*
# >   For continuous data it is a density and can exceed 1: the Gaussian fit of section 3 has a positive
# >   average log-likelihood.
# > - *Q2(b): "When $y_i = 1$ for observed data points, minimizing cross-entropy reduces to maximizing
# >   the log-likelihood."* That is not the reason. The cross-entropy in question is between the
# >   **empirical data distribution** $\hat p$ and the model: $H(\hat p, p_\theta) =
# >   -\mathbb E_{\hat p}[\log p_\theta(x)] = -\frac1n \sum_i \log p_\theta(x_i)$, exactly the average
# >   negative log-likelihood, for any model (section 5, first check). It differs from
# >   $\mathrm{KL}(\hat p\,\|\,p_\theta)$ by $H(\hat p)$, the data's entropy, which no parameter can
# >   change (section 5, second check and the grid), so minimising any of the three gives the same
# >   parameters (section 5, the grid argmins and the gradient-descent fits). In classification the
# >   same identity holds for the conditional model $p_\theta(y\mid x)$: with one-hot targets,
# >   $-\sum_k y_k\log\hat y_k = -\log p_\theta(y_i\mid x_i)$, and `F.cross_entropy` is that categorical
# >   negative log-likelihood (section 6). The one-hot $y$ selects a term; it does not prove anything.
# > - *"Maximising the log-likelihood ensures that the model accurately captures the data
# >   distribution."* It minimises the KL divergence from the data's empirical distribution *within
# >   the model family*. A per-pixel Bernoulli model is the maximum-likelihood fit of its family
# >   (section 1) and still a poor model of digits (its pixels are independent). For densities the
# >   maximum need not exist: a mixture component shrinking onto one data point raises the
# >   likelihood without bound (section 7).
#
# ## Summary
#
# The numbers below were measured in this run.

# %%
summary = {
    "Bernoulli: max |gradient ascent - k/n|": f"{bernoulli_gap:.1e}",
    "categorical: max |gradient ascent - c_k/N|": f"{(pi_gd - pi_closed).abs().max().item():.1e}",
    "Gaussian: rel. error of mu / sigma^2": f"{abs(mu_gd.item() / mu_closed.item() - 1):.1e} / "
                                            f"{abs((2 * log_sigma_gd).exp().item() / var_closed.item() - 1):.1e}",
    "Gaussian: avg log-density at the MLE (nats)": f"{loglik_closed_gauss:.2f}",
    "float32 products exactly 0.0 (of 1000 digits)": f"{num_zero_f32}",
    "median log-likelihood of a test digit (nats)": f"{sum_logs_f32.median().item():.1f}",
    "float64 product over digits is 0.0 after": f"{first_zero} digits",
    "max |avg NLL - H(p, q)| (5 random q)": f"{(nll_random - cross_entropy(random_logits)).abs().max().item():.1e}",
    "max |H(p, q) - H(p) - KL(p || q)|": f"{(cross_entropy(random_logits) - entropy_data - kl_from_data(random_logits)).abs().max().item():.1e}",
    "grid argmin NLL / CE / KL": " / ".join(str(a) for a in argmins),
    "|F.cross_entropy - categorical NLL|": f"{(ce_torch - nll_categorical).abs().item():.1e}",
    "mixture log-lik at sigma 1e-300 - single Gaussian's": f"{on_a_point[-1] - single_loglik:.1f} nats",
}
for key, value in summary.items():
    print(f"{key:<48} {value}")

# %% [markdown]
# **What to take away.** For Bernoulli, categorical and Gaussian models the maximum-likelihood
# parameters have closed forms (frequencies, sample mean, variance with $1/n$), and plain gradient
# ascent on the log-likelihood finds the same numbers; that is what a VAE's decoder does when no closed
# form exists. We maximise a *sum of logs* because products of many probabilities underflow (in float32
# for a single digit, in float64 for a data set) and because a sum over examples is what minibatch
# gradients estimate; the log does not move the maximiser. The average negative log-likelihood *is*
# the cross-entropy between the data's empirical distribution and the model, and that is the KL
# divergence from the data plus a constant: three names for one objective.
#
# **Try it**
# 1. Compute the float32 product of section 4 in a different order (sort the factors first, or
#    multiply pairs). Can any order avoid the zero? Why not?
# 2. Replace the Laplace smoothing $(k+1)/(n+2)$ by the plain MLE $k/n$. What happens to the
#    log-likelihood of test digits, and why (look at the boundary pixels of section 1)?
# 3. In section 7, put a floor on $\sigma$ (say $10^{-3}$) and fit the two-component mixture by gradient
#    ascent from several starts. Does any start still end on a single data point? What does the floor
#    cost on a held-out half of the ink values?
# 4. In section 5, minimise the *reverse* divergence $\mathrm{KL}(q\,\|\,\hat p)$ instead. Same
#    minimiser for a categorical? Why does the direction matter once the model family cannot contain
#    $\hat p$ (notebook 05)?
#
# **References.** Goodfellow, Bengio and Courville 2016, *Deep Learning*, section 5.5 (maximum
# likelihood as KL minimisation and cross-entropy); Cover and Thomas 2006, *Elements of Information
# Theory*, ch. 2 (entropy, relative entropy, cross-entropy); Murphy 2022, *Probabilistic Machine
# Learning: An Introduction*, sections 4.2 (MLE) and 6.1-6.2; Bishop 2006, *Pattern Recognition and
# Machine Learning*, section 9.2.1 (singularities of the mixture likelihood); Goldberg 1991, *What
# every computer scientist should know about floating-point arithmetic*; the PyTorch documentation of
# `torch.nn.functional.cross_entropy` and `torch.distributions.Categorical`.
