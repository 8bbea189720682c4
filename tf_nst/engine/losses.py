"""Gram matrix, content, style and total-variation losses.

All losses are computed in float32 and read every shape from their tensors.
Each is *normalized* so that one set of default weights works at any image
size and on any backbone:

- content: squared feature error divided by the target features' energy;
- style: squared Gram error divided by the target Gram's energy, with Grams
  averaged over spatial positions (so they do not grow with the image);
- total variation: mean squared difference of neighbouring pixels, in [0, 1]
  pixel units.

Custom terms: subclass `LossTerm` and pass instances to
`Stylizer(extra_loss_terms=[...])`.
"""

import keras
import tensorflow as tf


def total_loss(content, style, tv, extras, content_weight, style_weight, tv_weight):
    """`(total, parts)` of the weighted terms: the one total of the untiled, tiled and training objectives.

    `total = content_weight·content + style_weight·style + tv_weight·tv + Σ extras` (the extra terms
    carry their own weights); `parts = tf.stack([total, content, style, tv, *extras])`.
    """
    total = content_weight * content + style_weight * style + tv_weight * tv
    for extra in extras:
        total = total + extra
    return total, tf.stack([total, content, style, tv] + list(extras))


def gram_matrix(features):
    """Gram matrix of `(batch, height, width, channels)` features, averaged over positions.

    Returns `(batch, channels, channels)` float32.
    """
    features = tf.cast(features, tf.float32)
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], shape[1] * shape[2], shape[3]])
    positions = tf.cast(shape[1] * shape[2], tf.float32)
    return tf.matmul(flat, flat, transpose_a=True) / positions


def normalized_squared_error(value, target):
    """`||value - target||² / ||target||²`: scale-free, 0 at the target, 1 at zero."""
    value = tf.cast(value, tf.float32)
    target = tf.cast(target, tf.float32)
    energy = tf.reduce_sum(tf.square(target))
    # An all-zero target (e.g. a dead ReLU layer on a black image) falls back to the plain error.
    return tf.reduce_sum(tf.square(value - target)) / tf.where(energy > 0.0, energy, 1.0)


def content_loss(features, target_features):
    """Normalized squared error between feature maps of equal shape."""
    return normalized_squared_error(features, target_features)


def style_loss(features, target_gram):
    """Normalized squared error between the Gram of `features` and `target_gram`."""
    return normalized_squared_error(gram_matrix(features), target_gram)


def total_variation_loss(image):
    """Mean squared difference of neighbouring pixels of a 0-255 image, in [0, 1] units."""
    image = tf.cast(image, tf.float32) / 255.0
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_mean(tf.square(dy)) + tf.reduce_mean(tf.square(dx))


def mean_squared_error(value, target):
    """Plain mean squared error (the TF tutorial's content and style losses)."""
    return tf.reduce_mean(tf.square(tf.cast(value, tf.float32) - tf.cast(target, tf.float32)))


def jcjohnson_style_error(gram, target_gram):
    """jcjohnson/neural-style's style loss: Grams divided by C·H·W, then mean squared error.

    Our Grams are divided by H·W only, so this is `mean((G - T)²) / C²`.
    """
    channels = tf.cast(tf.shape(gram)[-1], tf.float32)
    return mean_squared_error(gram, target_gram) / tf.square(channels)


def total_variation_abs(image):
    """`tf.image.total_variation` of a 0-255 image seen in [0, 1] (the TF tutorial's TV)."""
    return tf.reduce_sum(tf.image.total_variation(tf.cast(image, tf.float32) / 255.0))


def total_variation_squared_sum(image):
    """`½ Σ (dx² + dy²)` in grey levels: the loss whose gradient jcjohnson/neural-style's TVLoss uses."""
    image = tf.cast(image, tf.float32)
    dx = image[:, :-1, :-1, :] - image[:, :-1, 1:, :]
    dy = image[:, :-1, :-1, :] - image[:, 1:, :-1, :]
    return 0.5 * tf.reduce_sum(tf.square(dx) + tf.square(dy))


# How the terms are computed and how layer terms are combined. "normalized" is tf-nst's
# (size- and backbone-independent weights); the others reproduce published projects so
# that their published weights mean what they meant there. Keyed by the choices of the
# `loss_form` setting (`tf_nst.settings.LOSS_FORMS`): a test checks that both name the same forms.
LOSS_FORM_TERMS = {
    "normalized": {"content": normalized_squared_error, "style": normalized_squared_error,
                   "tv": total_variation_loss, "layers": "mean"},
    "tf-tutorial": {"content": mean_squared_error, "style": mean_squared_error,
                    "tv": total_variation_abs, "layers": "mean"},
    "jcjohnson": {"content": mean_squared_error, "style": jcjohnson_style_error,
                  "tv": total_variation_squared_sum, "layers": "sum"},
}


@keras.saving.register_keras_serializable(package="tf_nst")
class LossTerm:
    """A user-defined loss term added to the objective as `weight * term(image, features)`.

    Subclass it and implement `call`; list the backbone layers it reads in
    `layer_names` so the feature extractor returns them. The term runs inside
    the optimization's tf.function: use TensorFlow ops only.

    Args:
        weight: multiplier of the term in the total loss.
        layer_names: backbone layers the term reads from `features`.

    Example:
    ```python
    class Brightness(LossTerm):
        '''Pushes the mean pixel value towards `target` (0-255).'''

        def __init__(self, target=128.0, **kwargs):
            super().__init__(**kwargs)
            self.target = target

        def call(self, image, features):
            return tf.square(tf.reduce_mean(image) / 255.0 - self.target / 255.0)

        def get_config(self):
            return {**super().get_config(), "target": self.target}

    stylizer = Stylizer(extra_loss_terms=[Brightness(target=90.0, weight=10.0)])
    ```
    """

    def __init__(self, weight=1.0, layer_names=()):
        self.weight = float(weight)
        self.layer_names = list(layer_names)

    @property
    def name(self):
        return type(self).__name__

    def call(self, image, features):
        """Return a float32 scalar; `image` is `(1, H, W, 3)` in [0, 255]."""
        raise NotImplementedError

    def __call__(self, image, features):
        return self.weight * tf.cast(self.call(image, features), tf.float32)

    def get_config(self):
        return {"weight": self.weight, "layer_names": self.layer_names}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
