"""The engine's loss over a batch of network outputs: what a feed-forward network is trained on.

The objective of the optimization itself (`StyleObjective`: its extractor with the backbone's
preprocessing, normalized content, style statistic, total variation, layer weights and its
`extra_loss_terms`, each called on the whole batch), evaluated per image of a batch, each image against its own
photo's content features and its own style's target, then averaged over the batch.
"""

import tensorflow as tf

from tf_nst.engine.losses import LOSS_FORM_TERMS, total_loss
from tf_nst.engine.statistics import position_sums


class PerceptualLoss:
    """Johnson et al.'s perceptual loss with the engine's terms, for several styles at once.

    Args:
        objective: an untiled `StyleObjective` (its extractor, layers, loss form and statistic).

    Returns:
        `loss(outputs, photos, targets, style_indices, content_weight, style_weight, tv_weight)`
        returns `(total, parts)`, `parts = [total, content, style, tv, *extra terms]` (batch means;
        `tf_nst.engine.losses.total_loss`). `style_weight`: one number, or one per style (each image's style
        term weighted by its own style's; `parts` then holds the unweighted style mean).

    Example:
    ```python
    loss = PerceptualLoss(objective)
    targets = loss.style_targets([starry, scream])          # each (1, h, w, 3) float 0-255
    total, parts = loss(outputs, photos, targets, tf.constant([0, 1]), 1.0, 3.0, 1.0)
    ```
    """

    def __init__(self, objective):
        self.objective = objective
        self.form = LOSS_FORM_TERMS[objective.loss_form]

    def style_targets(self, styles):
        """`{layer: target}` of every style, stacked on axis 0 (style `i` is row `i`)."""
        moments = [self.objective.style_statistics(style) for style in styles]
        return self.objective.style_targets(self.objective.stack(moments))

    def content_features(self, photos):
        """`{content layer: features}` of a batch of photos (targets: no gradient)."""
        features = self.objective.extractor(photos)
        return {name: tf.stop_gradient(features[name]) for name in self.objective.content_layers}

    def image_losses(self, features, content_features, targets, index, style_index):
        """`(content, style)` of image `index` of the batch against its photo and its style."""
        objective = self.objective
        content_scale, style_scale = objective.layer_scales()
        content = tf.add_n([
            (weight / content_scale) * self.form["content"](features[name][index:index + 1],
                                                            content_features[name][index:index + 1])
            for name, weight in objective.content_layers.items()])
        style = []
        for name, weight in objective.style_layers.items():
            layer = features[name][index]
            sums = position_sums(tf.reshape(layer, [-1, layer.shape[-1]]), None, objective.statistic.with_first)
            target = tf.nest.map_structure(lambda value: tf.gather(value, style_index[None]), targets[name])
            style.append((weight / style_scale) * objective.statistic.region_losses(sums, target,
                                                                                    self.form["style"])[0])
        return content, tf.add_n(style)

    def __call__(self, outputs, photos, targets, style_indices, content_weight, style_weight, tv_weight):
        features = self.objective.extractor(outputs)
        content_features = self.content_features(photos)
        batch = outputs.shape[0]
        contents, styles = zip(*[self.image_losses(features, content_features, targets, index,
                                                   style_indices[index]) for index in range(batch)])
        content = tf.add_n(list(contents)) / batch
        style = tf.add_n(list(styles)) / batch
        tv = self.form["tv"](outputs)
        extras = [term(outputs, features) for term in self.objective.extra_loss_terms]
        if not isinstance(style_weight, (list, tuple)):
            return total_loss(content, style, tv, extras, content_weight, style_weight, tv_weight)
        # One weight per style: each image's style term by its style's weight (total_loss's weight is then 1).
        per_image = tf.gather(tf.constant(style_weight, tf.float32), style_indices)
        weighted = tf.add_n([per_image[index] * term for index, term in enumerate(styles)]) / batch
        total, parts = total_loss(content, weighted, tv, extras, content_weight, 1.0, tv_weight)
        return total, tf.tensor_scatter_nd_update(parts, [[2]], style[None])
