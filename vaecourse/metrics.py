"""Disentanglement metrics (notebook 08), written from the papers and checked against the reference
implementation published with Locatello et al. 2019 (``disentanglement_lib``), with its default
hyperparameters.

Array-level metrics take codes ``(N, D)`` (float) and ground-truth factors ``(N, K)`` (integer factor
values, e.g. the indices of :class:`vaecourse.data.DSprites`):

- :func:`mig` (Chen et al. 2018): codes discretised into 20 equal-width bins per dimension; discrete
  mutual information I(z_j; v_k); per factor, the gap between its two most informative codes divided
  by the factor's entropy H(v_k); the mean over factors.
- :func:`dci` (Eastwood and Williams 2018): gradient-boosted-tree importances R_jk of code j for
  factor k; disentanglement = 1 - entropy (base K) of each code's row, weighted by the code's share of
  importance; completeness = 1 - entropy (base D) of each factor's column, weighted likewise;
  informativeness = the trees' train and test accuracy.
- :func:`sap` (Kumar et al. 2018): a score per (code, factor) pair - the test accuracy of a linear SVM
  on the single code (discrete factors) or the squared correlation (continuous factors); per factor,
  the gap between the two best codes; the mean.

Sampling-based metrics take a ground-truth data set (``factor_sizes``, ``sample_factors(n, rng)``,
``render(factors)``, like :class:`vaecourse.data.DSprites`) and a ``representation_function`` from
images to codes:

- :func:`beta_vae_score` (Higgins et al. 2017): batches of pairs that share one factor; the mean
  absolute code difference of the pairs predicts which factor was shared, with logistic regression.
- :func:`factor_vae_score` (Kim and Mnih 2018): batches that share one factor; the code dimension
  of least variance (after dividing by its overall variance, collapsed dimensions pruned) votes for
  the factor; a majority-vote classifier.

Every function returns a dict of floats named as in ``disentanglement_lib``. Where this code departs
from the reference, the docstring says so.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["mig", "dci", "sap", "beta_vae_score", "factor_vae_score", "discretize", "discrete_mutual_info"]

NUM_BINS = 20  # disentanglement_lib: histogram_discretizer.num_bins = 20


# ------------------------------------------------------------------------------------ input checks
def _as_codes(codes, name: str = "codes") -> np.ndarray:
    if isinstance(codes, torch.Tensor):
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N examples, D code dimensions), got shape {codes.shape}")
    if codes.shape[0] < 2 or codes.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 examples and 1 dimension, got shape {codes.shape}")
    if not np.isfinite(codes).all():
        raise ValueError(f"{name} contains NaN or infinite values ({int((~np.isfinite(codes)).sum())} entries)")
    return codes


def _as_factors(factors, num_examples: int, name: str = "factors") -> np.ndarray:
    if isinstance(factors, torch.Tensor):
        factors = factors.detach().cpu().numpy()
    factors = np.asarray(factors)
    if factors.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N examples, K factors), got shape {factors.shape}")
    if factors.shape[0] != num_examples:
        raise ValueError(f"{name} has {factors.shape[0]} rows but the codes have {num_examples}: one row per example")
    if not np.issubdtype(factors.dtype, np.integer):
        if not np.isfinite(factors).all() or not np.array_equal(factors, np.round(factors)):
            raise ValueError(f"{name} must hold integer factor values (indices), got dtype {factors.dtype}")
        factors = factors.astype(np.int64)
    return factors


def _check_factors_vary(factors: np.ndarray, name: str = "factors") -> None:
    constant = [k for k in range(factors.shape[1]) if len(np.unique(factors[:, k])) < 2]
    if constant:
        raise ValueError(f"{name} column(s) {constant} take a single value: a factor must vary to be measured")


def _train_test(codes_train, factors_train, codes_test, factors_test):
    codes_train = _as_codes(codes_train, "codes_train")
    codes_test = _as_codes(codes_test, "codes_test")
    if codes_test.shape[1] != codes_train.shape[1]:
        raise ValueError(f"codes_train has {codes_train.shape[1]} dimensions but codes_test has {codes_test.shape[1]}")
    factors_train = _as_factors(factors_train, len(codes_train), "factors_train")
    factors_test = _as_factors(factors_test, len(codes_test), "factors_test")
    if factors_test.shape[1] != factors_train.shape[1]:
        raise ValueError(f"factors_train has {factors_train.shape[1]} factors but factors_test has {factors_test.shape[1]}")
    _check_factors_vary(factors_train, "factors_train")
    return codes_train, factors_train, codes_test, factors_test


# ------------------------------------------------------------------------------------------- MIG
def discretize(codes, num_bins: int = NUM_BINS) -> np.ndarray:
    """Each code dimension cut into ``num_bins`` equal-width bins over its own range; bin indices ``(N, D)``."""
    codes = _as_codes(codes)
    binned = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, j], bins=num_bins)
        binned[:, j] = np.digitize(codes[:, j], edges[:-1])  # as np.histogram: the maximum lands in the last bin
    return binned


def _entropy(labels: np.ndarray) -> float:
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def _mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats for two discrete label vectors, from their joint histogram."""
    _, a_index = np.unique(a, return_inverse=True)
    _, b_index = np.unique(b, return_inverse=True)
    joint = np.zeros((a_index.max() + 1, b_index.max() + 1))
    np.add.at(joint, (a_index, b_index), 1.0)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float(max(0.0, (joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])).sum()))


def discrete_mutual_info(discrete_codes, factors) -> np.ndarray:
    """I(code_j; factor_k) in nats for every pair, ``(D, K)``."""
    discrete_codes, factors = np.asarray(discrete_codes), np.asarray(factors)
    return np.array([[_mutual_info(discrete_codes[:, j], factors[:, k]) for k in range(factors.shape[1])]
                     for j in range(discrete_codes.shape[1])])


def mig(codes, factors) -> dict[str, float]:
    """Mutual information gap: ``{"discrete_mig": mean over factors of (I_top1 - I_top2) / H(factor)}``.

    Also returns ``"mig_<k>"``, the gap of each factor k. Needs at least two code dimensions.
    """
    codes = _as_codes(codes)
    factors = _as_factors(factors, len(codes))
    _check_factors_vary(factors)
    if codes.shape[1] < 2:
        raise ValueError("MIG compares the two most informative code dimensions: codes need at least 2 dimensions")
    information = discrete_mutual_info(discretize(codes), factors)  # (D, K)
    entropy = np.array([_entropy(factors[:, k]) for k in range(factors.shape[1])])
    top_two = -np.sort(-information, axis=0)[:2]
    gaps = (top_two[0] - top_two[1]) / entropy
    return {"discrete_mig": float(gaps.mean()), **{f"mig_{k}": float(g) for k, g in enumerate(gaps)}}


# ------------------------------------------------------------------------------------------- DCI
def _importance_entropy_score(importance: np.ndarray) -> np.ndarray:
    """1 - entropy of each row of ``importance`` normalised to a distribution, in base (number of columns)."""
    p = importance + 1e-11  # disentanglement_lib adds 1e-11 before normalising, so all-zero rows score 0
    p = p / p.sum(axis=1, keepdims=True)
    return 1.0 - (-(p * np.log(p)).sum(axis=1) / np.log(importance.shape[1]))


def dci_from_importance(importance) -> dict[str, float]:
    """Disentanglement and completeness of an importance matrix ``(D codes, K factors)``."""
    importance = np.abs(np.asarray(importance, dtype=np.float64))
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    code_share = weights.sum(axis=1) / weights.sum()
    factor_share = weights.sum(axis=0) / weights.sum()
    disentanglement = (_importance_entropy_score(importance) * code_share).sum() if importance.shape[1] > 1 else 1.0
    completeness = (_importance_entropy_score(importance.T) * factor_share).sum() if importance.shape[0] > 1 else 1.0
    return {"disentanglement": float(disentanglement), "completeness": float(completeness)}


def dci(codes_train, factors_train, codes_test, factors_test, *, random_state: int = 0) -> dict[str, float]:
    """DCI with gradient boosted trees (scikit-learn defaults, as disentanglement_lib).

    Returns ``disentanglement``, ``completeness``, ``informativeness_train`` and
    ``informativeness_test`` (accuracies of the per-factor classifiers, averaged over factors).
    ``random_state`` fixes the trees' tie-breaking (the reference leaves it unset).
    """
    from sklearn.ensemble import GradientBoostingClassifier

    codes_train, factors_train, codes_test, factors_test = _train_test(codes_train, factors_train, codes_test,
                                                                       factors_test)
    num_factors = factors_train.shape[1]
    importance = np.zeros((codes_train.shape[1], num_factors))
    train_accuracy, test_accuracy = [], []
    for k in range(num_factors):
        trees = GradientBoostingClassifier(random_state=random_state).fit(codes_train, factors_train[:, k])
        importance[:, k] = np.abs(trees.feature_importances_)
        train_accuracy.append(np.mean(trees.predict(codes_train) == factors_train[:, k]))
        test_accuracy.append(np.mean(trees.predict(codes_test) == factors_test[:, k]))
    return {**dci_from_importance(importance), "informativeness_train": float(np.mean(train_accuracy)),
            "informativeness_test": float(np.mean(test_accuracy))}


# ------------------------------------------------------------------------------------------- SAP
def sap(codes_train, factors_train, codes_test, factors_test, continuous_factors: bool = False) -> dict[str, float]:
    """Separated attribute predictability: ``{"SAP_score": mean over factors of (best - second best)}``.

    Discrete factors: the score of (code j, factor k) is the test accuracy of a linear SVM (C = 0.01,
    balanced classes) trained on code j alone. Continuous factors: the squared correlation of code j
    and factor k on the training set (0 for a constant code). Needs at least two code dimensions.
    """
    from sklearn.svm import LinearSVC

    codes_train, factors_train, codes_test, factors_test = _train_test(codes_train, factors_train, codes_test,
                                                                       factors_test)
    num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
    if num_codes < 2:
        raise ValueError("SAP compares the two best code dimensions: codes need at least 2 dimensions")
    score = np.zeros((num_codes, num_factors))
    for j in range(num_codes):
        for k in range(num_factors):
            if continuous_factors:
                covariance = np.cov(codes_train[:, j], factors_train[:, k], ddof=1)
                if covariance[0, 0] > 1e-12:
                    score[j, k] = covariance[0, 1] ** 2 / (covariance[0, 0] * covariance[1, 1])
            else:
                svm = LinearSVC(C=0.01, class_weight="balanced").fit(codes_train[:, [j]], factors_train[:, k])
                score[j, k] = np.mean(svm.predict(codes_test[:, [j]]) == factors_test[:, k])
    top_two = np.sort(score, axis=0)[-2:]
    return {"SAP_score": float(np.mean(top_two[1] - top_two[0]))}


# ------------------------------------------------------------------------------- sampling-based
def _rng(random_state) -> np.random.Generator:
    return random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)


def _represent(representation_function: Callable, images) -> np.ndarray:
    codes = representation_function(images)
    return _as_codes(codes, "representation_function(images)")


def _check_ground_truth(data) -> None:
    for attribute in ("factor_sizes", "sample_factors", "render"):
        if not hasattr(data, attribute):
            raise TypeError(f"the ground-truth data needs {attribute!r} (like vaecourse.data.DSprites), "
                            f"{type(data).__name__} has none")
    if min(data.factor_sizes) < 2:
        raise ValueError(f"every factor must take at least 2 values, got factor_sizes {tuple(data.factor_sizes)}")


def _beta_vae_batch(data, representation_function, rng, batch_size: int, num_points: int):
    num_factors = len(data.factor_sizes)
    features, labels = [], np.empty(num_points, dtype=np.int64)
    for i in range(num_points):
        shared = int(rng.integers(num_factors))
        first, second = data.sample_factors(batch_size, rng), data.sample_factors(batch_size, rng)
        second[:, shared] = first[:, shared]
        difference = _represent(representation_function, data.render(first)) - _represent(
            representation_function, data.render(second))
        features.append(np.abs(difference).mean(axis=0))
        labels[i] = shared
    return np.stack(features), labels


def beta_vae_score(data, representation_function: Callable, *, random_state=0, batch_size: int = 64,
                   num_train: int = 10000, num_eval: int = 5000) -> dict[str, float]:
    """The beta-VAE metric: ``{"train_accuracy", "eval_accuracy"}`` of predicting the shared factor.

    Each point: a factor k drawn uniformly; ``batch_size`` pairs of factor combinations that agree on
    k; the feature is the mean over pairs of |code(x1) - code(x2)|, the label is k. A logistic
    regression (scikit-learn defaults) is fitted on ``num_train`` points and scored on ``num_eval``
    new ones. Defaults are disentanglement_lib's; they render 1.9 million images, so notebooks pass
    smaller numbers. (The reference ran with the scikit-learn of 2019, whose default logistic
    regression was one-vs-rest liblinear; today's default is multinomial lbfgs, used here.)
    """
    from sklearn.linear_model import LogisticRegression

    _check_ground_truth(data)
    rng = _rng(random_state)
    train_x, train_y = _beta_vae_batch(data, representation_function, rng, batch_size, num_train)
    if len(np.unique(train_y)) < 2:
        raise ValueError("num_train is too small: the training points cover a single factor")
    classifier = LogisticRegression(random_state=0).fit(train_x, train_y)
    eval_x, eval_y = _beta_vae_batch(data, representation_function, rng, batch_size, num_eval)
    return {"train_accuracy": float(classifier.score(train_x, train_y)),
            "eval_accuracy": float(classifier.score(eval_x, eval_y))}


def _factor_vae_votes(data, representation_function, rng, batch_size, num_points, scale, active):
    votes = np.zeros((len(data.factor_sizes), int(active.sum())), dtype=np.int64)
    for _ in range(num_points):
        fixed = int(rng.integers(len(data.factor_sizes)))
        factors = data.sample_factors(batch_size, rng)
        factors[:, fixed] = factors[0, fixed]
        codes = _represent(representation_function, data.render(factors))
        local_variance = codes.var(axis=0, ddof=1)
        votes[fixed, np.argmin(local_variance[active] / scale[active] ** 2)] += 1
    return votes


def factor_vae_score(data, representation_function: Callable, *, random_state=0, batch_size: int = 64,
                     num_train: int = 10000, num_eval: int = 5000, num_variance_estimate: int = 10000,
                     prune_threshold: float = 0.05) -> dict[str, float]:
    """The FactorVAE metric: ``{"train_accuracy", "eval_accuracy", "num_active_dims"}``.

    Codes are divided by their standard deviation over ``num_variance_estimate`` random images;
    dimensions whose standard deviation is below ``prune_threshold`` (collapsed to the prior) are
    dropped. Each point: a factor k drawn uniformly and held fixed over ``batch_size`` images; the
    dimension with the least normalised variance votes for k. The classifier maps each dimension to
    the factor it voted for most; accuracy is the share of votes it gets right, on the ``num_train``
    training votes and on ``num_eval`` new ones. Defaults are those of disentanglement_lib's
    unsupervised study (its gin files set the pruning threshold to 0.05). Unlike the reference,
    ``num_active_dims`` counts the dimensions kept, not all dimensions.
    """
    _check_ground_truth(data)
    rng = _rng(random_state)
    images = data.render(data.sample_factors(num_variance_estimate, rng))
    scale = _represent(representation_function, images).std(axis=0, ddof=1)
    active = scale >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0.0}
    train_votes = _factor_vae_votes(data, representation_function, rng, batch_size, num_train, scale, active)
    classifier = train_votes.argmax(axis=0)  # the factor each dimension votes for most
    columns = np.arange(train_votes.shape[1])
    eval_votes = _factor_vae_votes(data, representation_function, rng, batch_size, num_eval, scale, active)
    return {"train_accuracy": float(train_votes[classifier, columns].sum() / train_votes.sum()),
            "eval_accuracy": float(eval_votes[classifier, columns].sum() / eval_votes.sum()),
            "num_active_dims": float(active.sum())}
