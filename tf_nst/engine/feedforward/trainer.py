"""The `keras.Model` that trains a feed-forward network: its `train_step` over the perceptual loss.

Johnson et al. 2016 and Dumoulin et al. 2017: each photo of a batch is rendered in a style drawn
at random, and the network minimizes the engine's loss (`PerceptualLoss`) against that photo and
that style. The driver (photos, checkpoints, previews, the model folder) is
`tf_nst.runs.training.train`.
"""

import keras
import numpy as np
import tensorflow as tf

PARTS = ("loss", "content", "style", "tv")


@keras.saving.register_keras_serializable(package="tf_nst")
class StyleTrainer(keras.Model):
    """The network, its loss and the styles' targets, as a `keras.Model` trained by `fit`.

    `fit` on a dataset of photo batches (`(B, H, W, 3)` float 0-255) reports `loss`, `content`,
    `style` and `tv` (batch means).

    Args:
        network: a `TransformerNet`.
        loss: a `PerceptualLoss`.
        style_targets: `PerceptualLoss.style_targets` of the network's styles, in order.
        weights: `(content_weight, style_weight, tv_weight)`; `style_weight` one number, or a list of one per
            style of the network (`PerceptualLoss`).
        train_styles: indices of the styles drawn for the photos (all by default).
        norm_only: train only the normalization parameters of `train_styles` (`--add-style`).
        norm_learning_rate: Adam's rate for the per-style scales and shifts.

    Example:
    ```python
    loss = PerceptualLoss(objective)
    trainer = StyleTrainer(TransformerNet(["starry_night"]), loss, loss.style_targets([starry]), (1.0, 3.0, 1.0))
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
    trainer.fit(photo_batches, epochs=1, steps_per_epoch=100)
    ```
    """

    def __init__(self, network, loss, style_targets, weights, train_styles=None, norm_only=False,
                 norm_learning_rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        # The per-style scales and shifts learn at their own (higher) rate: with the convolutions'
        # rate they barely leave their start in a short run, and every style looks the same.
        self.norm_optimizer = keras.optimizers.Adam(norm_learning_rate)
        self.network, self.perceptual, self.style_targets = network, loss, style_targets
        self.loss_weights_ = tuple(tuple(float(value) for value in weight) if isinstance(weight, (list, tuple))
                                   else float(weight) for weight in weights)
        self.train_styles = list(range(network.num_styles)) if train_styles is None else list(train_styles)
        self.norm_only = bool(norm_only)

    def trained_variables(self):
        """`[(variable, row mask or None)]`: what a step updates (norm rows only for `norm_only`)."""
        if not self.norm_only:
            return [(variable, None) for variable in self.network.trainable_variables]
        rows = np.zeros([self.network.num_styles, 1], np.float32)
        rows[self.train_styles] = 1.0
        return [(variable, tf.constant(rows)) for variable in self.network.trainable_variables
                if is_norm_parameter(variable)]

    def optimized_groups(self):
        """`[(optimizer, variables)]`: convolutions with `optimizer`, norm parameters with `norm_optimizer`."""
        variables = [variable for variable, _ in self.trained_variables()]
        return [(self.optimizer, [variable for variable in variables if not is_norm_parameter(variable)]),
                (self.norm_optimizer, [variable for variable in variables if is_norm_parameter(variable)])]

    @property
    def steps_done(self):
        """Optimizer steps applied so far (restored with a checkpoint): every step updates the norm parameters."""
        return int(self.norm_optimizer.iterations.numpy())

    def call(self, inputs):
        return self.network(inputs)

    def train_step(self, photos):
        batch = photos.shape[0]
        choice = tf.random.uniform([batch], 0, len(self.train_styles), dtype=tf.int32)
        style_indices = tf.gather(tf.constant(self.train_styles, tf.int32), choice)
        style_weights = tf.one_hot(style_indices, self.network.num_styles)
        trained = self.trained_variables()
        # Under a distribution strategy each replica's batch mean counts 1/replicas, and the optimizers sum the
        # replicas' gradients: the gradient of the global batch's mean (1 replica without a strategy).
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            outputs = self.network({"image": photos, "style_weights": style_weights})
            total, parts = self.perceptual(outputs, photos, self.style_targets, style_indices, *self.loss_weights_)
            scaled = total / replicas
        grads = tape.gradient(scaled, [variable for variable, _ in trained])
        grads = [grad if mask is None else grad * mask for grad, (_, mask) in zip(grads, trained)]
        norms = [is_norm_parameter(variable) for variable, _ in trained]
        for optimizer, wanted in ((self.optimizer, False), (self.norm_optimizer, True)):
            pairs = [(grad, variable) for grad, (variable, _), norm in zip(grads, trained, norms) if norm == wanted]
            if pairs:
                optimizer.apply([grad for grad, _ in pairs], [variable for _, variable in pairs])
        return {name: parts[index] for index, name in enumerate(PARTS)}


def is_norm_parameter(variable):
    """A conditional instance norm's per-style scale or shift."""
    return variable.path.endswith(("/scale", "/shift"))
