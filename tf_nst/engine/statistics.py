"""Style statistics of feature maps and their distances: the Gram matrix and mean + covariance.

Both statistics are functions of three sums over feature positions `p`, each weighted by a
region's mask `m_r(p)` (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style
Transfer": the guided Gram `Σ_p m_r(p) f_p f_pᵀ / Σ_p m_r(p)`):

- `count`  `Σ_p m_r(p)`               `(R,)`      the region's area;
- `first`  `Σ_p m_r(p) f_p`           `(R, C)`    (mean + covariance only);
- `second` `Σ_p m_r(p) f_p f_pᵀ`      `(R, C, C)`.

Sums add over tiles, so the exact two-pass tiled evaluation (`tf_nst.engine.tiled`) holds for
both statistics and for masks. Without a mask there is one region (`R = 1`) of weight 1.

The statistics (`STATISTICS`, keyed by the `style_statistic` setting):

- `gram`: `G = second / count`; its loss is the loss form's style error (`losses.LOSS_FORM_TERMS`),
  for the normalized form `||G - Gₛ||² / ||Gₛ||²`.
- `mean-cov`: the Wasserstein-2 distance between Gaussians fitted to the features
  (crowsonkb/style-transfer-pytorch; VinceMarron/style_transfer):
  `||μ - μₛ||² + tr Σ + tr Σₛ - 2 tr (Σₛ^½ Σ Σₛ^½)^½`, divided by the style's energy
  `tr Σₛ + ||μₛ||²` (the mean square of its features: the analogue of the normalized Gram's
  `||Gₛ||²`, so the same default weights work). The last trace is the sum of the square
  roots of the clamped eigenvalues (`eigvalsh`): a gradient through eigen*vectors* divides by
  eigenvalue gaps and went NaN on the first steps; eigenvalues alone stay finite when
  features are dead (singular Σ). `Σₛ^½` is a target, computed once with `eigh`.

The sums are float32 whatever the precision of the convolutions. The mean + covariance
algebra on the small `C x C` matrices runs in float64: float32 `eigvalsh` has an absolute
error of ~1e-7·||A||, whose square roots summed over 128 channels moved the loss by 0.6%
(vgg16-hed, block1-2, tiled vs untiled sums); in float64 they agree to 3e-6 (gradient).
"""

import tensorflow as tf

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings.choices import STYLE_STATISTICS

# eigvalsh's square roots use sqrt(λ + ε) with ε = EPSILON_SCALE · (tr Σₛ / C)²: relative to the
# target's scale (features of VGG reach hundreds), it changes the loss by < 1e-5 of the energy
# and bounds the gradient at λ = 0. FLOOR keeps ε > 0 for an all-zero style.
EPSILON_SCALE = 1e-10
EPSILON_FLOOR = 1e-12


def position_sums(flat, weights=None, with_first=True):
    """Weighted sums over positions of `(N, C)` float32 features.

    Args:
        flat: `(N, C)` features.
        weights: `(N, R)` region weights in [0, 1], or `None` (one region, all positions).
        with_first: also return `first` (mean + covariance needs it; the Gram does not).

    Returns:
        `{"count": (R,), "second": (R, C, C)[, "first": (R, C)]}` float32.
    """
    flat = tf.cast(flat, tf.float32)
    if weights is None:
        sums = {"count": tf.cast(tf.shape(flat)[:1], tf.float32),
                "second": tf.matmul(flat, flat, transpose_a=True)[None]}
        if with_first:
            sums["first"] = tf.reduce_sum(flat, 0)[None]
        return sums
    weights = tf.cast(weights, tf.float32)
    regions = weights.shape[-1]
    sums = {"count": tf.reduce_sum(weights, 0),
            "second": tf.stack([tf.matmul(flat * weights[:, r:r + 1], flat, transpose_a=True)
                                for r in range(regions)])}
    if with_first:
        sums["first"] = tf.matmul(weights, flat, transpose_a=True)
    return sums


def _safe_count(count):
    """`(valid, count)`: regions with an area, and the area with empty regions set to 1 (no 0/0)."""
    valid = count > 0.0
    return valid, tf.where(valid, count, 1.0)


class GramStatistic:
    """The Gram matrix of the features (averaged over the region's positions)."""

    name = "gram"
    with_first = False

    def moments(self, sums):
        """Per-style statistics from sums: the Gram `(R, C, C)` (linear: styles blend by weight)."""
        _, count = _safe_count(sums["count"])
        return sums["second"] / count[:, None, None]

    def target(self, moments):
        """The Gram itself is the target."""
        return moments

    def region_losses(self, sums, target, style_error):
        """`(R,)` style error of each region's Gram against its target Gram (0 for an empty region)."""
        valid, count = _safe_count(sums["count"])
        grams = sums["second"] / count[:, None, None]
        losses = tf.stack([style_error(grams[r:r + 1], target[r:r + 1]) for r in range(target.shape[0])])
        return tf.where(valid, losses, 0.0)


class MeanCovarianceStatistic:
    """Mean and covariance of the features; loss: their normalized Wasserstein-2 distance."""

    name = "mean-cov"
    with_first = True

    def moments(self, sums):
        """`{"mean": (R, C), "second": (R, C, C)}`: first and second moments (linear: they blend)."""
        _, count = _safe_count(sums["count"])
        return {"mean": sums["first"] / count[:, None], "second": sums["second"] / count[:, None, None]}

    def target(self, moments):
        """`{"mean", "root": Σₛ^½, "trace": tr Σₛ, "energy", "epsilon"}` of the style moments (float64)."""
        mean = tf.cast(moments["mean"], tf.float64)
        covariance = _covariance(mean, tf.cast(moments["second"], tf.float64))
        values, vectors = tf.linalg.eigh(covariance)
        values = tf.maximum(values, 0.0)
        root = tf.matmul(vectors * tf.sqrt(values)[:, None, :], vectors, transpose_b=True)
        trace = tf.reduce_sum(values, -1)
        energy = trace + tf.reduce_sum(tf.square(mean), -1)
        channels = tf.cast(tf.shape(mean)[-1], tf.float64)
        return {"mean": mean, "root": root, "trace": trace,
                "energy": tf.where(energy > 0.0, energy, 1.0),
                "epsilon": EPSILON_SCALE * tf.square(trace / channels) + EPSILON_FLOOR}

    def region_losses(self, sums, target, style_error=None):
        """`(R,)` normalized W2² of each region's Gaussian to its target (0 for an empty region)."""
        valid, count = _safe_count(sums["count"])
        count = tf.cast(count, tf.float64)
        mean = tf.cast(sums["first"], tf.float64) / count[:, None]
        covariance = _covariance(mean, tf.cast(sums["second"], tf.float64) / count[:, None, None])
        root = target["root"]
        product = tf.matmul(tf.matmul(root, covariance), root)
        product = 0.5 * (product + tf.linalg.matrix_transpose(product))
        values = tf.maximum(tf.linalg.eigvalsh(product), 0.0)
        cross = tf.reduce_sum(tf.sqrt(values + target["epsilon"][:, None]), -1)
        distance = (tf.reduce_sum(tf.square(mean - target["mean"]), -1) + tf.linalg.trace(covariance)
                    + target["trace"] - 2.0 * cross)
        return tf.where(valid, tf.cast(distance / target["energy"], tf.float32), 0.0)


def _covariance(mean, second):
    """`E[f fᵀ] - μ μᵀ`, symmetrized (float32 rounding leaves it slightly asymmetric)."""
    covariance = second - mean[:, :, None] * mean[:, None, :]
    return 0.5 * (covariance + tf.linalg.matrix_transpose(covariance))


STATISTICS = {"gram": GramStatistic(), "mean-cov": MeanCovarianceStatistic()}


def get_statistic(name):
    """The statistic object of a `style_statistic` setting value."""
    if name not in STATISTICS:
        raise InvalidArgumentError(
            f"expected style_statistic one of {', '.join(STYLE_STATISTICS)}. Received: style_statistic={name!r}")
    return STATISTICS[name]

