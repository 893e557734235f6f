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
# # 02 · Generating with a VAE: five methods on one yardstick
#
# Notebook 01 showed that a plain autoencoder gives codes but no distribution to draw new codes
# from. The homework (Q1b) answers that a VAE fixes this and lists "three methods" to generate with
# one: a regularised latent space, sampling from the prior, and smooth interpolation. Here we say
# what a VAE is, train one of the same size as 01's larger autoencoder (16-d latent, one hidden
# layer of 400 units), run five generation methods, and put every one of them on the same yardstick
# (notebook 00): the Fréchet distance, density (fidelity) and coverage (variety) on the reference
# classifier's features, the classes the samples fall into, and the distance to the nearest
# training image. Then we confront the homework's claims with the numbers.
#
# **Learning goals**
# - say what the encoder, the decoder and the prior of a VAE are, and what the ELBO's two terms
#   measure, on a held-out digit;
# - generate with a VAE in five ways: prior sampling, linear and spherical interpolation, posterior
#   variations of a given digit, latent arithmetic with class means, and ex-post density estimation;
# - measure each method on every measure of the yardstick, over two training seeds, with sample
#   sets that never overlap the set they are compared with, and check that no method copies the
#   training set;
# - see that the KL term does not make the codes' aggregate distribution equal the prior, and what
#   that costs prior samples;
# - read Kingma and Welling's picture of a 2-D VAE's latent space next to the decoded box of its codes.
#
# **Prerequisites:** 00 (the yardstick), 01 (why a plain AE cannot be sampled as it is).
# **Budget:** runs in at most 60 s on 2 CPU cores.

# %% tags=["parameters"]
SEED = 0
DEVICE = "auto"
BUDGET = "ci"  # "ci": the short run that CI executes; "full": longer training
LATENT_DIM = 16
NUM_SEEDS = 2
NUM_COMPONENTS = 10

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import vaecourse as vc
from vaecourse.evaluate import spread

device = vc.setup_notebook(seed=SEED, device=DEVICE)

# %% [markdown]
# ## Data
#
# The embedded MNIST subset of notebook 00: 4,000 training and 1,000 held-out test images.

# %%
x_train, labels_train = vc.data.load_mnist(split="train")
x_test, labels_test = vc.data.load_mnist(split="test")

# %%
# NBVAL_CHECK_OUTPUT
print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, test per class {torch.bincount(labels_test).tolist()}")

# %% [markdown]
# ## 1. What a VAE is
#
# A variational autoencoder (Kingma and Welling 2014) has three parts:
#
# - a **prior** p(z) = N(0, I) over a code z of 16 numbers: where new codes come from;
# - a **decoder** p(x|z): a network turns z into 784 pixel probabilities, and the image is modelled as
#   784 independent Bernoulli pixels with those means;
# - an **encoder** q(z|x) = N(mu(x), diag sigma(x)^2): a network's guess of which codes could have
#   produced the image x.
#
# Generating needs only the first two: draw z ~ p(z) and decode. The encoder is there for training.
# The model's score of an image, p(x) = ∫ p(x|z) p(z) dz, has no closed form, so the VAE maximises a
# lower bound on its logarithm, the **evidence lower bound** (ELBO):
#
# $$\mathrm{ELBO}(x) = \mathbb{E}_{q(z|x)}[\log p(x|z)] - \mathrm{KL}(q(z|x)\,\|\,p(z)) \le \log p(x).$$
#
# The first term rewards codes that decode back to x (reconstruction); the second charges, in nats,
# for how far each q(z|x) strays from the prior. Notebook 05 derives the bound and checks it where
# log p(x) is known. Between two Gaussians the KL has a closed form, the lines below.
#
# One caveat on units: MNIST pixels are grey levels in [0, 1], and a Bernoulli "likelihood" of grey
# pixels is not a normalised density (notebook 06 measures by how much). On these images the ELBO
# bounds the log of an unnormalised Bernoulli score, not a log-likelihood; it still compares models
# trained and evaluated on the same data.

# %%
def kl_to_standard_normal(mu, sigma):
    """KL(N(mu, diag sigma^2) || N(0, I)) per row of (B, D), in nats, in closed form."""
    return 0.5 * (mu ** 2 + sigma ** 2 - 1 - torch.log(sigma ** 2)).sum(dim=-1)

# %% [markdown]
# ## 2. Two models of the same size, two seeds each
#
# The VAE, and a plain autoencoder (AE) with the same encoder and decoder widths: 784-400-16 and
# back. Each is trained from two seeds, so every comparison below reports a mean and the range
# over seeds. The models move to the CPU afterwards, where all the measuring happens.

# %%
num_epochs = {"ci": 20, "full": 100}[BUDGET]
seeds = [SEED + k for k in range(NUM_SEEDS)]
models, histories = {}, {}
for seed in seeds:
    for name, model_class in [("VAE", vc.models.VAE), ("AE", vc.models.AE)]:
        torch.manual_seed(seed)
        model = model_class(latent_dim=LATENT_DIM, hidden=(400,))
        histories[name, seed] = vc.train.fit(model, x_train, epochs=num_epochs, seed=seed, device=device)
        models[name, seed] = model.cpu().eval()

# %%
# NBVAL_CHECK_OUTPUT
print(f"{len(models)} models trained: {sorted({name for name, _ in models})} x {len(seeds)} seeds, {num_epochs} epochs each")
vc.checks.check_true("every run lowered its objective (last epoch below the first)",
                     all(h.train[h.objective][-1] < h.train[h.objective][0] for h in histories.values()),
                     kind="evidence")

# %%
for (name, seed), history in histories.items():
    print(f"{name} seed {seed}: final {history.objective} {history.final():.1f} nats/image (training set)")

# %% [markdown]
# ## 3. Three sets that never overlap
#
# Every sample set is scored against real held-out digits. If a sample set were built from the very
# digits it is compared with (reconstructions of them, say), it would score well for the wrong
# reason. So, for each seed, `vc.yardstick.split_held_out` cuts the 1,000 held-out digits into two
# disjoint halves of 500: the **reference** that every set is compared with, and the **source**, the
# only held-out digits a method may start from (reconstructions, interpolation endpoints, posterior
# variations, arithmetic). The training set is the third set: the "not copies" check of section 11
# measures how far samples lie from it. The source's labels are found by locating each of its images
# in the test split.

# %%
halves, labels_source = {}, {}
for seed in seeds:
    halves[seed] = vc.yardstick.split_held_out(x_test, seed=seed)  # (reference, source)
    found_distance, found_index = vc.yardstick.nearest_neighbour(halves[seed][1], x_test)
    labels_source[seed] = labels_test[found_index]

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("every seed: each source image is a held-out image, and none is in the reference half",
                     all(vc.yardstick.nearest_neighbour(halves[s][1], x_test)[0].max() == 0
                         and vc.yardstick.nearest_neighbour(halves[s][1], halves[s][0])[0].min() > 0 for s in seeds),
                     kind="consistency")
print(f"per seed: reference {len(halves[SEED][0])}, source {len(halves[SEED][1])} held-out digits; "
      f"source classes (seed {SEED}): {torch.bincount(labels_source[SEED], minlength=10).tolist()}")

# %% [markdown]
# ## 4. The ELBO of a held-out digit, measured
#
# The two terms for one source digit, with the VAE of seed 0: the reconstruction term by Monte Carlo
# over 10,000 draws z ~ q(z|x), the KL in closed form. The closed form is checked against a Monte
# Carlo estimate of the same KL, the average of log q(z|x) - log p(z) over the same draws.
# Expectation: the two agree within 4 standard errors of the Monte Carlo estimate. As a negative
# control, the closed form with the classic slip of a standard deviation where the variance belongs
# must fail the same check.

# %%
vae = models["VAE", SEED]
x_digit, num_mc = halves[SEED][1][:1], 10_000
with torch.no_grad():
    q_z = vae.encode(x_digit)  # N(mu, diag sigma^2), batch of one
    eps = torch.randn(num_mc, 1, LATENT_DIM, generator=torch.Generator().manual_seed(SEED))
    z = q_z.mean + q_z.stddev * eps  # (num_mc, 1, D)
    log_px_given_z = vae.decode(z[:, 0]).log_prob(x_digit.expand(num_mc, -1, -1, -1))
    kl_terms = q_z.log_prob(z) - vae.prior().log_prob(z)  # (num_mc, 1): the Monte Carlo KL, draw by draw
kl_closed = kl_to_standard_normal(q_z.mean, q_z.stddev)[0]
reconstruction_term = log_px_given_z.mean()
print(f"held-out digit (a {labels_source[SEED][0].item()}): E_q log p(x|z) = {reconstruction_term:.1f} nats, "
      f"KL(q(z|x) || p(z)) = {kl_closed:.1f} nats, ELBO = {reconstruction_term - kl_closed:.1f} nats")
print(f"Monte Carlo KL: {kl_terms.mean():.2f} +- {kl_terms.std() / num_mc ** 0.5:.2f} (standard error)")


# %%
# NBVAL_CHECK_OUTPUT
def kl_agrees(closed_form):
    _ = vc.checks.check_within_mc_error("closed-form KL(q(z|x) || p(z)) of a held-out digit == its Monte Carlo estimate",
                                        kl_terms.mean(), closed_form, kl_terms.std() / num_mc ** 0.5,
                                        kind="evidence", control=True)


kl_agrees(kl_closed)
with vc.checks.negative_control("sigma in place of sigma^2 in the closed form"):
    mu, sigma = q_z.mean[0], q_z.stddev[0]
    kl_agrees(0.5 * (mu ** 2 + sigma - 1 - torch.log(sigma)).sum())

# %% [markdown]
# Over the 500 source digits (10 draws each), the average of the two terms, per seed. The KL is
# what each image's code costs; the reconstruction term is by far the larger part of the bound.

# %%
elbo_terms = {}
with torch.no_grad():
    for seed in seeds:
        vae, source = models["VAE", seed], halves[seed][1]
        q_z = vae.encode(source)
        z = q_z.mean + q_z.stddev * torch.randn(10, *q_z.mean.shape, generator=torch.Generator().manual_seed(seed))
        reconstruction = vae.decode(z.flatten(0, 1)).log_prob(source.repeat(10, 1, 1, 1)).mean().item()
        elbo_terms[seed] = (reconstruction, kl_to_standard_normal(q_z.mean, q_z.stddev).mean().item())
print(f"E_q log p(x|z): {spread([elbo_terms[s][0] for s in seeds])} nats, KL: {spread([elbo_terms[s][1] for s in seeds])} "
      f"nats, ELBO: {spread([elbo_terms[s][0] - elbo_terms[s][1] for s in seeds])} nats per held-out digit")
print("(Bernoulli score of grey-level pixels: a bound on an unnormalised log density, not a log-likelihood; notebook 06)")

# %% [markdown]
# ## 5. Method 1: sampling the prior
#
# Every method below produces image sets per seed; `score` puts a list of them on the yardstick,
# against that seed's reference half. Draw z ~ p(z) = N(0, I) and decode. `vae.sample` returns the
# decoder **means**, the grey-level images one usually shows. What the model itself generates is a
# draw from p(x|z): Bernoulli pixels, each on with the probability the mean gives it. We score both,
# and, as the **ceiling** of each decoder (what it makes of codes of real digits), its
# reconstructions of the 500 source digits: for the VAE as means and as Bernoulli pixels, and for
# the AE.
#
# Expectations, stated before the run: prior samples are digit-like, with a Fréchet distance less
# than half that of uniform noise and at least 10 times its coverage, in every seed. Pixel samples
# carry independent per-pixel noise, so they lie further from the nearest training image than the
# means, in every seed. Prior samples use the same decoder as the reconstructions, so if prior
# draws landed where the codes of real digits lie, they would reach the reconstructions' density and
# coverage; we expect them to fall short of both, in every seed (section 9 measures why).

# %%
generated = {seed: {} for seed in seeds}  # method -> images (decoder means unless the name says otherwise)
quality = {seed: {} for seed in seeds}  # method -> QualityRow


def score(methods):
    for seed in seeds:
        reference, source = halves[seed]
        rows = vc.yardstick.sample_quality({m: generated[seed][m] for m in methods}, reference=reference, real=source,
                                           train_images=x_train, seed=seed)
        quality[seed].update({row.name: row for row in rows})


def across_seeds(method, field="frechet_distance"):
    return np.array([getattr(quality[seed][method], field) for seed in seeds])


# %%
for seed in seeds:
    vae, ae, source = models["VAE", seed], models["AE", seed], halves[seed][1]
    means = vae.sample(1000, generator=torch.Generator().manual_seed(seed))
    generated[seed]["prior, decoder means (VAE)"] = means
    generated[seed]["prior, Bernoulli pixels (VAE)"] = torch.bernoulli(means, generator=torch.Generator().manual_seed(seed))
    reconstructions = vc.latent.decode_mean(vae, vc.latent.encode_dataset(vae, source))
    generated[seed]["held-out recon. (VAE)"] = reconstructions
    generated[seed]["held-out recon., Bernoulli (VAE)"] = torch.bernoulli(
        reconstructions, generator=torch.Generator().manual_seed(seed))
    generated[seed]["held-out recon. (AE)"] = vc.latent.decode_mean(ae, vc.latent.encode_dataset(ae, source))
prior_means, prior_pixels = "prior, decoder means (VAE)", "prior, Bernoulli pixels (VAE)"
score(["held-out recon. (VAE)", "held-out recon., Bernoulli (VAE)", "held-out recon. (AE)", prior_means, prior_pixels])

# %%
# NBVAL_CHECK_OUTPUT
noise_fd, noise_coverage = across_seeds("uniform noise"), across_seeds("uniform noise", "coverage")
vc.checks.check_true("every seed: prior samples are digit-like (Frechet distance below half the noise's, coverage 10x the noise's)",
                     np.all(across_seeds(prior_means) < noise_fd / 2)
                     and np.all(across_seeds(prior_means, "coverage") > 10 * noise_coverage),
                     kind="evidence", settles=("C7",))
vc.checks.check_true("every seed: Bernoulli pixel samples lie further from the training images than the means",
                     np.all(across_seeds(prior_pixels, "nn_distance") > across_seeds(prior_means, "nn_distance")),
                     kind="evidence", settles=("C7",))
vc.checks.check_true("every seed: prior samples fall short of the same decoder's held-out reconstructions on density and coverage",
                     all(np.all(across_seeds(prior_means, f) < across_seeds("held-out recon. (VAE)", f))
                         for f in ["density", "coverage"]), kind="evidence", settles=("C7",))

# %%
shown = ["real held-out digits", "uniform noise", "held-out recon. (VAE)", "held-out recon., Bernoulli (VAE)",
         "held-out recon. (AE)", prior_means, prior_pixels]
print(f"{'image set':<33} {'Frechet':<21} {'density':<18} {'coverage':<18} {'NN distance':<18}")
for method in shown:
    print(f"{method:<33} {spread(across_seeds(method)):<21} {spread(across_seeds(method, 'density'), 2):<18} "
          f"{spread(across_seeds(method, 'coverage'), 2):<18} {spread(across_seeds(method, 'nn_distance'), 2):<18}")
fig, axes = plt.subplots(2, 1, figsize=(12, 2.4))
vc.plotting.image_grid(generated[SEED][prior_means][:20], nrow=20, ax=axes[0], title="prior samples: decoder means")
fig = vc.plotting.image_grid(generated[SEED][prior_pixels][:20], nrow=20, ax=axes[1],
                             title="the same samples: Bernoulli pixels drawn from those means")

# %% [markdown]
# **Which rendering does the yardstick prefer, and why?** The homework shows decoder means. The
# Fréchet distance can prefer either: the means are blurred averages, the pixel draws sharp but
# speckled. To tell a preference for *content* from a preference for *rendering*, we compare the two
# renderings of the same content: the VAE's reconstructions of the source digits, as means and as
# Bernoulli pixels. We also count how grey each set is: the share of its inked pixels (above 0.1)
# that are grey (between 0.1 and 0.9). If the Fréchet distance reacts to rendering, it prefers
# the pixel draws on the reconstructions too, where the content is the same.

# %%
def grey_share(images):
    inked = images > 0.1
    return ((images < 0.9) & inked).sum().item() / inked.sum().item()


grey = {m: [grey_share(generated[s][m]) for s in seeds] for m in shown[2:]}
grey["real held-out digits"] = [grey_share(halves[s][1]) for s in seeds]
for method, shares in grey.items():
    print(f"{method:<33} share of grey pixels among inked ones: {spread(shares, 2)}")

# %%
# NBVAL_CHECK_OUTPUT
pixels_preferred = bool(np.all(across_seeds(prior_pixels) < across_seeds(prior_means)))
means_preferred = bool(np.all(across_seeds(prior_pixels) > across_seeds(prior_means)))
print(f"on prior samples, the Frechet distance prefers, in every seed: "
      f"{'pixel samples' if pixels_preferred else 'means' if means_preferred else 'neither'}")
vc.checks.check_true("every seed: on the same reconstructions, the Frechet distance prefers Bernoulli pixels to means",
                     np.all(across_seeds("held-out recon., Bernoulli (VAE)") < across_seeds("held-out recon. (VAE)")),
                     kind="evidence")

# %% [markdown]
# The Fréchet distance prefers the pixel draws on the reconstructions as well, where nothing but the
# rendering differs, and by a similar factor. The decoder's means are much greyer than real digits,
# the pixel draws have no grey at all, and the classifier's features, trained on real digits,
# react more to the grey haze than to the speckle. So the Fréchet distance's preference for pixel
# samples is mostly about rendering, not about which codes are better. Density reads the renderings
# differently (the table above): on the reconstructions it is higher for the means. The two
# renderings agree on one thing, and the ceilings show it plainly: prior samples reach neither the
# density nor the coverage that the same decoder reaches on codes of real digits. Neither image is
# "the" sample: the mean is the expected image given z, the pixel draw a sample of p(x|z) with
# independent pixels. Always say which you show.
#
# ## 6. Method 2: interpolating between two encoded digits, linearly and spherically
#
# Encode two source digits (posterior means), walk from one code to the other and decode each point.
# A straight line (lerp) is the obvious path. But in 16 dimensions, draws from N(0, I) have norm
# close to √16 = 4 and are nearly orthogonal to one another, so the midpoint of a straight line
# between two typical codes has a norm smaller by a factor of about √2: it leaves the shell where
# the codes live. Spherical interpolation (slerp; Shoemake 1985, proposed for generative models by
# White 2016) follows the great circle instead. Its key lines, written out:

# %%
def lerp(z_start, z_end, t):
    """Straight line between rows of (B, D) codes at fractions t (K,): (B, K, D)."""
    t = t.view(1, -1, 1)
    return (1 - t) * z_start[:, None] + t * z_end[:, None]


def slerp(z_start, z_end, t):
    """Spherical interpolation between rows of (B, D) codes at fractions t (K,): (B, K, D)."""
    cos_omega = (z_start * z_end).sum(-1) / (z_start.norm(dim=-1) * z_end.norm(dim=-1))
    omega = torch.arccos(cos_omega.clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # angle between the codes
    t = t.view(1, -1, 1)
    return (torch.sin((1 - t) * omega) * z_start[:, None] + torch.sin(t * omega) * z_end[:, None]) / torch.sin(omega)

# %% [markdown]
# Both must agree with the package's `vc.plotting.interpolate`, which draws the strips below, to
# float32 rounding (we allow 1e-5), on random codes. This guards the notebook's copy against drift;
# it is not evidence about interpolation.

# %%
# NBVAL_CHECK_OUTPUT
check_generator = torch.Generator().manual_seed(1)
z_a, z_b = torch.randn(64, LATENT_DIM, generator=check_generator), torch.randn(64, LATENT_DIM, generator=check_generator)
t_path = torch.linspace(0, 1, 9)
_ = vc.checks.check_close("notebook lerp == vc.plotting.interpolate(method='linear')", lerp(z_a, z_b, t_path),
                          vc.plotting.interpolate(z_a, z_b, 9, "linear"), rtol=1e-5, atol=1e-5, kind="consistency")
_ = vc.checks.check_close("notebook slerp == vc.plotting.interpolate(method='spherical')", slerp(z_a, z_b, t_path),
                          vc.plotting.interpolate(z_a, z_b, 9, "spherical"), rtol=1e-5, atol=1e-5, kind="consistency")

# %% [markdown]
# Now 500 pairs of source digits (each digit paired with the next in a fixed shuffle), nine points
# per path. We score the decoded **midpoints** on the yardstick and follow the norm of the code
# along the path. Expectations: the lerp midpoints' mean norm is below 0.9 times the endpoints' mean
# norm in every seed; the slerp midpoints' mean norm is within 10% of it; and slerp midpoints score
# a lower Fréchet distance than lerp midpoints in every seed. (A midpoint between a 3 and a 7 need
# not look like any digit, whichever path is taken: the interesting number is the difference
# between paths.)

# %%
pair_order = torch.randperm(500, generator=torch.Generator().manual_seed(SEED))
start_index, end_index = pair_order, pair_order.roll(1)
path_norms, codes_source = {}, {}
for seed in seeds:
    vae = models["VAE", seed]
    codes_source[seed] = vc.latent.encode_dataset(vae, halves[seed][1])
    z_start, z_end = codes_source[seed][start_index], codes_source[seed][end_index]
    for method, path_fn in [("lerp", lerp), ("slerp", slerp)]:
        path = path_fn(z_start, z_end, t_path)
        path_norms[method, seed] = path.norm(dim=-1).mean(dim=0)  # mean norm at each of the 9 steps
        generated[seed][f"{method} midpoints (VAE)"] = vc.latent.decode_mean(vae, path[:, len(t_path) // 2])
score(["lerp midpoints (VAE)", "slerp midpoints (VAE)"])
prior_norms = torch.randn(10_000, LATENT_DIM, generator=torch.Generator().manual_seed(SEED)).norm(dim=-1)

# %%
# NBVAL_CHECK_OUTPUT
middle = len(t_path) // 2
endpoint_norms = {seed: (path_norms["lerp", seed][0] + path_norms["lerp", seed][-1]) / 2 for seed in seeds}
vc.checks.check_true("every seed: lerp midpoints' mean norm below 0.9 x the endpoints'",
                     all(path_norms["lerp", s][middle] < 0.9 * endpoint_norms[s] for s in seeds),
                     kind="evidence", settles=("C8",))
vc.checks.check_true("every seed: slerp midpoints' mean norm within 10% of the endpoints'",
                     all(abs(path_norms["slerp", s][middle] / endpoint_norms[s] - 1) < 0.1 for s in seeds),
                     kind="evidence", settles=("C8",))
vc.checks.check_true("every seed: slerp midpoints score a lower Frechet distance than lerp midpoints",
                     np.all(across_seeds("slerp midpoints (VAE)") < across_seeds("lerp midpoints (VAE)")),
                     kind="evidence", settles=("C8",))

# %%
print(f"norm of prior draws: {prior_norms.mean():.2f} +- {prior_norms.std():.2f} (sqrt(D) = {LATENT_DIM ** 0.5:.2f})")
print(f"norm of encoded source digits (endpoints): {spread([endpoint_norms[s] for s in seeds], 2)}")
for method in ["lerp", "slerp"]:
    print(f"{method:>5} midpoints: norm {spread([path_norms[method, s][middle] for s in seeds], 2)}, "
          f"Frechet distance {spread(across_seeds(f'{method} midpoints (VAE)'))}")
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.axhspan(prior_norms.mean() - prior_norms.std(), prior_norms.mean() + prior_norms.std(), color="0.85",
           label="prior draws, mean +- sd")
for method, style in [("lerp", "o-"), ("slerp", "s-")]:
    ax.plot(t_path, path_norms[method, SEED], style, label=method)
ax.set_xlabel("fraction t of the path")
ax.set_ylabel("mean norm of the code")
ax.legend(fontsize="small")
_ = ax.set_title(f"code norm along 500 paths (seed {SEED})")

# %%
vae = models["VAE", SEED]
paths = {method: vc.plotting.interpolate(codes_source[SEED][start_index[:3]], codes_source[SEED][end_index[:3]], 9, method)
         for method in ["linear", "spherical"]}
rows = torch.stack([paths[m][k] for k in range(3) for m in ["linear", "spherical"]])  # (6, 9, D)
fig = vc.plotting.strip(vc.latent.decode_mean(vae, rows.flatten(0, 1)).unflatten(0, (6, 9)),
                        row_labels=["lerp", "slerp"] * 3, column_labels=[f"t={t:.2f}" for t in t_path.tolist()],
                        title=f"three pairs of source digits, each by lerp and by slerp (seed {SEED})")

# %% [markdown]
# ## 7. Method 3: variations of a given digit, from its posterior
#
# The encoder gives, for each image x, a distribution q(z|x) = N(mu(x), diag sigma(x)^2): the codes
# the decoder has learned to turn into that image. Decoding several draws of it gives variations of
# that digit: new images, neither copies nor random digits. The draw is the reparameterisation
# z = mu + sigma * eps, written out:

# %%
def sample_posterior(q_z, num_draws, generator):
    """num_draws codes from q(z|x) for each of B inputs: (num_draws, B, D), by reparameterisation."""
    mu, sigma = q_z.mean, q_z.stddev  # (B, D) each
    eps = torch.randn(num_draws, *mu.shape, generator=generator)  # eps ~ N(0, I)
    return mu + sigma * eps

# %% [markdown]
# It must give exactly the draws of `torch.distributions`' own `rsample` on the same random stream
# (the same seed, then `q_z.rsample`), to float32 rounding: a check of the notebook's copy, not of
# an idea.

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    q_check = models["VAE", SEED].encode(halves[SEED][1][:8])
    z_notebook = sample_posterior(q_check, 5, torch.Generator().manual_seed(3))
    with torch.random.fork_rng():
        torch.manual_seed(3)
        z_torch = q_check.rsample((5,))
_ = vc.checks.check_shape("posterior draws: (draws, images, latent dims)", z_notebook, (5, 8, LATENT_DIM),
                          kind="consistency")
_ = vc.checks.check_close("notebook reparameterisation == q_z.rsample on the same seed", z_notebook, z_torch,
                          rtol=1e-6, atol=1e-6, kind="consistency")

# %% [markdown]
# We take the first 100 source digits and 10 draws each. Three questions: do the variations keep the
# digit's class (per the reference classifier, `vc.yardstick.predict`), how far do they move, and
# does it matter that sigma is the *posterior's*? As a control, the same eps scaled by 1 instead of
# sigma(x): noise as wide as the prior around the same mu. Expectations: at least 75% of variations
# keep the class predicted for the original, more than under the prior-width control, in every seed;
# and they scatter around the reconstruction by less than two source digits of the same class differ.

# %%
num_given, num_draws = 100, 10
variation_stats = {}
for seed in seeds:
    vae, source = models["VAE", seed], halves[seed][1]
    x_given, predicted_given = source[:num_given], vc.yardstick.predict(source[:num_given])
    pair_distance = torch.cdist(x_given.flatten(1), source.flatten(1))
    same_class = (labels_source[seed][:num_given, None] == labels_source[seed][None]) & (pair_distance > 0)
    with torch.no_grad():
        q_z = vae.encode(x_given)
        z = sample_posterior(q_z, num_draws, torch.Generator().manual_seed(seed))
        z_control = q_z.mean + (z - q_z.mean) / q_z.stddev  # same eps, prior width
    variations = vc.latent.decode_mean(vae, z.flatten(0, 1)).unflatten(0, (num_draws, num_given))
    control = vc.latent.decode_mean(vae, z_control.flatten(0, 1)).unflatten(0, (num_draws, num_given))
    reconstruction = vc.latent.decode_mean(vae, q_z.mean)
    generated[seed]["posterior variations (VAE)"] = variations.flatten(0, 1)
    keeps = lambda images: (vc.yardstick.predict(images.flatten(0, 1)).view(num_draws, -1) == predicted_given).double().mean().item()  # noqa: E731
    distance = lambda a, b: (a - b).flatten(-3).norm(dim=-1).mean().item()  # noqa: E731
    variation_stats[seed] = {"keeps class": keeps(variations), "control keeps class": keeps(control),
                             "spread around reconstruction": distance(variations, reconstruction),
                             "distance to original": distance(variations, x_given),
                             "reconstruction error": distance(reconstruction, x_given),
                             "same-class source digits apart": pair_distance[same_class].mean().item()}
score(["posterior variations (VAE)"])

# %%
# NBVAL_CHECK_OUTPUT
vc.checks.check_true("every seed: posterior variations keep the predicted class in at least 75% of draws",
                     all(variation_stats[s]["keeps class"] >= 0.75 for s in seeds), kind="evidence", settles=("C9",))
vc.checks.check_true("every seed: ... more often than prior-width noise around the same mean",
                     all(variation_stats[s]["keeps class"] > variation_stats[s]["control keeps class"] for s in seeds),
                     kind="evidence", settles=("C9",))
vc.checks.check_true("every seed: variations scatter around the reconstruction by less than same-class digits differ",
                     all(variation_stats[s]["spread around reconstruction"] < variation_stats[s]["same-class source digits apart"]
                         for s in seeds), kind="evidence", settles=("C9",))

# %%
for key in variation_stats[SEED]:
    print(f"{key:<32} {spread([variation_stats[s][key] for s in seeds], 3)}")
rows = torch.cat([x_given[:6, None], reconstruction[:6, None], variations[:8, :6].transpose(0, 1)], dim=1)
fig = vc.plotting.strip(rows, column_labels=["original", "recon."] + [f"draw {k + 1}" for k in range(8)],
                        title=f"posterior variations (seed {seeds[-1]})")

# %% [markdown]
# ## 8. Method 4: latent arithmetic with class means
#
# Average the codes (posterior means) of the training digits of each class: ten class-mean codes
# m_0 ... m_9. Decoding a class mean should give a prototype of its class. Moving the code of a
# digit of class a along m_b - m_a should turn it into a b (the MNIST cousin of "king - man +
# woman"). We move every source digit towards a randomly chosen other class b, by a fraction alpha
# of that vector, and count how often the classifier reads b. Control: a random direction of the
# same length. Expectations: at least 8 of the 10 class-mean decodes are classified as their class;
# at alpha = 1 more than half of the moved digits read as b, and at least 5 times as many as along
# the random direction; in every seed.

# %%
alphas = [0.0, 0.5, 1.0, 1.5]
arithmetic = {}
for seed in seeds:
    vae, z, labels = models["VAE", seed], codes_source[seed], labels_source[seed]
    target = (labels + torch.randint(1, 10, (len(z),), generator=torch.Generator().manual_seed(seed))) % 10
    codes_train = vc.latent.encode_dataset(vae, x_train)
    class_means = torch.stack([codes_train[labels_train == c].mean(dim=0) for c in range(10)])
    prototypes = vc.latent.decode_mean(vae, class_means)
    direction = class_means[target] - class_means[labels]
    random_direction = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed))
    random_direction *= direction.norm(dim=1, keepdim=True) / random_direction.norm(dim=1, keepdim=True)
    reads_target = lambda step: (vc.yardstick.predict(vc.latent.decode_mean(vae, z + step)) == target).double().mean().item()  # noqa: E731
    arithmetic[seed] = {"prototypes right": int((vc.yardstick.predict(prototypes) == torch.arange(10)).sum()),
                        "flips": {alpha: reads_target(alpha * direction) for alpha in alphas},
                        "control": {alpha: reads_target(alpha * random_direction) for alpha in alphas},
                        "prototypes": prototypes, "class means": class_means, "target": target}
    generated[seed]["class-mean arithmetic (VAE)"] = vc.latent.decode_mean(vae, z + direction)
score(["class-mean arithmetic (VAE)"])

# %%
# NBVAL_CHECK_OUTPUT
print(f"class-mean decodes classified as their class, per seed: {[arithmetic[s]['prototypes right'] for s in seeds]} of 10")
vc.checks.check_true("every seed: at least 8 of 10 class-mean decodes are read as their class",
                     all(arithmetic[s]["prototypes right"] >= 8 for s in seeds), kind="evidence", settles=("C9",))
vc.checks.check_true("every seed: alpha = 1: more than half of the moved digits are read as the target class",
                     all(arithmetic[s]["flips"][1.0] > 0.5 for s in seeds), kind="evidence", settles=("C9",))
vc.checks.check_true("every seed: alpha = 1: at least 5x as many as along a random direction of the same length",
                     all(arithmetic[s]["flips"][1.0] >= 5 * arithmetic[s]["control"][1.0] for s in seeds),
                     kind="evidence", settles=("C9",))

# %%
for alpha in alphas:
    print(f"alpha {alpha:.1f}: read as target {spread([arithmetic[s]['flips'][alpha] for s in seeds], 3)}, "
          f"random direction {spread([arithmetic[s]['control'][alpha] for s in seeds], 3)}")
fig = vc.plotting.image_grid(arithmetic[SEED]["prototypes"], nrow=10, title="decoded class-mean codes, 0-9")
steps = torch.linspace(0, 1.5, 7)
vae, examples, class_means = models["VAE", SEED], torch.arange(5), arithmetic[SEED]["class means"]
target, labels = arithmetic[SEED]["target"], labels_source[SEED]
direction = class_means[target[examples]] - class_means[labels[examples]]
moves = codes_source[SEED][examples, None] + steps[None, :, None] * direction[:, None]  # (5, 7, D)
fig = vc.plotting.strip(vc.latent.decode_mean(vae, moves.flatten(0, 1)).unflatten(0, (5, 7)),
                        row_labels=[f"{labels[i]} to {target[i]}" for i in examples.tolist()],
                        column_labels=[f"a={a:.2f}" for a in steps.tolist()], title="moving along m_b - m_a")

# %% [markdown]
# ## 9. The aggregate posterior is not the prior: "prior holes"
#
# Prior sampling assumes that the codes of the training data, pooled together (the *aggregate
# posterior* q(z) = average over x of q(z|x)), are distributed like the prior. The KL term of the
# ELBO pulls each q(z|x) towards p(z), but it does not make q(z) equal p(z): by the "ELBO surgery"
# identity (Hoffman and Johnson 2016), the average KL is the mutual information between x and z plus
# KL(q(z) || p(z)), and a model that encodes anything pays the first part whatever it does.
#
# Two measurements of the mismatch. (1) A lower bound: because log p(z) is quadratic in z,
# KL(q(z) || p(z)) is at least KL(N(m, C) || N(0, I)) for the mean m and covariance C of q(z)
# (the Gaussian with those moments has the largest entropy). If q(z) were the prior, this would be
# zero up to sampling error, which for 4,000 codes in 16 dimensions is of order 0.02 nats; we expect
# more than 0.1 nats. Negative control: 4,000 draws of the prior in place of the codes must fail.
# (2) "Prior holes": the density of q(z) (a mixture of the 4,000 training posteriors) at prior
# draws, against its density at posterior draws of held-out source digits. If q(z) were p(z), both
# would be draws of the same distribution; we expect the median at prior draws to be lower by more
# than 1 nat, in every seed. Negative control: posterior draws of the *reference* digits (other
# held-out digits, so draws of q(z) itself) in place of the prior draws must fail.

# %%
def moment_kl_bound(mu, variance):
    """KL(N(m, C) || N(0, I)) for the mean m and covariance C of the mixture of N(mu_i, diag variance_i)."""
    m = mu.mean(dim=0)
    cov = torch.cov(mu.T) + torch.diag(variance.mean(dim=0))  # law of total variance
    return 0.5 * (torch.trace(cov) + m @ m - len(m) - torch.logdet(cov)).item()


def log_aggregate_posterior(z, q_train, chunk=250):
    """log q(z) = log mean_i N(z; mu_i, diag sigma_i^2) for rows of z (N, D)."""
    mu, sigma = q_train.mean, q_train.stddev
    parts = [torch.distributions.Normal(mu, sigma).log_prob(part[:, None]).sum(-1).logsumexp(dim=1)
             for part in z.split(chunk)]
    return torch.cat(parts) - np.log(len(mu))

# %%
holes = {}
for seed in seeds:
    vae, generator = models["VAE", seed], torch.Generator().manual_seed(seed)
    reference, source = halves[seed]
    with torch.no_grad():
        q_train = vae.encode(x_train)
        prior_draws = torch.randn(len(x_train), LATENT_DIM, generator=generator)
        log_q = {probe: log_aggregate_posterior(z, q_train).median() for probe, z in [
            ("prior", prior_draws[:500]), ("source", sample_posterior(vae.encode(source), 1, generator)[0]),
            ("reference", sample_posterior(vae.encode(reference), 1, generator)[0])]}
    holes[seed] = {"KL lower bound": moment_kl_bound(q_train.mean, q_train.variance),
                   "KL lower bound, prior draws": moment_kl_bound(prior_draws, torch.zeros_like(prior_draws)),
                   "cov eigenvalues": torch.linalg.eigvalsh(torch.cov(q_train.mean.T) + torch.diag(q_train.variance.mean(0))),
                   "log q gap": (log_q["source"] - log_q["prior"]).item(),
                   "log q gap, reference draws": (log_q["source"] - log_q["reference"]).item()}


# %%
# NBVAL_CHECK_OUTPUT
def aggregate_is_not_prior(bounds):
    vc.checks.check_true("every seed: KL(q(z) || p(z)) >= KL(N(m, C) || N(0, I)) > 0.1 nats: the aggregate posterior is not the prior",
                         all(bound > 0.1 for bound in bounds), kind="evidence", settles=("C6", "C14"), control=True)


def prior_draws_land_in_holes(gaps):
    vc.checks.check_true("every seed: median log q(z) is more than 1 nat lower at prior draws than at held-out posterior draws",
                         all(gap > 1 for gap in gaps), kind="evidence", settles=("C14",), control=True)


aggregate_is_not_prior([holes[s]["KL lower bound"] for s in seeds])
with vc.checks.negative_control("4,000 draws of the prior in place of the codes"):
    aggregate_is_not_prior([holes[s]["KL lower bound, prior draws"] for s in seeds])
prior_draws_land_in_holes([holes[s]["log q gap"] for s in seeds])
with vc.checks.negative_control("posterior draws of the reference half in place of the prior draws"):
    prior_draws_land_in_holes([holes[s]["log q gap, reference draws"] for s in seeds])

# %%
for key in ["KL lower bound", "KL lower bound, prior draws", "log q gap", "log q gap, reference draws"]:
    print(f"{key:<30} {spread([holes[s][key] for s in seeds], 2)} nats")
print(f"eigenvalues of C (seed {SEED}), all 1 if q(z) were the prior: {np.round(holes[SEED]['cov eigenvalues'].numpy(), 2)}")

# %% [markdown]
# ## 10. Method 5: ex-post density estimation, for the VAE and for a plain AE
#
# So sample from q(z) instead of p(z). Ghosh et al. (2020) fit a density to the codes *after*
# training, a Gaussian mixture with 10 components on the encoded means, and sample from it. Nothing
# in this needs a VAE: it works for a plain AE too, which notebook 01 could not sample from. We fit
# `vc.latent.fit_mixture` to the training codes of both models, draw 1,000 codes with
# `sample_fitted`, and decode. As a control, the AE decodes N(0, I) draws, a density it never saw.
#
# Expectations (Ghosh et al. 2020), in every seed: the VAE's ex-post mixture beats the VAE's own
# prior on all three measures (lower Fréchet distance, higher density, higher coverage), because it
# draws where the codes are; and so does the plain AE with its ex-post mixture. The second is the
# comparison that decides whether the VAE is the more *effective* sampler at this scale; its
# negative control is the AE decoding N(0, I) codes, a sampler that ignores where its codes are,
# which must fail it.

# %%
for seed in seeds:
    for name in ["VAE", "AE"]:
        codes = vc.latent.encode_dataset(models[name, seed], x_train)
        density = vc.latent.fit_mixture(codes, num_components=NUM_COMPONENTS, seed=seed)
        z = vc.latent.sample_fitted(density, 1000, seed=seed)
        generated[seed][f"ex-post GMM-{NUM_COMPONENTS} ({name})"] = vc.latent.decode_mean(models[name, seed], z)
        generated[seed][f"decoded training images ({name})"] = vc.latent.decode_mean(models[name, seed], codes[:500])
    z_prior = torch.randn(1000, LATENT_DIM, generator=torch.Generator().manual_seed(seed))
    generated[seed]["N(0, I) codes (AE, no density)"] = vc.latent.decode_mean(models["AE", seed], z_prior)
gmm_vae, gmm_ae = f"ex-post GMM-{NUM_COMPONENTS} (VAE)", f"ex-post GMM-{NUM_COMPONENTS} (AE)"
score([gmm_vae, gmm_ae, "N(0, I) codes (AE, no density)", "decoded training images (VAE)", "decoded training images (AE)"])


# %%
# NBVAL_CHECK_OUTPUT
def beats_vae_prior(method, claim, settles):
    better = [np.all(across_seeds(method) < across_seeds(prior_means))] + [
        np.all(across_seeds(method, f) > across_seeds(prior_means, f)) for f in ["density", "coverage"]]
    vc.checks.check_true(claim, all(better), kind="evidence", settles=settles, control=settles == ("C18",))


beats_vae_prior(gmm_vae, "every seed: the VAE's ex-post mixture beats its own prior (Frechet, density, coverage)", ("C7", "C14"))
claim_c18 = "every seed: a plain AE + ex-post mixture beats the VAE's prior samples (Frechet, density, coverage)"
beats_vae_prior(gmm_ae, claim_c18, ("C18",))
with vc.checks.negative_control("the AE decoding N(0, I) codes in place of its ex-post mixture"):
    beats_vae_prior("N(0, I) codes (AE, no density)", claim_c18, ("C18",))

# %%
for method in [prior_means, gmm_vae, gmm_ae, "N(0, I) codes (AE, no density)"]:
    print(f"{method:<33} Frechet {spread(across_seeds(method)):<21} density {spread(across_seeds(method, 'density'), 2):<18} "
          f"coverage {spread(across_seeds(method, 'coverage'), 2)}")
for seed in seeds:
    print(f"share of each class 0-9 (seed {seed}), prior samples: "
          f"{np.round(vc.yardstick.class_histogram(generated[seed][prior_means]).numpy(), 2)}, "
          f"VAE ex-post mixture: {np.round(vc.yardstick.class_histogram(generated[seed][gmm_vae]).numpy(), 2)}")
fig, axes = plt.subplots(2, 1, figsize=(12, 2.4))
vc.plotting.image_grid(generated[SEED][gmm_vae][:20], nrow=20, ax=axes[0], title=gmm_vae)
fig = vc.plotting.image_grid(generated[SEED][gmm_ae][:20], nrow=20, ax=axes[1], title=gmm_ae)

# %% [markdown]
# ## 11. All methods on one yardstick
#
# One table: every set, every measure, mean [min, max] over the seeds. Fréchet distance (lower is
# better) mixes fidelity and variety; density (about 1 for real digits) is fidelity, coverage (about
# 1 for real digits) is variety; classes counts the digit classes that make up at least 5% of a set;
# NN distance is the mean pixel distance to the nearest training image. The decoders' ceilings (their
# reconstructions of source digits) bound what a sampler can reach with each decoder; the controls
# are there to fail checks.

# %%
groups = {"reference rows": ["real held-out digits", "uniform noise"],
          "decoders' ceilings": ["held-out recon. (VAE)", "held-out recon., Bernoulli (VAE)", "held-out recon. (AE)"],
          "the five methods": [prior_means, prior_pixels, "lerp midpoints (VAE)", "slerp midpoints (VAE)",
                               "posterior variations (VAE)", "class-mean arithmetic (VAE)", gmm_vae, gmm_ae],
          "controls": ["N(0, I) codes (AE, no density)", "decoded training images (VAE)", "decoded training images (AE)"]}
print(f"{'image set':<33} {'Frechet':<21} {'density':<18} {'coverage':<18} {'classes':<16} {'NN distance':<18}")
for group, methods in groups.items():
    print(f"-- {group}")
    for method in methods:
        print(f"{method:<33} {spread(across_seeds(method)):<21} {spread(across_seeds(method, 'density'), 2):<18} "
              f"{spread(across_seeds(method, 'coverage'), 2):<18} {spread(across_seeds(method, 'classes')):<16} "
              f"{spread(across_seeds(method, 'nn_distance'), 2):<18}")

# %% [markdown]
# **Do all five methods make digits?** The same test as for the prior in section 5, for one set of
# each method (prior means, slerp midpoints, posterior variations, class-mean arithmetic, the VAE's
# ex-post mixture): a Fréchet distance below half the noise's and at least 10 times its coverage,
# in every seed.

# %%
# NBVAL_CHECK_OUTPUT
five_methods = [prior_means, "slerp midpoints (VAE)", "posterior variations (VAE)", "class-mean arithmetic (VAE)", gmm_vae]


def each_method_makes_digits(methods):
    vc.checks.check_true("every seed: each method gives digit-like images (Frechet below half the noise's, coverage 10x)",
                         all(np.all(across_seeds(m) < noise_fd / 2)
                             and np.all(across_seeds(m, "coverage") > 10 * noise_coverage) for m in methods),
                         kind="evidence", settles=("C9",), control=True)


each_method_makes_digits(five_methods)
with vc.checks.negative_control("the five methods and the AE decoding N(0, I) codes (a sampler with no density)"):
    each_method_makes_digits(five_methods + ["N(0, I) codes (AE, no density)"])

# %% [markdown]
# **Are the samples new, or copies of training images?** A sample set that copies training digits
# sits close to the training set; but so does any blurred image, because a blurred image is close to
# many digits at once. So a set is compared with the same decoder's reconstructions of held-out
# source digits, which are equally blurred (or, for pixel draws, equally speckled) and cannot be
# copies, since the model never saw those digits. Expectation: every generated set lies at least as
# far from the training set (mean NN distance) as its decoder's held-out reconstructions, in every
# seed. Negative control: the decoders' reconstructions of *training* digits, near-copies of the
# training set by construction, must fail.

# %%
# NBVAL_CHECK_OUTPUT
ceiling_of = {prior_pixels: "held-out recon., Bernoulli (VAE)", gmm_ae: "held-out recon. (AE)"}
samples_vs_ceiling = [(m, ceiling_of.get(m, "held-out recon. (VAE)")) for m in groups["the five methods"]]


def not_copies(pairs):
    vc.checks.check_true("every seed: samples lie as far from the training set (mean NN distance) as their decoder's held-out reconstructions",
                         all(np.all(across_seeds(m, "nn_distance") >= across_seeds(c, "nn_distance")) for m, c in pairs),
                         kind="evidence", settles=("C18",), control=True)


not_copies(samples_vs_ceiling)
with vc.checks.negative_control("decoded training images"):
    not_copies([("decoded training images (VAE)", "held-out recon. (VAE)"),
                ("decoded training images (AE)", "held-out recon. (AE)")])

# %% [markdown]
# The picture behind the number: a few samples (upper row of each pair) above their nearest
# training images (`vc.yardstick.nearest_neighbour`), for the VAE's prior, the AE's ex-post mixture,
# and the control.

# %%
pairs = []
for method in [prior_means, gmm_ae, "decoded training images (VAE)"]:
    images = generated[SEED][method][:10]
    pairs += [images, x_train[vc.yardstick.nearest_neighbour(images, x_train)[1]]]
fig = vc.plotting.strip(torch.stack(pairs), row_labels=["VAE prior", "nearest training", "AE + GMM", "nearest training",
                                                        "decoded train", "nearest training"],
                        title=f"samples above their nearest training images (seed {SEED})", scale=0.6)

# %% [markdown]
# ## 12. What the VAE pays for being samplable
#
# The VAE's decoder must work for a whole cloud of codes around each mu, not one point, and the KL
# term limits how much the codes say about x. So we expect its reconstructions to be worse than the
# plain AE's, in every seed: a higher reconstruction score -log p(x|z) on the source digits (nats per
# image, decoding f(x) for the AE and the posterior mean for the VAE; a Bernoulli score of grey-level
# pixels, comparable between the two models, not a normalised likelihood), and a higher Fréchet
# distance of its reconstructions (the decoders' ceilings of the table). What it gets in return: its
# prior samples beat the AE's decodes of the same N(0, I) draws on the Fréchet distance and on
# coverage, in every seed.

# %%
reconstruction_nll = {}
with torch.no_grad():
    for seed in seeds:
        vae, ae, source = models["VAE", seed], models["AE", seed], halves[seed][1]
        reconstruction_nll["VAE", seed] = -vae.decode(vae.encode(source).mean).log_prob(source).mean().item()
        reconstruction_nll["AE", seed] = -ae.decode(ae.encode(source)).log_prob(source).mean().item()

# %%
# NBVAL_CHECK_OUTPUT
def reconstructs_better(first, second):
    vc.checks.check_true("every seed: the first model reconstructs source digits better than the second "
                         "(-log p(x|z) and Frechet distance)",
                         all(reconstruction_nll[first, s] < reconstruction_nll[second, s] for s in seeds)
                         and np.all(across_seeds(f"held-out recon. ({first})") < across_seeds(f"held-out recon. ({second})")),
                         kind="evidence", settles=("C10",), control=True)


reconstructs_better("AE", "VAE")
with vc.checks.negative_control("the two models swapped (the VAE first)"):
    reconstructs_better("VAE", "AE")
vc.checks.check_true("every seed: the VAE's prior samples beat the AE's decodes of N(0, I) codes (Frechet, coverage)",
                     np.all(across_seeds(prior_means) < across_seeds("N(0, I) codes (AE, no density)"))
                     and np.all(across_seeds(prior_means, "coverage") > across_seeds("N(0, I) codes (AE, no density)", "coverage")),
                     kind="evidence", settles=("C10",))

# %%
for name in ["AE", "VAE"]:
    print(f"{name:>3} source reconstruction -log p(x|z): {spread([reconstruction_nll[name, s] for s in seeds])} nats/image")

# %% [markdown]
# ## 13. The homework's claims against these numbers
#
# What the checks and the table above support, at this scale (4,000 training digits, a 16-d latent,
# 20 epochs, two seeds), and where they stop.
#
# - **"Regularised latent space" as method 1 (C6): wrong as an answer.** It is a property of training,
#   not a way to generate. And the property is weaker than the homework says: the codes' aggregate
#   distribution is measurably not the prior (section 9), while the same bound on prior draws is
#   about zero.
# - **Prior sampling (C7): a correct method with an imprecise justification.** Prior samples are
#   digit-like, far from noise on every measure. But they reach only about half the density and half
#   the coverage that the same decoder reaches on codes of real digits, they under-represent some
#   digit classes (one or two classes make up less than 5% of them, where the data has 10% each: the
#   classes column and the class shares of section 10), and the VAE's own ex-post mixture beats
#   them on every measure. "Since the latent space is regularised, these samples correspond to
#   meaningful data" overstates it.
# - **Decoder means or Bernoulli pixels (C7).** The Fréchet distance prefers the pixel samples by a
#   wide margin, but it prefers pixel draws on reconstructions of the same digits too, by a similar
#   factor: it reacts to rendering (grey haze against speckle), not to which codes are better.
#   Density and coverage barely separate the two renderings of prior samples. The preference is not
#   a reason to show pixel samples; it is a reason to read the Fréchet distance next to density and
#   coverage, and to say which rendering one shows.
# - **Interpolation (C8): imprecise.** It needs two given digits, so it is not an unconditional
#   generator, and in 16 dimensions the straight line is the wrong path: lerp midpoints fall inside
#   the shell of typical codes, slerp midpoints stay on it and score better on the Fréchet distance
#   and on coverage.
# - **Only two real methods listed (C9): incomplete.** Posterior variations, latent arithmetic and
#   ex-post density estimation all work here, each checked against a control, and each of the five
#   methods makes digits.
# - **"VAEs ... are capable of generating realistic data" (C10): imprecise.** The KL term does buy
#   samplability: the VAE's prior samples are far better than what the plain AE makes of the same
#   N(0, I) draws. It costs reconstruction: the plain AE reconstructs held-out digits better, in
#   -log p(x|z) and in the Fréchet distance of its reconstructions. And "realistic" overclaims: prior
#   samples fall far short of the VAE's own ceiling.
# - **"A Gaussian prior is enforced" (C14): imprecise.** It is encouraged, not enforced: prior draws
#   land where the aggregate posterior is many nats less dense than at held-out codes, and drawing
#   where the codes are (the ex-post mixture) closes most of the gap to the decoder's ceiling on every
#   measure.
# - **"VAEs provide a more principled and effective approach" (C18): opinion, partly true.**
#   Principled, yes: the VAE comes with a bound on its score of the data (section 4), a plain AE
#   with none. Effective for sampling, not at this scale: a plain AE with a mixture fitted to its
#   codes after training beats the VAE's prior samples on every measure in every seed, and its samples
#   are not copies of training digits. *Why*, measured: most of the gap is the sampler (with the
#   VAE's own decoder, the ex-post mixture moves every measure most of the way to the decoder's
#   ceiling); the rest of the Fréchet gap is the decoder (the AE's reconstructions are less grey and
#   score better). With the same kind of sampler, neither model wins on every measure: the AE's
#   mixture has the lower Fréchet distance, the VAE's the higher density.
#
# **Where the evidence stops.** One small data set, one architecture, short training and two seeds.
# Density alone does not reject noise on these features (the noise row), and the Fréchet distance
# rewards sharp rendering, so no single column decides; the conclusions above hold on the columns
# that agree. Whether longer training (`BUDGET = "full"`) changes the decoders' ceilings, and with
# them the comparison of the two mixtures, is not measured here.

# %% [markdown]
# ## 14. A 2-D VAE: Kingma and Welling's manifold, and the box of its codes
#
# With two latent dimensions the whole latent space fits on a screen. We train a VAE with a 2-d
# latent (same widths otherwise, one seed: this is for looking, not for measuring) and draw two
# pictures of it side by side. Left, Kingma and Welling's figure (2014, fig. 4): the decoder means at
# a 12 x 12 grid of prior *quantiles*, z = Φ⁻¹(u) for u on a regular grid from 0.05 to 0.95 in each
# coordinate, so every image stands for an equal share of the prior's mass. Right, what notebook 01
# did for the plain AE: a regular 12 x 12 grid over the bounding box of the codes (here the
# posterior means of the training digits). Between them, the codes themselves, with both grids'
# outlines.

# %%
torch.manual_seed(SEED)
vae_2d = vc.models.VAE(latent_dim=2, hidden=(400,))
history_2d = vc.train.fit(vae_2d, x_train, epochs=num_epochs, seed=SEED, device=device)
vae_2d = vae_2d.cpu().eval()

# %%
def grid_codes(z1, z2):
    """Codes of a grid, row by row from the top: z2 falls down the rows, z1 rises along each row."""
    z1_grid, z2_grid = torch.meshgrid(z1, z2.flip(0), indexing="xy")
    return torch.stack([z1_grid, z2_grid], dim=-1).reshape(-1, 2)


codes_2d = vc.latent.encode_dataset(vae_2d, x_train)
quantiles = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, 12))
low, high = vc.latent.bounding_box(codes_2d)
grids = {"prior quantiles": grid_codes(quantiles, quantiles),
         "bounding box of the codes": grid_codes(torch.linspace(low[0], high[0], 12), torch.linspace(low[1], high[1], 12))}
inside = ((codes_2d.abs() <= quantiles[-1]).all(dim=1)).double().mean().item()
print(f"quantile grid: [{quantiles[0]:.2f}, {quantiles[-1]:.2f}]^2; box of the codes: [{low[0]:.2f}, {high[0]:.2f}] x "
      f"[{low[1]:.2f}, {high[1]:.2f}]; training codes inside the quantile grid's square: {inside:.0%}")
for name, z in grids.items():
    print(f"{name:<26} classes among its 144 decodes: {vc.yardstick.classes_present(vc.yardstick.class_histogram(vc.latent.decode_mean(vae_2d, z)))}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 5), gridspec_kw={"width_ratios": [1, 1.15, 1]})
vc.plotting.image_grid(vc.latent.decode_mean(vae_2d, grids["prior quantiles"]), nrow=12, ax=axes[0],
                       title="prior quantiles, u from 0.05 to 0.95")
vc.plotting.latent_scatter(codes_2d, labels_train, ax=axes[1], title="training codes and the two grids")
for (name, z), colour in zip(grids.items(), ["black", "red"]):
    (x0, y0), (x1, y1) = z.min(dim=0).values.tolist(), z.max(dim=0).values.tolist()
    axes[1].add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=colour, label=name))
vc.plotting.image_grid(vc.latent.decode_mean(vae_2d, grids["bounding box of the codes"]), nrow=12, ax=axes[2],
                       title="bounding box of the codes (red)")
fig.tight_layout()

# %% [markdown]
# The two grids answer different questions. The quantile grid shows what prior sampling draws: each
# image stands for 1/144 of the central 81% of the prior's mass. The box grid shows what the decoder
# does over the whole region the codes reach. In this run the codes do not sit inside the prior's
# centre: a large share of them lies outside the quantile grid's square (printed above), the box
# reaches well beyond it. The quantile grid shows mostly the blurred, mixed digits of the centre,
# where the classes overlap; the box grid spends most of its images on the outer regions, where a
# few classes sit, and shows fewer classes (printed above). Neither grid is a fair sample of the
# data. This is the aggregate posterior differing from the prior (section 9), seen
# in two dimensions. It is one seed and one short training run, for looking; in 16 dimensions,
# notebook 01 measured how little of a bounding box lies near any code.
#
# Below, `vc.widgets.latent_explorer` on the same 2-D VAE: move the two sliders and see the digit
# decoded at that point, next to the codes (posterior means) of the test digits. It starts at the
# prior's mode, z = (0, 0). Try the corners of the box, where prior draws land but few codes lie, and
# the borders between classes.

# %%
explorer = vc.widgets.latent_explorer(vae_2d, vc.latent.encode_dataset(vae_2d, x_test), labels_test, start=torch.zeros(2))
explorer

# %% [markdown]
# > **Common mistakes in the homework's answer to Q1b**
# >
# > - **"A regularised latent space" is not a generation method.** It is a property that training
# >   gives (or does not give) the latent space. The methods are what one *does* with the trained
# >   model: the five of sections 5-8 and 10 (and others: conditional VAEs, learned priors, MCMC in latent
# >   space). Interpolation (section 6) is not an unconditional generator either: it needs two
# >   inputs, and with a Gaussian latent in many dimensions it should be spherical.
# > - **"The prior is enforced, so prior samples are meaningful."** The KL term pulls each q(z|x)
# >   towards N(0, I); it does not make the aggregate posterior equal the prior (Hoffman and Johnson
# >   2016). Section 9 measures the gap (a positive lower bound on KL(q(z) || p(z)), and prior draws
# >   landing where the codes are rare: "prior holes"), and section 10 its cost: a Gaussian mixture
# >   fitted to the codes beats the prior on every measure, for the VAE itself and for a plain AE.
# > - **The samples shown are decoder means, not draws from p(x|z).** The mean is the expected image
# >   given z, much greyer than real digits; drawing the Bernoulli pixels gives a real sample of the
# >   model, sharp but speckled, and further from every training image. The yardstick scores the two
# >   differently (section 5), so say which one you show.
# > - **VAEs are not better autoencoders.** They trade reconstruction for samplability: the plain AE
# >   of the same size reconstructs held-out digits better (section 12).

# %% [markdown]
# ## Summary
#
# The numbers below were measured in this run: mean [min, max] over the training seeds.

# %%
summary = {
    "training seeds x epochs": f"{len(seeds)} x {num_epochs}",
    "held-out ELBO: E_q log p(x|z) / KL, nats": f"{spread([elbo_terms[s][0] for s in seeds])} / "
    f"{spread([elbo_terms[s][1] for s in seeds])}",
    **{f"FD {method}": spread(across_seeds(method)) for group in groups.values() for method in group},
    "coverage prior means / GMM VAE / GMM AE": " / ".join(f"{across_seeds(m, 'coverage').mean():.2f}"
                                                          for m in [prior_means, gmm_vae, gmm_ae]),
    "lerp / slerp midpoint norm (prior draws)": f"{np.mean([path_norms['lerp', s][middle] for s in seeds]):.2f} / "
    f"{np.mean([path_norms['slerp', s][middle] for s in seeds]):.2f} ({prior_norms.mean():.2f})",
    "posterior variations keep class (control)": f"{spread([variation_stats[s]['keeps class'] for s in seeds], 3)} "
    f"({np.mean([variation_stats[s]['control keeps class'] for s in seeds]):.3f})",
    "arithmetic, alpha=1, read as target (random)": f"{spread([arithmetic[s]['flips'][1.0] for s in seeds], 3)} "
    f"({np.mean([arithmetic[s]['control'][1.0] for s in seeds]):.3f})",
    "KL(q(z)||p(z)) lower bound, nats": spread([holes[s]["KL lower bound"] for s in seeds], 2),
    "reconstruction -log p(x|z) AE / VAE, nats": f"{spread([reconstruction_nll['AE', s] for s in seeds])} / "
    f"{spread([reconstruction_nll['VAE', s] for s in seeds])}",
}
for key, value in summary.items():
    print(f"{key:<46} {value}")

# %% [markdown]
# **What to take away.** A VAE is an encoder, a decoder and a prior, trained by a bound with a
# reconstruction term and a KL term. It gives more than one way to generate, and they differ in
# what they need and in how good their images are. Prior sampling needs nothing but the model, and
# it is beaten by sampling where the codes of the data actually are, because they do not fill the
# prior: the KL term encourages that match, it does not enforce it. Fitting a simple density to the
# codes after training repairs most of it, for a VAE and for a plain autoencoder alike, which makes
# "only a VAE can generate" wrong as a blanket statement. Posterior variations stay close to a given
# digit and keep its class; latent arithmetic with class means turns one digit into another far
# more often than a random step of the same size; interpolation should follow the sphere on which
# the codes live, not the straight line through its inside. What the VAE pays for all this is
# reconstruction quality. And a yardstick is a choice: the Fréchet distance on these features
# rewards sharp rendering, so read it with density, coverage and the decoders' ceilings.
#
# **Try it**
# 1. Set `LATENT_DIM = 2` and rerun: does slerp still beat lerp, and does the ex-post mixture still
#    beat the prior? (In two dimensions the "shell" argument disappears.)
# 2. Change `NUM_COMPONENTS` to 1 (a single fitted Gaussian) and to 50. Where do the two ex-post rows land?
# 3. In section 7, scale sigma by 0.5 and by 2 instead of 1: how do the kept-class rate and the
#    coverage of the variations move?
# 4. Set `BUDGET = "full"`: do the gaps between the methods, and between the decoders' ceilings, shrink
#    or grow with longer training?
#
# **References.** Kingma and Welling 2014, *Auto-encoding variational Bayes*; White 2016, *Sampling
# generative networks* (slerp for latent spaces; Shoemake 1985 for slerp itself); Hoffman and
# Johnson 2016, *ELBO surgery: yet another way to carve up the variational evidence lower bound*;
# Naeem, Oh, Uh, Choi and Yoo 2020, *Reliable fidelity and diversity metrics for generative models*;
# Ghosh, Sajjadi, Vergari, Black and Schölkopf 2020, *From variational to deterministic autoencoders*.
