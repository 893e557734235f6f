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
# # 06 · Cross-entropy is a Bernoulli negative log-likelihood
#
# The homework (Q2(c)(ii)) says the VAE's reconstruction term E_q[log p(x|z)] "is replaced by the
# cross-entropy loss", that one should "minimise" it, and that cross-entropy is used because it
# gives smooth gradients and avoids computing the expectation. This notebook measures what binary
# cross-entropy (BCE) is: the Bernoulli negative log-likelihood, exact on binary pixels and an
# unnormalised one on grey pixels; how far from a density it is there (the continuous Bernoulli's
# normaliser); and what the other usual choice, MSE, is (a Gaussian likelihood whose fixed sigma
# acts as a KL weight). VAEs trained with each likelihood are compared in the same units.
#
# **Learning goals**
# - show that summed BCE equals -log Bernoulli(x | probs) on binary data, and why the logits form is
#   the one to compute;
# - measure how far BCE on grey pixels is from a normalised density: the continuous Bernoulli
#   log-normaliser log C(lambda), per pixel and per image;
# - compare Bernoulli, continuous Bernoulli and Gaussian VAEs in nats per image, knowing which
#   numbers may be compared with which;
# - see that MSE is a Gaussian negative log-likelihood up to constants, and that a fixed sigma sets
#   the weight of the KL term (beta = 2 sigma^2 relative to the squared error).
#
# **Prerequisites:** 02 (training a VAE), 04 (maximum likelihood), 05 (the ELBO).
# **Budget:** runs in at most 60 s on 2 CPU cores.

# %% tags=["parameters"]
SEED = 0
DEVICE = "auto"
BUDGET = "ci"  # "ci": the short run that CI executes; "full": longer training
LATENT_DIM = 16
NUM_SEEDS = 2

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from scipy import integrate
from torch.distributions import Bernoulli, ContinuousBernoulli, Normal

import vaecourse as vc
from vaecourse.evaluate import spread

device = vc.setup_notebook(seed=SEED, device=DEVICE)

# %% [markdown]
# ## Data
#
# The embedded MNIST subset of notebook 00. Pixels are grey levels in [0, 1]. A Bernoulli model
# needs binary pixels, so we also make a **binarised** copy (pixel > 1/2 becomes 1). That copy is a
# different data set: likelihoods measured on it cannot be compared with likelihoods on the grey
# images.

# %%
x_train, _ = vc.data.load_mnist(split="train")
x_test, _ = vc.data.load_mnist(split="test")
xb_train, xb_test = (x_train > 0.5).float(), (x_test > 0.5).float()

# %%
# NBVAL_CHECK_OUTPUT
grey_fraction = ((x_test > 0) & (x_test < 1)).float().mean().item()
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}")
vc.checks.check_true("grey images have pixels strictly between 0 and 1", grey_fraction > 0, kind="evidence")
vc.checks.check_true("binarised images hold only 0 and 1", set(xb_test.unique().tolist()) == {0.0, 1.0},
                     kind="consistency")

# %% [markdown]
# ## 1. On binary pixels, BCE is the Bernoulli negative log-likelihood
#
# For a pixel x in {0, 1} and a probability lambda, the Bernoulli likelihood is
# lambda^x (1 - lambda)^(1 - x), so
#
# -log p(x | lambda) = -[x log lambda + (1 - x) log(1 - lambda)] = BCE(lambda, x).
#
# Summed over 784 pixels this is the reconstruction term -log p(x|z) of a Bernoulli decoder. With
# logits l = log(lambda / (1 - lambda)) the same quantity is softplus(l) - x l, the form
# `F.binary_cross_entropy_with_logits` computes. We check, on 64 binarised test digits with random
# logits in float64, that the probability form, the logits form, `torch.distributions.Bernoulli` and
# the package's decoder likelihood agree. These are the same number computed along different
# paths, so the threshold is float64 rounding: rtol = 1e-10.

# %%
def bce_summed(probs, x):
    """BCE written out, summed over pixels: (B, 1, 28, 28) -> (B,) nats."""
    return -(x * probs.log() + (1 - x) * (1 - probs).log()).flatten(1).sum(-1)


check_generator = torch.Generator().manual_seed(1)
x_bin = xb_test[:64].double()
logits = 3 * torch.randn(x_bin.shape, generator=check_generator, dtype=torch.float64)
probs = torch.sigmoid(logits)

# %%
# NBVAL_CHECK_OUTPUT
nll_bernoulli = -Bernoulli(probs=probs).log_prob(x_bin).flatten(1).sum(-1)
_ = vc.checks.check_close("BCE written out == -Bernoulli(probs).log_prob(x), summed", bce_summed(probs, x_bin),
                          nll_bernoulli, rtol=1e-10, atol=0, kind="evidence", settles=("C32",))
_ = vc.checks.check_close("F.binary_cross_entropy(probs, x) summed == -Bernoulli log_prob",
                          F.binary_cross_entropy(probs, x_bin, reduction="none").flatten(1).sum(-1),
                          nll_bernoulli, rtol=1e-10, atol=0, kind="evidence", settles=("C32",))
_ = vc.checks.check_close("F.binary_cross_entropy_with_logits(logits, x) summed == -Bernoulli log_prob",
                          F.binary_cross_entropy_with_logits(logits, x_bin, reduction="none").flatten(1).sum(-1),
                          nll_bernoulli, rtol=1e-10, atol=0, kind="evidence", settles=("C32",))
p_x = vc.models.BernoulliLikelihood()(logits)
_ = vc.checks.check_close("vaecourse BernoulliLikelihood: -log_prob == summed BCE", -p_x.log_prob(x_bin),
                          nll_bernoulli, rtol=1e-10, atol=0, kind="consistency")

# %% [markdown]
# ### Why the logits form
#
# In float32, sigmoid(l) rounds to exactly 1.0 once 1 - sigmoid(l) < 2^-25, which happens near
# l = 17. From then on the probability form computes log(1 - 1) = log 0 for a pixel that is 0:
# written out naively it returns inf; `F.binary_cross_entropy` clamps each log at -100, so it
# returns a finite but wrong 100 nats with a zero gradient. The logits form computes
# softplus(l) - x l without forming lambda, which is exact. We take a pixel x = 0 at logits
# 5, 20, 50 and 120 in float32 and expect: sigmoid is exactly 1.0 at 20, 50 and 120; the naive
# formula gives inf there; `F.binary_cross_entropy` gives exactly 100 there; the logits form
# matches the float64 value softplus(l) to rtol 1e-6 (float32 rounding) and has gradient
# sigmoid(l) - x (atol 1e-6), which is 1 at the three saturated logits, where the probability
# form's gradient is exactly 0.

# %%
sat_logits = torch.tensor([5.0, 20.0, 50.0, 120.0], requires_grad=True)
target = torch.zeros(4)
sat_probs = torch.sigmoid(sat_logits)
bce_probs = F.binary_cross_entropy(sat_probs, target, reduction="none")
bce_logits = F.binary_cross_entropy_with_logits(sat_logits, target, reduction="none")
naive = -(target * sat_probs.log() + (1 - target) * (1 - sat_probs).log())
grad_probs, = torch.autograd.grad(bce_probs.sum(), sat_logits, retain_graph=True)
grad_logits, = torch.autograd.grad(bce_logits.sum(), sat_logits)
exact = F.softplus(sat_logits.detach().double())  # -log(1 - sigmoid(l)) in float64
for row in zip(sat_logits.tolist(), sat_probs.tolist(), naive.tolist(), bce_probs.tolist(), bce_logits.tolist(),
               exact.tolist(), grad_probs.tolist(), grad_logits.tolist()):
    print("logit {:5.0f}  sigmoid {:.9f}  naive {:8.4f}  BCE(probs) {:8.4f}  BCE(logits) {:8.4f}  exact {:8.4f}"
          "  d/dlogit: probs form {:.4f}, logits form {:.4f}".format(*row))

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("float32 sigmoid(20), sigmoid(50), sigmoid(120) == 1.0 exactly", bool((sat_probs[1:] == 1.0).all()),
                     kind="evidence", settles=("C36",))
vc.checks.check_true("naive BCE on the saturated probabilities is inf", bool(torch.isinf(naive[1:]).all()),
                     kind="evidence", settles=("C36",))
_ = vc.checks.check_close("F.binary_cross_entropy clamps log at -100: returns 100 nats", bce_probs[1:].detach(),
                          torch.full((3,), 100.0), rtol=0, atol=1e-6, kind="evidence", settles=("C36",))
_ = vc.checks.check_close("logits form == exact softplus(l)", bce_logits.detach().double(), exact, rtol=1e-6, atol=0,
                          kind="evidence", settles=("C36",))
_ = vc.checks.check_close("logits form gradient == sigmoid(l) - x", grad_logits, sat_probs.detach() - target,
                          rtol=0, atol=1e-6, kind="evidence", settles=("C35",))
_ = vc.checks.check_close("probability form gradient vanishes where saturated", grad_probs[1:], torch.zeros(3),
                          rtol=0, atol=1e-12, kind="evidence", settles=("C36",))

# %% [markdown]
# ### "Smooth gradients": what is actually different
#
# The homework says cross-entropy "provides smooth gradients". Both BCE and the squared error are
# smooth functions of the logit. The difference is what happens when the output sigmoid saturates on
# the wrong side: the gradient of BCE with respect to the logit is sigmoid(l) − x, which stays near
# ±1, while the squared error (sigmoid(l) − x)² has gradient 2 (sigmoid(l) − x) sigmoid'(l), and
# sigmoid'(l) ≈ e^{−|l|} vanishes. For a pixel with target 1 at logits −8, −4 and 0 (float64) we expect
# the squared error's gradient to be under 1 % of BCE's at logit −8 (e^{−8} ≈ 3·10⁻⁴). The same check
# at logit 0, where the sigmoid is not saturated, must fail (there the ratio is 1/2).

# %%
wrong_side = torch.tensor([-8.0, -4.0, 0.0], dtype=torch.float64, requires_grad=True)
one = torch.ones(3, dtype=torch.float64)
grad_bce, = torch.autograd.grad(F.binary_cross_entropy_with_logits(wrong_side, one, reduction="sum"), wrong_side)
grad_mse, = torch.autograd.grad(((torch.sigmoid(wrong_side) - one) ** 2).sum(), wrong_side)
for logit, g_bce, g_mse in zip(wrong_side.tolist(), grad_bce.tolist(), grad_mse.tolist()):
    print(f"target 1 at logit {logit:4.0f}: d BCE / d logit {g_bce:8.4f}, d (squared error) / d logit {g_mse:9.5f}")

# %%
# NBVAL_CHECK_OUTPUT
def check_mse_gradient_vanishes(index):
    vc.checks.check_true("the squared error's gradient is under 1% of BCE's, target 1 on the wrong side of a sigmoid",
                         abs(grad_mse[index].item()) < 0.01 * abs(grad_bce[index].item()), kind="evidence",
                         settles=("C35",), control=True)


check_mse_gradient_vanishes(0)
with vc.checks.negative_control("logit 0, an unsaturated sigmoid"):
    check_mse_gradient_vanishes(2)

# %% [markdown]
# ## 2. On grey pixels, BCE is not a normalised density
#
# For x in [0, 1], f(x) = lambda^x (1 - lambda)^(1 - x) still has a value, but its integral over
# [0, 1] is not 1. The **continuous Bernoulli** (Loaiza-Ganem and Cunningham 2019) divides by that
# integral: p(x | lambda) = C(lambda) f(x), with
#
# C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda), and C(1/2) = 2 (the limit).
#
# So -log p_CB(x | lambda) = BCE(lambda, x) - log C(lambda): BCE on grey pixels misses log C(lambda)
# nats per pixel, and log C >= log 2 > 0 everywhere. We write log C out (with the series
# 2(1 + u^2/3 + u^4/5) for u = 1 - 2 lambda near 0) and check it two ways, both in float64:
# against `torch.distributions.ContinuousBernoulli` (its log_prob plus BCE, atol = 1e-10), and against
# numerical integration of f over [0, 1] with `scipy.integrate.quad` (1 / integral = C, rtol = 1e-8,
# well above quad's error estimate). Written with logits l instead, C = l / tanh(l / 2), which stays
# exact where lambda rounds to 1; the two forms must agree to atol 1e-10.

# %%
def log_cb_normaliser(lam):
    """log C(lambda) of the continuous Bernoulli, elementwise, float64-safe near lambda = 1/2."""
    u = 1 - 2 * lam
    small = u.abs() < 1e-4
    u_safe = torch.where(small, torch.ones_like(u), u)
    exact = torch.log(2 * torch.atanh(u_safe) / u_safe)
    series = math.log(2) + torch.log1p(u**2 / 3 + u**4 / 5)
    return torch.where(small, series, exact)


def log_cb_normaliser_from_logits(logits):
    """The same log C, from logits l: C = l / tanh(l / 2), stable where sigmoid(l) rounds to 1."""
    small = logits.abs() < 1e-4
    l_safe = torch.where(small, torch.ones_like(logits), logits)
    return torch.where(small, math.log(2) + logits**2 / 12, torch.log(l_safe / torch.tanh(l_safe / 2)))


lam_grid = torch.linspace(0.001, 0.999, 999, dtype=torch.float64)
x_grey = torch.rand(999, generator=check_generator, dtype=torch.float64)
cb_gap = ContinuousBernoulli(probs=lam_grid).log_prob(x_grey) + F.binary_cross_entropy(lam_grid, x_grey, reduction="none")
lam_quad = [0.01, 0.05, 0.3, 0.5, 0.7, 0.9, 0.99]
integrals = [integrate.quad(lambda x, lam=lam: lam**x * (1 - lam) ** (1 - x), 0, 1, epsabs=1e-14, epsrel=1e-12)
             for lam in lam_quad]
print("lambda    integral of f    1/C(lambda)   quad error")
for lam, (value, error) in zip(lam_quad, integrals):
    print(f"{lam:6.2f}   {value:.10f}   {math.exp(-log_cb_normaliser(torch.tensor(lam, dtype=torch.float64)).item()):.10f}"
          f"   {error:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
_ = vc.checks.check_close("ContinuousBernoulli.log_prob + BCE == log C(lambda) (999 lambdas)", cb_gap,
                          log_cb_normaliser(lam_grid), rtol=0, atol=1e-10, kind="evidence", settles=("C33",))
_ = vc.checks.check_close("integral over [0,1] of lambda^x (1-lambda)^(1-x) dx == 1 / C(lambda) (quad)",
                          torch.tensor([v for v, _ in integrals], dtype=torch.float64),
                          torch.exp(-log_cb_normaliser(torch.tensor(lam_quad, dtype=torch.float64))), rtol=1e-8, atol=0,
                          kind="evidence", settles=("C33",))
_ = vc.checks.check_close("C(1/2) == 2", log_cb_normaliser(torch.tensor(0.5, dtype=torch.float64)),
                          torch.tensor(math.log(2), dtype=torch.float64), rtol=0, atol=1e-12, kind="evidence")
_ = vc.checks.check_close("log C from logits, l / tanh(l/2), == log C from lambda",
                          log_cb_normaliser_from_logits(torch.logit(lam_grid)), log_cb_normaliser(lam_grid),
                          rtol=0, atol=1e-10, kind="identity")
vc.checks.check_true("log C(lambda) >= log 2 on the grid (BCE is never a density on [0, 1])",
                     bool((log_cb_normaliser(lam_grid) >= math.log(2) - 1e-12).all()), kind="evidence",
                     settles=("C33",))

# %% [markdown]
# How large is the gap? log C is smallest (log 2) at lambda = 1/2 and grows without bound, slowly
# (like log log(1/lambda)), as lambda goes to 0 or 1, which is where a digit decoder puts most of
# its background pixels.

# %%
fig, ax = plt.subplots(figsize=(5, 3))
lam_plot = torch.linspace(1e-6, 1 - 1e-6, 2001, dtype=torch.float64)
ax.plot(lam_plot, log_cb_normaliser(lam_plot))
ax.axhline(math.log(2), color="grey", linestyle=":", label="log 2")
ax.set_xlabel("lambda")
ax.set_ylabel("log C(lambda) [nats per pixel]")
ax.set_title("nats that BCE on grey pixels leaves out, per pixel")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ### Cross-entropy is not a divergence (C34)
#
# The homework says cross-entropy "directly measures the divergence between the predicted and true
# distributions". Per pixel, BCE(λ, x) = H(Bern(x)) + KL(Bern(x) ‖ Bern(λ)): a divergence **plus the
# target's entropy**. A divergence is 0 at a perfect prediction; BCE at λ = x is H(Bern(x)), which is
# positive for every grey pixel. We expected BCE(x, x), summed over each test digit's pixels, to be
# above 1 nat for every one of the 1,000 digits (a digit has dozens of grey pixels at the edges of its
# strokes; a pixel at 0.5 alone gives log 2). The first run showed one test digit with no grey pixel
# at all, whose BCE(x, x) is exactly 0; it is counted below, and the check runs over the digits that
# have a grey pixel. On the binarised digits BCE(x, x) is exactly 0, so the same check there must
# fail.

# %%
def perfect_reconstruction_bce(images):
    """BCE(x, x) summed over pixels per image (B,), float64; 0 log 0 = 0 at binary pixels."""
    x = images.double().flatten(1)
    return -(torch.xlogy(x, x) + torch.xlogy(1 - x, 1 - x)).sum(-1)


has_grey = ((x_test > 0) & (x_test < 1)).flatten(1).any(-1)
bce_perfect = perfect_reconstruction_bce(x_test[has_grey])
print(f"test digits without a grey pixel: {int((~has_grey).sum())} of {len(x_test)}, BCE(x, x) there: "
      f"{perfect_reconstruction_bce(x_test[~has_grey]).abs().max().item():.1f} nats")
print(f"BCE(x, x) per digit with a grey pixel: median {bce_perfect.median().item():.1f}, "
      f"min {bce_perfect.min().item():.1f} nats; per binarised digit: max "
      f"{perfect_reconstruction_bce(xb_test).abs().max().item():.1f} nats")

# %%
# NBVAL_CHECK_OUTPUT
def check_perfect_bce_positive(images):
    vc.checks.check_true("BCE at a perfect reconstruction, BCE(x, x), is above 1 nat for every test digit with a "
                         "grey pixel",
                         bool((perfect_reconstruction_bce(images) > 1).all()), kind="evidence", settles=("C34",),
                         control=True)


check_perfect_bce_positive(x_test[has_grey])
with vc.checks.negative_control("the binarised test digits"):
    check_perfect_bce_positive(xb_test[has_grey])

# %% [markdown]
# ## 3. VAEs with four likelihoods, two seeds each
#
# Same architecture (784-400-16 and back), same training (Adam, 10 epochs in the CI budget), only
# the decoder likelihood p(x|z) changes:
#
# | model | trained on | p(x\|z) is a ... |
# | --- | --- | --- |
# | Bernoulli | binarised digits | probability mass on {0,1}^784 (nats >= 0) |
# | BCE on grey | grey digits | nothing normalised: BCE on grey pixels (common practice) |
# | continuous Bernoulli | grey digits | density on [0,1]^784 |
# | Gaussian, sigma = 0.1 fixed | grey digits | density on R^784 |
# | Gaussian, sigma = 0.3 fixed | grey digits | density on R^784 |
# | Gaussian, learned sigma | grey digits | density on R^784 |
#
# All are scored by their test negative ELBO (one posterior sample per image) in nats per image.
# Only numbers in the same "is a" class on the same data may be compared as likelihoods: the
# Bernoulli number is on another data set; the BCE-on-grey number is no likelihood at all; the
# continuous Bernoulli and the Gaussians are densities on the same grey data with the same base
# measure, so they are comparable (the Gaussian wastes mass outside [0, 1]). Densities on images
# whose pixels are quantised, with many exact zeros, can exceed 1, so negative nats are possible.

# %%
num_epochs = {"ci": 10, "full": 50}[BUDGET]
seeds = [SEED + k for k in range(NUM_SEEDS)]
likelihoods = {
    "Bernoulli (binarised)": lambda: "bernoulli",
    "BCE on grey": lambda: "bernoulli",
    "continuous Bernoulli": lambda: "continuous_bernoulli",
    "Gaussian sigma=0.1": lambda: vc.models.GaussianLikelihood(sigma=0.1),
    "Gaussian sigma=0.3": lambda: vc.models.GaussianLikelihood(sigma=0.3),
    "Gaussian learned sigma": lambda: vc.models.GaussianLikelihood(sigma=0.1, learn_sigma=True),
}
train_data = {name: (xb_train if name.startswith("Bernoulli") else x_train) for name in likelihoods}
test_data = {name: (xb_test if name.startswith("Bernoulli") else x_test) for name in likelihoods}
models, histories = {}, {}
for seed in seeds:
    for name, make in likelihoods.items():
        torch.manual_seed(seed)
        model = vc.models.VAE(latent_dim=LATENT_DIM, hidden=(400,), likelihood=make())
        histories[name, seed] = vc.train.fit(model, train_data[name], epochs=num_epochs, seed=seed, device=device)
        models[name, seed] = model.cpu().eval()

# %% [markdown]
# Training minimises the negative ELBO, i.e. it **maximises** E_q[log p(x|z)] - KL. We expect the
# reconstruction term -log p(x|z) (`nll`) of every run to end below where it started: log p(x|z)
# went up. This is a sanity check of the training runs (almost any working code passes it), not
# evidence about a likelihood, and is labelled as such.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{len(models)} models trained: {len(likelihoods)} likelihoods x {len(seeds)} seeds, {num_epochs} epochs each")
vc.checks.check_true("every run lowered -log p(x|z) (raised log p(x|z)) from its first epoch to its last",
                     all(h.train["nll"][-1] < h.train["nll"][0] for h in histories.values()), kind="consistency")

# %%
torch.manual_seed(SEED)  # evaluate_terms draws one posterior sample per image
test_terms = {(name, seed): vc.train.evaluate_terms(models[name, seed], test_data[name])
              for name in likelihoods for seed in seeds}
print(f"{'model':24s} {'test -ELBO nats/image':>28s} {'KL nats/image':>24s}   mean [min, max] over seeds")
for name in likelihoods:
    print(f"{name:24s} {spread([test_terms[name, s]['neg_elbo'] for s in seeds]):>28s}"
          f" {spread([test_terms[name, s]['kl'] for s in seeds]):>24s}")
learned_sigma = [models["Gaussian learned sigma", s].decoder.likelihood.log_sigma.exp().item() for s in seeds]
print(f"learned sigma: {spread(learned_sigma, 3)}")

# %% [markdown]
# ### Why the continuous Bernoulli's number is so large
#
# Comparable does not mean meaningful here. The embedded digits are quantised: many background
# pixels are exactly 0. At x = 0 the continuous Bernoulli density is p(0 | l) = C(l) sigmoid(-l) =
# (l / tanh(l / 2)) / (1 + e^l), which tends to |l| as l goes to minus infinity: a decoder can raise
# the log-density of an exact-zero pixel without bound by pushing its logit down. A shared Gaussian
# sigma cannot do that pixel by pixel. We measure, for the seed-0 continuous Bernoulli model on the
# test digits (at the decoded posterior mean), how much of log p(x|z) comes from the exact-zero pixels.

# %%
with torch.no_grad():
    cb_model0 = models["continuous Bernoulli", seeds[0]]
    cb_pixels = cb_model0.decode(cb_model0.encode(x_test).mean).base_dist
    cb_log_p_pixels = cb_pixels.log_prob(x_test)
    exact_zero = x_test == 0
print(f"test pixels exactly 0: {exact_zero.float().mean():.1%}")
print(f"log p(x|z) per image: {cb_log_p_pixels.flatten(1).sum(-1).mean():.1f} nats, of which "
      f"{(cb_log_p_pixels * exact_zero).flatten(1).sum(-1).mean():.1f} from the exact-zero pixels")
print(f"median logit at exact-zero pixels: {cb_pixels.logits[exact_zero].median():.1f}, "
      f"median log p there: {cb_log_p_pixels[exact_zero].median():.2f} nats per pixel")

# %% [markdown]
# ### How many nats BCE on grey pixels leaves out, per image
#
# At the trained decoders' outputs lambda (decoded posterior means of the test images), the sum of
# log C(lambda) over the 784 pixels is what a BCE value on grey data is missing to be a
# log-density: -log p_CB = BCE - sum log C. It is at least 784 log 2 per image, so we expect more
# than 500 nats per image for every model and seed.

# %%
@torch.no_grad()
def per_image_log_c(model, x):
    logits = model.decode(model.encode(x).mean).base_dist.logits.double()
    return log_cb_normaliser_from_logits(logits).flatten(1).sum(-1)


log_c_per_image = {(name, seed): per_image_log_c(models[name, seed], x_test)
                   for name in ["BCE on grey", "continuous Bernoulli"] for seed in seeds}
for name in ["BCE on grey", "continuous Bernoulli"]:
    print(f"{name:22s} sum of log C over 784 pixels: {spread([log_c_per_image[name, s].mean() for s in seeds])} "
          f"nats/image; 784 log 2 = {784 * math.log(2):.1f}")

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("sum of log C(lambda) per test image > 500 nats, every image, both models, every seed",
                     all(bool((v > 500).all()) for v in log_c_per_image.values()), kind="evidence", settles=("C33",))

# %% [markdown]
# ### A float32 pitfall: torch's `ContinuousBernoulli` at saturated logits
#
# torch's `ContinuousBernoulli` computes log C from probabilities clamped to [eps, 1 - eps]. In
# float32 (eps = 2^-23) that caps |logit| at about 16, and a trained digit decoder puts many
# background pixels far beyond. Its log C is then too small and its -log p_CB too large. The
# package's continuous Bernoulli decoder (`vc.models.LogitContinuousBernoulli`) computes log C and
# the mean from the logits, as `log_cb_normaliser_from_logits` does above, and that is what trained
# and scored the continuous Bernoulli models in this notebook. On 64 test digits, at the trained
# decoder's logits, we compare both float32 classes with the value written out in float64 (summed
# BCE minus summed log C). We expect torch's class to be off by many nats per image and the
# package's to agree to float32 rounding (checked: within 0.01 nats per image).

# %%
x_check = x_test[:64]
cb_model = models["continuous Bernoulli", seeds[0]]
with torch.no_grad():
    cb_logits32 = cb_model.decode(cb_model.encode(x_check).mean).base_dist.logits
    cb_nll_package = -vc.models.ContinuousBernoulliLikelihood()(cb_logits32).log_prob(x_check).double()
    cb_nll_torch = -ContinuousBernoulli(logits=cb_logits32).log_prob(x_check).flatten(1).sum(-1).double()
cb_logits = cb_logits32.double()
cb_written_out = (F.binary_cross_entropy_with_logits(cb_logits, x_check.double(), reduction="none").flatten(1).sum(-1)
                  - log_cb_normaliser_from_logits(cb_logits).flatten(1).sum(-1))
cb_torch_error = (cb_nll_torch - cb_written_out).abs()
cb_package_error = (cb_nll_package - cb_written_out).abs()
print(f"pixels with |logit| > 16: {(cb_logits.abs() > 16).float().mean():.1%}; largest |logit| {cb_logits.abs().max():.1f}")
print(f"|torch ContinuousBernoulli float32 - written-out float64| -log p_CB(x|z): "
      f"mean {cb_torch_error.mean():.1f}, max {cb_torch_error.max():.1f} nats/image")
print(f"|vaecourse LogitContinuousBernoulli float32 - written-out float64|: "
      f"mean {cb_package_error.mean():.1e}, max {cb_package_error.max():.1e} nats/image")

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("the package's float32 continuous Bernoulli -log p(x|z) is within 0.01 nats/image of float64 (64 digits)",
                     bool((cb_package_error < 0.01).all()), kind="evidence")

# %% [markdown]
# ### Samples side by side
#
# Ten prior samples per model (seed 0), each shown as the decoder mean. For the continuous
# Bernoulli the mean is not lambda: it is pulled towards 1/2, so its samples look greyer than the
# others even when lambda is close to 0 or 1.

# %%
sample_generator = torch.Generator().manual_seed(SEED + 100)
z_prior = torch.randn(10, LATENT_DIM, generator=sample_generator)
with torch.no_grad():
    sample_rows = torch.stack([models[name, seeds[0]].decode(z_prior).mean.clamp(0, 1) for name in likelihoods])
fig = vc.plotting.strip(sample_rows, row_labels=list(likelihoods), title="prior samples (decoder means), same z per column")

# %% [markdown]
# The yardstick of notebook 00 puts a number on what the strip shows: 500 prior samples per model
# and seed (decoder means, clipped to [0, 1]) against held-out grey digits, as a Fréchet distance on
# the reference classifier's features (lower is closer to real digits). The Bernoulli model's means
# are probabilities of "ink", scored against grey digits like the rest. Our expectation, from the
# strip: the continuous Bernoulli, whose means are pulled towards grey, scores worst of the models.
# The table reports what this run measured, whichever way it goes.

# %%
num_quality_samples = 500
quality_rows = {}
for seed in seeds:
    quality_generator = torch.Generator().manual_seed(seed + 200)
    z_quality = torch.randn(num_quality_samples, LATENT_DIM, generator=quality_generator)
    with torch.no_grad():
        sample_sets = {name: models[name, seed].decode(z_quality).mean.clamp(0, 1) for name in likelihoods}
    reference, real = vc.yardstick.split_held_out(x_test, num_images=num_quality_samples, seed=SEED)
    for row in vc.yardstick.sample_quality(sample_sets, reference=reference, real=real, num_images=num_quality_samples,
                                           seed=SEED):
        quality_rows[row.name, seed] = row
print(f"{'image set':24s} {'Frechet distance':>26s} {'classifier confidence':>26s}   mean [min, max] over seeds")
for name in ["real held-out digits", "uniform noise", *likelihoods]:
    print(f"{name:24s} {spread([quality_rows[name, s].frechet_distance for s in seeds]):>26s}"
          f" {spread([quality_rows[name, s].confidence for s in seeds], 3):>26s}")
sample_fd = {name: np.mean([quality_rows[name, s].frechet_distance for s in seeds]) for name in likelihoods}
print("models from closest to farthest:", ", ".join(sorted(sample_fd, key=sample_fd.get)))

# %% [markdown]
# ## 4. MSE is a Gaussian negative log-likelihood up to constants
#
# For p(x|z) = N(mu, sigma^2 I) on D = 784 pixels,
#
# -log p(x|z) = SSE / (2 sigma^2) + D log(sigma sqrt(2 pi)), with SSE = sum of (x - mu)^2.
#
# We check this identity in float64 (rtol 1e-12) for four sigmas, against `torch.distributions.Normal`
# and against the package's `GaussianLikelihood` (which stores log sigma rounded to float32, so it is
# checked at the sigma it stores).

# %%
# NBVAL_CHECK_OUTPUT
x_gauss = x_test[:64].double()
mu = torch.rand(x_gauss.shape, generator=check_generator, dtype=torch.float64)
sse = ((x_gauss - mu) ** 2).flatten(1).sum(-1)
num_pixels = x_gauss[0].numel()
for sigma in [0.05, 0.1, 0.3, 1.0]:
    written_out = sse / (2 * sigma**2) + num_pixels * math.log(sigma * math.sqrt(2 * math.pi))
    _ = vc.checks.check_close(f"sigma={sigma}: -Normal(mu, sigma).log_prob(x) summed == SSE/(2 sigma^2) + D log(sigma sqrt(2 pi))",
                              -Normal(mu, sigma).log_prob(x_gauss).flatten(1).sum(-1), written_out, rtol=1e-12, atol=0,
                              kind="evidence", settles=("C37",))
    likelihood = vc.models.GaussianLikelihood(sigma=sigma).double()
    sigma_stored = likelihood.log_sigma.exp().item()  # the package keeps log sigma, rounded to float32
    _ = vc.checks.check_close(f"sigma={sigma}: vaecourse GaussianLikelihood agrees (at its stored sigma)",
                              -likelihood(mu).log_prob(x_gauss),
                              sse / (2 * sigma_stored**2) + num_pixels * math.log(sigma_stored * math.sqrt(2 * math.pi)),
                              rtol=1e-12, atol=0, kind="consistency")

# %% [markdown]
# ### A fixed sigma is a KL weight
#
# With a fixed sigma the negative ELBO is SSE/(2 sigma^2) + KL + const. Multiplying by 2 sigma^2
# (which does not move the minimiser): SSE + 2 sigma^2 KL + const, a "beta-VAE" on the squared error
# with beta = 2 sigma^2. A smaller sigma means a smaller KL weight, so we expect, for both seeds,
# the sigma = 0.1 model to carry more KL (nats) than the sigma = 0.3 model (beta = 0.02 vs 0.18
# relative to SSE); this is checked. We also expected it to reconstruct test digits with a lower
# SSE. That second expectation did not hold at the CI budget when this notebook was built, so it
# is not asserted: the line after the check prints, per seed, whether it held in this
# run (more KL buys a more informative code, but 10 epochs may not be enough to turn it into
# sharper reconstructions).

# %% [markdown]
# First as an identity, in float64: for any decoder mean and any encoder outputs, the gradient of the
# Gaussian negative ELBO (fixed σ, the KL in closed form) equals the gradient of SSE + β KL with
# β = 2σ², divided by 2σ², for every parameter (relative 1e-10). A common slip, β = σ² (the 2
# forgotten), is the negative control and must fail.

# %%
# NBVAL_CHECK_OUTPUT
identity_generator = torch.Generator().manual_seed(SEED + 5)
x_identity = x_test[:16].double().flatten(1)
decoder_mean = torch.rand(16, num_pixels, generator=identity_generator, dtype=torch.float64, requires_grad=True)
q_mean = torch.randn(16, 8, generator=identity_generator, dtype=torch.float64, requires_grad=True)
q_logvar = torch.randn(16, 8, generator=identity_generator, dtype=torch.float64, requires_grad=True)
identity_params = [decoder_mean, q_mean, q_logvar]
kl_identity = 0.5 * (q_logvar.exp() + q_mean**2 - 1 - q_logvar).sum()


def flat_grad(loss):
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, identity_params, retain_graph=True)])


def check_sigma_is_beta(beta_of_sigma):
    gaussian_grads, beta_vae_grads = [], []
    for sigma in [0.05, 0.1, 0.3, 1.0]:
        gaussian = -Normal(decoder_mean, sigma).log_prob(x_identity).sum() + kl_identity
        beta_vae = ((x_identity - decoder_mean) ** 2).sum() + beta_of_sigma(sigma) * kl_identity
        gaussian_grads.append(flat_grad(gaussian))
        beta_vae_grads.append(flat_grad(beta_vae) / (2 * sigma**2))
    _ = vc.checks.check_close("sigma = 0.05, 0.1, 0.3, 1: gradient of the Gaussian negative ELBO == gradient of "
                              "(SSE + beta KL) / (2 sigma^2), beta = 2 sigma^2", torch.cat(gaussian_grads),
                              torch.cat(beta_vae_grads), rtol=1e-10, atol=1e-12, kind="identity", control=True)


check_sigma_is_beta(lambda sigma: 2 * sigma**2)
with vc.checks.negative_control("beta = sigma^2 (the 2 forgotten)"):
    check_sigma_is_beta(lambda sigma: sigma**2)

# %% [markdown]
# Then as an experiment, on the trained models of section 3.

# %%
@torch.no_grad()
def test_sse(model, x):
    return ((model.decode(model.encode(x).mean).mean - x) ** 2).flatten(1).sum(-1).mean().item()


beta_rows = {name: {"beta": 2 * sigma**2,
                    "kl": [test_terms[name, s]["kl"] for s in seeds],
                    "sse": [test_sse(models[name, s], x_test) for s in seeds]}
             for name, sigma in [("Gaussian sigma=0.1", 0.1), ("Gaussian sigma=0.3", 0.3)]}
for name, row in beta_rows.items():
    print(f"{name}: beta = 2 sigma^2 = {row['beta']:.2f}; test KL {spread(row['kl'])} nats; "
          f"test SSE {spread(row['sse'])}")

# %%
# NBVAL_CHECK_OUTPUT
small, large = beta_rows["Gaussian sigma=0.1"], beta_rows["Gaussian sigma=0.3"]
vc.checks.check_true("smaller sigma (smaller beta) -> more KL, every seed",
                     all(a > b for a, b in zip(small["kl"], large["kl"])), kind="evidence", settles=("C37",))


# %% [markdown]
# ### What the KL weight does to the code (C38)
#
# The homework says the KL term "ensures that the latent space remains structured". One thing it
# does, measurably, is switch dimensions off: a dimension whose posterior mean does not vary with the
# input carries no information and costs no KL. Burda et al. (2016) count a dimension u as **active**
# when Cov_x(E_q[z_u]) > 0.01. Here σ sets the KL weight (β = 2σ², above), so we expected the σ = 0.3
# models (β = 0.18) to have fewer active dimensions out of 16 than the σ = 0.1 models (β = 0.02), for
# each seed, on the test digits. **That prediction failed when the notebook was first run**: every
# dimension of every model is active. So the cell below prints the counts, the smallest variance of a
# posterior mean and the smallest KL that any one dimension carries, instead of asserting the
# prediction.

# %%
@torch.no_grad()
def active_units(model, x, threshold=0.01):
    """Burda et al. (2016): the number of latent dimensions whose posterior mean varies with x by more than threshold."""
    return int((model.encode(x).mean.var(dim=0) > threshold).sum())


@torch.no_grad()
def kl_per_dimension(model, x):
    """Mean over x of KL(q(z_u | x) || N(0, 1)) for each latent dimension u (closed form), nats."""
    q_z = model.encode(x)
    mean, var = q_z.mean, q_z.variance
    return (0.5 * (var + mean**2 - 1 - var.log())).mean(dim=0)


active = {(name, s): active_units(models[name, s], x_test) for name in beta_rows for s in seeds}
for name in beta_rows:
    mean_variance = min(models[name, s].encode(x_test).mean.var(dim=0).min().item() for s in seeds)
    smallest_kl = min(kl_per_dimension(models[name, s], x_test).min().item() for s in seeds)
    print(f"{name}: active units per seed {[active[name, s] for s in seeds]} of {LATENT_DIM}; smallest "
          f"Cov_x E_q[z_u] {mean_variance:.2f} (threshold 0.01); smallest KL of one dimension {smallest_kl:.2f} nats")

# %% [markdown]
# Every dimension is far above the threshold and carries KL, in all four models: at these weights
# (β at most 0.18 relative to the squared error) the KL term switches no dimension off. What the
# larger weight does, measured above, is lower the total KL (the code carries fewer nats). Whether,
# and at what weight, dimensions switch off is measured across β in notebook 08; the homework's
# "ensures that the latent space remains structured" is not settled here.

# %%
print("lower test SSE at sigma = 0.1 than at sigma = 0.3, per seed:",
      {s: a < b for s, a, b in zip(seeds, small["sse"], large["sse"])})

# %%
with torch.no_grad():
    recon_rows = torch.stack([x_test[:10]] + [models[name, seeds[0]].decode(models[name, seeds[0]].encode(x_test[:10]).mean)
                                              .mean.clamp(0, 1) for name in beta_rows])
fig = vc.plotting.strip(recon_rows, row_labels=["test digits"] + list(beta_rows), title="reconstructions: sigma as a KL weight")

# %% [markdown]
# > **Common mistakes (homework Q2(c)(ii))**
# > - *"Minimise E_q[log p(x|z)]."* One **maximises** E_q[log p(x|z)] (part of maximising the ELBO),
# >   i.e. minimises its negative. Section 3's check: training lowered -log p(x|z) in every run.
# > - *"Cross-entropy replaces E_q[log p(x|z)]" / "avoids computing the expectation".* Summed BCE
# >   **is** -log p(x|z) for a Bernoulli decoder at one sample z ~ q(z|x) (section 1's checks); the
# >   expectation over z is still estimated, by that single Monte Carlo sample. Nothing is avoided.
# > - *"Smooth gradients" / "numerical stability".* Not the reason for choosing BCE. The reason is that
# >   it is the Bernoulli log-likelihood. Stability comes from computing it from logits: section 1's
# >   saturation check shows the probability form returning inf (written out) or a clamped 100 nats
# >   with zero gradient, where the logits form is exact.
# > - *"Equivalent to the Bernoulli NLL for binary or normalised [0,1] data."* Only for binary data.
# >   On grey pixels BCE is not a normalised density: it leaves out log C(lambda) >= log 2 nats per
# >   pixel (section 2's checks), hundreds of nats per image at a trained decoder (section 3).
# > - *"MSE and BCE are interchangeable losses."* MSE is a Gaussian likelihood with a sigma that
# >   silently sets the KL weight (section 4's checks).

# %% [markdown]
# ## Summary
#
# The numbers measured in this run:

# %%
print(f"{'model':24s} {'data':10s} {'p(x|z) is a':22s} {'test -ELBO':>26s} {'KL':>24s} {'sample FD':>24s}")
kinds = {"Bernoulli (binarised)": ("binarised", "mass on {0,1}^784"), "BCE on grey": ("grey", "not normalised"),
         "continuous Bernoulli": ("grey", "density on [0,1]^784")}
for name in likelihoods:
    data, kind = kinds.get(name, ("grey", "density on R^784"))
    print(f"{name:24s} {data:10s} {kind:22s} {spread([test_terms[name, s]['neg_elbo'] for s in seeds]):>26s}"
          f" {spread([test_terms[name, s]['kl'] for s in seeds]):>24s}"
          f" {spread([quality_rows[name, s].frechet_distance for s in seeds]):>24s}")
print(f"(nats per image, mean [min, max] over {len(seeds)} seeds; learned sigma {spread(learned_sigma, 3)})")

# %% [markdown]
# - Summed BCE is the Bernoulli negative log-likelihood; on binary data the probability form, the
#   logits form and `torch.distributions.Bernoulli` agree to float64 rounding. Compute it from logits.
# - On grey pixels, BCE is off from a density by log C(lambda) per pixel, at least log 2 and growing
#   at the saturated pixels a digit decoder produces; the continuous Bernoulli adds it back.
# - torch's float32 `ContinuousBernoulli` clamps probabilities before computing log C, so at the
#   saturated logits of a trained digit decoder it is off by many nats per image (section 3);
#   computed from the logits, as the package does, it is exact.
# - Negative ELBOs are comparable only between densities on the same data: the continuous Bernoulli
#   and Gaussians on grey digits, not the Bernoulli on binarised digits, not BCE on grey digits.
#   Even then, on quantised pixels a density can grow without bound at the exact zeros; the
#   continuous Bernoulli's large number comes from there (section 3), not from better digits. Its
#   prior samples, judged by the yardstick's Fréchet distance (last column), are not better.
# - MSE is a Gaussian NLL; a fixed sigma sets the KL weight (beta = 2 sigma^2 relative to SSE), and a
#   learned sigma sets it from the data.
#
# **Try it**
# 1. Set `BUDGET = "full"` and see whether the ordering of the comparable models changes.
# 2. Binarise the test images stochastically (pixel ~ Bernoulli(grey level)) instead of by threshold;
#    how does the Bernoulli model's test number move?
# 3. Find lambda that minimises BCE(lambda, 0.3), and the one that maximises the continuous Bernoulli
#    likelihood at x = 0.3. Why do they differ?
#
# **References:** Loaiza-Ganem and Cunningham, "The continuous Bernoulli" (NeurIPS 2019);
# Kingma and Welling, "Auto-encoding variational Bayes" (2014).
