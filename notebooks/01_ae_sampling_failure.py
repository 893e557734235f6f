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
# # 01 · Why a plain AE cannot just be sampled
#
# Homework question 1a: train an autoencoder, pick a point uniformly at random in its latent space,
# decode it. Does the result look like the data? The homework answers "no: the latent space has no
# structure, and an AE cannot generalise beyond its training points". This notebook runs the
# experiment and measures each part of that answer. Some of it holds, some of it is wrong, and the
# part that holds depends on the latent dimension in a way the answer never mentions.
#
# **Learning goals**
# - train autoencoders with a 2-D latent (to look at) and larger ones, and read a latent scatter;
# - decode uniform samples from the codes' bounding box and score them on the yardstick of
#   notebook 00, next to pixel noise, real digits and the decoder's own reconstructions;
# - measure how much of the bounding box lies near any code, and watch it collapse as the latent
#   dimension grows: the reason box sampling fails;
# - settle the homework's claims with numbers: AE reconstruction generalises, and a density fitted to
#   the codes after training (ex-post density estimation) samples far better than the box, without
#   copying the training set.
#
# **Prerequisites:** notebook 00 (data, `fit`, the sample-quality yardstick).
# **Budget:** runs in at most 60 s on 2 CPU cores (see `benchmarks/`).

# %% tags=["parameters"]
SEED = 0
DEVICE = "auto"
BUDGET = "ci"  # "ci": the short run that CI executes; "full": longer training, better numbers
LATENT_DIMS = (2, 4, 8, 16)  # the first is plotted; the last is "the larger AE"
NUM_SEEDS = 2  # every trained-model comparison is repeated with seeds SEED, SEED + 1, ...
NUM_SAMPLES = 500  # generated images per set (the yardstick compares sets of 500)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import vaecourse as vc
from vaecourse.evaluate import spread

device = vc.setup_notebook(seed=SEED, device=DEVICE)

# %% [markdown]
# ## 0. Data
#
# The embedded MNIST subset of notebook 00: 4,000 training and 1,000 held-out images in `[0, 1]`.

# %%
x_train, labels_train = vc.data.load_mnist(split="train")
x_test, labels_test = vc.data.load_mnist(split="test")

# %%
# NBVAL_CHECK_OUTPUT
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, classes {sorted(set(labels_train.tolist()))}")

# %% [markdown]
# ## 1. Autoencoders at four latent sizes
#
# A plain autoencoder: an encoder `z = f(x)` (784 → 400 → d, deterministic) and a decoder that
# turns `z` into Bernoulli pixel probabilities (d → 400 → 784). The loss is the reconstruction
# negative log-likelihood `nll = -log p(x | f(x))`, the binary cross-entropy summed over pixels, in
# nats per image. Nothing in the loss says anything about *where* the codes should lie.
#
# We train one AE per latent dimension in `LATENT_DIMS` and per seed: the 2-D one we can plot, the
# largest one is the realistic case, and the ones in between trace how things change with d.

# %%
epochs = {"ci": 15, "full": 50}[BUDGET]
seeds = [SEED + k for k in range(NUM_SEEDS)]
small, large = min(LATENT_DIMS), max(LATENT_DIMS)
aes, histories = {}, {}
for d in LATENT_DIMS:
    for seed in seeds:
        torch.manual_seed(seed)
        aes[d, seed] = vc.models.AE(latent_dim=d, hidden=(400,))
        histories[d, seed] = vc.train.fit(aes[d, seed], x_train, epochs=epochs, seed=seed, device=device)

# %%
# NBVAL_CHECK_OUTPUT
print(f"trained {len(aes)} autoencoders: latent dimensions {list(LATENT_DIMS)} x {len(seeds)} seeds")
vc.checks.check_true("every run lowered its reconstruction nll (last epoch below the first)",
                     all(h.train["nll"][-1] < h.train["nll"][0] for h in histories.values()))


# %% [markdown]
# Each number below is the mean over seeds with the range [min, max] in brackets; this is how every
# trained-model number in this notebook is reported.

# %%
codes = {key: vc.latent.encode_dataset(model, x_train) for key, model in aes.items()}
for d in LATENT_DIMS:
    print(f"d = {d:>2}: training nll {spread([histories[d, s].final() for s in seeds])} nats/image")

# %% [markdown]
# ## 2. What the 2-D latent space looks like
#
# Each dot is the code of one training image, coloured by its digit. The dashed rectangle is the
# codes' bounding box: the region that "a uniform random point in the latent space" has to mean,
# since a latent space has no natural bounds of its own.

# %%
fig, axes = plt.subplots(1, len(seeds), figsize=(5.6 * len(seeds), 4.4), squeeze=False)
for ax, seed in zip(axes[0], seeds):
    vc.plotting.latent_scatter(codes[small, seed], labels_train, ax=ax, title=f"{small}-D AE codes, seed {seed}")
    low, high = vc.latent.bounding_box(codes[small, seed])
    ax.add_patch(plt.Rectangle(low.tolist(), *(high - low).tolist(), fill=False, linestyle="--"))
fig.tight_layout()

# %% [markdown]
# The codes are far from structureless: digits form clusters, similar digits sit side by side. What
# the AE does not give is a *distribution* to draw codes from. The clusters have arbitrary shapes,
# scale and position (compare the two seeds), and the box around them has empty corners and gaps.
#
# ## 3. Decoding uniform samples from the bounding box
#
# Question 1a's experiment, in three lines per model: the box, uniform draws in it, and the decoder
# mean of each draw (the image one shows; sampling Bernoulli pixels would only add speckle). The
# homework also mentions drawing random points "in the data space"; that is uniform pixel noise.
#
# For each decoder we also decode the codes of the *held-out* digits. These reconstructions are what
# the decoder makes of codes that real images produce: the best that any way of choosing codes can
# hope for with this decoder.

# %%
samples = {}
for seed in seeds:
    generator = torch.Generator().manual_seed(seed)
    for d in (small, large):
        low, high = vc.latent.bounding_box(codes[d, seed])
        z_box = vc.latent.sample_box(low, high, NUM_SAMPLES, generator=generator)
        samples[d, seed, "box"] = vc.latent.decode_mean(aes[d, seed], z_box)
        z_test = vc.latent.encode_dataset(aes[d, seed], x_test)
        samples[d, seed, "test reconstructions"] = vc.latent.decode_mean(aes[d, seed], z_test)
pixel_noise = torch.rand(NUM_SAMPLES, 1, 28, 28, generator=torch.Generator().manual_seed(SEED))

# %%
# NBVAL_CHECK_OUTPUT
box_images = vc.checks.check_shape(f"decoded {large}-D box samples", samples[large, SEED, "box"],
                                   (NUM_SAMPLES, 1, 28, 28))

# %%
fig, axes = plt.subplots(3, 1, figsize=(12, 2.6))
for ax, (images, title) in zip(axes, [(samples[small, SEED, "box"], f"{small}-D AE, uniform in the box"),
                                      (samples[large, SEED, "box"], f"{large}-D AE, uniform in the box"),
                                      (pixel_noise, "uniform pixel noise")]):
    vc.plotting.image_grid(images[:24], nrow=24, ax=ax, title=title)

# %% [markdown]
# Now the yardstick of notebook 00, once per seed. `sample_quality` adds the two reference rows:
# **real held-out digits** (the floor of the Fréchet distance: what a perfect generator scores) and
# **uniform noise**. Lower Fréchet distance is better. Confidence is shown because the homework's
# intuition is about "looking like a digit", but notebook 00 showed that noise earns plenty of it.

# %%
quality = {}
for seed in seeds:
    sets = {f"AE {d}-D, {kind}": samples[d, seed, kind] for d in (small, large)
            for kind in ("box", "test reconstructions")}
    quality[seed] = vc.evaluate.sample_quality(sets, reference=x_test, train_images=x_train, seed=seed)


# %%
def quality_table(rows_by_seed):
    """One line per image set: mean [min, max] over seeds of each column of sample_quality."""
    print(f"{'image set':<34} {'Frechet distance':>22} {'confidence':>22} {'NN distance':>20}")
    for i, row in enumerate(rows_by_seed[0]):
        per_seed = [rows[i] for rows in rows_by_seed]
        print(f"{row.name:<34} {spread([r.frechet_distance for r in per_seed]):>22} "
              f"{spread([r.confidence for r in per_seed], 3):>22} {spread([r.nn_distance for r in per_seed], 2):>20}")


def frechet(rows, name):
    return next(row.frechet_distance for row in rows if row.name == name)


quality_table([quality[s] for s in seeds])

# %% [markdown]
# What we expect, stated before the checks. The homework says box samples "cannot" look like the
# data. The weaker, correct claim is that how badly box sampling does depends on the dimension. So:
# (1) for every seed, decoded box samples are closer to real digits than pixel noise is (they are
# not noise); (2) for every seed, the price of sampling the box instead of encoding real digits,
# the ratio of the box row's Fréchet distance to the test reconstructions' row, is larger for the
# large AE than for the 2-D one.

# %%
# NBVAL_CHECK_OUTPUT
def box_penalty(rows, d):
    return frechet(rows, f"AE {d}-D, box") / frechet(rows, f"AE {d}-D, test reconstructions")


vc.checks.check_true("every seed: box samples are closer to real digits than pixel noise",
                     all(frechet(q, f"AE {d}-D, box") < frechet(q, "uniform noise")
                         for q in quality.values() for d in (small, large)))
vc.checks.check_true(f"every seed: sampling the box costs more (relative to reconstructions) in {large}-D than in "
                     f"{small}-D", all(box_penalty(q, large) > box_penalty(q, small) for q in quality.values()))

# %%
for d in (small, large):
    print(f"{d:>2}-D: Frechet(box) / Frechet(test reconstructions) = "
          f"{spread([box_penalty(quality[s], d) for s in seeds], 2)}")

# %% [markdown]
# Read the table in pairs, each box row next to the reconstruction row of the same decoder. In 2-D
# the decoder itself is the bottleneck: two numbers cannot hold a sharp digit, so even its
# reconstructions of real digits are far from the real-digit floor, and the box rows are in the same
# league (a box row may even score a little better than the reconstructions: the Fréchet distance
# compares statistics of whole sets, and the box's extreme corners decode to bolder strokes; no
# sampler escapes the 2-D decoder's blur). The large AE reconstructs held-out digits much better, and its box samples fall well short
# of that. The larger the latent space, the more it is the *choice of codes* that fails. The next
# section measures why.
#
# ## 4. How much of the box lies near data
#
# Take a uniform point of the bounding box. Call it "near data" when some code lies within one
# typical spacing of the data, the median distance from a code to its nearest other code. The
# fraction of such points is the share of the box that the data occupies. Both distances are in the
# same units, so the measure does not depend on how the codes are scaled, and a cloud that fills its
# box scores about one half in any dimension. Here are its key lines:

# %%
def occupancy(z, num_samples=2000, generator=None):
    """Fraction of the bounding box of the codes ``z`` (N, D) that lies within one typical spacing of a code."""
    spacing = torch.cdist(z, z).fill_diagonal_(float("inf")).min(dim=1).values.median()
    low, high = z.min(dim=0).values, z.max(dim=0).values
    points = low + (high - low) * torch.rand(num_samples, z.shape[1], generator=generator)
    nearest = torch.cdist(points, z).min(dim=1).values
    return (nearest <= spacing).double().mean().item()


# %% [markdown]
# The package's `vc.latent.box_occupancy` is the tested version of the same function; with the same
# random draws they must agree exactly.

# %%
# NBVAL_CHECK_OUTPUT
for d in LATENT_DIMS[:2]:
    vc.checks.check_close(f"notebook occupancy == vaecourse.latent.box_occupancy ({d}-D codes, same draws)",
                          occupancy(codes[d, SEED], generator=torch.Generator().manual_seed(0)),
                          vc.latent.box_occupancy(codes[d, SEED], num_samples=2000,
                                                  generator=torch.Generator().manual_seed(0)), rtol=0, atol=1e-12)

# %% [markdown]
# Now for every latent dimension and seed, next to a control: the same number of points drawn
# uniformly in a box of the same dimension, which fills its box by construction.

# %%
occupied = {(d, seed): vc.latent.box_occupancy(codes[d, seed], num_samples=2000,
                                               generator=torch.Generator().manual_seed(seed))
            for d in LATENT_DIMS for seed in seeds}
uniform_cloud = {d: vc.latent.box_occupancy(torch.rand(len(x_train), d, generator=torch.Generator().manual_seed(d)),
                                            num_samples=2000, generator=torch.Generator().manual_seed(SEED))
                 for d in LATENT_DIMS}
print(f"{'latent dim':>10} {'AE codes: share of box near data':>34} {'uniform cloud (control)':>25}")
for d in LATENT_DIMS:
    print(f"{d:>10} {spread([occupied[d, s] for s in seeds], 3):>34} {uniform_cloud[d]:>25.3f}")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.6))
for seed in seeds:
    ax.plot(LATENT_DIMS, [occupied[d, seed] for d in LATENT_DIMS], "o-", label=f"AE codes, seed {seed}")
ax.plot(LATENT_DIMS, [uniform_cloud[d] for d in LATENT_DIMS], "s--", color="grey", label="uniform cloud (control)")
ax.set_xscale("log", base=2)
ax.set_xticks(LATENT_DIMS, [str(d) for d in LATENT_DIMS])
ax.set_xlabel("latent dimension")
ax.set_ylabel("share of the box near data")
ax.set_ylim(0, 1)
ax.legend(fontsize="small")
ax.set_title("the data's share of its bounding box")
fig.tight_layout()

# %% [markdown]
# Expectations, stated before the check: for every seed the share falls from 2-D to the largest
# dimension; in the largest dimension, less than 5% of the box lies near data; and the control
# stays above 0.3 in every dimension, so what collapses is the AE's codes, not the measure.

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true(f"every seed: the share of the box near data falls from {small}-D to {large}-D",
                     all(occupied[large, s] < occupied[small, s] for s in seeds))
vc.checks.check_true(f"every seed: less than 5% of the {large}-D box lies near data",
                     all(occupied[large, s] < 0.05 for s in seeds))
vc.checks.check_true("the uniform control fills more than 0.3 of its box in every dimension",
                     all(value > 0.3 for value in uniform_cloud.values()))

# %% [markdown]
# This is the geometry behind section 3. The codes live on a thin, curved, clustered set. In 2
# dimensions that set still covers a visible part of its box; in the largest dimension, the box
# around it is almost all empty corners, and nearly every uniform draw lands where the decoder
# never saw a code. The decoder
# still outputs *something* there (an extrapolation, often a blurry blend of strokes), which is why
# the box samples score better than noise but far worse than the decoder can do.
#
# ## 5. The homework's other claims, measured
#
# ### 5a. Does AE reconstruction generalise?
#
# The homework says AEs "can effectively reconstruct points already present in the dataset, [but]
# fail to generalize beyond this". If that were so, held-out digits would be reconstructed little
# better than by a model that ignores its input. The baseline here is that model: every pixel gets
# the training set's mean intensity as its Bernoulli probability, scored with the same summed
# cross-entropy. The check, decided in advance: for every latent dimension and seed, the test nll is
# closer to the training nll than to the baseline.

# %%
mean_image = x_train.mean(dim=0).clamp(1e-4, 1 - 1e-4)
p_x_baseline = vc.models.BernoulliLikelihood()(torch.logit(mean_image).expand_as(x_test))
baseline_nll = -p_x_baseline.log_prob(x_test).mean().item()
reconstruction = {key: (vc.train.evaluate_terms(model, x_train)["nll"], vc.train.evaluate_terms(model, x_test)["nll"])
                  for key, model in aes.items()}  # (train nll, test nll) per (d, seed)
print(f"mean-image baseline on the test images: {baseline_nll:.1f} nats/image")
print(f"{'latent dim':>10} {'train nll':>22} {'test nll':>22}")
for d in LATENT_DIMS:
    train_nll, test_nll = zip(*(reconstruction[d, s] for s in seeds))
    print(f"{d:>10} {spread(train_nll):>22} {spread(test_nll):>22}")

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("every AE: test nll is closer to its training nll than to the mean-image baseline",
                     all(test - train < baseline_nll - test for train, test in reconstruction.values()))

# %% [markdown]
# ### 5b. A density fitted to the codes after training
#
# The box fails because it ignores where the codes are. The fix needs no new training: fit a density
# to the training codes and sample from it (*ex-post density estimation*, Ghosh et al. 2020). Here a
# 10-component Gaussian mixture, fitted by EM with scikit-learn.
#
# Expectation, stated before the check: for every seed, the mixture's samples from the large AE are
# closer to real digits than its box samples. And since a mixture could in principle just reproduce
# the training set, we also look at the nearest-neighbour column. Copies of training images score 0
# there; we require the mixture samples' mean distance to their nearest training image to be at least
# half that of real held-out digits.

# %%
for seed in seeds:
    for d in (small, large):
        mixture = vc.latent.fit_mixture(codes[d, seed], num_components=10, seed=seed)
        z_mixture = vc.latent.sample_fitted(mixture, NUM_SAMPLES, seed=seed)
        samples[d, seed, "mixture"] = vc.latent.decode_mean(aes[d, seed], z_mixture)
    mixture_sets = {f"AE {d}-D, mixture": samples[d, seed, "mixture"] for d in (small, large)}
    mixture_rows = vc.evaluate.sample_quality(mixture_sets, reference=x_test, train_images=x_train, seed=seed)
    quality[seed] += mixture_rows[2:]  # the same seed gives the same two reference rows: keep them once
quality_table([quality[s] for s in seeds])

# %%
# NBVAL_CHECK_OUTPUT
def nn_distance(rows, name):
    return next(row.nn_distance for row in rows if row.name == name)


vc.checks.check_true(f"every seed: {large}-D mixture samples are closer to real digits than {large}-D box samples",
                     all(frechet(q, f"AE {large}-D, mixture") < frechet(q, f"AE {large}-D, box")
                         for q in quality.values()))
vc.checks.check_true(f"every seed: {large}-D mixture samples are not copies "
                     "(NN distance at least half that of held-out digits)",
                     all(nn_distance(q, f"AE {large}-D, mixture") >= 0.5 * nn_distance(q, "real held-out digits")
                         for q in quality.values()))

# %%
fig, axes = plt.subplots(2, 1, figsize=(12, 1.8))
for ax, kind in zip(axes, ("box", "mixture")):
    vc.plotting.image_grid(samples[large, SEED, kind][:24], nrow=24, ax=ax, title=f"{large}-D AE, {kind} samples")

# %% [markdown]
# For the large AE, compare the mixture row with the box row above it and with the decoder's own
# reconstructions: the mixture closes much of the gap, with samples that are new digits rather than
# stored ones. In 2-D, compare the mixture row with the 2-D reconstruction row instead: no choice of
# codes can make up for a decoder that cannot draw a sharp digit.
#
# > **Common mistakes in the homework's answer to Q1a**
# >
# > - *"The latent space of AEs has no structure."* It has plenty: class clusters and neighbours
# >   that decode to similar digits (section 2, the scatter; section 6, the explorer). What it lacks
# >   is a known distribution to draw codes from.
# > - *"Randomly sampled points cannot generate realistic outputs."* Too strong, and it misses the
# >   mechanism. How badly the box does depends on the latent dimension: the data's share of the box
# >   collapses as d grows (section 4, the occupancy table and its check), and with it the box
# >   samples fall behind what the decoder can do (section 3, the ratio check).
# > - *"AEs reconstruct training points but fail to generalise beyond them."* Wrong: held-out
# >   reconstruction is close to training reconstruction and far better than the mean-image
# >   baseline (section 5a, its table and check). Generation fails for lack of a sampling
# >   distribution, not for lack of generalisation.
# > - *"Neither method [latent or data space] is likely to produce realistic samples."* Sampling
# >   the data space (uniform pixels) is hopeless, yes. Sampling the latent space well is easy once
# >   a density is fitted to the codes: the mixture beats the box and its samples are not copies
# >   (section 5b, its check cell).
#
# ## 6. Explore the 2-D latent space yourself
#
# First the whole box at a glance: the decoder applied to a regular grid of points spanning the
# 2-D AE's bounding box (top row: largest z2). Empty regions of the scatter in section 2 decode to
# blends and smudges.

# %%
low, high = vc.latent.bounding_box(codes[small, SEED])
z2_grid, z1_grid = torch.meshgrid(torch.linspace(high[1].item(), low[1].item(), 12),  # rows: z2 from high to low
                                  torch.linspace(low[0].item(), high[0].item(), 12), indexing="ij")
grid_codes = torch.stack([z1_grid, z2_grid], dim=-1).reshape(-1, 2)
fig = vc.plotting.image_grid(vc.latent.decode_mean(aes[small, SEED], grid_codes), nrow=12, scale=0.45,
                             title=f"{small}-D AE (seed {SEED}): decoded grid over the bounding box")

# %% [markdown]
# Then the explorer: move the two sliders to place a point (the black cross) in the latent space
# and see the digit the decoder makes of it, and the label of the nearest training code. It shows
# its starting point (the median code) without any interaction. With a live kernel, try a point
# inside a cluster, one between two clusters, and one in an empty corner of the box. (A stored copy
# of this notebook keeps no widget state: opened without running it, the cell shows only a line of
# text until it is run.)

# %%
explorer = vc.widgets.latent_explorer(aes[small, SEED], codes[small, SEED], labels_train)
explorer

# %% [markdown]
# ## Summary
#
# The numbers below were measured in this run: mean over seeds, [min, max] in brackets.

# %%
rows = {row.name: i for i, row in enumerate(quality[SEED])}
summary = {"seeds per comparison, epochs per AE": f"{len(seeds)}, {epochs}"}
for d in LATENT_DIMS:
    summary[f"share of the {d}-D box near data"] = spread([occupied[d, s] for s in seeds], 3)
for d in (small, large):
    summary[f"{d}-D AE nll train / test (nats)"] = (f"{spread([reconstruction[d, s][0] for s in seeds])} / "
                                                   f"{spread([reconstruction[d, s][1] for s in seeds])}")
summary["mean-image baseline nll, test (nats)"] = f"{baseline_nll:.1f}"
for name in ["real held-out digits", "uniform noise"] + [f"AE {d}-D, {kind}" for d in (small, large)
                                                         for kind in ("test reconstructions", "box", "mixture")]:
    summary[f"Frechet distance: {name}"] = spread([quality[s][rows[name]].frechet_distance for s in seeds])
summary[f"NN distance: {large}-D mixture / held-out digits"] = (
    f"{spread([nn_distance(quality[s], f'AE {large}-D, mixture') for s in seeds], 2)} / "
    f"{spread([nn_distance(quality[s], 'real held-out digits') for s in seeds], 2)}")
for key, value in summary.items():
    print(f"{key:<52} {value}")

# %% [markdown]
# **What to take away.** A plain autoencoder learns a structured latent space, and it reconstructs
# digits it has never seen almost as well as its training digits. What it does not learn is a
# distribution over codes. Sampling the bounding box stands in for one, and that stand-in gets worse
# quickly with the latent dimension: the codes occupy a vanishing share of their box, so most draws
# land where the decoder was never trained. In 2-D the box is tolerable, but a 2-D decoder draws
# poor digits anyway. In higher dimensions the decoder is good and the box is the problem. The cure
# is to sample where the codes are: a Gaussian mixture fitted to the codes after training gives
# digit-like samples that are not copies of the training set. A VAE (notebook 02) and a noisy AE
# (notebook 03) try to build such a distribution into training instead.
#
# **Try it**
# 1. Add 32 to `LATENT_DIMS`. Does the share of the box near data fall further, and does the box
#    row of the large AE get worse or better on the yardstick?
# 2. Replace the box by a single Gaussian fitted to the codes (`vc.latent.fit_gaussian`). Where does
#    it land between the box and the 10-component mixture?
# 3. In the explorer, find a point between two clusters. Which digits does the decoder blend, and
#    does the label of the nearest code predict what you see?
# 4. Set `BUDGET = "full"`: which numbers of the summary move most with longer training?
#
# **References.** Ghosh, Sajjadi, Vergari, Black and Schölkopf 2020, *From variational to
# deterministic autoencoders* (ex-post density estimation); Hinton and Salakhutdinov 2006,
# *Reducing the dimensionality of data with neural networks*; Heusel et al. 2017 (the Fréchet
# distance, in its Inception form); Kingma and Welling 2014, *Auto-encoding variational Bayes*
# (notebook 02).
