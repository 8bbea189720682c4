"""The feed-forward image transformation network of real-time stylization.

Johnson et al. 2016 ("Perceptual Losses for Real-Time Style Transfer"): a 9×9 convolution, two
stride-2 convolutions, residual blocks, two resize-then-convolve upsamplings (Odena et al. 2016:
no checkerboards) and a 9×9 convolution back to RGB. Every normalization is a *conditional*
instance norm (Dumoulin et al. 2017): one scale and shift per style, so one set of convolutions
serves several styles, and a style-weights vector mixes the styles' scales and shifts.

Fully convolutional: any height and width (reflect-padded to a multiple of 4, cropped back).
Every norm layer can be given statistics computed elsewhere (`NormStatistics`): tiles of a large
image then normalize with the whole image's statistics (`tf_nst.engine.feedforward.tiling`).
"""

import keras
import tensorflow as tf

from tf_nst.engine.backbones import deserialized
from tf_nst.engine.texture_noise import NOISE_TILE, noise_amplitudes, noise_tile
from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import resolve_blend


class NormStatistics:
    """Per-channel statistics a `ConditionalInstanceNorm` uses instead of its input's own.

    A plain object, not a tensor: Keras casts floating tensor arguments of a layer call to the
    compute dtype (bfloat16 under `mixed_bfloat16`), and statistics must stay float32.

    Args:
        mean, variance: float32 `(1, 1, 1, C)` (or anything that broadcasts against the features).
    """

    def __init__(self, mean, variance):
        self.mean = tf.cast(mean, tf.float32)
        self.variance = tf.cast(variance, tf.float32)


@keras.saving.register_keras_serializable(package="tf_nst")
class ConditionalInstanceNorm(keras.layers.Layer):
    """Instance normalization with one learned scale and shift per style, mixed by weights.

    Args:
        num_styles: how many styles' parameters the layer holds.
        epsilon: added to the variance.

    Returns:
        Calling it on `(features (B, H, W, C), style_weights (B, num_styles))` returns the
        features normalized per image and channel (or with `statistics=NormStatistics(...)`),
        then scaled by `style_weights @ scale`
        and shifted by `style_weights @ shift` (float32 statistics, output in the input's dtype).

    Example:
    ```python
    norm = ConditionalInstanceNorm(num_styles=2)
    y = norm(tf.random.normal([1, 8, 8, 4]), tf.constant([[0.5, 0.5]]))
    ```
    """

    def __init__(self, num_styles=1, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_styles = int(num_styles)
        self.epsilon = float(epsilon)

    def build(self, features_shape, style_weights_shape=None):
        channels = features_shape[-1]
        self.scale = self.add_weight(name="scale", shape=(self.num_styles, channels), initializer="ones")
        self.shift = self.add_weight(name="shift", shape=(self.num_styles, channels), initializer="zeros")

    def call(self, features, style_weights, statistics=None):
        x = tf.cast(features, tf.float32)
        if statistics is None:
            mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        else:
            mean, variance = statistics.mean, statistics.variance
        x = (x - mean) * tf.math.rsqrt(variance + self.epsilon)
        style_weights = tf.cast(style_weights, tf.float32)
        scale = tf.matmul(style_weights, tf.cast(self.scale, tf.float32))[:, None, None, :]
        shift = tf.matmul(style_weights, tf.cast(self.shift, tf.float32))[:, None, None, :]
        return tf.cast(x * scale + shift, features.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(num_styles=self.num_styles, epsilon=self.epsilon)
        return config


def _reflect(x, pad):
    return tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")


@keras.saving.register_keras_serializable(package="tf_nst")
class ConvNormBlock(keras.layers.Layer):
    """Reflect-pad, convolve (optionally after a ×2 nearest upsampling), conditional instance norm, ReLU.

    Args:
        filters, kernel_size, strides: of the convolution.
        num_styles: of the conditional instance norm.
        upsample: resize ×2 (nearest) before the convolution (resize-then-convolve).
        activation: `True` for a ReLU after the norm.
    """

    def __init__(self, filters, kernel_size, num_styles=1, strides=1, upsample=False, activation=True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = int(filters), int(kernel_size), int(strides)
        self.num_styles, self.upsample, self.activation = int(num_styles), bool(upsample), bool(activation)
        self.conv = keras.layers.Conv2D(self.filters, self.kernel_size, strides=self.strides, padding="valid",
                                        dtype=self.dtype_policy)
        self.norm = ConditionalInstanceNorm(self.num_styles, dtype=self.dtype_policy)

    def convolve(self, x):
        """The block's features before its norm: (upsampled,) reflect-padded, convolved."""
        if self.upsample:
            x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)
        return self.conv(_reflect(x, self.kernel_size // 2))

    def call(self, x, style_weights, statistics=None):
        x = self.norm(self.convolve(x), style_weights, statistics=statistics)
        return tf.nn.relu(x) if self.activation else x

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, num_styles=self.num_styles,
                      strides=self.strides, upsample=self.upsample, activation=self.activation)
        return config


@keras.saving.register_keras_serializable(package="tf_nst")
class TransformerNet(keras.Model):
    """Johnson et al.'s image transformation network with conditional instance norm (several styles).

    Args:
        style_names: the names of the styles it renders, in the order of the style-weights vector.
        width: channels of the first convolution (then ×2 and ×4 after the stride-2 convolutions).
        num_residual_blocks: residual blocks at a quarter of the resolution.
        texture_noise: grey levels (0-255 scale) of the fixed noise field added to the input
            (`tf_nst.engine.texture_noise`: flat areas then get strokes): one number for every style, one per
            style (a list in `style_names`' order, or `{style name: grey}`, the others 0); a blend mixes them
            by its weights. 0: none.
        **kwargs: `keras.Model` arguments (`name`, `dtype` e.g. `"mixed_bfloat16"`).

    Returns:
        Calling it on `{"image": (B, H, W, 3) float 0-255, "style_weights": (B, num_styles)}`
        returns the stylized images `(B, H, W, 3)` float32 in [0, 255]. Any `H` and `W`.

    Example:
    ```python
    network = TransformerNet(["starry_night", "the_scream"], width=8, num_residual_blocks=1)
    out = network({"image": tf.zeros([1, 37, 50, 3]), "style_weights": tf.constant([[0.3, 0.7]])})
    out.shape  # (1, 37, 50, 3)
    ```
    """

    def __init__(self, style_names, width=16, num_residual_blocks=5, texture_noise=0.0, **kwargs):
        super().__init__(**kwargs)
        self.style_names = [str(name) for name in style_names]
        if not self.style_names or len(set(self.style_names)) != len(self.style_names):
            raise InvalidArgumentError(
                f"expected one or more distinct style names. Received: style_names={self.style_names!r}")
        self.texture_noise = noise_amplitudes(texture_noise, self.style_names)
        self.width, self.num_residual_blocks = int(width), int(num_residual_blocks)
        styles, policy = len(self.style_names), self.dtype_policy
        self.down = [ConvNormBlock(self.width, 9, styles, dtype=policy, name="down_1"),
                     ConvNormBlock(2 * self.width, 3, styles, strides=2, dtype=policy, name="down_2"),
                     ConvNormBlock(4 * self.width, 3, styles, strides=2, dtype=policy, name="down_3")]
        self.residual = [(ConvNormBlock(4 * self.width, 3, styles, dtype=policy, name=f"residual_{i}a"),
                          ConvNormBlock(4 * self.width, 3, styles, activation=False, dtype=policy,
                                        name=f"residual_{i}b"))
                         for i in range(self.num_residual_blocks)]
        self.up = [ConvNormBlock(2 * self.width, 3, styles, upsample=True, dtype=policy, name="up_1"),
                   ConvNormBlock(self.width, 3, styles, upsample=True, dtype=policy, name="up_2")]
        self.to_rgb = keras.layers.Conv2D(3, 9, padding="valid", dtype=policy, name="to_rgb")
        self.build()

    def build(self, input_shape=None):
        # Variables made now, eagerly, so weights load and traced calls never create them.
        if self.built:
            return
        with tf.init_scope():
            self.call({"image": tf.zeros([1, 16, 16, 3]), "style_weights": tf.ones([1, self.num_styles])})
        self.built = True

    @property
    def num_styles(self):
        return len(self.style_names)

    def norm_blocks(self):
        """`[(block, role)]` in the order of the norm layers (and of `statistics` lists); `role` is
        `"skip"` for a residual block's first half (its input is kept), `"add"` for its second half."""
        plan = [(block, None) for block in self.down]
        for first, second in self.residual:
            plan += [(first, "skip"), (second, "add")]
        return plan + [(block, None) for block in self.up]

    def features(self, x, style_weights, statistics=(), probe=False, start=0, stop=None):
        """Run the norm blocks on a prepared image `x` (`prepare`), or norm blocks `start` to `stop`
        (exclusive; `norm_blocks()` indices, at a residual block's boundaries) on `x`, the output of
        block `start - 1`.

        Args:
            statistics: `NormStatistics` (or `None`: its input's own) for the first
                `len(statistics)` norm layers, by index (the others normalize with their input's own).
            probe: stop at norm layer `len(statistics)` and return its features before the norm.

        Returns:
            The last block's output, or with `probe` float32 pre-norm features.
        """
        skip = None
        for index, (block, role) in enumerate(self.norm_blocks()[:stop]):
            if index < start:
                continue
            if probe and index == len(statistics):
                return tf.cast(block.convolve(x), tf.float32)
            skip = x if role == "skip" else skip
            x = block(x, style_weights, statistics=statistics[index] if index < len(statistics) else None)
            x = skip + x if role == "add" else x
        return x

    def prepare(self, image, style_weights):
        """A `(B, H, W, 3)` 0-255 image with the texture noise added (the fixed field from the image's top-left
        corner, times each image's amplitude: `style_weights` `(B, num_styles)` @ `texture_noise`), scaled to
        [-1, 1] and reflect-padded to a multiple of 4 (two stride-2 convolutions), in the compute dtype; `call`
        crops the padding back off."""
        height, width = tf.shape(image)[1], tf.shape(image)[2]
        pad_h, pad_w = (-height) % 4, (-width) % 4
        if any(self.texture_noise):
            amplitude = tf.reduce_sum(tf.cast(style_weights, tf.float32) * tf.constant(self.texture_noise), -1)
            image = tf.cast(image, tf.float32) + noise_field(height, width, amplitude[:, None, None])[..., None]
        x = tf.pad(image / 127.5 - 1.0, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="SYMMETRIC")
        return tf.cast(x, self.compute_dtype)

    def call(self, inputs, statistics=()):
        image = tf.cast(inputs["image"], tf.float32)
        style_weights = tf.cast(inputs["style_weights"], tf.float32)
        height, width = tf.shape(image)[1], tf.shape(image)[2]
        return self.head(self.features(self.prepare(image, style_weights), style_weights, statistics), height, width)

    def head(self, x, height=None, width=None):
        """The last block's output to RGB, its first `height` rows and `width` columns (all: `None`):
        a 9×9 convolution and a sigmoid, float32 in [0, 255]."""
        x = tf.cast(self.to_rgb(_reflect(x, 4)), tf.float32)
        return 255.0 * tf.sigmoid(x[:, :height, :width, :])

    def get_config(self):
        config = {"style_names": list(self.style_names), "width": self.width,
                  "num_residual_blocks": self.num_residual_blocks, "name": self.name,
                  "dtype": keras.saving.serialize_keras_object(self.dtype_policy)}
        if any(self.texture_noise):  # absent when 0: the folders written before it keep their config
            config["texture_noise"] = list(self.texture_noise)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialized(config, "dtype"))


def noise_field(height, width, amplitude):
    """`tf_nst.engine.texture_noise.noise_field` in TensorFlow (eager or in-graph): the float32 `(height, width)`
    field times `amplitude` (a float32 tensor broadcasting against it), the same values (the tile is a constant;
    one float32 product)."""
    tile = tf.constant(noise_tile())
    reps = tf.stack([(height + NOISE_TILE - 1) // NOISE_TILE, (width + NOISE_TILE - 1) // NOISE_TILE])
    return tf.tile(tile, reps)[:height, :width] * amplitude


def style_weights_for(style_names, blend=None, batch=1):
    """`(batch, num_styles)` float32 mixing weights of `blend` (`tf_nst.settings.resolve_blend`: a
    `StyleBlend` as it is; other blends checked and normalized there; `None`: style 0).

    Raises:
        InvalidArgumentError: a name that is not one of `style_names`, or weights summing to 0.
    """
    blend = resolve_blend(blend, style_names)
    row = [blend.get(name, 0.0) for name in style_names]
    return tf.constant([row] * batch, tf.float32)
