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
# # 01 · Can a plain AE be sampled?
#
# Homework question 1a: train an autoencoder, pick a point uniformly at random in its latent space,
# decode it. Does the result look like the data? The homework answers "no": the latent space has no
# structure, an AE "fails to generalise" beyond its training points, and neither the latent space nor
# the data space can be sampled. A VAE, it says in 1b, can. This notebook runs the experiment and
# measures each part of that answer.
#
# Every AE is trained next to a VAE of the same size, on the same data, for the same time. The VAE is
# the control: whatever is measured on the AE is measured on the VAE too, so that the notebook can
# tell what is specific to the plain AE and what is not.
#
# **Learning goals**
# - train autoencoders with a 2-D latent (to look at) and larger ones, and read a latent scatter;
# - decode uniform samples from the codes' bounding box, samples of a density fitted to the codes,
#   and a VAE's prior samples, and score all of them on every measure of the yardstick of notebook 00;
# - measure how well a sampler matches the codes (the share of its draws that land near them), and
#   separate what is geometry (any cloud in a high-dimensional box) from what is the AE's;
# - settle the homework's claims with numbers, the central checks shown failing on a wrong input.
#
# **Prerequisites:** notebook 00 (data, `fit`, the yardstick: Fréchet distance, density, coverage,
# classes, nearest-neighbour distance). The VAE is used as a black box here; notebook 02 opens it.
# **Budget:** runs in at most 60 s on 2 CPU cores (see `benchmarks/`).

# %% tags=["parameters"]
SEED = 0
DEVICE = "auto"
BUDGET = "ci"  # "ci": the short run that CI executes; "full": longer training, better numbers
LATENT_DIMS = (2, 8, 16)  # the first is plotted; the last is "the larger AE"
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
# The embedded MNIST subset of notebook 00: 4,000 training and 1,000 held-out images in `[0, 1]`. For
# each seed the held-out images are split into two disjoint halves: the **reference** every sample set
# is compared with, and the **source** of anything built from held-out digits (reconstructions, the
# "real digits" row). No set is ever compared with the images it was made from.

# %%
x_train, labels_train = vc.data.load_mnist(split="train")
x_test, labels_test = vc.data.load_mnist(split="test")
seeds = [SEED + k for k in range(NUM_SEEDS)]
held_out = {seed: vc.yardstick.split_held_out(x_test, num_images=NUM_SAMPLES, seed=seed) for seed in seeds}

# %%
# NBVAL_CHECK_OUTPUT
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, classes {sorted(set(labels_train.tolist()))}")
print(f"per seed: reference {tuple(held_out[SEED][0].shape)}, source {tuple(held_out[SEED][1].shape)}")

# %% [markdown]
# ## 1. An AE and a VAE at three latent sizes
#
# A plain autoencoder: an encoder `z = f(x)` (784 → 400 → d, deterministic) and a decoder that turns
# `z` into Bernoulli pixel probabilities (d → 400 → 784). The loss is the reconstruction negative
# log-likelihood `nll = -log p(x | f(x))`, the binary cross-entropy summed over pixels, in nats per
# image. Nothing in the loss says anything about *where* the codes should lie.
#
# The VAE has the same layers, but its encoder gives a Gaussian over codes and its loss adds the KL
# divergence of that Gaussian from N(0, I): a term that pulls the codes toward a distribution we can
# sample. Here we only use what it is sold for: its codes, and its prior samples.
#
# One AE and one VAE per latent dimension in `LATENT_DIMS` and per seed: the 2-D ones we can plot,
# the largest one is the realistic case, the one in between traces how things change with d.

# %%
epochs = {"ci": 10, "full": 50}[BUDGET]  # 12 models: the CI budget allows 10 epochs each
small, large = min(LATENT_DIMS), max(LATENT_DIMS)
MODEL_CLASSES = {"AE": vc.models.AE, "VAE": vc.models.VAE}
models, histories = {}, {}
for d in LATENT_DIMS:
    for seed in seeds:
        for kind, model_class in MODEL_CLASSES.items():
            torch.manual_seed(seed)
            models[kind, d, seed] = model_class(latent_dim=d, hidden=(400,))
            histories[kind, d, seed] = vc.train.fit(models[kind, d, seed], x_train, epochs=epochs, seed=seed,
                                                    device=device)

# %%
# NBVAL_CHECK_OUTPUT
print(f"trained {len(models)} models: AE and VAE x latent dimensions {list(LATENT_DIMS)} x {len(seeds)} seeds")
vc.checks.check_true("every run lowered its objective (last epoch below the first)",
                     all(h.train[h.objective][-1] < h.train[h.objective][0] for h in histories.values()),
                     kind="evidence")

# %% [markdown]
# Each number below is the mean over seeds with the range [min, max] in brackets; this is how every
# trained-model number in this notebook is reported.

# %%
codes = {key: vc.latent.encode_dataset(model, x_train) for key, model in models.items()}  # VAE: posterior means
for d in LATENT_DIMS:
    print(f"d = {d:>2}: training objective AE (nll) {spread([histories['AE', d, s].final() for s in seeds])}, "
          f"VAE (nll + kl) {spread([histories['VAE', d, s].final() for s in seeds])} nats/image")

# %% [markdown]
# ## 2. What the latent space looks like, and the homework's "no structure"
#
# Each dot is the code of one training image, coloured by its digit; the dashed rectangle is the
# codes' bounding box, the region that "a uniform random point in the latent space" has to mean, since
# a latent space has no natural bounds of its own. The last panel is the VAE's posterior means.

# %% mystnb={"image": {"alt": "Three scatter plots of the 2-D codes of the training images, axes z1 and z2, coloured by digit label: AE codes for seed 0, AE codes for seed 1, and VAE codes (posterior means) for seed 0; a dashed rectangle marks each cloud's bounding box."}}
fig, axes = plt.subplots(1, len(seeds) + 1, figsize=(5.2 * (len(seeds) + 1), 4.2), squeeze=False)
for ax, (kind, seed) in zip(axes[0], [("AE", s) for s in seeds] + [("VAE", SEED)]):
    vc.plotting.latent_scatter(codes[kind, small, seed], labels_train, ax=ax,
                               title=f"{small}-D {kind} codes, seed {seed}")
    low, high = vc.latent.bounding_box(codes[kind, small, seed])
    ax.add_patch(plt.Rectangle(low.tolist(), *(high - low).tolist(), fill=False, linestyle="--"))
fig.tight_layout()

# %% [markdown]
# The homework (1a) says the AE's latent space "does not have an explicit structure" and "is not
# constrained to follow any specific distribution". Two separate claims, two measurements:
#
# - **Structure.** If codes carried no structure, a held-out digit's nearest training codes would not
#   predict its class. We classify each held-out code by the majority label of its 5 nearest training
#   codes. Prediction: more than 80% right in the largest dimension (chance is 10%).
# - **No distribution.** We fit a Gaussian to the codes and measure its KL divergence from N(0, I).
#   Prediction: more than 5 nats for every AE, while the VAE's codes, which its KL term pulls toward
#   N(0, I), stay below that. Run on the VAE's codes, the AE's check must fail.

# %%
def knn_accuracy(train_codes, test_codes, train_labels, k=5):
    """Share of held-out codes whose k nearest training codes vote for their true class."""
    nearest = torch.cdist(test_codes, train_codes).topk(k, largest=False).indices
    return (torch.mode(train_labels[nearest], dim=1).values == labels_test).double().mean().item()


def kl_from_standard_normal(z):
    """KL(N(m, C) || N(0, I)) of the Gaussian fitted to codes ``z``, in nats (closed form, float64)."""
    z = z.double()
    mean, cov = z.mean(dim=0), torch.cov(z.T).reshape(z.shape[1], z.shape[1])
    return 0.5 * (torch.trace(cov) + mean @ mean - z.shape[1] - torch.logdet(cov)).item()


test_codes = {key: vc.latent.encode_dataset(model, x_test) for key, model in models.items()}
knn = {key: knn_accuracy(codes[key], test_codes[key], labels_train) for key in models}
kl_to_prior = {key: kl_from_standard_normal(codes[key]) for key in models}
print(f"{'codes':<10}" + "".join(f"{f'5-NN accuracy, {kind}':>24}" for kind in MODEL_CLASSES)
      + "".join(f"{f'KL(fit || N(0, I)), {kind}':>26}" for kind in MODEL_CLASSES))
for d in LATENT_DIMS:
    print(f"{f'{d}-D':<10}" + "".join(f"{spread([knn[kind, d, s] for s in seeds], 3):>24}" for kind in MODEL_CLASSES)
          + "".join(f"{spread([kl_to_prior[kind, d, s] for s in seeds]):>26}" for kind in MODEL_CLASSES))

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true(f"every seed: {large}-D AE codes predict the class of held-out digits (5-NN) above 80%",
                     all(knn["AE", large, s] > 0.8 for s in seeds), kind="evidence", settles=("C1",))
with vc.checks.negative_control("the same codes with shuffled training labels"):
    shuffled = labels_train[torch.randperm(len(labels_train), generator=torch.Generator().manual_seed(SEED))]
    vc.checks.check_true(f"every seed: {large}-D AE codes predict the class of held-out digits (5-NN) above 80%",
                         all(knn_accuracy(codes["AE", large, s], test_codes["AE", large, s], shuffled) > 0.8
                             for s in seeds), kind="evidence", settles=("C1",))


def far_from_standard_normal(kind):
    vc.checks.check_true("every seed and dimension: the Gaussian fitted to the codes is more than 5 nats from N(0, I)",
                         all(kl_to_prior[kind, d, s] > 5 for d in LATENT_DIMS for s in seeds),
                         kind="evidence", settles=("C1",), control=True)


far_from_standard_normal("AE")
with vc.checks.negative_control("the VAE's codes"):
    far_from_standard_normal("VAE")

# %% [markdown]
# So the first half of the homework's sentence is wrong and the second is right. The codes are far
# from structureless: digits form clusters, and a code's neighbours predict its class (and more so
# as d grows). What the AE does not give is a distribution: its codes sit far from N(0, I), in a
# position and scale nothing in its loss chose (compare the two seeds' scatters). The VAE's codes
# stay far closer to the distribution its prior names, though not always within our 5-nat guess:
# read the VAE column of the table for the largest dimension. The check's negative control only needs
# the VAE's codes to fail the AE's check somewhere, and they do.
#
# ## 3. Five ways to choose codes, on every measure
#
# For each model we decode codes chosen five ways (always through the decoder mean; sampling
# Bernoulli pixels would only add speckle):
#
# - **AE, box**: uniform in the codes' bounding box (question 1a's experiment);
# - **AE, Gaussian fit** and **AE, mixture fit**: a Gaussian, or a 10-component Gaussian mixture
#   fitted to the training codes after training (*ex-post density estimation*, Ghosh et al. 2020);
# - **VAE, prior**: z ~ N(0, I), the VAE's own sampler;
# - **VAE, box**: uniform in the bounding box of the VAE's codes, the AE's sampler applied to the VAE
#   (is the box bad for any model, or only for the AE?);
# - **VAE, mixture fit**: the same ex-post mixture, on the VAE's codes;
# - **test reconstructions** (AE and VAE): the codes of source digits, decoded. This is what each
#   decoder makes of codes that real images produce: a reference for each decoder, not a ceiling (a
#   sampler can beat it on some measures, as the table shows).
#
# The homework's "random points of the data space" are the **uniform noise** row that the yardstick
# adds by itself.

# %%
SAMPLERS = ["AE, box", "AE, Gaussian fit", "AE, mixture fit", "AE, test reconstructions",
            "VAE, prior", "VAE, box", "VAE, mixture fit", "VAE, test reconstructions"]
latent_draws, samples = {}, {}  # (d, seed, sampler) -> codes / decoded images
for seed in seeds:
    generator = torch.Generator().manual_seed(seed)
    source = held_out[seed][1]
    for d in (small, large):
        ae_codes, vae_codes = codes["AE", d, seed], codes["VAE", d, seed]
        draws = {"AE, box": vc.latent.sample_box(*vc.latent.bounding_box(ae_codes), NUM_SAMPLES, generator=generator),
                 "AE, Gaussian fit": vc.latent.sample_fitted(vc.latent.fit_gaussian(ae_codes), NUM_SAMPLES, seed=seed),
                 "AE, mixture fit": vc.latent.sample_fitted(vc.latent.fit_mixture(ae_codes, seed=seed), NUM_SAMPLES,
                                                            seed=seed),
                 "AE, test reconstructions": vc.latent.encode_dataset(models["AE", d, seed], source),
                 "VAE, prior": torch.randn(NUM_SAMPLES, d, generator=generator),
                 "VAE, box": vc.latent.sample_box(*vc.latent.bounding_box(vae_codes), NUM_SAMPLES, generator=generator),
                 "VAE, mixture fit": vc.latent.sample_fitted(vc.latent.fit_mixture(vae_codes, seed=seed), NUM_SAMPLES,
                                                             seed=seed),
                 "VAE, test reconstructions": vc.latent.encode_dataset(models["VAE", d, seed], source)}
        for sampler, z in draws.items():
            latent_draws[d, seed, sampler] = z
            samples[d, seed, sampler] = vc.latent.decode_mean(models[sampler.split(",")[0], d, seed], z)

# %%
# NBVAL_CHECK_OUTPUT
_ = vc.checks.check_shape(f"decoded {large}-D box samples", samples[large, SEED, "AE, box"], (NUM_SAMPLES, 1, 28, 28),
                          kind="consistency")

# %% mystnb={"image": {"alt": "Nine rows of twelve images titled 'seed 0: the first 12 images of each set': 16-D AE box, Gaussian fit, mixture fit and test reconstructions; 16-D VAE prior, box, mixture fit and test reconstructions; then uniform pixel noise."}}
fig = vc.plotting.strip(torch.stack([samples[large, SEED, sampler][:12] for sampler in SAMPLERS]
                                    + [torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(SEED))]),
                        row_labels=[f"{large}-D {sampler}" for sampler in SAMPLERS] + ["uniform pixel noise"],
                        title=f"seed {SEED}: the first 12 images of each set")

# %% [markdown]
# Now every set on every measure, for each seed (the yardstick of notebook 00). Lower Fréchet is
# better. Density near 1 means digit-like images (fidelity), coverage near the real digits' means
# varied ones. Classes counts the digits that make up at least 5% of the set. NN distance is the
# Euclidean distance over the 784 pixels (values in [0, 1]) to the nearest training image.

# %%
quality = {}  # (set name, seed) -> QualityRow
for seed in seeds:
    reference, source = held_out[seed]
    sets = {f"{d}-D {sampler}": samples[d, seed, sampler] for d in (small, large) for sampler in SAMPLERS}
    for row in vc.yardstick.sample_quality(sets, reference=reference, real=source, train_images=x_train, seed=seed):
        quality[row.name, seed] = row
SET_NAMES = list(dict.fromkeys(name for name, _ in quality))


def measure(name, field):
    """``field`` of the quality row of set ``name``, one value per seed."""
    return [getattr(quality[name, s], field) for s in seeds]


COLUMNS = {"frechet_distance": ("Frechet", 1), "density": ("density", 2), "coverage": ("coverage", 2),
           "classes": ("classes", 1), "nn_distance": ("NN dist.", 2)}
print(f"{'image set':<30}" + "".join(f"{label:>20}" for label, _ in COLUMNS.values()))
for name in SET_NAMES:
    print(f"{name:<30}" + "".join(f"{spread(measure(name, field), digits):>20}" for field, (_, digits) in COLUMNS.items()))
print(f"mean [min, max] over {len(seeds)} seeds")

# %% [markdown]
# What we expect, stated before the checks. In the largest dimension:
#
# 1. box samples are not noise: they score a lower Fréchet distance than uniform pixels (a weak
#    check: nearly any decoder output passes it; the next one has teeth);
# 2. but they are poor digits: their density is below half the real digits' (fidelity); run on the
#    mixture samples, this check must fail;
# 3. a density fitted to the codes fixes it: the AE's mixture samples have density and coverage above
#    0.7, like real digits (homework: "neither method is likely to produce realistic samples"); run
#    on the box samples, this check must fail;
# 4. the price of the box grows with dimension: the ratio of the box's Fréchet distance to its own
#    decoder's reconstructions is larger in the largest dimension than in 2-D.

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true(f"every seed: {large}-D box samples score a lower Frechet distance than uniform pixel noise",
                     all(b < n for b, n in zip(measure(f"{large}-D AE, box", "frechet_distance"),
                                               measure("uniform noise", "frechet_distance"))),
                     kind="evidence")


def poor_fidelity(name):
    vc.checks.check_true("every seed: the set's density is below half the real digits' (poor fidelity)",
                         all(d < 0.5 * r for d, r in zip(measure(name, "density"),
                                                         measure("real held-out digits", "density"))),
                         kind="evidence", settles=("C2",), control=True)


def digit_like_and_varied(name):
    vc.checks.check_true("every seed: density and coverage both above 0.7 (digit-like and varied)",
                         all(d > 0.7 and c > 0.7 for d, c in zip(measure(name, "density"), measure(name, "coverage"))),
                         kind="evidence", settles=("C5",), control=True)


poor_fidelity(f"{large}-D AE, box")
with vc.checks.negative_control(f"the {large}-D AE's mixture samples"):
    poor_fidelity(f"{large}-D AE, mixture fit")
digit_like_and_varied(f"{large}-D AE, mixture fit")
with vc.checks.negative_control(f"the {large}-D AE's box samples"):
    digit_like_and_varied(f"{large}-D AE, box")


def box_penalty(d):
    return [b / r for b, r in zip(measure(f"{d}-D AE, box", "frechet_distance"),
                                  measure(f"{d}-D AE, test reconstructions", "frechet_distance"))]


vc.checks.check_true(f"every seed: the box costs more, relative to reconstructions, in {large}-D than in {small}-D",
                     all(p_large > p_small for p_large, p_small in zip(box_penalty(large), box_penalty(small))),
                     kind="evidence", settles=("C2",))

# %%
for d in (small, large):
    print(f"{d:>2}-D: Frechet(box) / Frechet(test reconstructions) = {spread(box_penalty(d), 2)}")

# %% [markdown]
# ### The homework's story against the yardstick
#
# The homework's story is "a plain AE cannot be sampled; a VAE can". Read the largest dimension's
# rows against it:
#
# - The AE's box samples are poor digits (density well below the real digits'), as the homework
#   says, but not noise. And they score *better* than the VAE's own prior samples on the Fréchet
#   distance and on coverage, and about as well on density (compare the rows). The yardstick says the
#   opposite of the story.
# - The AE with a fitted mixture is the best sampler in the table on the Fréchet distance and on
#   coverage, close to its own decoder's reconstructions; only the VAE's mixture samples have a
#   higher density. A plain AE *can* be sampled once a density is fitted to its codes, which costs
#   one call and no retraining.
# - The VAE is samplable by its prior, but its prior samples fall far behind the same VAE decoding
#   codes of real digits (its test reconstructions) or a mixture fitted to its own codes. Two things
#   contribute. Even on real codes the VAE's decoder scores a worse Fréchet distance than the AE's
#   (compare the two reconstruction rows; their density does not separate them), and its images are
#   greyer (the share of grey pixels is printed below). And its prior draws land where its codes are
#   not (section 4).
#
# - The box is not bad for every model. The VAE's box samples (uniform in the box of its posterior
#   means) beat the AE's box samples on density and coverage (their Fréchet distances differ by less
#   than the seed spread), and beat the VAE's own prior samples on all three. Both boxes
#   are almost empty of codes (section 4), so what differs is what the decoder makes of draws far from
#   any code. A plausible reason, not tested here: the VAE's decoder was trained on codes with noise
#   around them; notebook 03 finds a noisy AE's box samples denser (though not better on the
#   Fréchet distance or coverage) than a plain AE's.
#
# Checks of these four readings, every seed. The first one's wrong input is the AE decoding N(0, I)
# draws: a plain AE sampled without regard to where its codes are must not beat the VAE's prior.

# %%
# NBVAL_CHECK_OUTPUT
def below(a, b, field="frechet_distance"):
    return all(x < y for x, y in zip(measure(a, field), measure(b, field)))


def beats_vae_prior(ae_set):
    vc.checks.check_true(f"every seed: the AE set beats the {large}-D VAE's prior samples on the Frechet distance, "
                         "density and coverage", below(ae_set, f"{large}-D VAE, prior")
                         and all(a >= v for field in ("density", "coverage")
                                 for a, v in zip(measure(ae_set, field), measure(f"{large}-D VAE, prior", field))),
                         kind="evidence", settles=("C5", "C18"), control=True)


beats_vae_prior(f"{large}-D AE, mixture fit")
with vc.checks.negative_control(f"the {large}-D AE decoding N(0, I) draws (a sampler that ignores where its codes are)"):
    for s in seeds:
        z_standard = torch.randn(NUM_SAMPLES, large, generator=torch.Generator().manual_seed(s))
        quality[f"{large}-D AE, N(0, I)", s] = vc.yardstick.sample_quality(
            {"AE, N(0, I)": vc.latent.decode_mean(models["AE", large, s], z_standard)},
            reference=held_out[s][0], real=held_out[s][1], seed=s)[-1]
    beats_vae_prior(f"{large}-D AE, N(0, I)")
vc.checks.check_true(f"every seed, {large}-D: the AE's box samples score a lower Frechet distance than the VAE's prior "
                     "samples", below(f"{large}-D AE, box", f"{large}-D VAE, prior"), kind="evidence")
vc.checks.check_true(f"every seed, {large}-D: the VAE's test reconstructions score a higher Frechet distance than the "
                     "AE's",
                     below(f"{large}-D AE, test reconstructions", f"{large}-D VAE, test reconstructions"),
                     kind="evidence", settles=("C18",))
vc.checks.check_true(f"every seed, {large}-D: the VAE's box samples beat the AE's box samples on density and coverage",
                     all(v > a for field in ("density", "coverage")
                         for v, a in zip(measure(f"{large}-D VAE, box", field), measure(f"{large}-D AE, box", field))),
                     kind="evidence")
vc.checks.check_true(f"every seed, {large}-D: the VAE's box samples beat the VAE's prior samples on the Frechet "
                     "distance, density and coverage",
                     below(f"{large}-D VAE, box", f"{large}-D VAE, prior")
                     and all(b > p for field in ("density", "coverage")
                             for b, p in zip(measure(f"{large}-D VAE, box", field),
                                             measure(f"{large}-D VAE, prior", field))), kind="evidence")
vc.checks.check_true(f"every seed, {large}-D: a mixture fitted to the VAE's codes beats the VAE's prior",
                     below(f"{large}-D VAE, mixture fit", f"{large}-D VAE, prior"), kind="evidence")

# %%
def grey_share(images):
    """Share of pixels strictly between 0.1 and 0.9: blur shows up as grey."""
    return ((images > 0.1) & (images < 0.9)).double().mean().item()


print(f"share of grey pixels (0.1 < p < 0.9): real held-out digits {grey_share(held_out[SEED][1]):.2f}; "
      + "; ".join(f"{large}-D {sampler} {spread([grey_share(samples[large, s, sampler]) for s in seeds], 2)}"
                  for sampler in ("AE, test reconstructions", "VAE, test reconstructions", "AE, mixture fit",
                                  "VAE, prior")))

# %% [markdown]
# In 2-D the picture is different, and the table says why: every 2-D row, the reconstructions
# included, is far from the real digits. Two numbers cannot hold a sharp digit, so the decoder
# itself is the bottleneck, and no choice of codes escapes it. (The 2-D box even scores better than
# the 2-D reconstructions, with a higher density and coverage and no more classes: in 2-D the box is
# not the problem. Why its images score better than the decoder's own reconstructions is not measured
# here; see "Try it".) The larger the latent space, the better the decoder, and the more it is the *choice
# of codes* that decides.
#
# ## 4. Does the sampler put its draws where the codes are?
#
# The table says which samplers work; this section measures one part of why, in the latent space
# itself: whether a sampler's draws land where the codes are. Take a
# draw of a sampler and call it "near data" when some training code lies within the codes' typical
# spacing (the median distance from a code to its nearest other code). The share of draws near data
# (`vc.latent.near_data_share`) is about one half for a sampler whose draws are distributed like the
# codes, in any dimension (we check it on held-out codes), and near 0 for a sampler that puts its
# mass where there are no codes. For the box it is the share of the box that the data occupies.
#
# Here are its key lines:

# %%
def near_data_share(z, draws):
    """Share of ``draws`` within the typical spacing of the codes ``z`` (N, D) of some code."""
    spacing = torch.cdist(z, z).fill_diagonal_(float("inf")).min(dim=1).values.median()
    return (torch.cdist(draws, z).min(dim=1).values <= spacing).double().mean().item()


# %% [markdown]
# The package's `vc.latent.near_data_share` is the tested version of the same function (a
# consistency check, not evidence: the same formula twice).

# %%
# NBVAL_CHECK_OUTPUT
_ = vc.checks.check_close("notebook near_data_share == vaecourse.latent.near_data_share (16-D AE, box draws)",
                          near_data_share(codes["AE", large, SEED], latent_draws[large, SEED, "AE, box"]),
                          vc.latent.near_data_share(codes["AE", large, SEED], latent_draws[large, SEED, "AE, box"]),
                          rtol=0, atol=1e-12, kind="consistency")

# %% [markdown]
# Now every dimension and seed. Next to the AE's codes, two controls: the VAE's codes (posterior
# means) and a cloud of as many points drawn from N(0, I), each with uniform draws in its own box.
# Then the samplers of section 3 against the codes they sample.

# %%
share = {}  # (row, d, seed) -> share of draws near data
for d in LATENT_DIMS:
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        gaussian_cloud = torch.randn(len(x_train), d, generator=generator)
        for name, z in [("AE codes", codes["AE", d, seed]), ("VAE codes", codes["VAE", d, seed]),
                        ("N(0, I) cloud (control)", gaussian_cloud)]:
            share[f"{name}: box", d, seed] = vc.latent.box_occupancy(z, num_samples=2000, generator=generator)
        share["AE codes: held-out codes", d, seed] = vc.latent.near_data_share(codes["AE", d, seed],
                                                                              test_codes["AE", d, seed])
        share["N(0, I) cloud: N(0, I) draws", d, seed] = vc.latent.near_data_share(
            gaussian_cloud, torch.randn(2000, d, generator=generator))
        share["VAE codes: prior draws", d, seed] = vc.latent.near_data_share(
            codes["VAE", d, seed], torch.randn(2000, d, generator=generator))
for d in (small, large):
    for seed in seeds:
        for sampler in ("AE, Gaussian fit", "AE, mixture fit"):
            share[f"AE codes: {sampler.split(', ')[1]}", d, seed] = vc.latent.near_data_share(
                codes["AE", d, seed], latent_draws[d, seed, sampler])
SHARE_ROWS = list(dict.fromkeys(row for row, _, _ in share))
print(f"{'codes: draws':<34}" + "".join(f"{f'{d}-D':>22}" for d in LATENT_DIMS))
for row in SHARE_ROWS:
    print(f"{row:<34}" + "".join(f"{spread([share[row, d, s] for s in seeds], 3) if (row, d, SEED) in share else '':>22}"
                                 for d in LATENT_DIMS))

# %% mystnb={"image": {"alt": "Line plot titled 'does the sampler put its draws where the codes are?': share of draws near data against latent dimension 2, 8 and 16 for box draws on AE codes, VAE codes and an N(0, I) cloud, VAE prior draws and AE held-out codes; only the held-out line stays near 0.5."}}
fig, ax = plt.subplots(figsize=(6.0, 3.8))
for row, style in [("AE codes: box", "o-"), ("VAE codes: box", "^-"), ("N(0, I) cloud (control): box", "s--"),
                   ("VAE codes: prior draws", "v:"), ("AE codes: held-out codes", "d-.")]:
    ax.plot(LATENT_DIMS, [np.mean([share[row, d, s] for s in seeds]) for d in LATENT_DIMS], style, label=row)
ax.set_xscale("log", base=2)
ax.set_xticks(LATENT_DIMS, [str(d) for d in LATENT_DIMS])
ax.set_xlabel("latent dimension")
ax.set_ylabel("share of draws near data")
ax.set_ylim(0, 0.7)
ax.legend(fontsize="small")
ax.set_title("does the sampler put its draws where the codes are?")
fig.tight_layout()

# %% [markdown]
# Expectations, stated before the checks, for every seed:
#
# 1. the measure is calibrated: held-out codes land near training codes between 40% and 60% of the
#    time in every dimension; box draws in the largest dimension must fail that;
# 2. the box collapse is geometry, not the AE: in the largest dimension less than 5% of the box lies
#    near data for the AE's codes, the VAE's codes *and* the N(0, I) cloud alike;
# 3. the VAE's prior does not put its draws where the VAE's posterior means are, in the largest
#    dimension: less than 5% of prior draws land near them.

# %%
# NBVAL_CHECK_OUTPUT
def calibrated(row):
    vc.checks.check_true("every seed and dimension: 40% to 60% of the draws land near data (a matched sampler)",
                         all(0.4 <= share[row, d, s] <= 0.6 for d in LATENT_DIMS for s in seeds),
                         kind="evidence", control=True)


calibrated("AE codes: held-out codes")
with vc.checks.negative_control("uniform draws in the AE codes' box"):
    calibrated("AE codes: box")
vc.checks.check_true(f"every seed, {large}-D: less than 5% of the box lies near data, for AE codes, VAE codes and an "
                     "N(0, I) cloud alike",
                     all(share[f"{name}: box", large, s] < 0.05 for s in seeds
                         for name in ("AE codes", "VAE codes", "N(0, I) cloud (control)")),
                     kind="evidence", settles=("C2",))
vc.checks.check_true(f"every seed, {large}-D: less than 5% of the VAE's prior draws land near its posterior means",
                     all(share["VAE codes: prior draws", large, s] < 0.05 for s in seeds),
                     kind="evidence")

# %% [markdown]
# This corrects a tempting reading of the box experiment, one this course itself used to make: that
# the box fails because the AE's codes are a pathological, thin set. The N(0, I) cloud, the most
# benign cloud there is, loses its box just as steeply: in 2-D it occupies less of its box than the
# AE's codes, in 8-D a few times more (both well under 1%), in 16-D nothing, like both models' codes
# (at 16-D the measure is at its floor and cannot rank them). The emptiness of a high-dimensional box
# is geometry. What happens in the empty space depends on the decoder: the VAE's box is as empty as
# the AE's, yet its box samples are better digits (section 3). What is specific to the plain AE is a
# decoder that does worse in that empty space (why is not measured here; its decoder, unlike the
# VAE's, never saw codes away from the data's), and no sampler better than the box. Fitting one
# is easy: the mixture puts a fair share of its draws near the codes.
#
# The measure does not explain everything in the table. The AE's Gaussian fit lands near its codes
# almost as rarely as the VAE's prior lands near the VAE's (both under 1% in 16-D), yet its samples
# score far better: a decoder is
# smooth enough between codes that "near a code" is not the only way to a digit. And note what is
# measured for the VAE: distance to posterior *means*. The VAE decodes codes drawn around those
# means, so its prior draws can still decode to digits (section 3 shows they do, blurrily);
# notebook 02 measures the holes of the whole aggregate posterior.
#
# ## 5. The homework's other claims, measured
#
# ### 5a. Does AE reconstruction generalise?
#
# The homework says AEs "can effectively reconstruct points already present in the dataset, [but]
# fail to generalize beyond this". If that were so, held-out digits would be reconstructed little
# better than by a model that ignores its input. The baseline is that model: every pixel gets the
# training set's mean intensity as its Bernoulli probability, scored with the same summed
# cross-entropy. The check, decided in advance: for every latent dimension and seed, the test nll is
# closer to the training nll than to the baseline. A model that really does "fail to generalise" must
# fail this check: a *memoriser*, which reconstructs any image as its nearest training image.

# %%
def bernoulli_nll(images, probabilities):
    """Summed binary cross-entropy per image, mean over images (nats)."""
    p_x = vc.models.BernoulliLikelihood()(torch.logit(probabilities.clamp(1e-4, 1 - 1e-4)))
    return -p_x.log_prob(images).mean().item()


baseline_nll = bernoulli_nll(x_test, x_train.mean(dim=0).expand_as(x_test))
reconstruction = {(d, s): (vc.train.evaluate_terms(models["AE", d, s], x_train)["nll"],
                           vc.train.evaluate_terms(models["AE", d, s], x_test)["nll"])
                  for d in LATENT_DIMS for s in seeds}  # (train nll, test nll) per (d, seed)
memoriser = (bernoulli_nll(x_train, x_train),
             bernoulli_nll(x_test, x_train[vc.yardstick.nearest_neighbour(x_test, x_train)[1]]))
print(f"mean-image baseline on the test images: {baseline_nll:.1f} nats/image")
print(f"{'model':>14} {'train nll':>22} {'test nll':>22}")
for d in LATENT_DIMS:
    train_nll, test_nll = zip(*(reconstruction[d, s] for s in seeds))
    print(f"{f'{d}-D AE':>14} {spread(train_nll):>22} {spread(test_nll):>22}")
print(f"{'memoriser':>14} {memoriser[0]:>22.1f} {memoriser[1]:>22.1f}")


# %%
# NBVAL_CHECK_OUTPUT
def generalises(train_and_test):
    vc.checks.check_true("test nll closer to the training nll than to the mean-image baseline, for every model",
                         all(test - train < baseline_nll - test for train, test in train_and_test),
                         kind="evidence", settles=("C4",), control=True)


generalises(reconstruction.values())
with vc.checks.negative_control("a memoriser (reconstructs each image as its nearest training image)"):
    generalises([memoriser])

# %% [markdown]
# ### 5b. Are the mixture's samples new digits?
#
# A fitted density could in principle just reproduce the training set. The nearest-neighbour column
# measures it, but against what? A decoder never reproduces an image exactly, so "NN distance above
# 0" proves nothing. The fair comparison is the same decoder on codes of digits it never saw: its
# reconstructions of held-out digits. The check: for every seed, the mixture samples lie at least as
# far from the training set as those reconstructions do (mean NN distance, within 3 standard errors).
# A generator that copies must fail it; we build one: the AE's own reconstructions of *training*
# images, decoded training codes.

# %%
nn_distances = {}  # (set, seed) -> per-image distance to the nearest training image
nn_indices = {}
for seed in seeds:
    nn_distances["decoded training images", seed] = vc.yardstick.nearest_neighbour_distance(
        vc.latent.decode_mean(models["AE", large, seed], codes["AE", large, seed][:NUM_SAMPLES]), x_train)
    for sampler in ("AE, mixture fit", "AE, test reconstructions"):
        nn_distances[sampler, seed], nn_indices[sampler, seed] = vc.yardstick.nearest_neighbour(
            samples[large, seed, sampler], x_train)
for name in ("AE, mixture fit", "AE, test reconstructions", "decoded training images"):
    print(f"{large}-D {name:<28} mean NN distance {spread([nn_distances[name, s].mean() for s in seeds], 2)}")


# %%
# NBVAL_CHECK_OUTPUT
def not_copies(name):
    def far_enough(seed):
        sample, held = nn_distances[name, seed], nn_distances["AE, test reconstructions", seed]
        stderr = (sample.var() / len(sample) + held.var() / len(held)).sqrt()
        return sample.mean() >= held.mean() - 3 * stderr

    vc.checks.check_true("every seed: as far from the training set as held-out reconstructions (mean NN distance, "
                         "within 3 standard errors)", all(far_enough(s) for s in seeds),
                         kind="evidence", settles=("C5",), control=True)


not_copies("AE, mixture fit")
with vc.checks.negative_control("decoded training images"):
    not_copies("decoded training images")

# %% [markdown]
# The picture: mixture samples (top) above their nearest training images (bottom).

# %% mystnb={"image": {"alt": "Two rows of twelve digits titled 'new digits, not copies: each sample beside its nearest training image': samples from a mixture fitted to the 16-D AE's codes on top, the nearest training image of each below."}}
first = slice(0, 12)
fig = vc.plotting.strip(torch.stack([samples[large, SEED, "AE, mixture fit"][first],
                                     x_train[nn_indices["AE, mixture fit", SEED][first]]]),
                        row_labels=[f"{large}-D AE, mixture samples", "nearest training image"],
                        title="new digits, not copies: each sample beside its nearest training image")

# %% [markdown]
# > **Common mistakes in the homework's answer to Q1a**
# >
# > - *"The latent space of AEs has no structure."* It has plenty: class clusters, and neighbours
# >   that predict the class (section 2, the 5-NN check). What it lacks is a known distribution to
# >   draw codes from (section 2, the KL check, which the VAE's codes fail).
# > - *"Randomly sampled points cannot generate realistic outputs."* Box samples are poor digits in
# >   high dimensions (section 3, the density check), but not noise. A high-dimensional box is almost
# >   empty for any cloud, an N(0, I) cloud included (section 4); how bad its samples are then depends
# >   on the decoder: the VAE's decoder renders the same kind of draws better (section 3).
# > - *"AEs reconstruct training points but fail to generalise beyond them."* Wrong: held-out
# >   reconstruction is close to training reconstruction and far better than the mean-image
# >   baseline, while a real memoriser fails the same check (section 5a). Generation fails for lack
# >   of a sampling distribution, not for lack of generalisation.
# > - *"Neither method [latent or data space] is likely to produce realistic samples."* Sampling the
# >   data space (uniform pixels) is hopeless, yes. Sampling the latent space well is easy once a
# >   density is fitted to the codes: the mixture samples are digit-like, varied and new (sections 3
# >   and 5b), and beat the VAE's prior samples at this scale.
#
# ## 6. Explore the 2-D latent space yourself
#
# First the whole box at a glance: the decoder applied to a regular grid of points spanning the 2-D
# AE's bounding box (top row: largest z2). Empty regions of the scatter in section 2 decode to blends
# and smudges. Notebook 02 draws the VAE's version of this picture, on a grid of prior quantiles.

# %% mystnb={"image": {"alt": "A 12 by 12 grid of decoded images titled '2-D AE (seed 0): decoded grid over the bounding box', z1 increasing to the right and z2 decreasing downwards; digits of a few classes, such as 7, 0, 1 and 8, blend into one another across the grid."}}
ae_small = models["AE", small, SEED]
low, high = vc.latent.bounding_box(codes["AE", small, SEED])
z2_grid, z1_grid = torch.meshgrid(torch.linspace(high[1].item(), low[1].item(), 12),  # rows: z2 from high to low
                                  torch.linspace(low[0].item(), high[0].item(), 12), indexing="ij")
grid_codes = torch.stack([z1_grid, z2_grid], dim=-1).reshape(-1, 2)
fig = vc.plotting.image_grid(vc.latent.decode_mean(ae_small, grid_codes), nrow=12, scale=0.45,
                             title=f"{small}-D AE (seed {SEED}): decoded grid over the bounding box")

# %% [markdown]
# Then the explorer: move the two sliders to place a point (the black cross) in the latent space and
# see the digit the decoder makes of it, and the label of the nearest training code. It shows its
# starting point (the median code) without any interaction. With a live kernel, try a point inside a
# cluster, one between two clusters, and one in an empty corner of the box. (A stored copy of this
# notebook keeps no widget state: opened without running it, the cell shows only a line of text until
# it is run.)

# %%
explorer = vc.widgets.latent_explorer(ae_small, codes["AE", small, SEED], labels_train)
explorer

# %% [markdown]
# ## Summary
#
# The numbers below were measured in this run: mean over seeds, [min, max] in brackets.

# %%
summary = {"seeds per comparison, epochs per model": f"{len(seeds)}, {epochs}",
           f"{large}-D 5-NN class accuracy, AE codes": spread([knn["AE", large, s] for s in seeds], 3),
           "KL(Gaussian fit || N(0,I)), AE / VAE codes, 2-D": (
               f"{spread([kl_to_prior['AE', small, s] for s in seeds])} / "
               f"{spread([kl_to_prior['VAE', small, s] for s in seeds])}")}
for name in ["real held-out digits", "uniform noise"] + [f"{large}-D {sampler}" for sampler in SAMPLERS]:
    summary[f"Frechet / density / coverage: {name}"] = " / ".join(
        spread(measure(name, field), digits) for field, digits in
        [("frechet_distance", 1), ("density", 2), ("coverage", 2)])
for row in ("AE codes: box", "N(0, I) cloud (control): box", "VAE codes: prior draws", "AE codes: held-out codes"):
    summary[f"share near data, {large}-D, {row}"] = spread([share[row, large, s] for s in seeds], 3)
summary[f"{large}-D AE nll train / test; baseline (nats)"] = (
    f"{spread([reconstruction[large, s][0] for s in seeds])} / {spread([reconstruction[large, s][1] for s in seeds])}"
    f"; {baseline_nll:.1f}")
for key, value in summary.items():
    print(f"{key:<66} {value}")

# %% [markdown]
# **What to take away.** A plain autoencoder learns a structured latent space, and it reconstructs
# digits it has never seen almost as well as its training digits. What it does not learn is a
# distribution over codes, and the homework's stand-in, the bounding box, gives poor digits in higher
# dimensions: most of a high-dimensional box is empty. That emptiness is geometry, shared by a
# Gaussian cloud and by a VAE's codes; what differs is the decoder: the AE's turns the empty box into
# poor digits, a VAE's does better on its own box (why, this notebook does not measure). Fit a density to the codes after
# training and the plain AE gives digit-like, varied, new samples: in 16-D, better than the VAE's
# prior samples on the Fréchet distance, density, coverage and classes alike. So "a plain AE cannot be sampled" is
# wrong as stated; "a plain AE comes without a sampler" is right. The VAE's advantage is a sampler
# built into training, not better samples: its prior samples pay for a blurrier decoder and for prior
# draws that miss its codes (notebook 02 measures both). Notebook 03 tries a third way, noise on the
# codes.
#
# **Try it**
# 1. Add 32 to `LATENT_DIMS`. Does the box fall further behind the mixture, and does the VAE's prior?
# 2. Replace the 10-component mixture by 50 components. Do the samples move closer to the training
#    set (the NN check of 5b)?
# 3. In the explorer, find a point between two clusters. Which digits does the decoder blend, and
#    does the label of the nearest code predict what you see?
# 4. In 2-D, look at the box samples next to the 2-D reconstructions (`vc.plotting.strip`). What do
#    the box's images have that the reconstructions lack, and which column of the table shows it?
# 5. Set `BUDGET = "full"` (50 epochs). Which conclusions of section 3 change with longer training?
#    This notebook measures the trade at the CI budget's epochs only (the summary prints how many).
#
# **References.** Ghosh, Sajjadi, Vergari, Black and Schölkopf 2020, *From variational to
# deterministic autoencoders* (ex-post density estimation; they report the same ordering on MNIST,
# CIFAR-10 and CelebA with Inception-based FIDs); Hinton and Salakhutdinov 2006, *Reducing the
# dimensionality of data with neural networks*; Heusel et al. 2017 (the Fréchet distance, in its
# Inception form); Naeem et al. 2020 (density and coverage); Kingma and Welling 2014, *Auto-encoding
# variational Bayes* (notebook 02).
