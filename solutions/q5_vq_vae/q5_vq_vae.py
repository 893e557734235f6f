# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-header", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # q5 · VQ-VAE: the nearest-code lookup, the straight-through estimator, the codebook losses, perplexity and the EMA codebook
#
# The practical questions of the homework ask (a) what each part of the VQ-VAE loss does and (b) what
# `detach()` does in a VQ-VAE and how its codebook is learned. A homework answer wrote the loss with
# $+\log p(x \mid z_q(x))$ and said that `detach()` keeps "the discrete codebook entries constant". In
# this assignment you write the pieces of a vector quantiser yourself and test such claims on
# them: the nearest-code lookup (without the memory-hungry $N \times K \times D$ tensor), the
# straight-through output that lets the decoder's gradient reach the encoder, the codebook and
# commitment losses with their stop-gradients in the right places, the codebook's perplexity (the
# effective number of codes in use), the whole loss with its signs, and the codebook learned as moving
# averages, started so that unused codes stay within reach. A small ungraded demo then trains a toy VQ-VAE with your functions,
# and you answer parts (a) and (b) in writing. Lecture notebook 09 trains a convolutional VQ-VAE on
# digits with the same pieces (`vaecourse.quantize`). Every cell runs in a few seconds at most.
#
# | task | what you do | points | graded |
# | --- | --- | --- | --- |
# | 1 | `nearest_codes`: the index of the nearest codebook vector, ties to the lower index | 2 | automatically |
# | 1 | `nearest_codes` in $O(NK)$ memory: no $N \times K \times D$ tensor | 1 | automatically |
# | 2 | `straight_through`: forward value $z_q$, gradient passed to $z_e$ unchanged | 2 | automatically |
# | 3 | `vq_losses`: the codebook and commitment losses, one value per example | 2 | automatically |
# | 3 | `vq_losses`: each term's gradient reaches only its own tensor | 2 | automatically |
# | 4 | `perplexity`: $\exp$ of the entropy of the code usage | 2 | automatically |
# | 5 | `vq_vae_loss`: the loss to minimise, with $-\log p$ and $\beta$ on the commitment | 2 | automatically |
# | 6 | `ema_update`: the codebook as moving averages, one step | 2 | automatically |
# | 6 | `ema_init`: a start from which unused codes stay where they are | 1 | automatically |
# | 7 | Practical (a): the VQ-VAE loss, its signs and what each term trains (written answer) | 4 | by hand |
# | 8 | Practical (b): `detach`, the straight-through estimator and how the codebook learns (written answer) | 4 | by hand |
# | | **total** | **24** | |
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
# - Use the torch operations you like, but not the course's reference implementations in
#   `vaecourse.quantize`: the hidden tests switch them off while your functions run.

# %% nbgrader={"grade": false, "grade_id": "q5-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math
import os

import torch

import vaecourse as vc

os.environ.setdefault("KINETO_LOG_LEVEL", "99")  # torch.profiler (Task 1's memory test) prints no log lines
device = vc.setup_notebook(seed=0)


# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-nearest-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 1 · The nearest-code lookup, in $O(NK)$ memory (3 points)
#
# A VQ-VAE's encoder outputs vectors $z_e \in \mathbb R^D$ (one per latent position). The quantiser
# replaces each by the nearest of $K$ **codebook** vectors $e_1, \dots, e_K$ (the rows of a $K \times D$
# matrix), in squared Euclidean distance:
#
# $$
# k^\star(z) = \arg\min_{k} \lVert z - e_k \rVert^2 , \qquad z_q = e_{k^\star(z)} .
# $$
#
# For $N$ vectors at once, the obvious code `((z[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)`
# builds an $N \times K \times D$ tensor of differences first. In a VQ-VAE for images $N$ is the batch
# size times the number of latent positions, so that tensor is large: for 2048 vectors, 256 codes of
# dimension 64 it holds 128 MiB, for a distance matrix of 2 MiB. Expanding the square avoids it:
#
# $$
# \lVert z_n - e_k \rVert^2 = \lVert z_n \rVert^2 - 2\, z_n \cdot e_k + \lVert e_k \rVert^2 ,
# $$
#
# where the middle term for all pairs is one matrix product `z @ codebook.T` ($N \times K$), and the two
# squared norms are a column and a row that broadcast onto it.
#
# Implement `nearest_codes(z, codebook)`: `z` has shape `(N, D)`, `codebook` shape `(K, D)`; return the
# indices $k^\star$ as an integer tensor (`torch.long`) of shape `(N,)`. When two codes are exactly
# equally near, return the **lower** index (`argmin` does that). Never allocate an $N \times K \times D$
# tensor: the second test cell measures the largest allocation of your function with
# `torch.profiler` and allows a sixteenth of that size. Do not call `torch.cdist` (it would hide the
# point of the exercise) or `vaecourse.quantize.nearest_codes`: the hidden tests switch them off.

# %% nbgrader={"grade": false, "grade_id": "q5-nearest-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def nearest_codes(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook vector (squared Euclidean distance) for each row of ``z``.

    Parameters
    ----------
    z : torch.Tensor, shape (N, D)
        The vectors to quantise (encoder outputs).
    codebook : torch.Tensor, shape (K, D)
        The codebook, one code vector per row.

    Returns
    -------
    torch.Tensor, shape (N,), dtype torch.long
        ``argmin_k ||z_n - codebook_k||^2`` for each n; ties go to the lower index. Memory O(N K).
    """
    ### BEGIN SOLUTION
    squared_distances = (z.pow(2).sum(dim=1, keepdim=True) - 2 * z @ codebook.T
                         + codebook.pow(2).sum(dim=1)[None, :])  # (N, K)
    return squared_distances.argmin(dim=1)
    ### END SOLUTION


# %%
# Try it (not graded): three codes in the plane, four points; the last point is exactly halfway
# between codes 0 and 1.
codebook_try = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
z_try = torch.tensor([[0.1, -0.1], [0.9, 0.2], [0.2, 1.5], [0.5, 0.0]])
indices_try = nearest_codes(z_try, codebook_try)
print(f"indices: {indices_try.tolist()}, shape {tuple(indices_try.shape)}, dtype {indices_try.dtype}")
print("squared distances to each code:")
for point_try in z_try:
    print(f"  {point_try.tolist()}: {[round(v, 3) for v in ((point_try - codebook_try) ** 2).sum(1).tolist()]}")

# %% nbgrader={"grade": true, "grade_id": "q5-nearest-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""nearest_codes returns the index of the nearest code, as torch.long of shape (N,), with ties to the lower index."""
codebook_q5n = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
z_q5n = torch.tensor([[0.1, -0.1], [0.9, 0.2], [0.2, 1.5], [0.5, 0.0]])
indices_q5n = nearest_codes(z_q5n, codebook_q5n)
assert isinstance(indices_q5n, torch.Tensor), (
    f"the result: expected a torch.Tensor, got {type(indices_q5n).__name__}. "
    "Hint: return the tensor of indices that argmin gives, not a list or a number")
vc.grading.assert_equal(tuple(indices_q5n.shape), (4,), what="the shape of the indices of 4 vectors",
                        hint="one index per vector: take the argmin over the codes (dim=1)")
vc.grading.assert_equal(str(indices_q5n.dtype), "torch.int64", what="the dtype of the indices",
                        hint="indices should be torch.long (torch.int64), what argmin returns; do not convert them")
vc.grading.assert_equal(indices_q5n.tolist(), [0, 1, 2, 0], what="the nearest codes of the 4 points",
                        hint="the last point (0.5, 0) is equally near codes 0 and 1: the lower index wins. Did you "
                             "take the argmin (not the argmax) over dim=1?")
gen_q5n = torch.Generator().manual_seed(501)
z_small_q5n = torch.randn(40, 3, generator=gen_q5n, dtype=torch.float64)
codebook_small_q5n = torch.randn(9, 3, generator=gen_q5n, dtype=torch.float64)
indices_small_q5n = nearest_codes(z_small_q5n, codebook_small_q5n)
brute_force_q5n = ((z_small_q5n[:, None, :] - codebook_small_q5n[None, :, :]) ** 2).sum(-1).argmin(1)
vc.grading.assert_equal(indices_small_q5n, brute_force_q5n,
                        what="the indices of 40 random vectors and 9 codes (float64), against brute force",
                        hint="check the signs of ||z||^2 - 2 z.e + ||e||^2 and which norm is a column (N, 1) and "
                             "which a row (1, K)")
print("nearest_codes: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

import vaecourse.quantize
from vaecourse import testkit


hint_q5nh = ("argmin over the codes of ||z||^2 - 2 z.e + ||e||^2: the norm of z is a column (N, 1), the norm of the "
             "codes a row (1, K); ties go to the lower index")
vc.grading.record("indices of the 4 visible points", indices_q5n, hint=hint_q5nh)
vc.grading.record("indices of the 40 visible float64 vectors", indices_small_q5n, hint=hint_q5nh)
no_reference_q5nh = AssertionError(
    "nearest_codes called torch.cdist or vaecourse.quantize.nearest_codes: expected your own expansion of the "
    "square, got a library call. Hint: compute ||z||^2 - 2 z @ codebook.T + ||e||^2 and take its argmin")
# the function objects, whatever name the answer calls them by, and the builtins behind torch.cdist
with testkit.forbid(no_reference_q5nh, torch.cdist, torch._C._VariableFunctions.cdist, torch._euclidean_dist,
                    vaecourse.quantize.nearest_codes, *testkit.functions_of(vaecourse.quantize.VectorQuantizer)):
    # (1) random float64 and float32 cases of several sizes, against distances computed here
    gen_q5nh = torch.Generator().manual_seed(511)
    for n_q5nh, k_q5nh, d_q5nh, dtype_q5nh in [(1, 1, 1, torch.float64), (1, 5, 2, torch.float64),
                                                (300, 50, 8, torch.float64), (64, 512, 3, torch.float64),
                                                (500, 64, 16, torch.float32), (7, 3, 40, torch.float32)]:
        z_q5nh = 2 * torch.randn(n_q5nh, d_q5nh, generator=gen_q5nh, dtype=dtype_q5nh) + 0.5
        codebook_q5nh = torch.randn(k_q5nh, d_q5nh, generator=gen_q5nh, dtype=dtype_q5nh)
        z_before_q5nh, codebook_before_q5nh = z_q5nh.clone(), codebook_q5nh.clone()
        indices_q5nh = nearest_codes(z_q5nh, codebook_q5nh)
        # The chosen code's squared distance, not the index: where two codes are nearly equally near, a correct
        # float32 answer may pick either. Computed from z and the codebook after the call (in-place edits show).
        relative_q5nh = 1e-10 if dtype_q5nh == torch.float64 else 1e-4
        vc.grading.record(f"squared distance to the chosen code, N={n_q5nh}, K={k_q5nh}, D={d_q5nh} ({dtype_q5nh})",
                          testkit.chosen_distances(z_q5nh, codebook_q5nh, indices_q5nh),
                          rtol=relative_q5nh, atol=relative_q5nh, hint=hint_q5nh)
        label_q5nh = f"N={n_q5nh}, K={k_q5nh}, D={d_q5nh} ({dtype_q5nh})"
        vc.grading.assert_close(z_q5nh, z_before_q5nh, rtol=0, atol=0, what=f"z after the call, {label_q5nh}",
                                hint="nearest_codes changed its input in place; compute new tensors instead")
        vc.grading.assert_close(codebook_q5nh, codebook_before_q5nh, rtol=0, atol=0,
                                what=f"the codebook after the call, {label_q5nh}",
                                hint="nearest_codes changed its input in place; compute new tensors instead")
        vc.grading.assert_equal([tuple(indices_q5nh.shape), str(indices_q5nh.dtype)], [(n_q5nh,), "torch.int64"],
                                what=f"[shape, dtype] of the indices, {label_q5nh}",
                                hint="one torch.long index per row of z: the argmin over dim=1")
        assert bool(((indices_q5nh >= 0) & (indices_q5nh < k_q5nh)).all()), (
            f"the indices, {label_q5nh}: expected values in [0, {k_q5nh}), got {indices_q5nh.min().item()}.."
            f"{indices_q5nh.max().item()}. Hint: take the argmin over the K codes (dim=1), not over the vectors")
        distances_q5nh = ((z_q5nh.double()[:, None, :] - codebook_q5nh.double()[None, :, :]) ** 2).sum(-1)
        best_q5nh = distances_q5nh.min(1).values
        chosen_q5nh = distances_q5nh.gather(1, indices_q5nh[:, None]).squeeze(1)
        tolerance_q5nh = relative_q5nh * (1 + best_q5nh)
        assert bool((chosen_q5nh <= best_q5nh + tolerance_q5nh).all()), (
            f"the chosen codes, {label_q5nh}: expected the nearest code of every vector, got codes up to "
            f"{(chosen_q5nh - best_q5nh).max().item():.3g} farther (in squared distance) than the nearest. "
            f"Hint: {hint_q5nh}")
        top2_q5nh = distances_q5nh.topk(min(2, k_q5nh), dim=1, largest=False).values
        clear_q5nh = ((top2_q5nh[:, -1] - top2_q5nh[:, 0]) > 10 * tolerance_q5nh if k_q5nh > 1
                      else torch.ones(n_q5nh, dtype=torch.bool))
        vc.grading.assert_equal(indices_q5nh[clear_q5nh], distances_q5nh.argmin(1)[clear_q5nh],
                                what=f"the indices where the nearest code is clearly nearest, {label_q5nh}",
                                hint=hint_q5nh)
    # (2) exact ties on a grid of small integers, where every formula is exact: the lower index wins
    codebook_tie_q5nh = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [2.0, 2.0, 0.0],
                                      [2.0, 0.0, 0.0], [0.0, 0.0, 4.0]])  # row 4 repeats row 1
    z_tie_q5nh = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 2.0],
                               [2.0, 0.0, 0.0], [3.0, -1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 1.0, 0.0]])
    expected_tie_q5nh = [0, 0, 1, 0, 1, 1, 2, 0]
    for dtype_tie_q5nh in (torch.float32, torch.float64):
        indices_tie_q5nh = nearest_codes(z_tie_q5nh.to(dtype_tie_q5nh), codebook_tie_q5nh.to(dtype_tie_q5nh))
        vc.grading.record(f"indices on exact ties ({dtype_tie_q5nh})", indices_tie_q5nh,
                          hint="of equally near codes the lower index wins (argmin does that); row 4 of the codebook "
                               "repeats row 1")
        vc.grading.assert_equal(indices_tie_q5nh.tolist(), expected_tie_q5nh,
                                what=f"the indices on exact ties ({dtype_tie_q5nh})",
                                hint="of equally near codes the lower index wins (argmin does that); row 4 of the "
                                     "codebook repeats row 1")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q5-nearest-memory-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""nearest_codes never allocates an N x K x D tensor: its largest allocation is far below that size."""
gen_q5m = torch.Generator().manual_seed(521)
n_q5m, k_q5m, d_q5m = 2048, 256, 64
z_q5m = torch.randn(n_q5m, d_q5m, generator=gen_q5m)
codebook_q5m = torch.randn(k_q5m, d_q5m, generator=gen_q5m)
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as profile_q5m:
    indices_q5m = nearest_codes(z_q5m, codebook_q5m)
largest_q5m = max((event.cpu_memory_usage for event in profile_q5m.events()), default=0)
limit_q5m = n_q5m * k_q5m * d_q5m * 4 // 16  # a sixteenth of the N x K x D float32 tensor: 8 MiB
print(f"largest allocation: {largest_q5m / 2**20:.1f} MiB (N x K distances: {n_q5m * k_q5m * 4 / 2**20:.0f} MiB, "
      f"N x K x D differences: {n_q5m * k_q5m * d_q5m * 4 / 2**20:.0f} MiB)")
vc.grading.assert_equal(tuple(indices_q5m.shape), (n_q5m,), what=f"the shape of the indices of {n_q5m} vectors",
                        hint="one index per vector: take the argmin over the codes (dim=1)")
assert 0 < largest_q5m < limit_q5m, (
    f"the largest allocation inside nearest_codes for N={n_q5m}, K={k_q5m}, D={d_q5m}: expected more than 0 and "
    f"less than {limit_q5m / 2**20:.0f} MiB, got {largest_q5m / 2**20:.1f} MiB. Hint: expand "
    "||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2 (an N x K matrix) instead of broadcasting z[:, None, :] - "
    "codebook[None, :, :]")
print("nearest_codes memory: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

import vaecourse.quantize
from vaecourse import testkit


def record_answer_q5mh(label, z, codebook, indices, largest, limit):
    """Records of one size: the memory measurement, and values only the nearest codes produce.

    The largest allocation is a measurement in the student's kernel, recorded as measured: its tolerance accepts
    anything from the model's value up to the limit, and a replaced profiler or recorder could report a small number
    (a residual risk, see the report of this cell). What only a correct answer produces is the chosen codes' squared
    distances: those of every 16th vector (a float32 answer may pick either of two nearly equally near codes, so
    distances, not indices) and their sum over all vectors.
    """
    largest_mib, limit_mib = largest / 2**20, limit / 2**20
    vc.grading.record(f"largest allocation in MiB (torch.profiler), {label}", largest_mib,
                      atol=max(limit_mib - largest_mib, 0.0),
                      hint="the largest allocation must stay below a sixteenth of the N x K x D tensor: expand the "
                           "square into an N x K matrix")
    chosen = testkit.chosen_distances(z, codebook, indices)
    hint = "argmin over the codes of ||z||^2 - 2 z.e + ||e||^2, the lower index on ties"
    vc.grading.record(f"squared distance to the chosen code of every 16th vector, {label}", chosen[::16],
                      rtol=1e-4, atol=1e-4, hint=hint)
    vc.grading.record(f"sum of the squared distances to the chosen codes, {label}", float(chosen.sum()),
                      rtol=1e-4, atol=1e-4, hint=hint)


record_answer_q5mh(f"N={n_q5m}, K={k_q5m}, D={d_q5m}", z_q5m, codebook_q5m, indices_q5m, largest_q5m, limit_q5m)
no_reference_q5mh = AssertionError(
    "nearest_codes called torch.cdist or vaecourse.quantize.nearest_codes: expected your own expansion of the "
    "square, got a library call. Hint: compute ||z||^2 - 2 z @ codebook.T + ||e||^2 and take its argmin")
gen_q5mh = torch.Generator().manual_seed(531)
for n_q5mh, k_q5mh, d_q5mh in [(4096, 64, 128), (1024, 1024, 32)]:
    z_q5mh = torch.randn(n_q5mh, d_q5mh, generator=gen_q5mh)
    codebook_q5mh = torch.randn(k_q5mh, d_q5mh, generator=gen_q5mh)
    with testkit.forbid(no_reference_q5mh, torch.cdist, torch._C._VariableFunctions.cdist, torch._euclidean_dist,
                        vaecourse.quantize.nearest_codes, *testkit.functions_of(vaecourse.quantize.VectorQuantizer)), \
            torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as profile_q5mh:
        indices_q5mh = nearest_codes(z_q5mh, codebook_q5mh)
    largest_q5mh = max((event.cpu_memory_usage for event in profile_q5mh.events()), default=0)
    limit_q5mh = n_q5mh * k_q5mh * d_q5mh * 4 // 16
    label_q5mh = f"N={n_q5mh}, K={k_q5mh}, D={d_q5mh}"
    record_answer_q5mh(label_q5mh, z_q5mh, codebook_q5mh, indices_q5mh, largest_q5mh, limit_q5mh)
    assert 0 < largest_q5mh < limit_q5mh, (
        f"the largest allocation inside nearest_codes, {label_q5mh}: expected more than 0 and less than "
        f"{limit_q5mh / 2**20:.0f} MiB, got {largest_q5mh / 2**20:.1f} MiB (the N x K x D tensor would be "
        f"{n_q5mh * k_q5mh * d_q5mh * 4 / 2**20:.0f} MiB). Hint: expand ||z||^2 - 2 z.e + ||e||^2 into an N x K "
        "matrix instead of broadcasting z[:, None, :] - codebook[None, :, :]")
    # the answers at this size too, against distances computed here in float64, 256 rows at a time
    chosen_gap_q5mh = []
    for start_q5mh in range(0, n_q5mh, 256):
        rows_q5mh = slice(start_q5mh, start_q5mh + 256)
        distances_q5mh = ((z_q5mh[rows_q5mh].double()[:, None, :] - codebook_q5mh.double()[None, :, :]) ** 2).sum(-1)
        chosen_q5mh = distances_q5mh.gather(1, indices_q5mh[rows_q5mh, None]).squeeze(1)
        chosen_gap_q5mh.append((chosen_q5mh - distances_q5mh.min(1).values) / (1 + distances_q5mh.min(1).values))
    worst_q5mh = torch.cat(chosen_gap_q5mh).max().item()
    assert worst_q5mh < 1e-4, (
        f"the chosen codes, {label_q5mh}: expected the nearest code of every vector (relative excess below 1e-4), "
        f"got a relative excess of {worst_q5mh:.3g}. Hint: argmin over dim=1 of ||z||^2 - 2 z.e + ||e||^2")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-ste-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 2 · The straight-through output (2 points)
#
# The decoder of a VQ-VAE reads $z_q$, but $z_q = e_{k^\star(z_e)}$ is a step function of the encoder
# output $z_e$: its derivative with respect to $z_e$ is zero almost everywhere (and undefined on the
# boundaries), so backpropagation alone would give the encoder no signal from the reconstruction. The
# paper "copies the gradients from the decoder input $z_q(x)$ to the encoder output $z_e(x)$": the
# **straight-through estimator**. In code it is one line with a stop-gradient,
#
# $$
# \tilde z = z_e + \operatorname{sg}[z_q - z_e] , \qquad \operatorname{sg}[\,\cdot\,] = \texttt{.detach()} ,
# $$
#
# whose forward value is $z_q$ (up to rounding) and whose derivative with respect to $z_e$ is the
# identity, because $\operatorname{sg}[\cdot]$ is a constant to autograd. The decoder's gradient
# $\partial L / \partial \tilde z$ therefore arrives at $z_e$ unchanged, and none of it reaches the
# codebook through $\tilde z$.
#
# Implement `straight_through(z_e, z_q)` for tensors of any (equal) shape. The tests check that the
# forward value equals `z_q` within a few units of rounding, that the gradient with respect to `z_e` is
# *exactly* the upstream gradient, that the gradient reaches the encoder's parameters behind `z_e`, and
# that no gradient reaches the codebook behind `z_q`.

# %% nbgrader={"grade": false, "grade_id": "q5-ste-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def straight_through(z_e: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """The straight-through estimator: forward value ``z_q``, gradient passed to ``z_e`` unchanged.

    Parameters
    ----------
    z_e : torch.Tensor, any shape
        The encoder output (it usually requires grad).
    z_q : torch.Tensor, the shape of z_e
        Its quantised version (it may carry a gradient path to the codebook; the output must not).

    Returns
    -------
    torch.Tensor, the shape of z_e
        Equal to ``z_q`` (up to rounding); its gradient with respect to ``z_e`` is the identity.
    """
    ### BEGIN SOLUTION
    return z_e + (z_q - z_e).detach()
    ### END SOLUTION


# %%
# Try it (not graded): f rounds to the nearest multiple of 1/2, a step function like the quantiser.
a_try = torch.tensor([[0.2, -0.7, 1.4], [0.9, 0.1, -1.2]], requires_grad=True)
f_of_a_try = torch.round(2 * a_try) / 2
b_try = straight_through(a_try, f_of_a_try)
upstream_try = torch.tensor([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]])
b_try.backward(upstream_try)
print("forward value:", b_try.tolist())
print("f(A):         ", f_of_a_try.tolist())
print("A.grad:       ", a_try.grad.tolist())
print("upstream:     ", upstream_try.tolist())

# %% nbgrader={"grade": true, "grade_id": "q5-ste-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""straight_through: forward value z_q, gradient with respect to z_e equal to the upstream gradient, none to the codebook."""
gen_q5s = torch.Generator().manual_seed(541)
z_e_q5s = torch.randn(4, 3, generator=gen_q5s, requires_grad=True)
codebook_q5s = torch.randn(5, 3, generator=gen_q5s, requires_grad=True)
z_q_q5s = codebook_q5s[torch.tensor([0, 3, 3, 1])]
out_q5s = straight_through(z_e_q5s, z_q_q5s)
assert isinstance(out_q5s, torch.Tensor) and tuple(out_q5s.shape) == (4, 3), (
    f"the output for inputs of shape (4, 3): expected a tensor of shape (4, 3), got {type(out_q5s).__name__} "
    f"{tuple(getattr(out_q5s, 'shape', ()))}. Hint: combine z_e and z_q elementwise; do not reduce or reshape")
rounding_q5s = 4 * torch.finfo(torch.float32).eps * (z_e_q5s.detach().abs() + z_q_q5s.detach().abs())
assert bool(((out_q5s.detach() - z_q_q5s.detach()).abs() <= rounding_q5s).all()), (
    f"the forward value of straight_through(z_e, z_q): expected z_q = {z_q_q5s.detach().tolist()} (up to 4 float32 "
    f"rounding units), got {out_q5s.detach().tolist()}. Hint: the forward value must be z_q: the decoder has to "
    "see the quantised vectors. With z_e + (z_q - z_e).detach() it is z_q up to rounding")
vc.grading.assert_equal(out_q5s.requires_grad, True, what="the output's requires_grad",
                        hint="the output carries no gradient: do not detach the whole expression, only the "
                             "difference z_q - z_e")
upstream_q5s = torch.randn(4, 3, generator=gen_q5s)
out_q5s.backward(upstream_q5s)
assert z_e_q5s.grad is not None, (
    "the gradient with respect to z_e: expected the upstream gradient, got None. Hint: z_e must enter the output "
    "outside the .detach(), as in z_e + (z_q - z_e).detach()")
vc.grading.assert_close(z_e_q5s.grad, upstream_q5s, rtol=0, atol=0,
                        what="the gradient with respect to z_e after out.backward(upstream)",
                        hint="it must equal the upstream gradient exactly (the identity Jacobian): z_e + (z_q - "
                             "z_e).detach() passes it through unchanged")
codebook_grad_q5s = torch.zeros_like(codebook_q5s) if codebook_q5s.grad is None else codebook_q5s.grad
vc.grading.assert_close(codebook_grad_q5s, torch.zeros_like(codebook_q5s), rtol=0, atol=0,
                        what="the gradient that reached the codebook through the straight-through output (None = 0)",
                        hint="z_q must sit inside the .detach(), so that only the codebook loss moves the codes")
print("straight_through: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

import vaecourse.quantize
from vaecourse import testkit

hint_q5sh = "z_e + (z_q - z_e).detach(): forward value z_q, gradient passed to z_e unchanged, none to z_q's source"
vc.grading.record("forward value on the visible batch", out_q5s.detach(), rtol=0, atol=float(rounding_q5s.max()),
                  hint=hint_q5sh)
vc.grading.record("d out / d z_e on the visible batch", z_e_q5s.grad, hint=hint_q5sh)
vc.grading.record("gradient reaching the codebook on the visible batch (None = 0)", codebook_grad_q5s, hint=hint_q5sh)
no_reference_q5sh = AssertionError(
    "straight_through called vaecourse.quantize.straight_through: expected your own line, got the library's. "
    "Hint: return z_e + (z_q - z_e).detach()")
gen_q5sh = torch.Generator().manual_seed(551)
for shape_q5sh, dtype_q5sh in [((2, 4, 3, 3), torch.float64), ((6, 5), torch.float32), ((1,), torch.float64)]:
    # an encoder with parameters behind z_e, a codebook behind z_q; values of very different sizes
    inputs_q5sh = torch.randn(*shape_q5sh, generator=gen_q5sh, dtype=dtype_q5sh)
    scale_q5sh = torch.tensor(1e3, dtype=dtype_q5sh, requires_grad=True)  # the "encoder": z_e = scale * inputs
    codebook_q5sh = (1e-3 * torch.randn(7, generator=gen_q5sh, dtype=dtype_q5sh)).requires_grad_()
    index_q5sh = torch.randint(7, shape_q5sh, generator=gen_q5sh)
    z_e_q5sh = scale_q5sh * inputs_q5sh
    z_q_q5sh = codebook_q5sh[index_q5sh]
    z_e_before_q5sh, z_q_before_q5sh = z_e_q5sh.detach().clone(), z_q_q5sh.detach().clone()
    with testkit.forbid(no_reference_q5sh, vaecourse.quantize.straight_through):
        out_q5sh = straight_through(z_e_q5sh, z_q_q5sh)
    label_q5sh = f"shape {shape_q5sh} ({dtype_q5sh})"
    rounding_q5sh = 4 * torch.finfo(dtype_q5sh).eps * (z_e_before_q5sh.abs() + z_q_before_q5sh.abs())
    vc.grading.record(f"forward value, {label_q5sh}", out_q5sh.detach(), rtol=0, atol=float(rounding_q5sh.max()),
                      hint=hint_q5sh)
    for input_name_q5sh, input_q5sh in (("z_e", z_e_q5sh), ("z_q", z_q_q5sh)):
        vc.grading.record(f"{input_name_q5sh} after the call, {label_q5sh}", input_q5sh.detach(),
                          hint="straight_through must not change its inputs in place")
    vc.grading.assert_equal([tuple(out_q5sh.shape), str(out_q5sh.dtype)], [shape_q5sh, str(dtype_q5sh)],
                            what=f"[shape, dtype] of the output for inputs of {label_q5sh}",
                            hint="combine z_e and z_q elementwise, in their dtype")
    vc.grading.assert_close(z_e_q5sh.detach(), z_e_before_q5sh, rtol=0, atol=0,
                            what=f"z_e after the call, {label_q5sh}",
                            hint="straight_through changed its input in place; build a new tensor")
    vc.grading.assert_close(z_q_q5sh.detach(), z_q_before_q5sh, rtol=0, atol=0,
                            what=f"z_q after the call, {label_q5sh}",
                            hint="straight_through changed its input in place; build a new tensor")
    assert bool(((out_q5sh.detach() - z_q_before_q5sh).abs() <= rounding_q5sh).all()), (
        f"the forward value, {label_q5sh}, encoder outputs about 1000 and codes about 0.001: expected z_q within 4 "
        f"rounding units of each entry, got a difference of up to "
        f"{(out_q5sh.detach() - z_q_before_q5sh).abs().max().item():.3g}. Hint: the forward value must be z_q "
        "whatever the sizes of z_e and z_q; " + hint_q5sh)
    upstream_q5sh = torch.randn(*shape_q5sh, generator=gen_q5sh, dtype=dtype_q5sh)
    z_e_grad_q5sh, scale_grad_q5sh, codebook_grad_q5sh = torch.autograd.grad(
        out_q5sh, (z_e_q5sh, scale_q5sh, codebook_q5sh), upstream_q5sh, retain_graph=True, allow_unused=True)
    codebook_grad_q5sh = torch.zeros_like(codebook_q5sh) if codebook_grad_q5sh is None else codebook_grad_q5sh
    vc.grading.record(f"d out / d z_e, {label_q5sh}", z_e_grad_q5sh, hint=hint_q5sh)
    vc.grading.record(f"d out / d encoder scale, {label_q5sh}", scale_grad_q5sh,
                      rtol=1e-12 if dtype_q5sh == torch.float64 else 1e-6, atol=0, hint=hint_q5sh)
    vc.grading.record(f"gradient reaching the codebook (None = 0), {label_q5sh}", codebook_grad_q5sh, hint=hint_q5sh)
    assert z_e_grad_q5sh is not None, (
        f"the gradient with respect to z_e, {label_q5sh}: expected the upstream gradient, got None. Hint: {hint_q5sh}")
    vc.grading.assert_close(z_e_grad_q5sh, upstream_q5sh, rtol=0, atol=0,
                            what=f"the gradient with respect to z_e, {label_q5sh}",
                            hint="it must be exactly the upstream gradient (the identity Jacobian)")
    assert scale_grad_q5sh is not None, (
        f"the gradient reaching the encoder's parameter behind z_e, {label_q5sh}: expected sum(upstream * inputs), "
        f"got None. Hint: {hint_q5sh}")
    vc.grading.assert_close(scale_grad_q5sh, (upstream_q5sh * inputs_q5sh).sum(), rtol=1e-6, atol=0,
                            what=f"the gradient reaching the encoder's parameter behind z_e, {label_q5sh}",
                            hint="the upstream gradient must pass through the output to z_e and on to the encoder")
    vc.grading.assert_close(codebook_grad_q5sh, torch.zeros_like(codebook_q5sh), rtol=0, atol=0,
                            what=f"the gradient reaching the codebook through the output (None = 0), {label_q5sh}",
                            hint="put z_q inside the .detach(), so that no gradient reaches the codebook")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-losses-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 3 · The codebook and commitment losses (4 points)
#
# Since the straight-through output sends no gradient to the codebook, the VQ-VAE adds two terms that
# measure the same squared distance between $z_e$ and its chosen code $e = e_{k^\star}$, with the
# stop-gradient in different places (van den Oord et al. 2017, eq. 3, written as a loss to minimise):
#
# $$
# L = \underbrace{-\log p(x \mid z_q(x))}_{\text{reconstruction}}
#   + \underbrace{\lVert \operatorname{sg}[z_e(x)] - e \rVert^2}_{\text{codebook loss}}
#   + \beta \underbrace{\lVert z_e(x) - \operatorname{sg}[e] \rVert^2}_{\text{commitment loss}} .
# $$
#
# The **codebook loss** pulls each chosen code towards the encoder outputs assigned to it (its
# gradient reaches only the codebook); the **commitment loss** keeps the encoder's outputs close to
# their codes (its gradient reaches only the encoder). Both have the same value; they differ only in
# where their gradients go.
#
# Implement `vq_losses(z_e, codebook, indices)`. An image's encoder output is a grid of $P$ vectors
# (for example $P = 7 \times 7$), so `z_e` has shape `(B, P, D)`: $B$ examples, $P$ latent vectors each of
# dimension $D$ ($P$ may be 1). `codebook` is `(K, D)` and `indices` `(B, P)` holds the chosen code of
# each vector; use these indices as given (the tests pass indices that are not always the nearest
# codes, as happens when the codebook has moved since they were computed). Return the pair
# `(codebook_loss, commitment_loss)`, each of shape `(B,)`: the squared distances **summed** over the $P$
# positions and $D$ dimensions of each example (no $\beta$: the caller weights the commitment loss).
# The first test cell checks the values, the second where each term's gradient goes.

# %% nbgrader={"grade": false, "grade_id": "q5-losses-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vq_losses(z_e: torch.Tensor, codebook: torch.Tensor, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The VQ-VAE codebook loss ||sg[z_e] - e||^2 and commitment loss ||z_e - sg[e]||^2, per example.

    Parameters
    ----------
    z_e : torch.Tensor, shape (B, P, D)
        Encoder outputs: B examples, P latent vectors of dimension D each.
    codebook : torch.Tensor, shape (K, D)
        The code vectors.
    indices : torch.Tensor, shape (B, P), dtype torch.long
        The chosen code of each latent vector.

    Returns
    -------
    codebook_loss : torch.Tensor, shape (B,)
        Sum over positions and dimensions of (sg[z_e] - e)^2; its gradient reaches only the codebook.
    commitment_loss : torch.Tensor, shape (B,)
        Sum over positions and dimensions of (z_e - sg[e])^2; its gradient reaches only z_e.
    """
    ### BEGIN SOLUTION
    chosen = codebook[indices]  # (B, P, D)
    codebook_loss = (z_e.detach() - chosen).pow(2).sum(dim=(1, 2))
    commitment_loss = (z_e - chosen.detach()).pow(2).sum(dim=(1, 2))
    return codebook_loss, commitment_loss
    ### END SOLUTION


# %%
# Try it (not graded): two examples with two latent vectors each, a codebook of two codes.
z_e_try = torch.tensor([[[1.0, 2.0], [0.0, 0.0]], [[3.0, 0.0], [1.0, 1.0]]], requires_grad=True)
codebook_try_losses = torch.tensor([[0.0, 0.0], [1.0, 1.0]], requires_grad=True)
indices_try_losses = torch.tensor([[1, 0], [1, 1]])
codebook_loss_try, commitment_loss_try = vq_losses(z_e_try, codebook_try_losses, indices_try_losses)
print(f"codebook loss: {codebook_loss_try.tolist()}, commitment loss: {commitment_loss_try.tolist()}")
codebook_loss_try.sum().backward()
print("after backward of the codebook loss: codebook.grad =", codebook_try_losses.grad.tolist(),
      "| z_e.grad =", None if z_e_try.grad is None else z_e_try.grad.tolist())

# %% nbgrader={"grade": true, "grade_id": "q5-losses-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""vq_losses returns (codebook_loss, commitment_loss), each the squared distance to the given codes summed per example."""
z_e_q5l = torch.tensor([[[1.0, 2.0], [0.0, 0.0]], [[3.0, 0.0], [1.0, 1.0]]])
codebook_q5l = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
indices_q5l = torch.tensor([[1, 0], [1, 1]])
result_q5l = vq_losses(z_e_q5l, codebook_q5l, indices_q5l)
assert isinstance(result_q5l, tuple) and len(result_q5l) == 2, (
    f"the result of vq_losses: expected a pair (codebook_loss, commitment_loss), got {type(result_q5l).__name__}. "
    "Hint: return codebook_loss, commitment_loss")
codebook_loss_q5l, commitment_loss_q5l = result_q5l
vc.grading.assert_equal([tuple(codebook_loss_q5l.shape), tuple(commitment_loss_q5l.shape)], [(2,), (2,)],
                        what="the shapes of the two losses of 2 examples",
                        hint="one value per example: sum over the positions and the dimensions (dims 1 and 2), "
                             "not the batch")
expected_q5l = torch.tensor([1.0, 5.0])  # (0 + 1) + 0 and (4 + 1) + 0
vc.grading.assert_close(codebook_loss_q5l, expected_q5l, rtol=1.3e-6, atol=1e-5, what="the codebook loss",
                        hint="example 0 is 1 away from its first code and on its second; example 1 has squared "
                             "distances 5 and 0. Sum the squared differences (no mean, no square root)")
vc.grading.assert_close(commitment_loss_q5l, expected_q5l, rtol=1.3e-6, atol=1e-5, what="the commitment loss",
                        hint="the commitment loss has the same value as the codebook loss")
print("vq_losses values: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

import vaecourse.quantize
from vaecourse import testkit

hint_q5lh = ("the squared distances between z_e and the codes named by `indices`, summed over positions and "
             "dimensions per example; use the indices passed in, do not search for the nearest codes again")
vc.grading.record("codebook loss on the visible batch", codebook_loss_q5l, rtol=1e-6, atol=1e-6, hint=hint_q5lh)
vc.grading.record("commitment loss on the visible batch", commitment_loss_q5l, rtol=1e-6, atol=1e-6, hint=hint_q5lh)
gen_q5lh = torch.Generator().manual_seed(561)
for b_q5lh, p_q5lh, d_q5lh, k_q5lh in [(5, 7, 3, 10), (4, 1, 6, 3), (1, 49, 2, 64)]:
    z_e_q5lh = torch.randn(b_q5lh, p_q5lh, d_q5lh, generator=gen_q5lh, dtype=torch.float64)
    codebook_q5lh = torch.randn(k_q5lh, d_q5lh, generator=gen_q5lh, dtype=torch.float64)
    indices_q5lh = torch.randint(k_q5lh, (b_q5lh, p_q5lh), generator=gen_q5lh)  # not the nearest codes
    z_e_before_q5lh, codebook_before_q5lh = z_e_q5lh.clone(), codebook_q5lh.clone()
    with testkit.forbid(AssertionError(
            "vq_losses called vaecourse.quantize.VectorQuantizer: expected your own losses, got the library's. "
            "Hint: write the two squared distances yourself"), *testkit.functions_of(vaecourse.quantize.VectorQuantizer)):
        result_q5lh = vq_losses(z_e_q5lh, codebook_q5lh, indices_q5lh)
    label_q5lh = f"B={b_q5lh}, P={p_q5lh}, D={d_q5lh}, K={k_q5lh}, float64"
    for loss_name_q5lh, loss_q5lh in zip(("codebook loss", "commitment loss"), result_q5lh):
        vc.grading.record(f"{loss_name_q5lh}, {label_q5lh}", loss_q5lh, rtol=1e-12, atol=1e-12, hint=hint_q5lh)
    if b_q5lh == 5:  # the inputs of the first case after the call (in-place edits would show)
        vc.grading.record(f"z_e after the call, {label_q5lh}", z_e_q5lh,
                          hint="vq_losses must not change its inputs in place")
        vc.grading.record(f"the codebook after the call, {label_q5lh}", codebook_q5lh,
                          hint="vq_losses must not change its inputs in place")
    codebook_loss_q5lh, commitment_loss_q5lh = result_q5lh
    vc.grading.assert_close(z_e_q5lh, z_e_before_q5lh, rtol=0, atol=0, what=f"z_e after the call, {label_q5lh}",
                            hint="vq_losses changed its input in place; compute new tensors instead")
    vc.grading.assert_close(codebook_q5lh, codebook_before_q5lh, rtol=0, atol=0,
                            what=f"the codebook after the call, {label_q5lh}",
                            hint="vq_losses changed its input in place; compute new tensors instead")
    expected_q5lh = torch.zeros(b_q5lh, dtype=torch.float64)
    for row_q5lh in range(b_q5lh):
        for position_q5lh in range(p_q5lh):
            expected_q5lh[row_q5lh] += ((z_e_q5lh[row_q5lh, position_q5lh]
                                         - codebook_q5lh[indices_q5lh[row_q5lh, position_q5lh]]) ** 2).sum()
    for name_q5lh, value_q5lh in [("codebook", codebook_loss_q5lh), ("commitment", commitment_loss_q5lh)]:
        vc.grading.assert_equal(tuple(value_q5lh.shape), (b_q5lh,),
                                what=f"the shape of the {name_q5lh} loss, {label_q5lh}",
                                hint="one value per example: sum over the positions and the dimensions")
        vc.grading.assert_close(value_q5lh, expected_q5lh, rtol=1e-12, atol=1e-12,
                                what=f"the {name_q5lh} loss, {label_q5lh}", hint=hint_q5lh)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q5-losses-gradient-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""The codebook loss's gradient reaches only the codebook, the commitment loss's only z_e, with the right values."""


def moved_q5g(gradient):
    """True when a gradient exists and is not all zero."""
    return gradient is not None and bool(gradient.abs().sum() > 0)


gen_q5g = torch.Generator().manual_seed(571)
z_e_q5g = torch.randn(3, 4, 2, generator=gen_q5g, requires_grad=True)
codebook_q5g = torch.randn(6, 2, generator=gen_q5g, requires_grad=True)
indices_q5g = torch.randint(6, (3, 4), generator=gen_q5g)
codebook_loss_q5g, commitment_loss_q5g = vq_losses(z_e_q5g, codebook_q5g, indices_q5g)
vc.grading.assert_equal([codebook_loss_q5g.requires_grad, commitment_loss_q5g.requires_grad], [True, True],
                        what="[codebook loss requires grad, commitment loss requires grad]",
                        hint="each loss must carry a gradient to something: do not detach both sides of a difference")
reached_q5g, gradients_q5g = {}, {}
for name_q5g, term_q5g in [("codebook loss", codebook_loss_q5g), ("commitment loss", commitment_loss_q5g)]:
    to_codebook_q5g, to_z_e_q5g = torch.autograd.grad(term_q5g.sum(), (codebook_q5g, z_e_q5g),
                                                       retain_graph=True, allow_unused=True)
    gradients_q5g[name_q5g] = [torch.zeros_like(codebook_q5g) if to_codebook_q5g is None else to_codebook_q5g,
                               torch.zeros_like(z_e_q5g) if to_z_e_q5g is None else to_z_e_q5g]
    reached_q5g[name_q5g] = {"codebook": moved_q5g(to_codebook_q5g), "z_e": moved_q5g(to_z_e_q5g)}
print("which tensor each term's gradient reaches:", reached_q5g)
vc.grading.assert_equal(reached_q5g["codebook loss"], {"codebook": True, "z_e": False},
                        what="where the gradient of the codebook loss ||sg[z_e] - e||^2 goes",
                        hint="it must move the codebook only: detach z_e in this term, not the code")
vc.grading.assert_equal(reached_q5g["commitment loss"], {"codebook": False, "z_e": True},
                        what="where the gradient of the commitment loss ||z_e - sg[e]||^2 goes",
                        hint="it must move the encoder only: detach the code in this term, not z_e")
z_e_small_q5g = torch.tensor([[[1.0, 2.0], [0.0, 0.0]], [[3.0, 0.0], [1.0, 1.0]]], dtype=torch.float64,
                             requires_grad=True)
codebook_small_q5g = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64, requires_grad=True)
small_losses_q5g = vq_losses(z_e_small_q5g, codebook_small_q5g, torch.tensor([[1, 0], [1, 1]]))
to_codebook_small_q5g, = torch.autograd.grad(small_losses_q5g[0].sum(), codebook_small_q5g)
to_z_e_small_q5g, = torch.autograd.grad(small_losses_q5g[1].sum(), z_e_small_q5g)
vc.grading.assert_close(to_codebook_small_q5g, torch.tensor([[0.0, 0.0], [-4.0, 0.0]], dtype=torch.float64),
                        rtol=1e-12, atol=1e-12, what="the gradient of the summed codebook loss with respect to the "
                        "codebook, on Task 3's example",
                        hint="for code k, the sum of 2 (e_k - z_e) over the vectors assigned to it: code 1 has "
                             "(1, 2), (3, 0) and (1, 1)")
vc.grading.assert_close(to_z_e_small_q5g, torch.tensor([[[0.0, 2.0], [0.0, 0.0]], [[4.0, -2.0], [0.0, 0.0]]],
                                                       dtype=torch.float64), rtol=1e-12, atol=1e-12,
                        what="the gradient of the summed commitment loss with respect to z_e, on Task 3's example",
                        hint="2 (z_e - e) for each vector: a squared distance summed, not averaged or square-rooted")
print("vq_losses gradients: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

hint_codebook_q5gh = ("the codebook loss ||sg[z_e] - e||^2 moves only the codes: for each code the sum of "
                      "2 (e_k - z_e) over the vectors assigned to it (zero for unused codes), nothing to z_e")
hint_commitment_q5gh = ("the commitment loss ||z_e - sg[e]||^2 moves only z_e: 2 (z_e - e) per vector, nothing to "
                        "the codes")
for term_q5gh, hint_term_q5gh in (("codebook loss", hint_codebook_q5gh), ("commitment loss", hint_commitment_q5gh)):
    for target_q5gh, gradient_q5gh in zip(("codebook", "z_e"), gradients_q5g[term_q5gh]):
        vc.grading.record(f"gradient of the {term_q5gh} (visible batch) to {target_q5gh} (None = 0)", gradient_q5gh,
                          rtol=1e-5, atol=1e-5, hint=hint_term_q5gh)
gen_q5gh = torch.Generator().manual_seed(581)
b_q5gh, p_q5gh, d_q5gh, k_q5gh = 4, 5, 3, 8
z_e_q5gh = torch.randn(b_q5gh, p_q5gh, d_q5gh, generator=gen_q5gh, dtype=torch.float64, requires_grad=True)
codebook_q5gh = torch.randn(k_q5gh, d_q5gh, generator=gen_q5gh, dtype=torch.float64, requires_grad=True)
indices_q5gh = torch.randint(k_q5gh - 2, (b_q5gh, p_q5gh), generator=gen_q5gh)  # the last two codes are unused
weights_q5gh = torch.rand(b_q5gh, generator=gen_q5gh, dtype=torch.float64) + 0.5  # per-example weights
codebook_loss_q5gh, commitment_loss_q5gh = vq_losses(z_e_q5gh, codebook_q5gh, indices_q5gh)
grads_codebook_term_q5gh = torch.autograd.grad((weights_q5gh * codebook_loss_q5gh).sum(),
                                               (codebook_q5gh, z_e_q5gh), retain_graph=True, allow_unused=True)
grads_commitment_term_q5gh = torch.autograd.grad((weights_q5gh * commitment_loss_q5gh).sum(),
                                                 (codebook_q5gh, z_e_q5gh), retain_graph=True, allow_unused=True)
grads_codebook_term_q5gh = [torch.zeros_like(t) if g is None else g
                            for g, t in zip(grads_codebook_term_q5gh, (codebook_q5gh, z_e_q5gh))]
grads_commitment_term_q5gh = [torch.zeros_like(t) if g is None else g
                              for g, t in zip(grads_commitment_term_q5gh, (codebook_q5gh, z_e_q5gh))]
for term_q5gh, grads_q5gh, hint_term_q5gh in (("codebook loss", grads_codebook_term_q5gh, hint_codebook_q5gh),
                                               ("commitment loss", grads_commitment_term_q5gh, hint_commitment_q5gh)):
    for target_q5gh, gradient_q5gh in zip(("codebook", "z_e"), grads_q5gh):
        vc.grading.record(f"gradient of the weighted {term_q5gh} (float64) to {target_q5gh} (None = 0)",
                          gradient_q5gh, rtol=1e-10, atol=1e-12, hint=hint_term_q5gh)
# One SGD step on the codebook loss moves every used code towards its vectors and leaves the unused codes and the
# encoder where they were: the codebook is learned, not held constant.
torch.manual_seed(582)
encoder_q5gh = torch.nn.Linear(3, p_q5gh * d_q5gh).double()
codebook_param_q5gh = torch.nn.Parameter(codebook_q5gh.detach().clone())
x_q5gh = torch.randn(b_q5gh, 3, generator=gen_q5gh, dtype=torch.float64)
encoder_before_q5gh = encoder_q5gh.weight.detach().clone()
codebook_before_q5gh = codebook_param_q5gh.detach().clone()
z_e_step_q5gh = encoder_q5gh(x_q5gh).reshape(b_q5gh, p_q5gh, d_q5gh)
optimizer_q5gh = torch.optim.SGD([*encoder_q5gh.parameters(), codebook_param_q5gh], lr=0.05)
vq_losses(z_e_step_q5gh, codebook_param_q5gh, indices_q5gh)[0].sum().backward()
optimizer_q5gh.step()
vc.grading.record("codebook after one SGD step on the codebook loss", codebook_param_q5gh.detach(),
                  rtol=1e-10, atol=1e-12,
                  hint="a step on the codebook loss moves the used codes towards their vectors, and nothing else")
vc.grading.record("encoder weight after one SGD step on the codebook loss", encoder_q5gh.weight.detach(),
                  rtol=1e-10, atol=1e-12,
                  hint="a step on the codebook loss must not move the encoder: detach z_e in it")
chosen_q5gh = codebook_q5gh.detach()[indices_q5gh]  # (B, P, D)
difference_q5gh = z_e_q5gh.detach() - chosen_q5gh
# d/d e_k of sum_b w_b sum_p ||z_e[b, p] - e_{idx[b, p]}||^2 = sum over the vectors assigned to k of 2 w_b (e_k - z_e)
expected_codebook_grad_q5gh = torch.zeros(k_q5gh, d_q5gh, dtype=torch.float64).index_add_(
    0, indices_q5gh.flatten(), (-2 * weights_q5gh[:, None, None] * difference_q5gh).reshape(-1, d_q5gh))
expected_z_e_grad_q5gh = 2 * weights_q5gh[:, None, None] * difference_q5gh
vc.grading.assert_close(grads_codebook_term_q5gh[0], expected_codebook_grad_q5gh, rtol=1e-10, atol=1e-12,
                        what="the gradient of the weighted codebook loss with respect to the codebook (None = 0)",
                        hint=hint_codebook_q5gh)
vc.grading.assert_close(grads_codebook_term_q5gh[1], torch.zeros_like(z_e_q5gh), rtol=0, atol=0,
                        what="the gradient of the codebook loss with respect to z_e (None = 0)",
                        hint="the codebook loss sends a gradient to z_e; detach z_e in it")
vc.grading.assert_close(grads_commitment_term_q5gh[1], expected_z_e_grad_q5gh, rtol=1e-10, atol=1e-12,
                        what="the gradient of the weighted commitment loss with respect to z_e (None = 0)",
                        hint=hint_commitment_q5gh)
vc.grading.assert_close(grads_commitment_term_q5gh[0], torch.zeros_like(codebook_q5gh), rtol=0, atol=0,
                        what="the gradient of the commitment loss with respect to the codebook (None = 0)",
                        hint="the commitment loss sends a gradient to the codebook; detach the chosen codes in it")
vc.grading.assert_close(encoder_q5gh.weight.detach(), encoder_before_q5gh, rtol=0, atol=0,
                        what="the encoder weight after one SGD step on the codebook loss",
                        hint="a step on the codebook loss moved the encoder: detach z_e in the codebook loss")
vc.grading.assert_close(codebook_param_q5gh.detach()[-2:], codebook_before_q5gh[-2:], rtol=0, atol=0,
                        what="the two unused codes after one SGD step on the codebook loss",
                        hint="a step on the codebook loss moved unused codes: only the chosen codes enter the loss")
used_q5gh = torch.unique(indices_q5gh)
moved_used_q5gh = (codebook_param_q5gh.detach()[used_q5gh] != codebook_before_q5gh[used_q5gh]).any(dim=1)
assert bool(moved_used_q5gh.all()), (
    f"the used codes after one SGD step on the codebook loss: expected all {len(used_q5gh)} to move, got "
    f"{int(moved_used_q5gh.sum())} moved. Hint: the codebook loss must carry a gradient to every chosen code; do not "
    "detach the codes in it")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-perplexity-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 4 · Codebook usage and perplexity (2 points)
#
# Nothing in the VQ-VAE loss asks for all $K$ codes to be used. A code that no encoder output is
# nearest to receives no gradient from the codebook loss and never moves again: a **dead code**. How
# many codes are in use is measured by the **perplexity** of the usage distribution. With $n_k$ the
# number of latent vectors assigned to code $k$ and $\hat p_k = n_k / \sum_j n_j$,
#
# $$
# \operatorname{perplexity} = \exp\Big(-\sum_{k:\, \hat p_k > 0} \hat p_k \log \hat p_k\Big) ,
# $$
#
# the exponential of the entropy in nats (with $0 \log 0 = 0$). It is $K$ when all codes are used
# equally often, 1 when one code takes every vector, and $m$ when $m$ codes share the vectors equally:
# the effective number of codes in use.
#
# Implement `perplexity(indices, num_codes)`. `indices` is an integer tensor of any shape (for example
# `(B, P)`) with values in `[0, num_codes)`; return a floating-point tensor of shape `()`. Unused codes
# must not turn the result into `nan` ($0 \cdot \log 0$ is `nan` in floating point). Hint:
# `torch.bincount(..., minlength=num_codes)` counts the uses of each code. Do not call
# `vaecourse.quantize.perplexity` or `vaecourse.quantize.code_usage`.

# %% nbgrader={"grade": false, "grade_id": "q5-perplexity-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def perplexity(indices: torch.Tensor, num_codes: int) -> torch.Tensor:
    """exp(entropy) of the empirical code usage: the effective number of codes in use.

    Parameters
    ----------
    indices : torch.Tensor, any shape, integer
        Code indices in [0, num_codes).
    num_codes : int
        The codebook size K.

    Returns
    -------
    torch.Tensor, shape ()
        exp(-sum_k p_k log p_k) with p_k the fraction of indices equal to k (0 log 0 = 0); in [1, K].
    """
    ### BEGIN SOLUTION
    counts = torch.bincount(indices.flatten(), minlength=num_codes).double()
    probs = counts / counts.sum()
    probs = probs[probs > 0]
    return torch.exp(-(probs * probs.log()).sum())
    ### END SOLUTION


# %%
# Try it (not graded): all 8 codes equally often, one code only, two codes in the ratio 1 : 3, and the
# codes of a (B, P) grid drawn from a skewed distribution over 16 codes.
print("8 codes used equally:", round(float(perplexity(torch.arange(8).repeat(5), 8)), 4))
print("1 code of 8:         ", round(float(perplexity(torch.zeros(40, dtype=torch.long), 8)), 4))
print("2 codes, 1 : 3:      ", round(float(perplexity(torch.tensor([0, 1, 1, 1]), 8)), 4))
skewed_try = torch.multinomial(torch.linspace(1, 0, 16) ** 2, 4 * 49, replacement=True,
                               generator=torch.Generator().manual_seed(4)).reshape(4, 49)
print(f"a skewed (4, 49) grid over 16 codes: perplexity {float(perplexity(skewed_try, 16)):.2f}, "
      f"{len(torch.unique(skewed_try))} codes used")

# %% nbgrader={"grade": true, "grade_id": "q5-perplexity-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""perplexity is exp(entropy) of the code usage: K for uniform use, 1 for one code, finite with unused codes."""
uniform_q5p = perplexity(torch.arange(8).repeat(3), 8)
assert isinstance(uniform_q5p, torch.Tensor) and uniform_q5p.dim() == 0, (
    f"the result: expected a tensor of shape (), got {type(uniform_q5p).__name__} "
    f"{tuple(getattr(uniform_q5p, 'shape', ()))}. Hint: return torch.exp(entropy) without indexing or reshaping it")
assert uniform_q5p.is_floating_point(), (
    f"the dtype of the perplexity: expected a floating-point tensor, got {uniform_q5p.dtype}. Hint: turn the counts "
    "into floats (e.g. counts.double()) before dividing and taking logs")
assert abs(float(uniform_q5p) - 8.0) < 1e-5, (
    f"8 codes used equally often: expected perplexity 8, got {float(uniform_q5p)}. Hint: exp of the entropy in nats")
single_q5p = float(perplexity(torch.full((2, 10), 3), 8))
assert math.isfinite(single_q5p) and abs(single_q5p - 1.0) < 1e-6, (
    f"one code used by every vector: expected perplexity 1, got {single_q5p}. Hint: unused codes have p = 0, and "
    "0 * log(0) is nan in floating point: leave them out of the sum")
ratio_q5p = float(perplexity(torch.tensor([[0, 1], [1, 1]]), 4))
expected_ratio_q5p = math.exp(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
assert abs(ratio_q5p - expected_ratio_q5p) < 1e-5, (
    f"codes 0 and 1 used 1 : 3: expected exp(-(1/4 log 1/4 + 3/4 log 3/4)) = {expected_ratio_q5p:.5f}, got "
    f"{ratio_q5p}. Hint: p_k is the fraction of the indices equal to k, counted over all of them")
print("perplexity: visible tests passed")
### BEGIN HIDDEN TESTS
import math

import torch

import vaecourse.quantize
from vaecourse import testkit

hint_q5ph = ("exp(-sum_k p_k log p_k) with p_k the fraction of all indices equal to k, leaving out unused codes "
             "(0 log 0 = 0)")
vc.grading.record("perplexity of the visible cases [8 codes equally, one code, 1 : 3]",
                  [float(uniform_q5p), single_q5p, ratio_q5p], rtol=0, atol=1e-5, hint=hint_q5ph)
no_reference_q5ph = AssertionError(
    "perplexity called vaecourse.quantize's perplexity or code_usage: expected your own count, got the library's. "
    "Hint: count with torch.bincount(indices.flatten(), minlength=num_codes)")
gen_q5ph = torch.Generator().manual_seed(591)
weights_q5ph = torch.rand(32, generator=gen_q5ph, dtype=torch.float64) ** 3
weights_q5ph[[3, 10, 11, 30]] = 0.0  # four codes are never used
indices_q5ph = torch.multinomial(weights_q5ph, 6 * 7 * 7, replacement=True, generator=gen_q5ph).reshape(6, 7, 7)
permutation_q5ph = torch.randperm(40, generator=gen_q5ph)
cases_q5ph = [(indices_q5ph, 32, "a skewed (6, 7, 7) grid over 32 codes, 4 of them unused"),
              (indices_q5ph, 40, "the same grid with num_codes = 40 (8 more unused codes)"),
              (permutation_q5ph[indices_q5ph], 40, "the same grid with the codes relabelled"),
              (indices_q5ph.flatten(), 32, "the same indices, flattened"),
              (torch.tensor([5]), 6, "a single index"),
              (torch.arange(1000) % 1000, 1000, "1000 codes used once each"),
              (torch.tensor([0] * 999 + [1]), 2, "999 : 1")]
with testkit.forbid(no_reference_q5ph, vaecourse.quantize.perplexity, vaecourse.quantize.code_usage):
    results_q5ph = [perplexity(values_q5ph, num_codes_q5ph) for values_q5ph, num_codes_q5ph, _ in cases_q5ph]


def as_number_q5ph(value):
    """float(value), or nan when the answer is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return float("nan")


vc.grading.record("perplexity of the 7 hidden cases", [as_number_q5ph(result) for result in results_q5ph],
                  rtol=1e-5, atol=0, hint=hint_q5ph)


def reference_perplexity_q5ph(values, num_codes):
    """exp(entropy) of the usage, counted with a Python loop, in float64."""
    counts = [0] * num_codes
    for value in values.flatten().tolist():
        counts[value] += 1
    total = sum(counts)
    return math.exp(-sum(c / total * math.log(c / total) for c in counts if c > 0))


for (values_q5ph, num_codes_q5ph, name_q5ph), result_q5ph in zip(cases_q5ph, results_q5ph):
    expected_q5ph = reference_perplexity_q5ph(values_q5ph, num_codes_q5ph)
    assert isinstance(result_q5ph, torch.Tensor) and result_q5ph.dim() == 0, (
        f"{name_q5ph}: expected a tensor of shape (), got {type(result_q5ph).__name__} "
        f"{tuple(getattr(result_q5ph, 'shape', ()))}. Hint: return a 0-dimensional tensor for any shape of indices")
    assert math.isfinite(float(result_q5ph)), (
        f"{name_q5ph}: expected a finite perplexity {expected_q5ph:.6f}, got {float(result_q5ph)}. Hint: leave the "
        "unused codes out of the sum (0 log 0 = 0)")
    assert abs(float(result_q5ph) - expected_q5ph) <= 1e-5 * expected_q5ph, (
        f"{name_q5ph}: expected perplexity {expected_q5ph:.6f}, got {float(result_q5ph):.6f}. Hint: {hint_q5ph}")
    assert 1 - 1e-6 <= float(result_q5ph) <= min(num_codes_q5ph, values_q5ph.numel()) + 1e-6, (
        f"{name_q5ph}: expected a perplexity between 1 and min(K, number of indices) = "
        f"{min(num_codes_q5ph, values_q5ph.numel())}, got {float(result_q5ph):.6f}. Hint: {hint_q5ph}")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-vqloss-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 5 · The VQ-VAE loss, with its signs (2 points)
#
# The three terms of Task 3's formula go into one number to minimise. Implement
# `vq_vae_loss(log_px, codebook_loss, commitment_loss, beta)`: `log_px` holds $\log p(x \mid z_q(x))$
# for each of $B$ examples (shape `(B,)`, a log-likelihood: the larger the better), `codebook_loss` and
# `commitment_loss` are the two losses of Task 3 (shape `(B,)` each). Return the loss to **minimise**,
# averaged over the batch (shape `()`):
#
# $$
# L = \frac1B \sum_{b=1}^{B} \Big( -\log p(x_b \mid z_q(x_b)) + \text{codebook}_b + \beta\, \text{commitment}_b \Big) .
# $$
#
# The homework wrote $+\log p$; the tests check the sign through the gradient with respect to `log_px`.

# %% nbgrader={"grade": false, "grade_id": "q5-vqloss-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vq_vae_loss(log_px: torch.Tensor, codebook_loss: torch.Tensor, commitment_loss: torch.Tensor,
                beta: float) -> torch.Tensor:
    """The VQ-VAE loss to minimise, averaged over the batch: mean of -log p + codebook + beta * commitment.

    Parameters
    ----------
    log_px : torch.Tensor, shape (B,)
        log p(x | z_q(x)) of each example.
    codebook_loss, commitment_loss : torch.Tensor, shape (B,)
        The two losses of Task 3.
    beta : float
        The weight of the commitment loss.

    Returns
    -------
    torch.Tensor, shape ()
    """
    ### BEGIN SOLUTION
    return (-log_px + codebook_loss + beta * commitment_loss).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "q5-vqloss-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""vq_vae_loss: the batch mean of -log p + codebook + beta * commitment; its gradient shows each term's sign and weight."""
log_px_q5v = torch.tensor([-10.0, -30.0], requires_grad=True)
codebook_loss_q5v = torch.tensor([2.0, 4.0], requires_grad=True)
commitment_loss_q5v = torch.tensor([1.0, 3.0], requires_grad=True)
loss_q5v = vq_vae_loss(log_px_q5v, codebook_loss_q5v, commitment_loss_q5v, 0.25)
assert isinstance(loss_q5v, torch.Tensor) and loss_q5v.dim() == 0, (
    f"the loss: expected a tensor of shape (), got {type(loss_q5v).__name__} {tuple(getattr(loss_q5v, 'shape', ()))}. "
    "Hint: average the per-example loss over the batch with .mean()")
vc.grading.assert_close(loss_q5v, torch.tensor(23.5), rtol=1e-6, atol=1e-6,
                        what="the loss of 2 examples with log p = -10, -30, codebook 2, 4, commitment 1, 3, beta 0.25",
                        hint="the mean of (10 + 2 + 0.25) and (30 + 4 + 0.75): minus log p, and beta on the commitment")
gradients_q5v = torch.autograd.grad(loss_q5v, (log_px_q5v, codebook_loss_q5v, commitment_loss_q5v))
vc.grading.assert_close(gradients_q5v[0], torch.tensor([-0.5, -0.5]), rtol=1e-6, atol=1e-7,
                        what="the gradient of the loss with respect to log p(x|z_q) (2 examples)",
                        hint="minimising the loss must raise log p: its gradient is -1/B, so use -log p, not +log p")
vc.grading.assert_close(torch.stack(gradients_q5v[1:]), torch.tensor([[0.5, 0.5], [0.125, 0.125]]), rtol=1e-6,
                        atol=1e-7, what="the gradients with respect to [codebook loss, commitment loss]",
                        hint="1/B for the codebook loss, beta/B for the commitment loss: beta weights the commitment")
print("vq_vae_loss: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

hint_q5vh = "the batch mean of -log p(x|z_q) + codebook_loss + beta * commitment_loss"
vc.grading.record("the loss of the visible batch", loss_q5v, rtol=1e-6, atol=1e-6, hint=hint_q5vh)
gen_q5vh = torch.Generator().manual_seed(601)
for b_q5vh, beta_q5vh in [(7, 0.25), (1, 2.0), (64, 0.0), (5, 1.3)]:
    inputs_q5vh = [(-200 * torch.rand(b_q5vh, generator=gen_q5vh, dtype=torch.float64)).requires_grad_(),
                   (5 * torch.rand(b_q5vh, generator=gen_q5vh, dtype=torch.float64)).requires_grad_(),
                   (5 * torch.rand(b_q5vh, generator=gen_q5vh, dtype=torch.float64)).requires_grad_()]
    loss_q5vh = vq_vae_loss(*inputs_q5vh, beta_q5vh)
    label_q5vh = f"B = {b_q5vh}, beta = {beta_q5vh}"
    vc.grading.record(f"the loss, {label_q5vh}", loss_q5vh, rtol=1e-12, atol=1e-12, hint=hint_q5vh)
    gradients_q5vh = torch.autograd.grad(loss_q5vh, inputs_q5vh, allow_unused=True)
    for name_q5vh, gradient_q5vh, input_q5vh in zip(("log p", "codebook loss", "commitment loss"), gradients_q5vh,
                                                     inputs_q5vh):
        vc.grading.record(f"the gradient with respect to {name_q5vh}, {label_q5vh} (None = 0)",
                          torch.zeros_like(input_q5vh) if gradient_q5vh is None else gradient_q5vh,
                          rtol=1e-12, atol=1e-12, hint=hint_q5vh)
    expected_q5vh = (-inputs_q5vh[0] + inputs_q5vh[1] + beta_q5vh * inputs_q5vh[2]).mean()
    vc.grading.assert_close(loss_q5vh, expected_q5vh, rtol=1e-12, atol=1e-12, what=f"the loss, {label_q5vh}",
                            hint=hint_q5vh)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-ema-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 6 · The codebook as moving averages (3 points)
#
# Instead of the codebook loss, the VQ-VAE paper (appendix A.1) can learn the codebook as **exponential
# moving averages** of the encoder outputs assigned to each code. It keeps, for each code $k$, a
# moving count $N_k$ and a moving sum $m_k$ of the vectors assigned to it; with $n_k$ the number of
# vectors of the batch assigned to code $k$ and $\gamma$ the decay,
#
# $$
# N_k \leftarrow \gamma N_k + (1 - \gamma)\, n_k , \qquad
# m_k \leftarrow \gamma m_k + (1 - \gamma) \sum_{i:\, k^\star(z_i) = k} z_i , \qquad
# e_k = m_k / \tilde N_k ,
# $$
#
# where $\tilde N_k = (N_k + \epsilon) / (n + K\epsilon) \cdot n$ with $n = \sum_j N_j$ is the count
# smoothed so that a code that lost its inputs does not divide by zero (Laplace smoothing).
#
# The averages need a starting value, and this is where a common implementation goes wrong: it starts
# the sums at the initial codebook and the counts at **zero**. Then a code that receives no vector at
# the first update becomes $\gamma e_k / \tilde N_k$ with $\tilde N_k \approx \epsilon$: thrown about
# $10^5$ times further out, where no encoder output will ever choose it again. Start instead with one
# pseudo-observation per code, at the code itself: $N_k = 1$, $m_k = e_k$. Then an unused code stays
# where it is.
#
# Implement `ema_init(codebook)`, returning `(counts, sums)` (shapes `(K,)` and `(K, D)`, in the dtype of
# the codebook), and
# `ema_update(counts, sums, z, indices, decay, epsilon)`, one step: `z` is `(N, D)`, `indices` `(N,)`
# the chosen code of each vector; return the new `(counts, sums, codebook)`. Do not use
# `vaecourse.quantize.VectorQuantizer`. The first test cell checks one update against a hand
# computation; the second trains a codebook from your `ema_init` (with an update written in the
# test) on data that uses only a few codes, and checks that every code stays near the data.

# %% nbgrader={"grade": false, "grade_id": "q5-ema-init-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ema_init(codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The moving averages' starting state: one pseudo-observation per code, at the code itself.

    Parameters
    ----------
    codebook : torch.Tensor, shape (K, D)

    Returns
    -------
    counts : torch.Tensor, shape (K,)
    sums : torch.Tensor, shape (K, D)
    """
    ### BEGIN SOLUTION
    return torch.ones(len(codebook), dtype=codebook.dtype), codebook.clone()
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "q5-ema-update-impl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ema_update(counts: torch.Tensor, sums: torch.Tensor, z: torch.Tensor, indices: torch.Tensor,
               decay: float = 0.99, epsilon: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One moving-average step of the codebook (van den Oord et al. 2017, appendix A.1).

    Parameters
    ----------
    counts : torch.Tensor, shape (K,)
    sums : torch.Tensor, shape (K, D)
    z : torch.Tensor, shape (N, D)
        The vectors of the batch.
    indices : torch.Tensor, shape (N,), dtype torch.long
        The chosen code of each vector.
    decay, epsilon : float
        gamma and the Laplace smoothing.

    Returns
    -------
    counts, sums : the updated moving averages.
    codebook : torch.Tensor, shape (K, D)
        sums / smoothed counts.
    """
    ### BEGIN SOLUTION
    one_hot = torch.nn.functional.one_hot(indices, len(counts)).to(z.dtype)  # (N, K)
    counts = decay * counts + (1 - decay) * one_hot.sum(0)
    sums = decay * sums + (1 - decay) * one_hot.T @ z
    total = counts.sum()
    smoothed = (counts + epsilon) / (total + len(counts) * epsilon) * total
    return counts, sums, sums / smoothed[:, None]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "q5-ema-update-tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""ema_update: one step of the moving counts, sums and the smoothed codebook, against a hand computation."""
counts_q5e = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)
sums_q5e = torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]], dtype=torch.float64)
z_q5e = torch.tensor([[0.1, 0.2], [-0.3, 0.1], [4.0, 6.0]], dtype=torch.float64)
indices_q5e = torch.tensor([0, 0, 1])  # two vectors to code 0, one to code 1, none to code 2
result_q5e = ema_update(counts_q5e, sums_q5e, z_q5e, indices_q5e, decay=0.9, epsilon=1e-5)
assert isinstance(result_q5e, tuple) and len(result_q5e) == 3, (
    f"the result of ema_update: expected (counts, sums, codebook), got {type(result_q5e).__name__}. "
    "Hint: return counts, sums, codebook")
new_counts_q5e, new_sums_q5e, codebook_q5e = result_q5e
vc.grading.assert_close(new_counts_q5e, torch.tensor([1.1, 1.0, 0.9], dtype=torch.float64), rtol=1e-12, atol=1e-12,
                        what="the counts after one update (decay 0.9; 2, 1 and 0 vectors)",
                        hint="N_k <- decay N_k + (1 - decay) n_k, with n_k the number of vectors assigned to code k")
vc.grading.assert_close(new_sums_q5e, torch.tensor([[-0.02, 0.03], [4.9, 5.1], [-4.5, 4.5]], dtype=torch.float64),
                        rtol=1e-12, atol=1e-12, what="the sums after one update",
                        hint="m_k <- decay m_k + (1 - decay) times the sum of the vectors assigned to code k")
smoothed_q5e = (torch.tensor([1.1, 1.0, 0.9], dtype=torch.float64) + 1e-5) / (3.0 + 3e-5) * 3.0
vc.grading.assert_close(codebook_q5e, new_sums_q5e / smoothed_q5e[:, None], rtol=1e-12, atol=1e-12,
                        what="the codebook after one update",
                        hint="e_k = m_k / N~_k with the Laplace-smoothed count N~_k = (N_k + eps) / (n + K eps) * n, "
                             "n the sum of the new counts")
print("ema_update: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

import vaecourse.quantize
from vaecourse import testkit

hint_q5eh = ("N_k <- decay N_k + (1 - decay) n_k, m_k <- decay m_k + (1 - decay) sum of z assigned to k, "
             "e_k = m_k / ((N_k + eps) / (n + K eps) * n)")
vc.grading.record("[counts, codebook] of the visible update", [new_counts_q5e.tolist(), codebook_q5e.tolist()],
                  rtol=1e-10, atol=1e-12, hint=hint_q5eh)
gen_q5eh = torch.Generator().manual_seed(611)
with testkit.forbid(AssertionError(
        "ema_update called vaecourse.quantize.VectorQuantizer: expected your own update, got the library's. "
        "Hint: write the moving averages yourself"), *testkit.functions_of(vaecourse.quantize.VectorQuantizer)):
    for k_q5eh, d_q5eh, n_q5eh, decay_q5eh, steps_q5eh in [(16, 3, 50, 0.99, 5), (5, 2, 8, 0.5, 3), (64, 16, 500, 0.9, 2)]:
        counts_q5eh = 1 + torch.rand(k_q5eh, generator=gen_q5eh, dtype=torch.float64)
        sums_q5eh = torch.randn(k_q5eh, d_q5eh, generator=gen_q5eh, dtype=torch.float64)
        expected_counts_q5eh, expected_sums_q5eh = counts_q5eh.clone(), sums_q5eh.clone()
        for step_q5eh in range(steps_q5eh):
            z_q5eh = torch.randn(n_q5eh, d_q5eh, generator=gen_q5eh, dtype=torch.float64)
            indices_q5eh = torch.randint(k_q5eh // 2, (n_q5eh,), generator=gen_q5eh)  # half of the codes unused
            counts_q5eh, sums_q5eh, codebook_q5eh = ema_update(counts_q5eh, sums_q5eh, z_q5eh, indices_q5eh,
                                                               decay=decay_q5eh, epsilon=1e-5)
            assigned_q5eh = torch.zeros(k_q5eh, dtype=torch.float64)
            assigned_sums_q5eh = torch.zeros(k_q5eh, d_q5eh, dtype=torch.float64)
            for vector_q5eh, index_q5eh in zip(z_q5eh, indices_q5eh.tolist()):
                assigned_q5eh[index_q5eh] += 1
                assigned_sums_q5eh[index_q5eh] += vector_q5eh
            expected_counts_q5eh = decay_q5eh * expected_counts_q5eh + (1 - decay_q5eh) * assigned_q5eh
            expected_sums_q5eh = decay_q5eh * expected_sums_q5eh + (1 - decay_q5eh) * assigned_sums_q5eh
        total_q5eh = expected_counts_q5eh.sum()
        smoothed_q5eh = (expected_counts_q5eh + 1e-5) / (total_q5eh + k_q5eh * 1e-5) * total_q5eh
        label_q5eh = f"K={k_q5eh}, D={d_q5eh}, N={n_q5eh}, decay {decay_q5eh}, {steps_q5eh} updates"
        vc.grading.record(f"the codebook after {label_q5eh}", codebook_q5eh, rtol=1e-10, atol=1e-12, hint=hint_q5eh)
        vc.grading.assert_close(counts_q5eh, expected_counts_q5eh, rtol=1e-10, atol=1e-12,
                                what=f"the counts after {label_q5eh}", hint=hint_q5eh)
        vc.grading.assert_close(codebook_q5eh, expected_sums_q5eh / smoothed_q5eh[:, None], rtol=1e-10, atol=1e-12,
                                what=f"the codebook after {label_q5eh}", hint=hint_q5eh)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "q5-ema-init-tests", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""ema_init: trained from it, every code of an EMA codebook stays near the data and can still be chosen."""


def reference_ema_update_q5i(counts, sums, z, indices, decay=0.99, epsilon=1e-5):
    """The update of appendix A.1, written out here so that this test depends on ema_init alone."""
    one_hot = torch.nn.functional.one_hot(indices, len(counts)).to(z.dtype)
    counts = decay * counts + (1 - decay) * one_hot.sum(0)
    sums = decay * sums + (1 - decay) * one_hot.T @ z
    total = counts.sum()
    return counts, sums, sums / ((counts + epsilon) / (total + len(counts) * epsilon) * total)[:, None]


def train_ema_codebook_q5i(codebook, steps, seed):
    """Updates on 2-D data near 3 points (norm at most 1.6), which uses only a few of the codes."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[1.0, 0.5], [-0.8, 1.2], [0.3, -1.4]], dtype=codebook.dtype)
    counts, sums = ema_init(codebook)
    for _ in range(steps):
        z = centres[torch.randint(3, (64,), generator=generator)]
        z = z + 0.05 * torch.randn(z.shape, generator=generator, dtype=codebook.dtype)
        indices = ((z[:, None, :] - codebook[None, :, :]) ** 2).sum(-1).argmin(1)
        counts, sums, codebook = reference_ema_update_q5i(counts, sums, z, indices)
    return codebook


start_q5i = torch.empty(16, 2, dtype=torch.float64).uniform_(-1 / 16, 1 / 16,
                                                              generator=torch.Generator().manual_seed(621))
result_q5i = ema_init(start_q5i)
assert isinstance(result_q5i, tuple) and len(result_q5i) == 2, (
    f"the result of ema_init: expected (counts, sums), got {type(result_q5i).__name__}. Hint: return counts, sums")
vc.grading.assert_equal([tuple(result_q5i[0].shape), tuple(result_q5i[1].shape)], [(16,), (16, 2)],
                        what="the shapes of (counts, sums) for 16 codes of dimension 2",
                        hint="one count per code, one sum vector per code")
trained_q5i = train_ema_codebook_q5i(start_q5i, steps=200, seed=622)
largest_q5i = float(trained_q5i.norm(dim=1).max())
assert largest_q5i < 2.0, (
    f"the largest norm of a code after 200 updates on data within norm 1.6: expected below 2, got {largest_q5i:.4g}. "
    "Hint: start each code with one pseudo-observation at itself: counts 1, sums = the codebook. With counts 0, an "
    "unused code is divided by about epsilon and thrown far away")
nearest_to_itself_q5i = ((trained_q5i[:, None, :] - trained_q5i[None, :, :]) ** 2).sum(-1).argmin(1)
vc.grading.assert_equal(nearest_to_itself_q5i.tolist(), list(range(16)),
                        what="the nearest code of each code after training (each code must be its own nearest)",
                        hint="codes that sit on top of each other cannot all be chosen: start the sums at the "
                             "codebook itself, so that an unused code stays where it started")
print("ema_init: visible tests passed")
### BEGIN HIDDEN TESTS
import torch

hint_q5ih = "counts = ones(K), sums = a copy of the codebook: one pseudo-observation per code, at the code itself"
for k_q5ih, d_q5ih, dtype_q5ih in [(7, 3, torch.float64), (64, 16, torch.float32), (1, 1, torch.float64)]:
    codebook_q5ih = torch.randn(k_q5ih, d_q5ih, generator=torch.Generator().manual_seed(631 + k_q5ih), dtype=dtype_q5ih)
    counts_q5ih, sums_q5ih = ema_init(codebook_q5ih)
    label_q5ih = f"K={k_q5ih}, D={d_q5ih}, {dtype_q5ih}"
    vc.grading.record(f"the counts of ema_init, {label_q5ih}", counts_q5ih, hint=hint_q5ih)
    vc.grading.record(f"the sums of ema_init, {label_q5ih}", sums_q5ih, hint=hint_q5ih)
    vc.grading.assert_equal(str(counts_q5ih.dtype), str(dtype_q5ih), what=f"the dtype of the counts, {label_q5ih}",
                            hint="create the counts in the codebook's dtype")
for seed_q5ih in [641, 642]:
    start_q5ih = torch.empty(32, 2, dtype=torch.float64).uniform_(-1 / 32, 1 / 32,
                                                                  generator=torch.Generator().manual_seed(seed_q5ih))
    trained_q5ih = train_ema_codebook_q5i(start_q5ih, steps=300, seed=seed_q5ih)
    nearest_to_itself_q5ih = ((trained_q5ih[:, None, :] - trained_q5ih[None, :, :]) ** 2).sum(-1).argmin(1)
    vc.grading.record(f"every code can still be chosen after 300 updates (seed {seed_q5ih})",
                      bool(torch.equal(nearest_to_itself_q5ih, torch.arange(32)))
                      and bool(trained_q5ih.norm(dim=1).max() < 2.0), hint=hint_q5ih)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-demo-intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Putting it together: a toy VQ-VAE (not graded)
#
# The next two cells train a toy VQ-VAE with your four functions: 2-D points from eight clusters on a
# circle, a linear encoder and decoder, and a codebook of 16 two-dimensional codes, initialised as
# common PyTorch implementations do (uniform in $\pm 1/K$, all close to the origin). The loss per point is
# $\lVert x - \hat x \rVert^2$ (a Gaussian $-\log p(x \mid z_q)$ up to a constant) plus the codebook loss
# plus $\beta = 0.25$ times the commitment loss, averaged over the batch. It is trained twice: with the
# loss as above, and with the sign of the reconstruction term flipped, as the homework's
# $L = \log p(x \mid z_q(x)) + \dots$ would have it. Then it prints which parameters each term of the
# loss sends a gradient to, the reconstruction error, how far the codebook moved, and the perplexity.
# Use what you see in Tasks 7 and 8. It runs in about a second.

# %%
def train_toy_vq_try(reconstruction_sign, steps=300, num_codes=16, beta=0.25, seed=5):
    """Train the toy VQ-VAE; reconstruction_sign = +1 minimises the squared error, -1 maximises it."""
    gen = torch.Generator().manual_seed(seed)
    angles = torch.arange(8) * (2 * math.pi / 8)
    centres = 3 * torch.stack([angles.cos(), angles.sin()], dim=1)
    x = centres[torch.randint(8, (512,), generator=gen)] + 0.3 * torch.randn(512, 2, generator=gen)
    torch.manual_seed(seed)
    encoder, decoder = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    codebook = torch.nn.Parameter(torch.empty(num_codes, 2).uniform_(-1 / num_codes, 1 / num_codes))
    start = codebook.detach().clone()
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters(), codebook], lr=0.02)
    for _ in range(steps):
        z_e = encoder(x)[:, None, :]  # (B, P = 1, D = 2)
        indices = nearest_codes(z_e.detach().reshape(-1, 2), codebook.detach()).reshape(-1, 1)
        x_hat = decoder(straight_through(z_e, codebook[indices]))[:, 0, :]
        codebook_loss, commitment_loss = vq_losses(z_e, codebook, indices)
        reconstruction = ((x - x_hat) ** 2).sum(1)
        loss = (reconstruction_sign * reconstruction + codebook_loss + beta * commitment_loss).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return dict(x=x, encoder=encoder, decoder=decoder, codebook=codebook, indices=indices, start=start,
                reconstruction=reconstruction.mean().item(), perplexity=float(perplexity(indices, num_codes)))


toy_try = {"-log p (correct)": train_toy_vq_try(+1), "+log p (homework)": train_toy_vq_try(-1)}

# %%
# Try it (not graded): which parameters each term moves, on the trained model; then the two runs.
model_try = toy_try["-log p (correct)"]
z_e_demo = model_try["encoder"](model_try["x"])[:, None, :]
codebook_demo = model_try["codebook"]
indices_demo = nearest_codes(z_e_demo.detach().reshape(-1, 2), codebook_demo.detach()).reshape(-1, 1)
codebook_loss_demo, commitment_loss_demo = vq_losses(z_e_demo, codebook_demo, indices_demo)
x_hat_demo = model_try["decoder"](straight_through(z_e_demo, codebook_demo[indices_demo]))[:, 0, :]
terms_demo = {"reconstruction": ((model_try["x"] - x_hat_demo) ** 2).sum(1).mean(),
              "codebook loss": codebook_loss_demo.mean(), "commitment loss": commitment_loss_demo.mean()}
groups_demo = {"encoder": list(model_try["encoder"].parameters()), "codebook": [codebook_demo],
               "decoder": list(model_try["decoder"].parameters())}
print(f"{'term':<16}" + "".join(f"{group:>10}" for group in groups_demo))
for term_name, term in terms_demo.items():
    gradients = torch.autograd.grad(term, [p for ps in groups_demo.values() for p in ps], retain_graph=True, allow_unused=True)
    flags, position = [], 0
    for parameters in groups_demo.values():
        chunk = gradients[position:position + len(parameters)]
        position += len(parameters)
        flags.append("yes" if any(g is not None and bool(g.any()) for g in chunk) else "no")
    print(f"{term_name:<16}" + "".join(f"{flag:>10}" for flag in flags))
print()
for name, run in toy_try.items():
    moved = (run["codebook"].detach() - run["start"]).norm(dim=1)
    print(f"{name:<18}: squared error per point {run['reconstruction']:.3g}, perplexity {run['perplexity']:.2f} of 16, "
          f"codes that moved: {int((moved > 1e-6).sum())} of 16 (largest move {moved.max().item():.2f})")

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-loss-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 7 · Practical (a): the parts of the VQ-VAE loss (4 points, graded by hand)
#
# A homework answer wrote the VQ-VAE loss as
#
# $$
# L = \log p(x \mid z_g(x)) + \lVert z_e(x).\mathrm{detach}() - e \rVert^2 + \beta \lVert z_e(x) - e.\mathrm{detach}() \rVert^2
# $$
#
# and explained: the reconstruction loss "ensures that the decoder output closely matches the input
# data"; the codebook loss "encourages the codebook vectors to move closer to the encoder outputs"; the
# commitment loss "ensures that the encoder commits to a specific codebook vector"; and "the combination
# of these terms balances reconstruction quality, codebook usage, and latent space regularity".
#
# Write the loss for one example correctly and explain each term: what it measures, which of encoder,
# decoder and codebook it trains, and why. Say what is wrong or missing in the homework's formula and
# in its last sentence, what $\beta$ does (and what it does not control), and why the loss has no KL
# term although the VQ-VAE is a VAE. Use Tasks 2–4 and the toy run above as evidence. About 8–12
# sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q5-loss-answer", "locked": false, "points": 4, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** A loss to be minimised must contain the *negative* log-likelihood:
#
# $$
# L(x) = -\log p(x \mid z_q(x)) + \lVert \operatorname{sg}[z_e(x)] - e \rVert^2 + \beta \lVert z_e(x) - \operatorname{sg}[e] \rVert^2 ,
# $$
#
# with $z_q$ (not "$z_g$") and $e$ the code chosen for $z_e(x)$, the squared norms summed over all
# latent positions. The homework's $+\log p$ is a sign error (it is in the paper's printed eq. 3 too):
# minimising it *maximises* the reconstruction error, and in the toy run the flipped sign sends the
# squared error up by orders of magnitude instead of down.
#
# - *Reconstruction* $-\log p(x \mid z_q)$ (a summed BCE or, for a Gaussian decoder, a squared error up
#   to constants) trains the decoder, and the encoder through the straight-through copy of its gradient
#   (Task 2); it sends nothing to the codebook, because $z_q$ sits inside the stop-gradient.
# - *Codebook loss* $\lVert \operatorname{sg}[z_e] - e \rVert^2$ trains only the codebook: each chosen
#   code moves towards the encoder outputs assigned to it (Task 3's gradient test; its gradient on
#   code $k$ is $2 \sum (e_k - z_e)$ over its vectors), a gradient form of the k-means update. (With EMA
#   codebook updates this term is dropped.)
# - *Commitment loss* $\beta \lVert z_e - \operatorname{sg}[e] \rVert^2$ trains only the encoder: it
#   keeps $z_e$ close to its code, so that the encoder's outputs do not drift or grow without bound
#   while the codebook, which learns more slowly, catches up. The homework's wording is right for these
#   two terms.
#
# $\beta$ weighs the commitment against the reconstruction (the paper uses 0.25 and reports results
# robust from 0.1 to 2.0); it does not set the compression rate, which is fixed by the number of latent
# positions and $K$ (positions $\times \log_2 K$ bits). There is no KL term because the posterior
# $q(z \mid x)$ is a deterministic one-hot on the chosen code and the training prior is uniform over $K$
# codes, so $\mathrm{KL} = \log K$ per position: a constant with no gradient. Finally, no term
# "balances codebook usage": the loss is indifferent to how many codes are used, and codes that no
# output is nearest to get no gradient and stay dead, which the perplexity (Task 4) exposes; in the
# toy run, even with the correct loss, the perplexity stays far below $K$. Usage is improved by other means:
# EMA updates, k-means or data-based initialisation, restarting dead codes on encoder outputs, or
# lower-dimensional, normalised codes.
#
# *Marking (4 points):* 1 point for the loss with $-\log p$ and the sign error named; 1 point for which
# parameters each term trains (reconstruction: decoder + encoder via the straight-through estimator,
# not the codebook; codebook loss: codes only; commitment: encoder only); 1 point for $\beta$'s role and
# the missing KL (constant $\log K$ under a uniform prior); 1 point for correcting "balances codebook
# usage" (dead codes, perplexity) with evidence.

# %% [markdown] nbgrader={"grade": false, "grade_id": "q5-detach-task", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Task 8 · Practical (b): `detach`, the straight-through estimator and the codebook (4 points, graded by hand)
#
# A homework answer said: "`detach()` … ensures that the discrete codebook entries remain constant and
# stable while the rest of the model is updated"; "in the paper, it is explained that `detach()` is used
# right before updating the codebook embeddings: $B = A + (f(A) - A).\mathrm{detach}()$", where $A$ is the
# encoder output and $f(A)$ its quantised version; and "the operation ensures that the gradients do not
# affect the quantization process … $f(A)$ is treated as a fixed constant".
#
# Explain what `detach()` does to the forward value and to the gradient, and what
# $B = A + (f(A) - A).\mathrm{detach}()$ computes in each direction and why a VQ-VAE needs it (what would
# the encoder receive without it?). Say which of the homework's statements hold, which are wrong, and
# how the codebook is actually learned, including the alternative the paper describes. Use Tasks 2 and 3
# and the toy run as evidence. About 8–12 sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q5-detach-answer", "locked": false, "points": 4, "schema_version": 3, "solution": true, "task": false}
# **Model answer.** `detach()` (the paper's $\operatorname{sg}[\cdot]$) is the identity in the forward
# pass and has zero derivative in the backward pass: the detached tensor is a constant to autograd. So
# $B = A + (f(A) - A).\mathrm{detach}()$ has the forward value $f(A) = z_q$ (the decoder sees the
# quantised code) and the Jacobian $\partial B / \partial A = I$: the gradient that arrives at $B$ from the
# decoder is copied unchanged to the encoder output $A = z_e$ (Task 2: `A.grad` equals the upstream
# gradient exactly). This is the straight-through estimator. It is needed because the nearest-code
# lookup is piecewise constant, $\partial z_q / \partial z_e = 0$ almost everywhere: with $z_q$ fed to the
# decoder directly, the encoder would receive no gradient from the reconstruction at all, and $f(A)$
# reaches the codebook only through an index lookup, not through $A$. The estimator is biased (it pretends
# $z_q = z_e$ locally), which works because the commitment loss keeps $z_e$ close to $z_q$.
#
# What holds in the homework: $f(A) - A$ is a constant inside $B$, argmin is not differentiable, and the
# formula itself is the standard implementation. What is wrong: (1) the purpose is the opposite of
# "blocking" gradients: it lets the decoder's gradient *pass through* the quantiser to the encoder; (2)
# the codebook is **not** held constant. It is trained, by gradient descent on the codebook loss
# $\lVert \operatorname{sg}[z_e] - e \rVert^2$ (Task 3: its gradient reaches the codebook, and one SGD step
# moves every used code; in the toy run the used codes travel far from their initial positions), or,
# in the paper's Appendix A.1, by exponential moving averages of the encoder outputs assigned to each
# code (decay $\gamma = 0.99$), which need no codebook loss. What `detach` decides is *which* parameters
# each term updates: the reconstruction term moves the decoder and encoder, the codebook loss only the
# codes, the commitment loss only the encoder (the gradient table above). (3) The attribution: the paper
# writes $\operatorname{sg}$ inside the loss and says the gradient is copied from the decoder input to
# the encoder output; $B = A + (f(A) - A).\mathrm{detach}()$ is the usual code for that copy, applied on
# the forward path into the decoder, not "right before updating the codebook". Codes that are never
# chosen get a zero gradient from the codebook loss (Task 3's gradient is a sum over the vectors assigned
# to each code) and stay dead, so "stability" from `detach` does not make the codebook well used (the
# toy run's perplexity stays far below $K$); dead-code restarts or EMA updates do more for that.
#
# *Marking (4 points):* 1 point for forward/backward of `detach` and of $B$ (value $f(A)$, identity
# gradient to $A$); 1 point for why it is needed (zero gradient of the lookup; without it the encoder
# gets no reconstruction signal); 1 point for refuting "codebook constant" (codebook loss or EMA moves the
# codes; `detach` routes gradients between terms); 1 point for the attribution/placement correction or
# for dead codes, with evidence.
