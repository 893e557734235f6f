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
# # 08 · β-VAE and disentanglement: what β changes, and what the metrics measure
#
# The homework (Q4) says that the β-VAE weights the KL term by β > 1 so that the model
# "prioritizes disentanglement", that this makes it "particularly effective at discovering
# disentangled latent factors", and that disentanglement metrics (MIG, the β-VAE metric, DCI) "help
# verify" interpretable latents and "guide hyperparameter tuning, such as selecting an optimal β".
# This notebook puts numbers on each claim. It defines the five common metrics precisely, runs them
# on codes whose answer we know, and finds where they disagree. Then it trains β-VAEs for three
# values of β and two seeds each on procedural dSprites and scores every model with every metric.
#
# **Learning goals**
# - write the β-VAE objective and check what it bounds (for β ≥ 1 it stays below the ELBO);
# - state MIG, DCI, SAP, the β-VAE metric and the FactorVAE metric exactly. See them rank an
#   aligned, a rotated and a noise code, and see the β-VAE metric call a code that ignores a
#   factor perfect while the FactorVAE metric does not;
# - measure what β does to a trained model: reconstruction, KL per latent dimension, active units,
#   traversals, and all five metrics;
# - read the reconstruction/disentanglement trade-off and compare the β effect with the seed
#   spread (the lesson of Locatello et al. 2019), and see which β the unsupervised objective
#   would pick.
#
# **Prerequisites:** 02 (training a VAE, traversals), 05 (the ELBO), 06 (the Bernoulli likelihood;
# σ as a KL weight), 07 (the isotropic prior is rotation invariant).
# **Budget:** runs in at most 120 s on 2 CPU cores (see `benchmarks/`).

# %% tags=["parameters"]
SEED = 0
DEVICE = "auto"
BUDGET = "ci"  # "ci": the short run that CI executes; "full": longer training
BETAS = (1.0, 4.0, 16.0)
NUM_SEEDS = 2
LATENT_DIM = 4
RESOLUTION = 24  # pixels per side of the procedural dSprites
SHAPE = 1  # 0 square, 1 ellipse, 2 heart (see "How this setting was chosen")

# %%
import json
import math
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats
from torch.distributions import Normal, kl_divergence

import vaecourse as vc
from vaecourse import metrics
from vaecourse.evaluate import spread

device = vc.setup_notebook(seed=SEED, device=DEVICE)

# %% [markdown]
# ## Data: procedural dSprites, one ellipse moving over the canvas
#
# dSprites (Matthey et al. 2017) renders white shapes from five known factors: shape, scale,
# orientation, x and y position (32 values each for the positions). `vc.data.DSprites` draws them
# procedurally at any resolution. To fit the budget we fix three factors with
# `vc.data.DSpritesSubset`: one shape (the ellipse), orientation 0 and the largest scale. Two
# factors remain, `pos_x` and `pos_y`, and the metrics see only those. The images are 24 × 24 pixels
# and binary, so the Bernoulli likelihood of notebook 06 is exact for them.
#
# **How this setting was chosen.** On small toys, β > 1 often costs reconstruction without raising
# any disentanglement score, and the seed spread can be as large as the β effect. The ellipse was
# chosen by an earlier offline search; section 5 reruns that search from a script in the repository,
# with fresh seeds and data draws, and prints what it finds for the ellipse and for squares.
# `SHAPE = 0` in the parameter cell trains on squares instead.

# %% mystnb={"image": {"alt": "Two rows of ten binary images titled 'dSprites ellipses, 24 px': a small white ellipse on black, at a different position in each image."}}
dsprites = vc.data.DSprites(RESOLUTION)
data = vc.data.DSpritesSubset(dsprites, fixed={"shape": SHAPE, "orientation": 0, "scale": 5})
num_train, num_test = 16000, 5000
data_rng = np.random.default_rng(SEED)
factors_train = data.sample_factors(num_train, data_rng)
factors_test = data.sample_factors(num_test, data_rng)
x_train, x_test = data.render(factors_train), data.render(factors_test)
fig = vc.plotting.image_grid(x_test[:20], nrow=10, title=f"dSprites {dsprites.shapes[SHAPE]}s, {RESOLUTION} px")

# %%
# NBVAL_CHECK_OUTPUT
print(f"free factors {data.factor_names}, sizes {data.factor_sizes}; train {tuple(x_train.shape)}, test {tuple(x_test.shape)}")
vc.checks.check_true("images are binary (0/1 pixels)", set(x_test.unique().tolist()) <= {0.0, 1.0}, kind="consistency")

# %% [markdown]
# Two measured facts about these images shape everything that follows.
#
# 1. **How much of each position a 24-pixel image carries.** The ellipse's centre moves by less
#    than a pixel per grid step, but its edge pixels may still change. No code computed from an
#    image can carry more about a factor than the image does: I(z; v) ≤ I(x; v) ≤ H(v). MIG divides
#    by H(v), so the images set a **ceiling** I(x; v) / H(v) on each factor's MIG term. We compute
#    it on the test images (each distinct image as one symbol), factor by factor. A ceiling near 1
#    means that low scores later cannot be blamed on the resolution.
# 2. **x and y are not symmetric for the ellipse.** It is twice as wide as tall, so one grid step
#    up or down changes more pixels than one step sideways. We count the changed pixels over the
#    whole position grid. For a square the two counts would be equal. Why this matters comes in
#    section 3.

# %%
def entropy(labels):
    """H of the empirical distribution of discrete labels, in nats."""
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


_, image_ids = np.unique(x_test.flatten(1).numpy(), axis=0, return_inverse=True)
factor_entropy = np.array([entropy(factors_test[:, k]) for k in range(data.num_factors)])
image_information = metrics.discrete_mutual_info(image_ids.reshape(-1, 1), factors_test)[0]  # I(x; v_k), nats
mig_ceiling = image_information / factor_entropy
print(f"distinct images among {num_test} test images: {image_ids.max() + 1} (of {32 * 32} factor combinations)")
for k, name in enumerate(data.factor_names):
    print(f"{name}: H(v) = {factor_entropy[k]:.2f} nats, I(image; v) = {image_information[k]:.2f} nats, "
          f"ceiling of its MIG term = {mig_ceiling[k]:.3f}")

grid = np.stack(np.meshgrid(np.arange(32), np.arange(32), indexing="ij"), -1).reshape(-1, 2)  # (pos_x, pos_y)
grid_images = data.render(grid).reshape(32, 32, -1)
step_x = (grid_images[1:] != grid_images[:-1]).sum(-1).float().mean().item()
step_y = (grid_images[:, 1:] != grid_images[:, :-1]).sum(-1).float().mean().item()
print(f"pixels changed by one grid step: in x {step_x:.2f}, in y {step_y:.2f} (ratio y/x {step_y / step_x:.2f})")

# %% [markdown]
# ## 1. The metrics, precisely, on codes whose answer we know
#
# All five metrics need the **ground-truth factors** v_1..v_K of every image. They score a code
# z_1..z_D (here: the posterior means) against them, so they cannot be computed on unlabelled real
# data. The definitions, as implemented in `vc.metrics` and in the reference code of Locatello et
# al. 2019 (`disentanglement_lib`, whose defaults we keep unless stated):
#
# | metric (paper) | what it computes | range |
# | --- | --- | --- |
# | **MIG**, mutual information gap (Chen et al. 2018) | each code dimension cut into 20 equal-width bins; I(z_j; v_k) for every pair; per factor, (largest − second largest I over j) / H(v_k); the mean over factors | 0..1 |
# | **DCI** (Eastwood and Williams 2018) | predict each factor from all codes with gradient-boosted trees; importance R_jk of code j for factor k. **D**isentanglement = 1 − entropy (base K) of each code's row of R, weighted by the code's share of importance; **C**ompleteness = 1 − entropy (base D) of each factor's column; **I**nformativeness = the trees' test accuracy | 0..1 each |
# | **SAP**, separated attribute predictability (Kumar et al. 2018) | a score for each (code, factor) pair from that one code alone: the squared correlation (continuous factors) or a linear SVM's accuracy (discrete factors); per factor, best minus second best; the mean | 0..1 |
# | **β-VAE metric** (Higgins et al. 2017) | pick a factor k; draw L pairs of images that share v_k (all else random); the feature is the mean of \|z(x¹) − z(x²)\| over the pairs; a linear classifier predicts k from it; its accuracy | chance 1/K .. 1 |
# | **FactorVAE metric** (Kim and Mnih 2018) | divide each code dimension by its standard deviation over the data (and drop collapsed ones); pick k; hold v_k fixed in a batch of L images; the dimension of least variance votes for k; a majority vote maps dimensions to factors; its accuracy | chance 1/K .. 1 |
#
# To see what they reward, we make a ground-truth data set whose "images" are the factor values
# themselves: four factors with 3, 5, 8 and 4 values. Then we write representations down by hand:
#
# - **aligned**: one code dimension per factor (its value scaled to [0, 1], plus noise of standard
#   deviation 0.02) and one dimension of pure noise;
# - **rotated**: the aligned code multiplied by an orthogonal matrix that mixes the four factor
#   dimensions equally (a scaled Hadamard matrix). It carries the same information, and under the
#   isotropic prior N(0, I) it has exactly the same log-density, so the VAE objective cannot tell
#   it from the aligned one (notebook 07);
# - **noise**: five dimensions of pure noise;
# - **ignores factor 0**: the aligned code without factor 0's dimension (four dimensions: factors
#   1, 2, 3 and the noise).

# %%
class FactorTable:
    """A ground-truth data set whose 'images' are the factor values: representations can be written exactly."""

    factor_names = ("v0", "v1", "v2", "v3")
    factor_sizes = (3, 5, 8, 4)

    def sample_factors(self, num, rng):
        return np.stack([rng.integers(0, size, num) for size in self.factor_sizes], axis=1)

    def render(self, factors):
        return torch.as_tensor(factors, dtype=torch.float64)


table = FactorTable()
mixing = np.zeros((5, 5))
mixing[:4, :4] = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0
mixing[4, 4] = 1.0  # the noise dimension is left alone


def constructed_code(kind, seed=0):
    """A representation function (images -> codes (N, 5)) of the given kind, with its own noise generator."""
    rng = np.random.default_rng(seed)

    def represent(images):
        values = images.numpy() / (np.array(table.factor_sizes) - 1)  # each factor scaled to [0, 1]
        aligned = np.concatenate([values + 0.02 * rng.standard_normal(values.shape),
                                  rng.standard_normal((len(values), 1))], axis=1)
        if kind == "aligned":
            return aligned
        if kind == "rotated":
            return aligned @ mixing
        if kind == "noise":
            return rng.standard_normal(aligned.shape)
        if kind == "ignores factor 0":
            return aligned[:, 1:]  # factors 1, 2, 3 and the noise dimension
        raise ValueError(kind)

    return represent


# %% [markdown]
# Each metric runs on every constructed code. MIG uses 1000 test points, SAP 2000 training and
# 1000 test points, DCI the first 300 training points (600 in the full budget) and the first 300 test
# points (its trees are slow). The two sampling metrics use
# smaller numbers than the reference defaults (which draw about two million images): batches of
# L = 32, 300 training and 200 evaluation points, and 1000 points for the FactorVAE variance
# estimate. SAP is shown with both of its scores: the discrete one (a linear SVM on a single code
# dimension, the reference default) and the continuous one (squared correlation).

# %%
def all_metrics(represent, data_set, factors_tr, factors_te, *, coarsen=1, dci_points, sampling, variance_points):
    """Every metric of one representation function (images -> codes).

    MIG on all of ``factors_te``; DCI on the first ``dci_points`` of each set; SAP on all; ``coarsen``
    divides the factor indices for DCI and discrete SAP; ``sampling`` holds the sampling metrics' sizes.
    """
    codes_tr = np.asarray(represent(data_set.render(factors_tr)))
    codes_te = np.asarray(represent(data_set.render(factors_te)))
    coarse_tr, coarse_te = factors_tr // coarsen, factors_te // coarsen
    n_tr, n_te = dci_points
    dci = metrics.dci(codes_tr[:n_tr], coarse_tr[:n_tr], codes_te[:n_te], coarse_te[:n_te])
    return {"MIG": metrics.mig(codes_te, factors_te)["discrete_mig"],
            "DCI D": dci["disentanglement"], "DCI C": dci["completeness"], "DCI I": dci["informativeness_test"],
            "SAP disc": metrics.sap(codes_tr, coarse_tr, codes_te, coarse_te)["SAP_score"],
            "SAP cont": metrics.sap(codes_tr, factors_tr, codes_te, factors_te, continuous_factors=True)["SAP_score"],
            "beta-VAE": metrics.beta_vae_score(data_set, represent, random_state=0, **sampling)["eval_accuracy"],
            "FactorVAE": metrics.factor_vae_score(data_set, represent, random_state=0,
                                                  num_variance_estimate=variance_points, **sampling)["eval_accuracy"]}


def print_metric_table(rows, first_column="code"):
    names = list(next(iter(rows.values())))
    print(f"{first_column:20s}" + "".join(f"{name:>10s}" for name in names))
    for label, row in rows.items():
        print(f"{label:20s}" + "".join(f"{row[name]:10.3f}" for name in names))


table_rng = np.random.default_rng(SEED + 1)
table_train, table_test = table.sample_factors(2000, table_rng), table.sample_factors(1000, table_rng)
kinds = ["aligned", "rotated", "noise", "ignores factor 0"]
small_sampling = {"batch_size": 32, "num_train": 300, "num_eval": 200}
constructed_dci_points = {"ci": (300, 300), "full": (600, 300)}[BUDGET]  # (train, test): DCI's trees are slow
constructed = {kind: all_metrics(constructed_code(kind), table, table_train, table_test,
                                 dci_points=constructed_dci_points, sampling=small_sampling, variance_points=1000)
               for kind in kinds}
print_metric_table(constructed)
print(f"chance level of the beta-VAE and FactorVAE metrics: 1/K = {1 / len(table.factor_sizes):.2f}")

# %% [markdown]
# What we expect, with thresholds fixed in advance (the package's unit tests use the same margins on
# similar codes):
# - aligned: MIG > 0.9, DCI disentanglement > 0.85, continuous SAP > 0.9, both sampling metrics > 0.95;
# - rotated: the same prior log-density as aligned (float64, rtol 1e-12), but MIG and DCI
#   disentanglement lower than aligned by more than 0.4 and 0.3;
# - noise: MIG and continuous SAP below 0.05, both sampling metrics within 0.15 of chance;
# - ignores factor 0: the **β-VAE metric above 0.95**, because its classifier learns "no small
#   coordinate, so the ignored factor was the shared one". The **FactorVAE metric stays below 0.9**:
#   no dimension can vote for the ignored factor, so in batches where factor 0 is fixed the vote is
#   right only when the noise dimension happens to have the least variance (about 1 time in 4), an
#   expected accuracy of about 3/4 + 1/4 · 1/4 ≈ 0.81. This is the failure mode of the β-VAE metric
#   that Kim and Mnih (2018) point out.
# - MIG, the β-VAE metric and DCI, which the homework attributes to one paper, come from three
#   (Chen et al. 2018, Higgins et al. 2017, Eastwood and Williams 2018) and are different measures:
#   on the code that ignores factor 0 we expect MIG near 3/4 (one factor of four has no gap) and
#   the β-VAE metric near 1, a spread above 0.2; on the aligned code, where all are near 1, the same
#   check must fail (its negative control).

# %%
# NBVAL_CHECK_OUTPUT
z_aligned = constructed_code("aligned")(table.render(table_test))
standard_normal = Normal(torch.zeros(5, dtype=torch.float64), 1.0)
_ = vc.checks.check_close("rotated code: log N(Rz; 0, I) == log N(z; 0, I) (the prior cannot prefer aligned axes)",
                          standard_normal.log_prob(torch.as_tensor(z_aligned @ mixing)).sum(-1),
                          standard_normal.log_prob(torch.as_tensor(z_aligned)).sum(-1), rtol=1e-12, atol=0, kind="identity")
aligned, rotated_, noise, ignores = (constructed[kind] for kind in kinds)
vc.checks.check_true("aligned: MIG > 0.9, DCI D > 0.85, SAP (continuous) > 0.9",
                     aligned["MIG"] > 0.9 and aligned["DCI D"] > 0.85 and aligned["SAP cont"] > 0.9, kind="evidence")
vc.checks.check_true("aligned: beta-VAE and FactorVAE metrics > 0.95", min(aligned["beta-VAE"], aligned["FactorVAE"]) > 0.95, kind="evidence")
vc.checks.check_true("rotated: MIG lower by > 0.4, DCI D lower by > 0.3 than aligned",
                     rotated_["MIG"] < aligned["MIG"] - 0.4 and rotated_["DCI D"] < aligned["DCI D"] - 0.3, kind="evidence", settles=("C53", "C57"))
vc.checks.check_true("noise: MIG < 0.05 and SAP (continuous) < 0.05", noise["MIG"] < 0.05 and noise["SAP cont"] < 0.05, kind="evidence")
vc.checks.check_true("noise: beta-VAE and FactorVAE metrics within 0.15 of chance (0.25)",
                     max(noise["beta-VAE"], noise["FactorVAE"]) < 0.25 + 0.15, kind="evidence")
vc.checks.check_true("ignores factor 0: beta-VAE metric > 0.95 but FactorVAE metric < 0.9",
                     ignores["beta-VAE"] > 0.95 and ignores["FactorVAE"] < 0.9, kind="evidence", settles=("C56", "C59"))


def check_three_papers_three_measures(row):
    # The homework names MIG, the beta-VAE metric and DCI as "the paper's" metrics. They come from three papers
    # (Chen et al. 2018, Higgins et al. 2017, Eastwood and Williams 2018) and measure different things: on a code
    # that drops one factor of four, MIG loses about a quarter while the beta-VAE metric stays at 1.
    values = [row["MIG"], row["beta-VAE"], row["DCI D"]]
    vc.checks.check_true("MIG, the beta-VAE metric and DCI D, scored on one code, spread over more than 0.2",
                         max(values) - min(values) > 0.2, kind="evidence", settles=("C54",), control=True)


check_three_papers_three_measures(ignores)
with vc.checks.negative_control("the aligned code, on which every metric is near 1"):
    check_three_papers_three_measures(aligned)

# %% [markdown]
# Read the table row by row:
# - the **rotated** code keeps all the information (the rotation is invertible) but loses the axis
#   alignment that MIG, DCI D and SAP reward. This rotation mixes every factor into every dimension
#   with equal weight, so fixing one factor shrinks every dimension's spread alike, and the two
#   sampling metrics lose their signal too. Even DCI's informativeness moves, although no
#   information was lost: its trees split on one coordinate at a time, and mixed coordinates are
#   harder for them;
# - the **discrete SAP** of the aligned code is far below 1. Its linear SVM is trained one class
#   against the rest, and on a single dimension one threshold cannot pick out a middle value of an
#   ordered factor, so the discrete score also measures the classifier. For ordered
#   factors such as positions, the continuous score is the one that measures alignment, and it is
#   the one we use on dSprites below;
# - a code that **ignores a factor** loses MIG on that factor. The β-VAE metric still calls it
#   perfect, while the FactorVAE metric does not.

# %% [markdown]
# ## 2. The β-VAE objective
#
# The β-VAE (Higgins et al. 2017) minimises nll + β · KL, where nll = −log p(x|z) at a sample
# z ~ q(z|x) and KL = KL(q(z|x) ‖ p(z)). The whole change from the VAE is one factor:

# %%
def beta_vae_objective(model, x, beta):
    """nll + beta * KL per example (nats), one reparameterised sample z ~ q(z|x)."""
    q_z = model.encode(x)
    z = q_z.rsample()
    nll = -model.decode(z).log_prob(x)
    kl = kl_divergence(q_z, model.prior())
    return nll + beta * kl


# %% [markdown]
# `vc.models.BetaVAE` trains on this objective (`beta_loss`) and still reports the negative ELBO
# (`neg_elbo` = nll + KL), so models with different β are compared on the same bound. Since
# KL ≥ 0, for β ≥ 1 we have −beta_loss ≤ ELBO ≤ log p(x). The β-VAE objective is still a lower
# bound on the log-likelihood, only a looser one. For β < 1 it is no longer guaranteed to be one.
# We check, on 256 images and an untrained model with the same sample z: the function above equals
# the package's `beta_loss` (rtol 1e-5); beta_loss ≥ neg_elbo for β = 4, with equality at β = 1;
# and beta_loss < neg_elbo wherever KL > 0 for β = 0.5.

# %%
# NBVAL_CHECK_OUTPUT
x_check = x_train[:256]
for beta in (0.5, 1.0, 4.0):
    torch.manual_seed(SEED)
    check_model = vc.models.BetaVAE(LATENT_DIM, image_shape=(1, RESOLUTION, RESOLUTION), hidden=(256, 128), beta=beta)
    torch.manual_seed(SEED + 1)
    written_out = beta_vae_objective(check_model, x_check, beta).detach()
    torch.manual_seed(SEED + 1)  # the same z ~ q(z|x)
    terms = {name: value.detach() for name, value in check_model.loss_terms(x_check).items()}
    _ = vc.checks.check_close(f"beta={beta}: nll + beta*KL written out == BetaVAE beta_loss", written_out,
                              terms["beta_loss"], rtol=1e-5, atol=1e-4, kind="consistency")
    if beta == 1.0:
        _ = vc.checks.check_close("beta=1: beta_loss == neg_elbo", terms["beta_loss"], terms["neg_elbo"], rtol=0, atol=0, kind="identity")
    elif beta > 1:
        vc.checks.check_true(f"beta={beta}: beta_loss >= neg_elbo for every image (a looser bound)",
                             bool((terms["beta_loss"] >= terms["neg_elbo"]).all()), kind="evidence", settles=("C50",))
    else:
        vc.checks.check_true(f"beta={beta}: beta_loss < neg_elbo wherever KL > 0 (no longer a bound)",
                             bool((terms["beta_loss"] < terms["neg_elbo"])[terms["kl"] > 0].all()), kind="evidence", settles=("C50",))

# %% [markdown]
# ## 3. β-VAEs for three β and two seeds
#
# Same MLP (576-256-128-4 and back), same data (16,000 images), same training (Adam, learning rate
# 2·10⁻³, batch 128, 16 epochs in the CI budget), only β and the seed change. The seed sets both
# the initial weights and the shuffling.
#
# Why β might align the latent axes with the factors (a hypothesis, after Rolinek et al. 2019): the
# prior N(0, I) is rotation invariant (section 1's check), so the prior alone has no preferred axes.
# The posterior q(z|x), however, is a Gaussian with a **diagonal** covariance. A larger β makes
# information costlier, so the posterior variances stay larger. A diagonal posterior then fits best
# when its axes follow directions along which the decoder is differently sensitive. For the ellipse,
# one step in y changes more pixels than one step in x (measured above), so such directions exist.
# For a square, by the same argument, no rotation of the (x, y) plane would be preferred.

# %%
num_epochs = {"ci": 16, "full": 40}[BUDGET]
seeds = [SEED + k for k in range(NUM_SEEDS)]
models, histories = {}, {}
for beta in BETAS:
    for seed in seeds:
        torch.manual_seed(seed)
        model = vc.models.BetaVAE(LATENT_DIM, image_shape=(1, RESOLUTION, RESOLUTION), hidden=(256, 128), beta=beta)
        histories[beta, seed] = vc.train.fit(model, x_train, epochs=num_epochs, lr=2e-3, batch_size=128, seed=seed,
                                             device=device)
        models[beta, seed] = model.cpu().eval()

# %% [markdown]
# ### Reconstruction and KL
#
# On the test images, each model's nll (−log p(x|z), one sample), KL and negative ELBO, in nats per
# image. The expectation, which holds by a wide margin in every run we have seen (so it is checked):
# raising β lowers the KL (less information about x passes through z) and raises the nll (worse
# reconstructions), for every seed.

# %%
torch.manual_seed(SEED)  # evaluate_terms draws one posterior sample per image
test_terms = {key: vc.train.evaluate_terms(model, x_test) for key, model in models.items()}
print(f"{len(models)} models: beta in {BETAS} x seeds {seeds}, {num_epochs} epochs each")
print(f"{'beta':>6s} {'nll (recon.)':>22s} {'KL':>20s} {'neg. ELBO':>22s}   mean [min, max] over seeds")
for beta in BETAS:
    print(f"{beta:6.0f} " + " ".join(f"{spread([test_terms[beta, s][t] for s in seeds], 2):>21s}"
                                     for t in ("nll", "kl", "neg_elbo")))

# %%
# NBVAL_CHECK_OUTPUT
for low, high in zip(BETAS[:-1], BETAS[1:]):
    vc.checks.check_true(f"beta {low:g} -> {high:g}: test KL falls and test nll rises, every seed",
                         all(test_terms[high, s]["kl"] < test_terms[low, s]["kl"]
                             and test_terms[high, s]["nll"] > test_terms[low, s]["nll"] for s in seeds), kind="evidence", settles=("C51",))

# %% [markdown]
# ### KL per latent dimension and active units
#
# The KL term is a sum over the latent dimensions, KL = Σ_j KL(q(z_j|x) ‖ N(0, 1)). We average each
# term over the test images. A dimension with KL near 0 is **inactive**: its posterior equals the
# prior for every image, and the decoder ignores it. We count active units in two ways: mean KL above
# 0.1 nats, and the variance over the data of the posterior mean above 0.01, the definition of
# Burda et al. (2016).

# %% mystnb={"image": {"alt": "Three bar charts, beta = 1, 4 and 16, of the mean KL per latent dimension in nats, the four dimensions sorted by KL, with paired bars for seed 0 and seed 1; as beta grows fewer dimensions carry KL."}}
kl_dims = {key: vc.latent.kl_per_dimension(model, x_test) for key, model in models.items()}  # (D,) nats each
codes_test = {key: vc.latent.encode_dataset(model, x_test) for key, model in models.items()}
active_kl = {key: int((kl > 0.1).sum()) for key, kl in kl_dims.items()}
active_burda = {key: int(vc.latent.active_units(model, x_test).sum()) for key, model in models.items()}
for (beta, seed), kl in kl_dims.items():
    print(f"beta {beta:4.0f} seed {seed}: KL per dimension " + " ".join(f"{v:5.2f}" for v in kl.tolist())
          + f"  | active: {active_kl[beta, seed]} by KL, {active_burda[beta, seed]} by variance")

fig, axes = plt.subplots(1, len(BETAS), figsize=(3.2 * len(BETAS), 2.6), sharey=True, layout="constrained")
for ax, beta in zip(axes, BETAS):
    for i, seed in enumerate(seeds):
        ordered = kl_dims[beta, seed].sort(descending=True).values
        ax.bar(np.arange(LATENT_DIM) + (i - (len(seeds) - 1) / 2) * 0.8 / len(seeds), ordered,
               width=0.8 / len(seeds), label=f"seed {seed}")
    ax.set(title=f"beta = {beta:g}", xlabel="latent dimension (sorted by KL)", xticks=range(LATENT_DIM))
axes[0].set_ylabel("mean KL per dimension [nats]")
axes[0].legend(fontsize="small")

# %% [markdown]
# ### Where the KL goes: mutual information, total correlation, dimension-wise KL
#
# Chen et al. (2018) split the average KL term with the **aggregate posterior** q(z) = (1/N) Σ_n
# q(z|x_n) of the N data points:
#
# E_x KL(q(z|x) ‖ p(z)) = I_q(x; z) + KL(q(z) ‖ Π_j q(z_j)) + Σ_j KL(q(z_j) ‖ p(z_j)),
#
# the **index-code mutual information** (what the code says about which image it came from), the
# **total correlation** (how far the code's dimensions are from independent: the term that rewards a
# factorised, axis-aligned code when it is small) and the **dimension-wise KL** (how far each
# marginal is from N(0, 1)). The field's explanation of why β helps is that it presses on the total
# correlation. `vc.latent.total_correlation_decomposition` estimates the three at one z_n ~ q(z|x_n)
# per image, with log q(z_n) and each log q(z_nj) computed over all N posteriors (Chen et al. use a
# minibatch; with N = 2000 we can afford all of them). That the three add up to the KL estimate is a
# telescoping identity (log q(z|x) − log q(z) + log q(z) − Σ log q(z_j) + Σ log q(z_j) − log p(z)),
# checked as such. The evidence that each estimator is right comes first, from codes with closed-form
# answers: posteriors N(μ_n, σ² I) with μ_n ~ N(0, AAᵀ), whose aggregate is N(0, Σ), Σ = AAᵀ + σ²I, so
# that I = ½ (log det Σ − D log σ²), TC = ½ (Σ_j log Σ_jj − log det Σ) and the dimension-wise KL is
# ½ Σ_j (Σ_jj − 1 − log Σ_jj). Each estimate must land within 3 standard errors of its closed form
# (plus 0.01 nats, the size of the finite-N mixture's bias measured when this cell was written). The
# negative control is a slip in the marginals, log q(z_j) without its − log N.

# %%
tc_generator = torch.Generator().manual_seed(SEED + 20)
mixing = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.3, -0.4, 0.7]], dtype=torch.float64)
known_sigma = 0.5
known_mean = torch.randn(2000, 3, generator=tc_generator, dtype=torch.float64) @ mixing.T
known_cov = mixing @ mixing.T + known_sigma**2 * torch.eye(3, dtype=torch.float64)
closed_form = {"mutual_information": 0.5 * (torch.logdet(known_cov) - 3 * math.log(known_sigma**2)).item(),
               "total_correlation": 0.5 * (torch.diag(known_cov).log().sum() - torch.logdet(known_cov)).item(),
               "dimension_wise_kl": 0.5 * (torch.diag(known_cov) - 1 - torch.diag(known_cov).log()).sum().item()}
known_parts = vc.latent.total_correlation_decomposition(known_mean, torch.full_like(known_mean, known_sigma),
                                                        generator=tc_generator)


def standard_error(values):
    return (values.std() / math.sqrt(len(values))).item()


for name, value in closed_form.items():
    print(f"{name:20s} estimate {known_parts[name].mean().item():.4f} +- {standard_error(known_parts[name]):.4f}, "
          f"closed form {value:.4f}")

# %%
# NBVAL_CHECK_OUTPUT
def check_against_closed_forms(parts):
    vc.checks.check_true("mutual information, total correlation and dimension-wise KL estimates within 3 standard "
                         "errors (+ 0.01 nats) of their closed forms, correlated Gaussian codes",
                         all(abs(parts[name].mean().item() - value) <= 3 * standard_error(parts[name]) + 0.01
                             for name, value in closed_form.items()), kind="evidence", control=True)


check_against_closed_forms(known_parts)
with vc.checks.negative_control("the marginals' log q(z_j) without their - log N"):
    slip = 3 * math.log(len(known_mean))  # D log N added to log prod_j q(z_j)
    check_against_closed_forms({"mutual_information": known_parts["mutual_information"],
                                "total_correlation": known_parts["total_correlation"] - slip,
                                "dimension_wise_kl": known_parts["dimension_wise_kl"] + slip})
_ = vc.checks.check_close("mutual information + total correlation + dimension-wise KL == log q(z|x) - log p(z), "
                          "per image (telescoping)", known_parts["mutual_information"] + known_parts["total_correlation"]
                          + known_parts["dimension_wise_kl"], known_parts["kl"], rtol=0, atol=1e-10, kind="identity")

# %% [markdown]
# Now the six models, on the first 1000 test images each (2000 in the full budget). Prediction, from
# the field's account: a larger β leaves a smaller total correlation, for every seed (β = 16 against
# β = 1, checked). We also print the closed-form KL (averaged over the same images) beside the
# one-sample estimate of the sum.

# %%
num_tc_images = {"ci": 1000, "full": 2000}[BUDGET]  # the cost grows as N^2
x_tc = x_test[:num_tc_images]
tc_terms = {}
for key, model in models.items():
    with torch.no_grad():
        q_z = model.encode(x_tc)
    parts = vc.latent.total_correlation_decomposition(q_z.mean.double(), q_z.stddev.double(), generator=tc_generator)
    tc_terms[key] = {name: values.mean().item() for name, values in parts.items()}
    tc_terms[key]["closed-form KL"] = kl_divergence(q_z.base_dist, Normal(0.0, 1.0)).sum(1).mean().item()
tc_names = ["closed-form KL", "kl", "mutual_information", "total_correlation", "dimension_wise_kl"]
print(f"{'beta':>5s}" + "".join(f"{name:>26s}" for name in ["KL (closed form)", "KL (sum of the three)",
                                                             "index-code MI", "total correlation", "dimension-wise KL"]))
for beta in BETAS:
    print(f"{beta:5g}" + "".join(f"{spread([tc_terms[beta, s][name] for s in seeds], 3):>26s}" for name in tc_names))
print(f"(nats per image, mean [min, max] over seeds {seeds}; index-code MI is at most log N = {math.log(len(x_tc)):.2f})")

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true(f"total correlation lower at beta = {BETAS[-1]:g} than at beta = {BETAS[0]:g}, every seed",
                     all(tc_terms[BETAS[-1], s]["total_correlation"] < tc_terms[BETAS[0], s]["total_correlation"]
                         for s in seeds), kind="evidence")

# %% [markdown]
# As the field's account predicts, β presses hardest, relatively, on the total correlation: about
# 2.6 nats at β = 1, 0.37 at β = 4 and 0.017 at β = 16, where the index-code mutual information only
# falls from about 6.0 to 1.8 nats. At β = 16 the code's dimensions are nearly independent under the
# aggregate posterior, which an axis-aligned code needs; most of what remains of the KL is
# information about the image. (The β = 1 models' index-code MI, 6.0 nats, is near its ceiling
# log N = 6.9: the codes almost identify each of the 1000 images.) The one-sample sum agrees with the
# closed-form KL to within a few hundredths of a nat.

# %% [markdown]
# ### Latent traversals
#
# For the first seed of each β, start from the posterior mean of one test image and move one
# latent dimension at a time from −2.5 to 2.5. Rows are sorted by KL, largest first, and each is
# labelled with its mean KL in nats. In a disentangled code each row moves the ellipse along one
# axis only. An inactive row changes nothing.

# %% mystnb={"image": {"alt": "Three latent traversal grids for seed 0, first beta = 1, second beta = 4, third beta = 16: each row sets one latent dimension, labelled with its mean KL, to seven values from -2.5 to 2.5, decoding an ellipse that moves; rows with KL 0.0 show the same blur throughout."}}
base_index = 0
traversal_values = torch.linspace(-2.5, 2.5, 7)
for beta in BETAS:
    model = models[beta, seeds[0]]
    order = kl_dims[beta, seeds[0]].argsort(descending=True).tolist()
    fig = vc.plotting.traversal_strip(lambda z, m=model: m.decode(z).mean, codes_test[beta, seeds[0]][base_index],
                                      dims=order, values=traversal_values, title=f"beta = {beta:g}, seed {seeds[0]}")
    for row, d in enumerate(order):  # row labels: the dimension and its mean KL
        fig.axes[row * len(traversal_values)].set_ylabel(f"z{d}\nKL {kl_dims[beta, seeds[0]][d]:.1f}", rotation=0,
                                                         ha="right", va="center", fontsize="small")

# %% [markdown]
# ### Explore: choose a model, a latent dimension and a value
#
# The widget decodes the posterior mean of the same test image with one coordinate replaced by the
# slider's value. In a live kernel, move the controls. In a stored notebook the initial image is
# shown.

# %%
explorer_models = {f"beta={beta:g}, seed {seed}": models[beta, seed] for beta in BETAS for seed in seeds}
explorer_codes = {f"beta={beta:g}, seed {seed}": codes_test[beta, seed][base_index] for beta in BETAS for seed in seeds}
explorer = vc.widgets.traversal_explorer(explorer_models, explorer_codes, value_range=(-3.0, 3.0))
explorer

# %% [markdown]
# ## 4. Every metric for every model
#
# The codes are posterior means. Each metric gets the same images: 1000 fresh training images
# (for the classifiers of DCI and SAP) and the 5000 test images. MIG uses the test images with the
# full 32-valued position factors. DCI trains its trees on the first 300 of the training images (all
# 1000 in the full budget) and tests them on the first 500 test images, with each position
# **coarsened to 8 classes** (index // 4), because gradient-boosted trees on 32 classes would cost
# several seconds per model. SAP is the continuous version (positions are ordered). The β-VAE and
# FactorVAE metrics render fresh images with the small settings of section 1 and 2000 images for the
# variance estimate. With two factors their chance level is 0.5. As a
# reference row, a code computed by hand from the pixels, the ink's centroid (x, y), is scored the
# same way.

# %%
def ink_centroid(images):
    """A hand-made code: the centre of the white pixels, (column, row)."""
    ink = torch.as_tensor(images)[:, 0].double()
    rows, columns = torch.meshgrid(torch.arange(ink.shape[1]), torch.arange(ink.shape[2]), indexing="ij")
    area = ink.sum((1, 2))
    return torch.stack([(ink * columns).sum((1, 2)) / area, (ink * rows).sum((1, 2)) / area], 1).numpy()


def posterior_mean_code(model):
    return lambda images: vc.latent.encode_dataset(model, images).numpy()


metric_rng = np.random.default_rng(SEED + 2)
factors_metric_train = data.sample_factors(1000, metric_rng)


model_dci_points = {"ci": (300, 500), "full": (1000, 500)}[BUDGET]  # (train, test)


def score(represent):
    return all_metrics(represent, data, factors_metric_train, factors_test, coarsen=4, dci_points=model_dci_points,
                       sampling=small_sampling, variance_points=2000)


metric_rows = {key: score(posterior_mean_code(model)) for key, model in models.items()}
centroid_row = score(ink_centroid)
print_metric_table({"ink centroid (hand-made)": centroid_row}
                   | {f"beta {beta:g}, seed {seed}": metric_rows[beta, seed] for beta, seed in models}, "code")
print(f"MIG ceiling of these images (mean over factors): {mig_ceiling.mean():.3f}")

# %% [markdown]
# MIG cannot exceed the ceiling computed from the images in the data section. Each factor's gap is
# at most its largest I(z_j; v_k), and a binned code is a function of the image. This is an
# inequality, so it is checked for every model and for the hand-made code.

# %%
# NBVAL_CHECK_OUTPUT
per_factor_mig = {key: metrics.mig(codes_test[key].numpy(), factors_test) for key in models}
vc.checks.check_true("every model's MIG term for each factor <= that factor's ceiling I(image; v)/H(v)",
                     all(per_factor_mig[key][f"mig_{k}"] <= mig_ceiling[k] + 1e-9
                         for key in models for k in range(data.num_factors)), kind="evidence")

# %% [markdown]
# ### MIG, computed independently, and how much it depends on its estimator
#
# MIG written out in a few lines, without the package's metric code: bin each code dimension into
# equal-width bins over its range, count the joint histogram of (bin, factor value) with
# `np.histogram2d`, turn it into the mutual information Σ p(a, b) log p(a, b) / (p(a) p(b)), divide
# the gap between the two most informative dimensions by the factor's entropy H(v) (printed: log 32
# for a uniform 32-valued factor, less for the finite sample), and average over the factors. With 20
# bins, the package's convention, it must equal `metrics.mig` to float rounding for every model
# (checked, against the package's numbers of the table above); a version without the division by H(v)
# must not (the negative control). The number of bins is a choice of the estimator, not of the
# model: we print each model's MIG with 10, 20 and 50 bins.

# %%
def mutual_information_from_counts(joint_counts):
    """I(a; b) in nats from a joint count table."""
    p_joint = joint_counts / joint_counts.sum()
    p_a, p_b = p_joint.sum(1, keepdims=True), p_joint.sum(0, keepdims=True)
    nonzero = p_joint > 0
    return float((p_joint[nonzero] * np.log(p_joint[nonzero] / (p_a @ p_b)[nonzero])).sum())


def independent_mig(codes, factors, num_bins=20, normalise=True):
    gaps = []
    for k in range(factors.shape[1]):
        values = factors[:, k]
        factor_bins = np.arange(values.min(), values.max() + 2) - 0.5  # one bin per factor value
        information = sorted((mutual_information_from_counts(np.histogram2d(codes[:, j], values,
                                                                            bins=[num_bins, factor_bins])[0])
                              for j in range(codes.shape[1])), reverse=True)
        counts = np.bincount(values - values.min())
        h_v = float(-(counts[counts > 0] / len(values) * np.log(counts[counts > 0] / len(values))).sum())
        gaps.append((information[0] - information[1]) / (h_v if normalise else 1.0))
    return float(np.mean(gaps))


print("H(v) of the test factors: " + ", ".join(f"{name} {factor_entropy[k]:.4f} nats" for k, name in
                                               enumerate(data.factor_names)) + f" (log 32 = {math.log(32):.4f})")
bin_choices = (10, 20, 50)
migs_by_bins = {key: [independent_mig(codes_test[key].numpy(), factors_test, b) for b in bin_choices] for key in models}
print(f"{'model':18s}" + "".join(f"{f'{b} bins':>10s}" for b in bin_choices))
for (beta, seed), values in migs_by_bins.items():
    print(f"beta {beta:4g}, seed {seed}" + "".join(f"{v:10.3f}" for v in values))

# %%
# NBVAL_CHECK_OUTPUT
def check_mig_reproduced(migs):
    _ = vc.checks.check_close("MIG computed independently (np.histogram2d, 20 bins) == metrics.mig, every model",
                              migs, [metric_rows[key]["MIG"] for key in models], rtol=0, atol=1e-9, kind="evidence",
                              settles=("C55",), control=True)


check_mig_reproduced([migs_by_bins[key][bin_choices.index(20)] for key in models])
with vc.checks.negative_control("the gap not divided by H(v)"):
    check_mig_reproduced([independent_mig(codes_test[key].numpy(), factors_test, 20, normalise=False) for key in models])

# %% [markdown]
# ## 5. The trade-off, and the seed spread
#
# Left: each model's test reconstruction nll against its MIG (one marker per model, colour = β).
# Right: every metric against β, one dot per seed and a line through the means. The dashed line in
# each panel is the hand-made centroid code.

# %% mystnb={"image": {"alt": "Left: MIG against test reconstruction nll in nats per image, one marker per model, colour by beta and shape by seed. Right: five panels, MIG, DCI D, SAP cont, beta-VAE and FactorVAE against beta 1, 4, 16, with seed dots, a line through the means and a dashed ink-centroid line."}}
metric_names = ["MIG", "DCI D", "SAP cont", "beta-VAE", "FactorVAE"]
colours = {beta: colour for beta, colour in zip(BETAS, ["tab:blue", "tab:orange", "tab:red", "tab:green", "tab:purple"])}
fig = plt.figure(figsize=(12, 4.2), layout="constrained")
left, right = fig.subfigures(1, 2, width_ratios=(1, 2.2))
ax = left.subplots()
for (beta, seed), row in metric_rows.items():
    ax.scatter(test_terms[beta, seed]["nll"], row["MIG"], color=colours[beta], marker="os^D"[seed % 4], s=50,
               label=f"beta {beta:g}, seed {seed}")
ax.set(xlabel="test reconstruction nll [nats/image]", ylabel="MIG", ylim=(0, None),
       title="reconstruction vs disentanglement")
ax.legend(fontsize="x-small")
axes = right.subplots(1, len(metric_names), sharex=True, sharey=True)
for ax, name in zip(axes, metric_names):
    for seed in seeds:
        ax.scatter(BETAS, [metric_rows[beta, seed][name] for beta in BETAS], color="grey", s=15)
    ax.plot(BETAS, [np.mean([metric_rows[beta, s][name] for s in seeds]) for beta in BETAS], color="black")
    ax.axhline(centroid_row[name], color="tab:green", linestyle="--", linewidth=1)
    ax.set(xscale="log", xticks=BETAS, xticklabels=[f"{b:g}" for b in BETAS], title=name, xlabel="beta",
           ylim=(0, 1.05))
    ax.minorticks_off()
right.suptitle("each metric vs beta (dots: seeds; line: mean; dashed: ink centroid)")

# %% [markdown]
# ### Is the β effect larger than the seed spread?
#
# Locatello et al. (2019) trained 12,000 models. They found that random seeds and hyperparameters
# moved the scores about as much as the choice of model did. We ask the same question of our six
# models, metric by metric, and let the code print the answer. **β effect**: the largest minus the
# smallest of the per-β mean scores. **Seed spread**: the largest range (max − min over seeds)
# within one β. **Separated**: every seed of the best β scores above every seed of the worst β.
# With two seeds a range is a crude estimate of the spread, and it can only underestimate the range
# that more seeds would show (try `NUM_SEEDS = 4`).

# %%
print(f"{'metric':10s} {'best beta':>9s} {'worst beta':>10s} {'beta effect':>12s} {'seed spread':>12s}"
      f" {'effect > spread':>16s} {'separated':>10s}")
verdicts = {}
for name in metric_names:
    means = {beta: np.mean([metric_rows[beta, s][name] for s in seeds]) for beta in BETAS}
    best, worst = max(means, key=means.get), min(means, key=means.get)
    tied_best = [beta for beta in BETAS if means[beta] == means[best]]  # e.g. several betas scoring 1.0
    effect = means[best] - means[worst]
    seed_spread = max(np.ptp([metric_rows[beta, s][name] for s in seeds]) for beta in BETAS)
    separated = min(metric_rows[best, s][name] for s in seeds) > max(metric_rows[worst, s][name] for s in seeds)
    verdicts[name] = (tied_best, effect > seed_spread, separated)
    print(f"{name:10s} {'/'.join(f'{b:g}' for b in tied_best):>9s} {worst:10g} {effect:12.3f} {seed_spread:12.3f}"
          f" {str(effect > seed_spread):>16s} {str(separated):>10s}")

# %% [markdown]
# Two more of the study's points can be checked on these numbers.
#
# - **Do the metrics agree?** The Spearman rank correlation of each pair of metrics over the six
#   models. With six models these correlations are rough. A negative or near-zero entry means
#   that two metrics order the same models differently.
# - **Could β be chosen without labels?** An unsupervised criterion must not be the training
#   objective of one of the models: the negative ELBO *is* the β = 1 objective, so β = 1 would win it
#   by construction. We use the held-out log-likelihood instead, estimated with the importance-weighted
#   bound L_50 (notebook 05) on 500 test images (1000 in the full budget), which no model was trained
#   on. We print which β it prefers and which β each metric prefers. Only the metrics know the
#   ground-truth factors.

# %%
keys = list(models)
columns = {name: [metric_rows[key][name] for key in keys] for name in metric_names}
print("Spearman rank correlation between metrics over the models:")
print(f"{'':10s}" + "".join(f"{name:>10s}" for name in metric_names))
for a in metric_names:
    with warnings.catch_warnings():  # a metric that gives every model the same score has no ranking: nan
        warnings.simplefilter("ignore")
        print(f"{a:10s}" + "".join(f"{stats.spearmanr(columns[a], columns[b]).statistic:10.2f}" for b in metric_names))
num_held_out = {"ci": 500, "full": 1000}[BUDGET]
held_out = {key: vc.evaluate.iwae_log_likelihood(model, x_test[:num_held_out], num_samples=50, batch_size=200,
                                                 generator=torch.Generator().manual_seed(SEED + 30)).mean().item()
            for key, model in models.items()}
likelihood_means = {beta: np.mean([held_out[beta, s] for s in seeds]) for beta in BETAS}
likelihood_choice = max(likelihood_means, key=likelihood_means.get)
print(f"\nheld-out log-likelihood, L_50 on {num_held_out} test images, nats/image: "
      + ", ".join(f"beta {beta:g} {spread([held_out[beta, s] for s in seeds], 2)}" for beta in BETAS))
print(f"beta with the best held-out log-likelihood: {likelihood_choice:g}")
print("beta with the best mean score, per metric: "
      + ", ".join(f"{name} {'/'.join(f'{b:g}' for b in verdicts[name][0])}" for name in metric_names))
print(f"metrics whose best beta is the one the held-out likelihood would choose: "
      f"{[name for name in metric_names if likelihood_choice in verdicts[name][0]] or 'none'}")

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("the beta with the best held-out log-likelihood is not the beta that MIG, DCI D or the FactorVAE "
                     "metric prefers", all(likelihood_choice not in verdicts[name][0]
                                           for name in ["MIG", "DCI D", "FactorVAE"]),
                     kind="evidence", settles=("C58",))

# %% [markdown]
# ### Does the effect hold beyond these two seeds? The setting search
#
# An earlier version of this notebook chose its setting by an offline search and reported that with
# the ellipse every β = 16 model beat every β = 1 model. That search left no record, so it is now in
# the repository: `experiments/beta_vae_setting_search.py` trains this notebook's model with its
# budget, β = 1 and 16, seeds 0-3, on three subsets of dSprites, each seed with **its own draw of the
# data** (this notebook draws its data once, with seed 0, for both of its seeds), and writes
# `experiments/beta_vae_setting_search.json`, which we read here. A consistency check first: seed 0
# uses this notebook's data draw, so the file must hold the MIG of the two seed-0 models trained above.
# Then two predictions, each checked on all three settings: β = 16 raises the **mean** MIG over seeds;
# and, from the earlier claim, in the ellipse setting every β = 16 seed beats every β = 1 seed.

# %%
def find_in_repository(relative):
    """The file at ``relative`` from the repository root, found from the working folder upwards."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / relative).exists():
            return folder / relative
    raise FileNotFoundError(f"{relative} not found above {Path.cwd()}; run this notebook inside the course repository")


search = json.loads(find_in_repository("experiments/beta_vae_setting_search.json").read_text())
print(f"{'setting':30s} {'beta = 1, seeds ' + str(search['seeds']):>34s} {'beta = 16':>30s} {'means':>16s}")
for setting, by_beta in search["mig"].items():
    print(f"{setting:30s} {' '.join(f'{v:6.3f}' for v in by_beta['1']):>34s}"
          f" {' '.join(f'{v:6.3f}' for v in by_beta['16']):>30s}"
          f" {np.mean(by_beta['1']):7.3f} {np.mean(by_beta['16']):7.3f}")
print(f"(MIG, 20 bins; {search['budget']['epochs']} epochs x {search['budget']['train_images']} images; "
      f"the search took {search['seconds']} s on one core)")

# %%
# NBVAL_CHECK_OUTPUT
setting_name = {1: "ellipse, positions", 0: "square, positions"}[SHAPE]
_ = vc.checks.check_close("the search file's seed-0 MIG == this notebook's seed-0 models (beta 1 and 16)",
                          [search["mig"][setting_name][f"{beta:g}"][0] for beta in (1.0, 16.0)],
                          [metric_rows[beta, 0]["MIG"] for beta in (1.0, 16.0)], rtol=0, atol=1e-3, kind="consistency")
vc.checks.check_true("in every setting of the search, the mean MIG over seeds is higher at beta = 16 than at beta = 1",
                     all(np.mean(by_beta["16"]) > np.mean(by_beta["1"]) for by_beta in search["mig"].values()),
                     kind="evidence", settles=("C51",))
separated_settings = [setting for setting, by_beta in search["mig"].items() if min(by_beta["16"]) > max(by_beta["1"])]
print("settings in which every beta = 16 seed beats every beta = 1 seed:", separated_settings or "none")

# %% [markdown]
# The file's seed-0 numbers are this notebook's (the consistency check). The mean MIG rises with β in
# all three settings (the evidence check): about 0.08 to 0.16 for the ellipse, 0.04 to 0.28 for the
# squares, 0.05 to 0.23 for squares with a free scale. Seed by seed, only the ellipse separates, and
# by a hair: its worst β = 16 seed (0.0964) beats its best β = 1 seed (0.0960) by 0.0004, far inside
# the seed spread; in each square setting one β = 16 seed scores below a β = 1 seed. So the earlier
# claim survives, only just, and the ellipse is not the setting with the largest effect: the squares
# show a larger mean effect with less reliability. What this measures is Locatello et al.'s lesson:
# β shifts the distribution of MIG over seeds and data draws, and two seeds that share one data draw
# (this notebook's, which separated clearly) say little about where the next run will land.

# %% [markdown]
# > **Common mistakes (homework Q4)**
# > - *"When β > 1 the model prioritizes disentanglement … particularly effective at discovering
# >   disentangled factors."* β > 1 penalises the **rate**, the KL, which measures how much
# >   information about x passes through z. That reliably costs reconstruction (section 3's check).
# >   Disentanglement is a hoped-for side effect. It depends on the data and on the inductive biases
# >   of the model (here, the diagonal posterior and an ellipse whose two positions move different
# >   numbers of pixels). The setting search of section 5 shows whether squares show it. Section 5
# >   also prints whether it held in this run and whether it exceeds the seed spread.
# > - *"Standard VAEs equally weigh reconstruction and regularization."* β = 1 is "equal weight"
# >   only relative to a likelihood scale. With a Gaussian decoder, σ already acts as a KL weight
# >   (notebook 06: β = 2σ² relative to the squared error).
# > - *"Disentanglement metrics help verify that the latent space aligns with the data's factors"* and
# >   *"guide hyperparameter tuning, such as selecting an optimal β."* Every one of them needs the
# >   ground-truth factors (section 1), so none can verify anything on unlabelled data. With labels
# >   available, they can select β. Without labels, the held-out likelihood prefers the β printed in
# >   section 5, not the β the metrics prefer, and Locatello et al. found that good models could not
# >   be identified without labels.
# > - *"The paper highlights MIG, the Beta-VAE metric and DCI."* The β-VAE paper (Higgins et al.
# >   2017) introduced only the β-VAE metric. MIG is from Chen et al. (2018), DCI from Eastwood and
# >   Williams (2018), the FactorVAE metric from Kim and Mnih (2018), SAP from Kumar et al. (2018). All
# >   are compared in Locatello et al. (2019).
# > - *"MIG measures the difference in mutual information between the top two latent dimensions."*
# >   That gap is divided by the factor's entropy H(v_k) and averaged over factors, which puts MIG in
# >   [0, 1]. The estimator matters too (bins, posterior means, which factors). Here the images
# >   themselves cap it below 1 (the ceiling in the data section).
# > - *"Beta-VAE metric: trains a classifier to predict fixed factor indices."* It predicts which
# >   factor a batch of **pairs shares**, from the mean absolute code difference, with a linear
# >   classifier. It scores a code that ignores a factor as perfect (section 1). The FactorVAE metric
# >   was proposed to fix that.
# > - *"DCI analyses how each latent dimension predicts the factors."* Each **factor** is predicted
# >   from **all** dimensions. The importances give D (does each dimension serve one factor?) and C
# >   (is each factor held by one dimension?), and the prediction accuracy gives I (section 1's table).

# %% [markdown]
# ## Summary
#
# The numbers measured in this run:

# %%
print(f"setting: dSprites {dsprites.shapes[SHAPE]}s at {RESOLUTION} px, factors {data.factor_names}, latent {LATENT_DIM}, "
      f"{num_epochs} epochs x {num_train} images, seeds {seeds}")
print(f"{'beta':>6s} {'test nll':>20s} {'test KL':>20s} {'active (KL)':>12s}"
      + "".join(f"{name:>22s}" for name in metric_names))
for beta in BETAS:
    print(f"{beta:6g} {spread([test_terms[beta, s]['nll'] for s in seeds], 2):>20s}"
          f" {spread([test_terms[beta, s]['kl'] for s in seeds], 2):>20s}"
          f" {spread([active_kl[beta, s] for s in seeds], 1):>12s}"
          + "".join(f"{spread([metric_rows[beta, s][name] for s in seeds], 3):>22s}" for name in metric_names))
print(f"{'centroid':>6s} {'':>20s} {'':>20s} {'':>12s}" + "".join(f"{centroid_row[name]:22.3f}" for name in metric_names))
print(f"(mean [min, max] over {len(seeds)} seeds; MIG ceiling of the images {mig_ceiling.mean():.3f})")
print("beta effect > seed spread: " + ", ".join(f"{name} {verdicts[name][1]}" for name in metric_names))
print("best beta separated from worst beta for every seed: " + ", ".join(f"{name} {verdicts[name][2]}" for name in metric_names))

# %% [markdown]
# - The β-VAE changes one factor in the objective, nll + β·KL. For β ≥ 1 it still lower-bounds
#   log p(x), more loosely (section 2's checks).
# - Raising β lowers the KL and raises the reconstruction error for every seed (checked). The active
#   units and the KL per dimension show where the information went.
# - The five metrics score different things. On constructed codes, rotation lowers MIG and DCI
#   disentanglement while keeping the information. The β-VAE metric calls a code that ignores a
#   factor perfect, while the FactorVAE metric does not. Discrete SAP also measures its
#   classifier.
# - Whether β raised disentanglement in this run, by how much compared with the seed spread, and
#   whether the metrics agree are the computed lines of section 5. In the setting search (four seeds,
#   each with its own data draw) β = 16 raised the mean MIG in every setting, at a large
#   reconstruction cost, but separated seed by seed only for the ellipse, by 0.0004. A
#   disentanglement result is a result about a data set, a model, a metric and a set of seeds.
# - β shrinks the total correlation of the code far faster than its information about the image
#   (section 3), the field's explanation of why β can help.
#
# **Try it**
# 1. Set `SHAPE = 0` (squares) and rerun: does β = 16 still separate from β = 1 on MIG for both
#    seeds? Compare the pixel counts of one step in x and in y, and the setting search's squares.
# 2. Set `NUM_SEEDS = 4` (about a minute more): do the verdicts of section 5 change?
# 3. Replace the FactorVAE metric's pruning threshold (`prune_threshold`, default 0.05) by 0 on the
#    β = 16 models: what happens to its score when collapsed dimensions can vote?
#
# **References:** Higgins et al., "β-VAE: learning basic visual concepts with a constrained
# variational framework" (ICLR 2017); Burgess et al., "Understanding disentangling in β-VAE" (2018);
# Chen et al., "Isolating sources of disentanglement in VAEs" (NeurIPS 2018, MIG and the total-correlation decomposition); Kim and Mnih,
# "Disentangling by factorising" (ICML 2018, FactorVAE metric); Eastwood and Williams, "A framework
# for the quantitative evaluation of disentangled representations" (ICLR 2018, DCI); Kumar et al.,
# "Variational inference of disentangled latent concepts from unlabeled observations" (ICLR 2018,
# SAP); Locatello et al., "Challenging common assumptions in the unsupervised learning of
# disentangled representations" (ICML 2019); Rolinek et al., "Variational autoencoders pursue PCA
# directions (by accident)" (CVPR 2019); Burda et al., "Importance weighted autoencoders" (ICLR 2016,
# active units); Matthey et al., dSprites (2017).
