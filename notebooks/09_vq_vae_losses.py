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
# # 09 · The VQ-VAE loss, the straight-through estimator and the codebook
#
# A VQ-VAE (van den Oord et al. 2017) replaces the Gaussian latent of a VAE by a grid of discrete
# codes: the encoder output z_e(x) at each position is replaced by its nearest codebook vector e_k,
# and the decoder sees the quantised map z_q(x). The homework's practical questions (a) and (b)
# write its loss with the wrong sign, say that `detach` "keeps the codebook constant", and say the
# loss "balances codebook usage". This notebook writes the loss out with its signs, checks what the
# straight-through line `A + (f(A) - A).detach()` computes forward and backward, shows which
# parameters each loss term moves, trains the loss exactly as the homework writes it, and then
# measures on MNIST what the codebook does: codebook loss against EMA updates, dead codes with and
# without restarts, the commitment weight beta, the codebook size K, and generation from a prior
# fitted over the code maps.
#
# **Learning goals**
# - write the VQ-VAE loss with correct signs and say which parameters each of its three terms moves;
# - verify the straight-through estimator: forward value f(A), gradient passed to A unchanged;
# - see that the codebook is trained (by the codebook loss or by moving averages: both go to the
#   k-means centroids of the vectors assigned to each code), and that nothing in the loss keeps
#   codes in use: dead codes, and restarts as a fix;
# - measure the effect of beta and of K, and why sampling needs a second, learned prior over codes.
#
# **Prerequisites:** 02 (training a VAE), 05 (the ELBO), 07 (discrete latents and Gumbel-softmax).
# **Budget:** runs in at most 120 s on 2 CPU cores.

# %% tags=["parameters"]
SEED = 0
DEVICE = "auto"
BUDGET = "ci"  # "ci": the short run that CI executes; "full": longer training
NUM_CODES = 64
CODE_DIM = 16
WIDTH = 16  # channels of the convolutional encoder and decoder
LR = 2e-3
RESTART_AFTER = 20  # batches without use before a dead code is restarted

# %%
import copy
import math
import sys

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn
from torch.distributions import Categorical, kl_divergence
from tqdm.std import tqdm

import vaecourse as vc
from vaecourse.evaluate import spread
from vaecourse.quantize import code_usage, nearest_codes, perplexity

device = vc.setup_notebook(seed=SEED, device=DEVICE)

# %% [markdown]
# ## Data
#
# The embedded MNIST subset of notebook 00: 4000 training and 1000 test digits, grey levels in
# [0, 1]. As in the earlier notebooks the decoder is Bernoulli (per-pixel BCE on grey pixels, see
# notebook 06), so -log p(x|z_q) is in nats per image.

# %%
x_train, labels_train = vc.data.load_mnist("embedded", "train")
x_test, labels_test = vc.data.load_mnist("embedded", "test")

# %%
# NBVAL_CHECK_OUTPUT
print(f"train {tuple(x_train.shape)} {x_train.dtype}, test {tuple(x_test.shape)}")
print(f"pixel range [{x_train.min():.0f}, {x_train.max():.0f}], train images per class {torch.bincount(labels_train).tolist()}")

# %% [markdown]
# ## 1. The loss, with its signs
#
# The homework writes (with `z_g` for z_q and `.det(x)` for `.detach()`):
#
# L = log p(x | z_q(x)) + ||z_e(x).detach() - e||^2 + beta ||z_e(x) - e.detach()||^2.
#
# A loss is **minimised**, so its reconstruction term must be the **negative** log-likelihood. The
# sign typo is in the paper's equation 3 itself; the homework copies it. The loss to minimise is
#
# L = **-log p(x | z_q(x))** + ||sg[z_e(x)] - e||^2 + beta ||z_e(x) - sg[e]||^2,
#
# with sg[.] = `.detach()` (stop-gradient: the value passes, the gradient does not), summed over the
# 7 x 7 positions of the code map:
#
# | term | value | what it is for | gradient reaches |
# | --- | --- | --- | --- |
# | reconstruction -log p(x\|z_q) | nats | decoder fits the data; encoder learns through the straight-through copy | decoder, encoder |
# | codebook ‖sg[z_e] - e‖² | squared distance | moves each chosen code e towards the encoder outputs assigned to it | codebook |
# | commitment beta ‖z_e - sg[e]‖² | squared distance | keeps the encoder outputs near their codes so they do not grow without bound | encoder |
#
# There is no KL term because with a uniform prior over K codes and a one-hot posterior, the KL is
# the constant log K per position (49 log K nats per image): it moves nothing. We write the loss out
# below from the model's own parts and check it against `vc.models.VQVAE.loss_terms`.

# %%
def vq_loss_terms(model, x):
    """The three VQ-VAE terms written out, per image (B,): -log p(x|z_q), codebook, commitment."""
    z_e = model.encoder(x)                                   # (B, D, 7, 7)
    batch, dim, height, width = z_e.shape
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, dim)          # one D-vector per position
    codebook = model.quantizer.codebook                      # (K, D)
    e = codebook[nearest_codes(flat.detach(), codebook.detach())]
    z_q = flat + (e - flat).detach()                         # straight-through: value e, gradient to z_e
    z_q = z_q.reshape(batch, height, width, dim).permute(0, 3, 1, 2)
    nll = -model.decode(z_q).log_prob(x)                     # MINUS log p(x | z_q)
    codebook_term = (flat.detach() - e).pow(2).reshape(batch, -1).sum(1)
    commitment_term = (flat - e.detach()).pow(2).reshape(batch, -1).sum(1)
    return nll, codebook_term, commitment_term


torch.manual_seed(SEED)
check_model = vc.models.VQVAE(num_codes=NUM_CODES, code_dim=CODE_DIM, width=WIDTH).eval()
x_check = x_test[:64]
nll, codebook_term, commitment_term = vq_loss_terms(check_model, x_check)
package_terms = check_model.loss_terms(x_check)

# %%
# NBVAL_CHECK_OUTPUT
_ = vc.checks.check_close("written-out -log p(x|z_q) == VQVAE.loss_terms nll", nll, package_terms["nll"], rtol=1e-5, atol=0,
                          kind="consistency")
_ = vc.checks.check_close("written-out codebook term == VQVAE.loss_terms codebook", codebook_term,
                          package_terms["codebook"], rtol=1e-5, atol=0, kind="consistency")
_ = vc.checks.check_close("loss = nll + codebook + 0.25 commitment == VQVAE.loss_terms loss",
                          nll + codebook_term + 0.25 * commitment_term, package_terms["loss"], rtol=1e-5, atol=0,
                          kind="consistency")
uniform, one_hot = torch.full((NUM_CODES,), 1 / NUM_CODES), F.one_hot(torch.tensor(3), NUM_CODES).float()
_ = vc.checks.check_close("KL(one-hot posterior || uniform prior) == log K per position (a constant)",
                          kl_divergence(Categorical(probs=one_hot), Categorical(probs=uniform)),
                          math.log(NUM_CODES), rtol=1e-6, atol=0, kind="evidence", settles=("C60",))

# %% [markdown]
# **The rate is set by the grid and K, not by beta.** A code map holds 49 log2 K bits. The paper's
# ImageNet model (a 32 x 32 map, K = 512) stores 32·32·9 bits for a 128 x 128 x 3 image of 8-bit
# pixels: a factor 42.67. Our digits model: 49 positions, K = 64.

# %%
bits_per_map = 49 * math.log2(NUM_CODES)
print(f"ImageNet example: 128*128*3*8 / (32*32*9) = {128 * 128 * 3 * 8 / (32 * 32 * 9):.2f}")
print(f"digits: 49 * log2({NUM_CODES}) = {bits_per_map:.0f} bits per map; 784 8-bit pixels = {784 * 8} bits, "
      f"a factor {784 * 8 / bits_per_map:.1f}; KL to the uniform prior = 49 ln {NUM_CODES} = {49 * math.log(NUM_CODES):.1f} nats")

# %% [markdown]
# ## 2. The straight-through estimator: B = A + (f(A) - A).detach()
#
# f(A) = the nearest code to each row of A is piecewise constant in A: its derivative is zero
# almost everywhere, and `argmin` has no gradient at all. The straight-through estimator pretends
# f is the identity on the way back. In real arithmetic B = A + f(A) - A = f(A), and since the
# bracket is detached, dB/dA = I: the decoder's gradient with respect to z_q is **copied** to z_e.
# We check on random A (1000 vectors, D = 16) with a random codebook E:
# - forward: B equals f(A) up to one float32 rounding of the two additions
#   (|B - f(A)| <= eps (|A| + |f(A)|) elementwise, eps = 2^-23); in float64 from the same float32
#   inputs it is bit-exact;
# - backward: with an upstream gradient W, `(B * W).sum().backward()` gives A.grad == W **exactly**
#   and no gradient to E;
# - without the straight-through line (B = f(A) = E[idx]) the graph does not reach A at all.

# %%
ste_generator = torch.Generator().manual_seed(SEED + 1)
A = torch.randn(1000, CODE_DIM, generator=ste_generator, requires_grad=True)
E = (0.3 * torch.randn(NUM_CODES, CODE_DIM, generator=ste_generator)).requires_grad_()
W = torch.randn(1000, CODE_DIM, generator=ste_generator)
f_A = E[nearest_codes(A.detach(), E.detach())]
B = A + (f_A - A).detach()
(B * W).sum().backward()
B64 = A.detach().double() + (f_A.detach().double() - A.detach().double())
print(f"float32: {(B == f_A).float().mean():.1%} of entries bit-identical to f(A), largest |B - f(A)| "
      f"{(B - f_A).abs().max():.2e}; float64: {(B64 == f_A.double()).float().mean():.1%} bit-identical")

# %%
# NBVAL_CHECK_OUTPUT
eps = torch.finfo(torch.float32).eps
vc.checks.check_true("forward: |B - f(A)| <= eps (|A| + |f(A)|) elementwise (float32)",
                     bool(((B - f_A).abs() <= eps * (A.abs() + f_A.abs())).all()), kind="evidence", settles=("C66",))
vc.checks.check_true("forward in float64: B == f(A) bit for bit", bool((B64 == f_A.double()).all()), kind="evidence",
                     settles=("C66",))
vc.checks.check_true("backward: A.grad == upstream gradient W exactly", torch.equal(A.grad, W), kind="evidence",
                     settles=("C67",))
vc.checks.check_true("backward: no gradient reaches the codebook E through B", E.grad is None, kind="evidence",
                     settles=("C61",))
grad_without_ste, = torch.autograd.grad((f_A * W).sum(), A, allow_unused=True)
vc.checks.check_true("without the straight-through line (B = f(A)), no gradient reaches A", grad_without_ste is None,
                     kind="evidence", settles=("C67",))

# %% [markdown]
# ## 3. Which parameters each term moves
#
# On a batch of 64 test digits and the untrained model of section 1, we take the gradient of each
# term separately with respect to the three parameter groups: encoder, codebook, decoder. We expect
# the pattern of the table in section 1: reconstruction -> encoder and decoder, codebook -> codebook
# only, commitment -> encoder only. "No gradient" means autograd finds no path (`None`), which is
# exact, not a small number.

# %%
groups = {"encoder": list(check_model.encoder.parameters()), "codebook": [check_model.quantizer.codebook],
          "decoder": list(check_model.decoder.parameters())}
all_parameters = [p for params in groups.values() for p in params]
gradient_norms = {}
for term_name, term in [("reconstruction", nll), ("codebook", codebook_term), ("commitment", commitment_term)]:
    grads = torch.autograd.grad(term.mean(), all_parameters, allow_unused=True, retain_graph=True)
    start = 0
    for group_name, params in groups.items():
        group_grads = [g for g in grads[start:start + len(params)] if g is not None]
        start += len(params)
        gradient_norms[term_name, group_name] = (torch.sqrt(sum(g.pow(2).sum() for g in group_grads)).item()
                                                 if group_grads else None)
def as_text(norm):
    return "-" if norm is None else f"{norm:.3g}"


print(f"{'term':16s}" + "".join(f"{g:>16s}" for g in groups) + "   (gradient norm; - = no path)")
for term_name in ["reconstruction", "codebook", "commitment"]:
    print(f"{term_name:16s}" + "".join(f"{as_text(gradient_norms[term_name, g]):>16s}" for g in groups))

# %%
# NBVAL_CHECK_OUTPUT
expected_owners = {"reconstruction": {"encoder", "decoder"}, "codebook": {"codebook"}, "commitment": {"encoder"}}
TERM_CLAIMS = {"reconstruction": "C61", "codebook": "C62", "commitment": "C63"}  # the homework's claim on each term
for term_name, owners in expected_owners.items():
    reached = {g for g in groups if gradient_norms[term_name, g] is not None and gradient_norms[term_name, g] > 0}
    vc.checks.check_true(f"{term_name} term moves exactly: {', '.join(sorted(owners))}", reached == owners, kind="evidence",
                         settles=(TERM_CLAIMS[term_name], "C68"))

# %% [markdown]
# ### The codebook is not constant: it moves, to the centroids of its inputs
#
# `detach` decides which term moves which parameters; it freezes nothing. One SGD step (lr 0.1) on
# the codebook loss of the batch above moves every code that some position chose, and only those.
# Then, on a toy where the "encoder outputs" are fixed 2-D points (three blobs, four codes started on
# four of the points), we run (i) gradient descent on the codebook loss and (ii) the EMA update
# (decay 0.99, the paper's appendix A.1), both through `vc.quantize.VectorQuantizer`. We expect both
# to end where k-means (Lloyd's algorithm) ends: each code at the mean of the points assigned to it
# (checked to atol 1e-3 after 1500 steps).

# %%
chosen = code_usage(check_model.quantizer(check_model.encoder(x_check)).indices, NUM_CODES) > 0
codebook_before = check_model.quantizer.codebook.detach().clone()
sgd = torch.optim.SGD([check_model.quantizer.codebook], lr=0.1)
sgd.zero_grad()
codebook_term.mean().backward(retain_graph=True)
sgd.step()
moved = (check_model.quantizer.codebook.detach() - codebook_before).norm(dim=1)
print(f"{int(chosen.sum())} of {NUM_CODES} codes chosen by the batch; distance moved by one step: chosen codes "
      f"{moved[chosen].min():.3g} to {moved[chosen].max():.3g}, the others {moved[~chosen].max():.3g}")

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("one SGD step on the codebook loss moves every chosen code", bool((moved[chosen] > 0).all()),
                     kind="evidence", settles=("C65",))
vc.checks.check_true("... and leaves every unchosen code exactly where it was", bool((moved[~chosen] == 0).all()),
                     kind="evidence", settles=("C62",))

# %%
toy_generator = torch.Generator().manual_seed(SEED + 2)
blob_centres = torch.tensor([[0.0, 0.0], [3.0, 0.5], [1.0, 3.0]])
points = (blob_centres[:, None, :] + 0.6 * torch.randn(3, 100, 2, generator=toy_generator)).reshape(-1, 2)
start_codes = points[torch.randperm(len(points), generator=toy_generator)[:4]].clone()
toy = {"codebook loss (SGD, lr 0.5)": vc.quantize.VectorQuantizer(4, 2), "EMA (decay 0.99)": vc.quantize.VectorQuantizer(4, 2, ema=True)}
paths = {}
for name, quantizer in toy.items():
    quantizer.codebook.data.copy_(start_codes)
    if quantizer.ema:
        quantizer.ema_sum.copy_(start_codes)  # the counts start at 1 (the package's default)
    optimizer = torch.optim.SGD(quantizer.parameters(), lr=0.5) if not quantizer.ema else None
    paths[name] = [start_codes.clone()]
    for step in range(1500):
        out = quantizer(points)
        if optimizer is not None:
            optimizer.zero_grad()
            out.codebook_loss.mean().backward()
            optimizer.step()
        paths[name].append(quantizer.codebook.detach().clone())
    paths[name] = torch.stack(paths[name])

# %% mystnb={"image": {"alt": "Two scatter panels, 'codebook loss (SGD, lr 0.5)' and 'EMA (decay 0.99)': grey 2-D points in three blobs, with four coloured paths of the codes from their start to black end dots, each end dot on a red cross marking the centroid of the points assigned to it."}}
def centroids_of_assignment(codebook, x):
    indices = nearest_codes(x, codebook)
    return torch.stack([x[indices == k].mean(0) if (indices == k).any() else codebook[k] for k in range(len(codebook))])


fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharex=True, sharey=True)
for ax, (name, path) in zip(axes, paths.items()):
    ax.scatter(*points.T, s=5, c="lightgrey")
    for k in range(4):
        ax.plot(path[:, k, 0], path[:, k, 1], "-", lw=1.5)
        ax.plot(*path[-1, k], "o", color="black")
    ax.plot(*centroids_of_assignment(path[-1], points).T, "x", color="red", markersize=10, label="centroid of its points")
    ax.set_title(name)
axes[0].legend(loc="upper right", fontsize="small")
fig.suptitle("codes (paths from their start) against the means of the points assigned to them")
fig.tight_layout()

# %%
# NBVAL_CHECK_OUTPUT
for name, path in paths.items():
    _ = vc.checks.check_close(f"{name}: every code ends at the mean of its assigned points (k-means fixed point)",
                              path[-1], centroids_of_assignment(path[-1], points), rtol=0, atol=1e-3, kind="evidence",
                              settles=("C65",))
    vc.checks.check_true(f"{name}: the codebook moved from its start", bool((path[-1] - path[0]).norm(dim=1).max() > 0.1),
                         kind="evidence", settles=("C65",))

# %% [markdown]
# ## 4. The loss exactly as the homework writes it (+log p)
#
# We train two copies of the same initial model, from three seeds, for 2 epochs (64 Adam steps;
# dead-code restarts on, so that the correct model uses its codebook): one on
# the correct loss, one on the homework's L = **+**log p(x|z_q) + codebook + beta commitment.
# Minimising +log p means making the data as **unlikely** as possible. After every epoch we measure,
# on 200 test digits, -log p(x|z_q) and the commitment distance ‖z_e - e‖² (how far the encoder's
# outputs lie from the codes that replace them). We expect the correct model's -log p to fall at every
# epoch for every seed (checked, with the homework's sign as the negative control, which must fail)
# and the homework's to rise, with the encoder outputs running away from the codebook.

# %%
class HomeworkSignVQVAE(vc.models.VQVAE):
    """The VQ-VAE trained on the homework's loss: +log p(x|z_q) + codebook + beta commitment."""

    objective = "homework_loss"

    def loss_terms(self, x):
        terms = super().loss_terms(x)
        terms["homework_loss"] = -terms["nll"] + terms["codebook"] + self.commitment_beta * terms["commitment"]
        return terms


@torch.no_grad()
def usage_counts(model, x):
    """How many positions of the code maps of ``x`` chose each code: (K,)."""
    model.eval()
    return code_usage(torch.cat([model.encode(batch.to(device)).cpu() for batch in x.split(1000)]), model.num_codes)


num_epochs = {"ci": 3, "full": 30}[BUDGET]
sign_epochs = {"ci": 2, "full": 10}[BUDGET]
seeds = [SEED + k for k in range(3)]
x_sign = x_test[:200]
sign_classes = {"correct: -log p": vc.models.VQVAE, "homework: +log p": HomeworkSignVQVAE}
sign_curves, sign_models = {}, {}
for seed in seeds:
    for name, model_class in sign_classes.items():
        torch.manual_seed(seed)  # the same initial weights for both signs
        model = model_class(num_codes=NUM_CODES, code_dim=CODE_DIM, width=WIDTH, restart_after=RESTART_AFTER).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        curve = [vc.train.evaluate_terms(model, x_sign)]
        for epoch in range(sign_epochs):
            vc.train.fit(model, x_train, epochs=1, lr=LR, seed=seed * 1000 + epoch, device=device, optimizer=optimizer,
                         progress=False)
            curve.append(vc.train.evaluate_terms(model, x_sign))
        sign_curves[name, seed] = {term: [terms[term] for terms in curve] for term in ["nll", "commitment"]}
        sign_models[name, seed] = model.cpu().eval()

# %%
print(f"test -log p(x|z_q) in nats/image and commitment distance |z_e - e|^2, before training and after each of "
      f"{sign_epochs} epochs")
for (name, seed), curve in sign_curves.items():
    print(f"{name:17s} seed {seed}: -log p " + " -> ".join(f"{v:.3g}" for v in curve["nll"])
          + ";  |z_e - e|^2 " + " -> ".join(f"{v:.3g}" for v in curve["commitment"]))

# %%
# NBVAL_CHECK_OUTPUT
def check_nll_falls_every_epoch(sign):
    vc.checks.check_true("-log p(x|z_q) of the test digits falls at every epoch, every seed",
                         all(monotone_decreasing(sign_curves[sign, s]["nll"]) for s in seeds),
                         kind="evidence", settles=("C60",), control=True)


def monotone_decreasing(values):
    return all(b < a for a, b in zip(values, values[1:]))


check_nll_falls_every_epoch("correct: -log p")
with vc.checks.negative_control("the homework's loss, +log p"):
    check_nll_falls_every_epoch("homework: +log p")
vc.checks.check_true("homework's sign: the commitment distance grows at every epoch, every seed (the encoder runs away)",
                     all(monotone_decreasing(sign_curves["homework: +log p", s]["commitment"][::-1]) for s in seeds),
                     kind="evidence", settles=("C60",))

# %% mystnb={"image": {"alt": "Three rows of ten images titled 'reconstructions after 2 epochs (seed 0)': test digits, blurry grey reconstructions by the model trained with the correct -log p loss, and blank white squares from the model trained with the homework's +log p loss."}}
with torch.no_grad():
    sign_rows = torch.stack([x_test[:10]] + [sign_models[name, seeds[0]].decode_indices(
        sign_models[name, seeds[0]].encode(x_test[:10])).mean for name in sign_classes])
fig = vc.plotting.strip(sign_rows, row_labels=["test digits", *sign_classes],
                        title=f"reconstructions after {sign_epochs} epochs (seed {seeds[0]})")

# %% [markdown]
# Both predictions held for every seed. The correct loss lowered the test -log p from about 500 nats
# to between 190 and 350 in two epochs; the homework's raised it by four to five orders of magnitude,
# to millions of nats, and its encoder's outputs ran away from the codebook: ‖z_e - e‖² grew from
# about 10 to thousands or tens of thousands. Minimising +log p pushes every decoder output away from
# the data without bound, and the straight-through copy passes that push on to the encoder.
#
# > **Common mistake (homework practical (a)):** *"L = log p(x|z_q(x)) + ||z_e(x).detach() - e||^2 +
# > beta ||z_e(x) - e.detach()||^2".* The reconstruction term of a loss to minimise is
# > **-log p(x|z_q(x))** (the paper's equation 3 has the same typo). Trained as written, the model
# > makes the digits less likely with every step (section 4's check); the images above are what it
# > learns. Also: z_g should read z_q; the constant KL term log K per position is left out because it
# > moves nothing (section 1).
#
# ## 5. Training on MNIST: codebook loss against EMA, with and without dead-code restarts
#
# Five models with the same architecture (K = 64 codes of dimension 16, a 7 x 7 map), trained from
# the same three seeds (the same initial weights per seed for all five): the codebook learned by the
# codebook loss or by moving averages (EMA, decay 0.99), each with and without restarts (a code unused
# for `RESTART_AFTER` batches is moved onto a random encoder output of the batch), and, as a
# **pitfall** side by side, the EMA with its counts started at 0 while its sums start at the codebook.
# The package starts each code's moving averages with one pseudo-observation at the code itself
# (count 1, sum = the code), so a code that receives no input stays where it is. With counts at 0, a
# code that receives nothing at the first update becomes decay × code / (its Laplace-smoothed count,
# about 1e-5 of the total): thrown thousands of times further out, where nothing can choose it again
# (tests/test_quantize.py has the same on a 2-D toy).
#
# After every epoch we encode all 4000 training digits and count how often each code is chosen: the
# **perplexity** exp(entropy of that usage) is the effective number of codes, and a **dead** code is
# one that no position of any training digit chose. Nothing in the loss rewards using many codes, and
# the codes start packed near the origin (uniform in ±1/K, the common choice of PyTorch
# re-implementations; the authors' Sonnet code draws them from a wider uniform), so we
# expect a few codes to take everything without restarts, and restarts to leave fewer dead codes
# (checked, both codebook updates, every seed). For the EMA we check that every code stays within
# the range of the encoder's outputs (its norm at most the largest ‖z_e‖ on the training digits), with
# the pitfall as the negative control.

# %%
def train_tracked(config, seed, bar, track_every_epoch=True):
    """Train a VQVAE epoch by epoch (one Adam throughout); record nll, usage and restarts after each epoch
    (or only after the last one)."""
    torch.manual_seed(seed)  # the same initial encoder, decoder and codebook for every configuration of a seed
    model = vc.models.VQVAE(num_codes=config.get("num_codes", NUM_CODES), code_dim=CODE_DIM, width=WIDTH,
                            commitment_beta=config.get("beta", 0.25), ema=config.get("ema", False),
                            restart_after=config.get("restart_after")).to(device)
    if config.get("counts_start_at_zero"):
        model.quantizer.ema_cluster_size.zero_()  # the pitfall: sums at the codebook, counts at 0
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    record = {key: [] for key in ["nll", "perplexity", "dead", "restarts"]}
    for epoch in range(num_epochs):
        history = vc.train.fit(model, x_train, epochs=1, lr=LR, seed=seed * 1000 + epoch, device=device,
                               optimizer=optimizer, progress=False)
        bar.update()
        if not track_every_epoch and epoch < num_epochs - 1:
            continue
        counts = usage_counts(model, x_train)
        record["nll"].append(history.final("nll"))
        record["perplexity"].append(perplexity(counts).item())
        record["dead"].append(int((counts == 0).sum()))
        record["restarts"].append(int(model.quantizer.restarts))
    model = model.cpu().eval()
    with torch.no_grad():
        record["largest code norm"] = model.quantizer.codebook.norm(dim=1).max().item()
        record["largest encoder output norm"] = torch.cat(
            [model.encoder(batch).permute(0, 2, 3, 1).reshape(-1, CODE_DIM) for batch in x_train.split(1000)]
        ).norm(dim=1).max().item()
    return model, record


# %%
main_runs = {"codebook loss": {}, "codebook loss + restarts": {"restart_after": RESTART_AFTER},
             "EMA": {"ema": True}, "EMA + restarts": {"ema": True, "restart_after": RESTART_AFTER},
             "EMA, counts started at 0": {"ema": True, "counts_start_at_zero": True}}
beta_values = {"ci": [0.0, 0.25, 2.0], "full": [0.0, 0.1, 0.25, 2.0]}[BUDGET]  # the check (section 6) needs 0 and 2
beta_runs = {beta: "codebook loss + restarts" if beta == 0.25 else f"beta={beta} + restarts" for beta in beta_values}
size_runs = {8: "K=8 + restarts", NUM_CODES: "codebook loss + restarts", 512: "K=512 + restarts"}
configs = {**main_runs,
           **{name: {"beta": beta, "restart_after": RESTART_AFTER} for beta, name in beta_runs.items() if beta != 0.25},
           **{name: {"num_codes": k, "restart_after": RESTART_AFTER} for k, name in size_runs.items() if k != NUM_CODES}}
runs = {}
size_seeds = seeds[:1]  # the codebook size is explored with one seed (see section 7)
jobs = [(name, seed) for name in configs for seed in (size_seeds if name.startswith("K=") else seeds)]
with tqdm(total=len(jobs) * num_epochs, file=sys.stderr, unit="epoch", ncols=100, mininterval=0.5) as bar:
    for name, seed in jobs:
        runs[name, seed] = train_tracked(configs[name], seed, bar, track_every_epoch=name in main_runs)
test_terms = {key: vc.train.evaluate_terms(model, x_test) for key, (model, _) in runs.items()}


def over_seeds(name, value, digits=1, run_seeds=seeds):
    return spread([value(name, s) for s in run_seeds], digits)


def final(key):
    return lambda name, s: runs[name, s][1][key][-1] if isinstance(runs[name, s][1][key], list) else runs[name, s][1][key]


def test_nll(name, s):
    return test_terms[name, s]["nll"]

# %%
print(f"{num_epochs} epochs, K = {NUM_CODES}, beta = 0.25, lr {LR}; mean [min, max] over seeds {seeds}")
print(f"{'codebook update':26s} {'test nll':>20s} {'perplexity':>18s} {'dead codes':>18s} {'restarts':>20s}"
      f" {'largest |code|':>22s}")
for name in main_runs:
    print(f"{name:26s} {over_seeds(name, test_nll):>20s} {over_seeds(name, final('perplexity')):>18s}"
          f" {over_seeds(name, final('dead'), 0):>18s} {over_seeds(name, final('restarts'), 0):>20s}"
          f" {over_seeds(name, final('largest code norm')):>22s}")
print("largest encoder output norm |z_e| on the training digits: "
      + over_seeds("EMA", final("largest encoder output norm")))

# %%
# NBVAL_CHECK_OUTPUT
def check_codes_within_encoder_range(name):
    vc.checks.check_true("EMA codebook: every code stays within the range of the encoder's outputs "
                         "(|e| <= max |z_e| on the training digits), every seed",
                         all(final("largest code norm")(name, s) <= final("largest encoder output norm")(name, s)
                             for s in seeds), kind="evidence", control=True)


check_codes_within_encoder_range("EMA")
with vc.checks.negative_control("the EMA with counts started at 0"):
    check_codes_within_encoder_range("EMA, counts started at 0")
vc.checks.check_true("without restarts, more than half of the codes are dead after training, both codebook updates, "
                     "every seed", all(final("dead")(name, s) > NUM_CODES / 2 for name in ["codebook loss", "EMA"]
                                       for s in seeds), kind="evidence", settles=("C64",))
for update in ["codebook loss", "EMA"]:
    vc.checks.check_true(f"{update}: restarts leave fewer dead codes after training than no restarts, every seed",
                         all(final("dead")(f"{update} + restarts", s) < final("dead")(update, s) for s in seeds),
                         kind="evidence", settles=("C64",))

# %% mystnb={"image": {"alt": "Three line plots against epoch, mean of 3 seeds: train -log p(x|z_q) in nats per image, perplexity (of 64) and dead codes, for codebook loss and EMA, each with and without restarts, and EMA with counts started at 0; the two runs with restarts reach far higher perplexity and fewer dead codes."}}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
epochs_axis = np.arange(1, num_epochs + 1)
for name in main_runs:
    for ax, key in zip(axes, ["nll", "perplexity", "dead"]):
        ax.plot(epochs_axis, np.mean([runs[name, s][1][key] for s in seeds], axis=0), marker="o", ms=3, label=name)
for ax, label in zip(axes, ["train -log p(x|z_q) [nats/image]", f"perplexity (of {NUM_CODES})", "dead codes"]):
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
axes[1].legend(fontsize="small")
fig.suptitle(f"code usage on the 4000 training digits over training (mean of {len(seeds)} seeds)")
fig.tight_layout()

# %% [markdown]
# What the table shows, at 3 epochs over 3 seeds. Without restarts both updates leave almost all
# codes dead, about 60 of 64, **the corrected EMA as well**. So the dead codes are not the pitfall's
# doing: they come from the initial codebook, packed near the origin where, after the first steps, no
# encoder output lies. What the pitfall does shows in the last column: its unused codes end about
# 1,700 from the origin, where the encoder's outputs (norm at most about 3.5) can never reach them,
# while the corrected EMA's stay within the encoder's range (the check above, and its control). In
# these 3 epochs that makes no difference to the number of dead codes or to the test NLL (their
# spreads overlap). Restarts revive codes with both updates (checked, every seed). With the EMA they
# also give the lowest test NLL of the five; with the codebook loss they are erratic: one seed still
# has 41 dead codes and the worst test NLL of all, so that row's mean is worse than without
# restarts. An earlier version of this notebook, trained with the pitfall inside the package,
# reported about 60 of 64 codes dead for the EMA: the count stands, the pitfall was not its cause.

# %% [markdown]
# > **Common mistakes (homework practical (a) and (b))**
# > - *"detach() ensures that the discrete codebook entries remain constant and stable" / "prevents
# >   the discrete embeddings from being directly influenced by gradient updates".* The codebook is
# >   trained: by the codebook loss ‖sg[z_e] - e‖², whose gradient reaches the codebook only
# >   (section 3), or by moving averages. Both move each code to the centroid of the encoder outputs
# >   assigned to it (section 3's toy), and the curves above show the codes being used and re-used
# >   as training goes. `detach` only decides which term moves which parameters.
# > - *"In the paper, detach() is used right before updating the codebook embeddings: B = A + (f(A) -
# >   A).detach()".* The formula is right, the place is not: it is the straight-through estimator on
# >   the forward path into the **decoder**. Its value is f(A) (up to one rounding), and its gradient
# >   copies the decoder's gradient to the **encoder** unchanged (section 2). It does not block
# >   gradients; without it the encoder gets no reconstruction gradient at all.
# > - *"The combination balances reconstruction quality, codebook usage, and latent space
# >   regularity."* No term rewards using many codes. Without restarts most codes die (the table
# >   above); restarts, k-means initialisation or low-dimensional codes are the usual fixes.
#
# ## 6. The commitment weight beta
#
# The paper reports its results robust to beta from 0.1 to 2.0. We add beta = 0 (no commitment
# term: nothing ties the encoder's outputs to the codes except the reconstruction through the
# straight-through copy). With restarts and the gradient codebook, the same three seeds and the same
# number of epochs as section 5, we train beta in {0, 0.25, 2} (`BUDGET = "full"` adds 0.1, the low
# end of the paper's range). We expect the commitment distance ‖z_e - e‖² to shrink as beta grows
# (the encoder is pulled harder onto its codes; checked between beta = 0 and beta = 2: the mean over
# seeds at beta = 0 against the largest seed at beta = 2) and the test reconstruction to change
# little across the paper's range compared with the spread over seeds (reported).

# %%
print(f"mean [min, max] over seeds {seeds}")
print(f"{'beta':>5s} {'test nll':>20s} {'test |z_e - e|^2':>20s} {'perplexity':>18s} {'dead codes':>16s}")
for beta, name in beta_runs.items():
    print(f"{beta:5.2f} {over_seeds(name, test_nll):>20s} "
          f"{over_seeds(name, lambda n, s: test_terms[n, s]['commitment'], 2):>20s}"
          f" {over_seeds(name, final('perplexity')):>18s} {over_seeds(name, final('dead'), 0):>16s}")

# %%
# NBVAL_CHECK_OUTPUT
def test_commitment(name, s):
    return test_terms[name, s]["commitment"]


vc.checks.check_true("the commitment distance |z_e - e|^2 on the test digits, mean over seeds at beta = 0, is above its "
                     "largest seed value at beta = 2",
                     np.mean([test_commitment(beta_runs[0.0], s) for s in seeds])
                     > max(test_commitment(beta_runs[2.0], s) for s in seeds), kind="evidence", settles=("C63",))

# %% [markdown]
# At this length beta is not a detail: the test NLL falls from about 273 nats at beta = 0 to about 127
# at beta = 2 (means over seeds), with wide spreads at the small values. The paper's "robust from 0.1
# to 2.0" is a statement about fully trained models; early in training a stronger commitment term
# keeps the encoder's outputs near codes that the decoder has learned to read. The commitment
# distance falls as predicted on average (the check), but not seed by seed: the spread at beta = 0
# is wide and its smallest seed lies below the largest at beta = 2.
#
# ## 7. The codebook size K
#
# K sets the rate (49 log2 K bits per map), not beta. With restarts, one seed (a sweep of its own
# would cost three times as much; the numbers are indicative, not a comparison within a spread): K = 8,
# 64 (from section 5) and 512.

# %%
print(f"seed {size_seeds[0]}")
print(f"{'K':>4s} {'bits/map':>9s} {'test nll':>9s} {'perplexity':>11s} {'dead codes':>11s}")
for k, name in size_runs.items():
    record = runs[name, size_seeds[0]][1]
    print(f"{k:4d} {49 * math.log2(k):9.0f} {test_terms[name, size_seeds[0]]['nll']:9.1f}"
          f" {record['perplexity'][-1]:11.1f} {record['dead'][-1]:11d}")

# %% [markdown]
# ## 8. Reconstructions
#
# Ten test digits through each of the five models of section 5 (seed 0; decoder means of the
# quantised map).

# %% mystnb={"image": {"alt": "Six rows of ten images titled 'reconstructions through the code map': ten test digits, then their reconstructions by five VQ-VAEs: codebook loss, codebook loss + restarts, EMA, EMA + restarts, and EMA with counts started at 0."}}
with torch.no_grad():
    recon_rows = torch.stack([x_test[:10]] + [runs[name, seeds[0]][0].decode_indices(
        runs[name, seeds[0]][0].encode(x_test[:10])).mean for name in main_runs])
fig = vc.plotting.strip(recon_rows, row_labels=["test digits", *main_runs], title="reconstructions through the code map")

# %% [markdown]
# ## 9. Generation needs a prior over code maps
#
# A VQ-VAE has no sampler of its own: its "prior" during training is uniform over the codes, and
# uniformly random code maps are not digits. We take the seed-0 EMA + restarts model, trained for
# `generation_extra_epochs` more epochs (a prior is only as good as the maps it is fitted to), encode the training
# digits into 4000 maps of 7 x 7 codes and fit two priors over them:
# - **per-position categorical**: at each of the 49 positions, the code frequencies with add-one
#   smoothing (positions independent);
# - **autoregressive**: in raster order, each code given its four already-generated neighbours
#   (left, above-left, above, above-right) and its position, by a small MLP trained with
#   cross-entropy.
#
# We report each prior's negative log-likelihood of the **test** maps in bits per map (uniform:
# 49 log2 K), then sample 500 maps from each, decode, and score them with the yardstick against
# held-out digits. We expect uniform maps to score far from digits, the per-position prior to be
# closer, and the autoregressive one closer still; the per-position prior must beat the uniform one
# on held-out bits (checked), the rest is reported as measured.

# %%
generation_extra_epochs = {"ci": 3, "full": 0}[BUDGET]
gen_model = copy.deepcopy(runs["EMA + restarts", seeds[0]][0])
vc.train.fit(gen_model, x_train, epochs=generation_extra_epochs, lr=LR, seed=SEED + 500, device=device)
gen_model = gen_model.cpu().eval()
with torch.no_grad():
    maps_train, maps_test = gen_model.encode(x_train), gen_model.encode(x_test)
K = gen_model.num_codes
position_counts = F.one_hot(maps_train.reshape(-1, 49), K).sum(0).float() + 1  # (49, K), add-one smoothing
position_probs = position_counts / position_counts.sum(1, keepdim=True)
bits_uniform = 49 * math.log2(K)
bits_position = -(position_probs.log2().gather(1, maps_test.reshape(-1, 49).T).sum(0)).mean().item()


class NeighbourPrior(nn.Module):
    """p(code at (r, c) | codes at left, above-left, above, above-right; position), raster order."""

    def __init__(self, num_codes, dim=16, hidden=128):
        super().__init__()
        self.num_codes = num_codes
        self.embed = nn.Embedding(num_codes + 1, dim)  # index num_codes: outside the map
        self.position = nn.Embedding(49, dim)
        self.net = nn.Sequential(nn.Linear(5 * dim, hidden), nn.ReLU(), nn.Linear(hidden, num_codes))

    def forward(self, maps):  # (B, 7, 7) long -> logits (B, 7, 7, K)
        padded = F.pad(maps, (1, 1, 1, 0), value=self.num_codes)  # (B, 8, 9): a border above, left, right
        neighbours = [padded[:, 1:, :-2], padded[:, :-1, :-2], padded[:, :-1, 1:-1], padded[:, :-1, 2:]]
        features = torch.cat([self.embed(n) for n in neighbours]
                             + [self.position.weight.reshape(1, 7, 7, -1).expand(len(maps), -1, -1, -1)], dim=-1)
        return self.net(features)

    @torch.no_grad()
    def sample(self, num_maps, generator):
        maps = torch.zeros(num_maps, 7, 7, dtype=torch.long)
        for r in range(7):
            for c in range(7):
                maps[:, r, c] = torch.multinomial(self(maps)[:, r, c].softmax(-1), 1, generator=generator)[:, 0]
        return maps

# %%
torch.manual_seed(SEED)
ar_prior = NeighbourPrior(K)
ar_optimizer = torch.optim.Adam(ar_prior.parameters(), lr=3e-3)
order_generator = torch.Generator().manual_seed(SEED)
for epoch in tqdm(range({"ci": 6, "full": 20}[BUDGET]), file=sys.stderr, desc="training the autoregressive prior", ncols=100):
    for index in torch.randperm(len(maps_train), generator=order_generator).split(256):
        loss = F.cross_entropy(ar_prior(maps_train[index]).reshape(-1, K), maps_train[index].reshape(-1))
        ar_optimizer.zero_grad()
        loss.backward()
        ar_optimizer.step()

# %%
with torch.no_grad():
    bits_ar = (F.cross_entropy(ar_prior(maps_test).reshape(-1, K), maps_test.reshape(-1), reduction="sum")
               / len(maps_test) / math.log(2)).item()
print(f"held-out test maps, bits per map: uniform {bits_uniform:.1f}, per-position {bits_position:.1f}, "
      f"autoregressive {bits_ar:.1f}")

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("per-position prior: fewer held-out bits per map than the uniform prior", bits_position < bits_uniform,
                     kind="evidence", settles=("C46",))

# %%
num_samples = 500
sample_generator = torch.Generator().manual_seed(SEED + 3)
# the yardstick compares with one half of the held-out digits; the test digits' own maps come from the other
reference, real = vc.yardstick.split_held_out(x_test, num_images=num_samples, seed=SEED)
with torch.no_grad():
    maps_real = gen_model.encode(real.to(device))
sampled_maps = {
    "uniform code maps": torch.randint(K, (num_samples, 7, 7), generator=sample_generator),
    "per-position prior": torch.multinomial(position_probs, num_samples, replacement=True,
                                            generator=sample_generator).T.reshape(num_samples, 7, 7),
    "autoregressive prior": ar_prior.sample(num_samples, sample_generator),
    "test digits' own maps": maps_real,
}
with torch.no_grad():
    sample_images = {name: gen_model.decode_indices(maps).mean for name, maps in sampled_maps.items()}
quality_rows = vc.yardstick.sample_quality(sample_images, reference=reference, real=real, num_images=num_samples,
                                           seed=SEED)
print(vc.yardstick.format_quality_table(quality_rows))
quality = {row.name: row.frechet_distance for row in quality_rows}
print("ordering uniform > per-position > autoregressive (Frechet distance):",
      quality["uniform code maps"] > quality["per-position prior"] > quality["autoregressive prior"])

# %% [markdown]
# "Test digits' own maps" decodes the codes of real test digits: the best any prior over these
# codes could do with this decoder. Its Fréchet distance is a floor for the priors (it is not
# zero: these are reconstructions). Samples, one row per source:

# %% mystnb={"image": {"alt": "Four rows of twelve images titled 'decoded code maps': decoded uniform random code maps, which show scattered stroke fragments, samples from the per-position prior and from the autoregressive prior, and the test digits' own maps, which look like digits."}}
fig = vc.plotting.strip(torch.stack([images[:12] for images in sample_images.values()]),
                        row_labels=list(sample_images), title="decoded code maps")

# %% [markdown]
# ## 10. The codebook, browsed
#
# What does a code stand for? A single code stamped on an empty map decodes to almost nothing: the
# decoder draws strokes from the context of neighbouring codes. So we look at codes in their
# context. First, for every code the model uses (ordered by usage), the average 12 x 12-pixel window
# of the training digits around the cells where it was chosen (a cell is 4 x 4 pixels; the window
# adds a 4-pixel margin). Then a browser: pick a code and see where in the 7 x 7 map it is used,
# its average window, and two training digits that use it (the cells outlined), each decoded from
# its own map and from the same map with code k replaced by the **background code** (the code used
# most often overall): the difference is what k draws there.

# %% mystnb={"image": {"alt": "Four rows of sixteen small grey patches titled '64 codes in use: the mean 12 x 12 window where each is chosen': for each code, in order of usage, the average training-digit window around the cells where it was chosen, most showing fragments of strokes."}}
usage = F.one_hot(maps_train, K).sum(0).float()  # (7, 7, K): uses of each code at each position
background = int(usage.sum((0, 1)).argmax())
by_usage = [int(k) for k in usage.sum((0, 1)).argsort(descending=True) if usage[..., k].sum() > 0]
x_padded = F.pad(x_train, (4, 4, 4, 4))


def mean_window(k, max_uses=500):
    uses = (maps_train == k).nonzero()[:max_uses].tolist()
    return torch.stack([x_padded[i, :, 4 * r:4 * r + 12, 4 * c:4 * c + 12] for i, r, c in uses]).mean(0)


windows = torch.stack([mean_window(k) for k in by_usage])
fig = vc.plotting.image_grid(windows, nrow=16, scale=0.5,
                             title=f"{len(by_usage)} codes in use: the mean 12 x 12 window where each is chosen")

# %%
def draw_code(k):
    def draw():
        fig, axes = plt.subplots(1, 8, figsize=(13, 2.3))
        axes[0].imshow(usage[..., k].numpy(), cmap="viridis")
        axes[0].set_title(f"where: {usage[..., k].sum() / usage.sum():.1%} of cells", fontsize="small")
        axes[1].imshow(windows[by_usage.index(k), 0].numpy(), vmin=0, vmax=1)
        axes[1].set_title("mean window", fontsize="small")
        users = (maps_train == k).flatten(1).any(1).nonzero().flatten()[:2].tolist()
        for j, i in enumerate(users):
            without_k = torch.where(maps_train[i] == k, background, maps_train[i])
            with torch.no_grad():
                decoded = gen_model.decode_indices(torch.stack([maps_train[i], without_k])).mean
            for ax, image, title in zip(axes[2 + 3 * j:5 + 3 * j], [x_train[i, 0], decoded[0, 0], decoded[1, 0]],
                                        [f"training digit {i}", "decoded", f"k -> code {background}"]):
                ax.imshow(image.numpy(), vmin=0, vmax=1)
                ax.set_title(title, fontsize="small")
            for r, c in (maps_train[i] == k).nonzero().tolist():
                axes[2 + 3 * j].add_patch(Rectangle((4 * c - 0.5, 4 * r - 0.5), 4, 4, fill=False, edgecolor="red"))
        for ax in axes:
            ax.set_axis_off()
        fig.suptitle(f"code {k}")
        return fig
    return draw


browse_order = by_usage[1:] + by_usage[:1]  # the background code itself last
browser = vc.widgets.select_explorer({f"code {k}": draw_code(k) for k in browse_order},
                                     description="code (by usage, background last)")
browser

# %% [markdown]
# ## Summary
#
# The numbers measured in this run:

# %%
print(f"{'run':28s} {'test nll':>20s} {'perplexity':>18s} {'dead codes':>16s}   ({num_epochs} epochs; "
      f"mean [min, max] over seeds {seeds})")
for name in [*main_runs, *[n for n in beta_runs.values() if n not in main_runs]]:
    print(f"{name:28s} {over_seeds(name, test_nll):>20s} {over_seeds(name, final('perplexity')):>18s}"
          f" {over_seeds(name, final('dead'), 0):>16s}")
print("sign experiment, test -log p after the last epoch: correct "
      + over_seeds("correct: -log p", lambda n, s: sign_curves[n, s]["nll"][-1])
      + ", homework " + over_seeds("homework: +log p", lambda n, s: sign_curves[n, s]["nll"][-1], 0) + " nats/image")
print(f"held-out bits per map: uniform {bits_uniform:.1f}, per-position {bits_position:.1f}, autoregressive {bits_ar:.1f}")
print("Frechet distance: " + ", ".join(f"{name} {value:.1f}" for name, value in quality.items()))

# %% [markdown]
# - The VQ-VAE loss is -log p(x|z_q) + ‖sg[z_e] - e‖² + beta ‖z_e - sg[e]‖²: the minus sign matters,
#   and trained with the homework's plus sign the model makes the data less likely at every step.
# - `A + (f(A) - A).detach()` is the straight-through estimator: forward f(A), backward the identity.
#   It carries the decoder's gradient to the encoder; it does not freeze the codebook.
# - Each term owns its parameters: reconstruction -> encoder and decoder, codebook loss -> codebook,
#   commitment -> encoder. The codebook moves by its loss or by EMA, towards the centroid of the
#   encoder outputs it receives.
# - Nothing in the loss keeps codes alive. From a tight initial codebook, few codes get used without
#   restarts, with either update; restarts keep the codebook in use. beta weights commitment (at
#   short training it matters a lot); the rate is set by the map size and K.
# - An EMA codebook needs its counts and sums started consistently (here: one pseudo-observation per
#   code); counts at 0 with sums at the codebook throw every unused code far out of reach.
# - To generate, fit a prior over the code maps: independent per-position frequencies already give
#   digit-like blobs, a prior that looks at the neighbours can do better; compare the table above.
#
# **Try it**
# 1. Initialise the codebook from random encoder outputs of the first batch (k-means style) instead
#    of uniform in ±1/K, without restarts. How many codes die?
# 2. Set `BUDGET = "full"`: does the gap between the codebook loss and EMA close with training?
# 3. Give the autoregressive prior a larger neighbourhood (two rows above). How many held-out bits
#    per map does it save, and does the Fréchet distance follow?
#
# **References:** van den Oord, Vinyals and Kavukcuoglu, "Neural discrete representation learning"
# (NeurIPS 2017; the EMA update is in its appendix A.1); Bengio, Léonard and Courville, "Estimating
# or propagating gradients through stochastic neurons" (2013, the straight-through estimator).
