"""The two reference loops users compare against, re-implemented from their published descriptions.

- `TutorialLoop`: the TensorFlow "Neural style transfer" tutorial
  (tensorflow.org/tutorials/generative/style_transfer): the image in [0, 1] as a
  `tf.Variable`, Keras Adam (lr 0.02, beta_1 0.99, epsilon 0.1), style weight 1e-2,
  content 1e4, total variation 30 (`tf.image.total_variation`), content
  `block5_conv2`, style `block1..5_conv1`, targets computed once, the image
  clipped to [0, 1] after each step, one `tf.function` call per step.
- `KerasIoLoop`: the keras.io example "Neural style transfer"
  (keras.io/examples/generative/neural_style_transfer): content, style and
  combination images concatenated into one batch through a VGG19 feature model
  that outputs every layer, every step; SGD with lr 100 decayed by 0.96 every 100
  steps; weights content 2.5e-8, style 1e-6, TV 1e-6 with TV = sum (dx² + dy²)^1.25.

Both use `keras.applications.VGG19(include_top=False)`; `weights=None` (random)
is fine for timing, and this module never downloads anything.
"""

import keras
import tensorflow as tf

STYLE_LAYERS = [f"block{i}_conv1" for i in range(1, 6)]
CONTENT_LAYER = "block5_conv2"


def _vgg19(weights=None):
    vgg = keras.applications.VGG19(include_top=False, weights=weights, input_shape=(None, None, 3))
    vgg.trainable = False
    return vgg


class TutorialLoop:
    """The TensorFlow tutorial's loop. `content`, `style`: `(1, H, W, 3)` float in [0, 1]."""

    name = "tf_tutorial"

    def __init__(self, content, style, weights=None):
        vgg = _vgg19(weights)
        outputs = [vgg.get_layer(name).output for name in STYLE_LAYERS + [CONTENT_LAYER]]
        self.model = keras.Model(vgg.input, outputs)
        self.style_weight, self.content_weight, self.total_variation_weight = 1e-2, 1e4, 30.0
        self.style_targets = self.extract(style)["style"]
        self.content_targets = self.extract(content)["content"]
        self.image = tf.Variable(content)
        self.opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
        self.train_step = tf.function(self._train_step)

    @staticmethod
    def gram_matrix(input_tensor):
        result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
        input_shape = tf.shape(input_tensor)
        return result / tf.cast(input_shape[1] * input_shape[2], tf.float32)

    def extract(self, inputs):
        inputs = inputs * 255.0
        preprocessed = keras.applications.vgg19.preprocess_input(inputs)
        outputs = self.model(preprocessed)
        style_outputs = [self.gram_matrix(output) for output in outputs[:len(STYLE_LAYERS)]]
        return {"style": dict(zip(STYLE_LAYERS, style_outputs)),
                "content": {CONTENT_LAYER: outputs[len(STYLE_LAYERS)]}}

    def loss(self, outputs):
        style = tf.add_n([tf.reduce_mean((outputs["style"][name] - self.style_targets[name]) ** 2)
                          for name in STYLE_LAYERS]) * self.style_weight / len(STYLE_LAYERS)
        content = tf.add_n([tf.reduce_mean((outputs["content"][name] - self.content_targets[name]) ** 2)
                            for name in outputs["content"]]) * self.content_weight
        return style + content

    def _train_step(self):
        with tf.GradientTape() as tape:
            loss = self.loss(self.extract(self.image))
            loss += self.total_variation_weight * tf.reduce_sum(tf.image.total_variation(self.image))
        grad = tape.gradient(loss, self.image)
        self.opt.apply_gradients([(grad, self.image)])
        self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
        return loss

    def step(self):
        return self.train_step()


class KerasIoLoop:
    """The keras.io example's loop. `content`, `style`: `(1, H, W, 3)` float 0-255 RGB."""

    name = "keras_io"

    def __init__(self, content, style, weights=None):
        model = _vgg19(weights)
        outputs_dict = {layer.name: layer.output for layer in model.layers}
        self.feature_extractor = keras.Model(inputs=model.inputs, outputs=outputs_dict)
        self.total_variation_weight, self.style_weight, self.content_weight = 1e-6, 1e-6, 2.5e-8
        self.rows, self.cols = int(content.shape[1]), int(content.shape[2])
        self.base_image = keras.applications.vgg19.preprocess_input(tf.identity(content))
        self.style_reference_image = keras.applications.vgg19.preprocess_input(tf.identity(style))
        self.combination_image = tf.Variable(self.base_image)
        self.optimizer = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(
            initial_learning_rate=100.0, decay_steps=100, decay_rate=0.96))
        self.compute_loss_and_grads = tf.function(self._compute_loss_and_grads)

    @staticmethod
    def gram_matrix(x):
        x = tf.transpose(x, (2, 0, 1))
        features = tf.reshape(x, (tf.shape(x)[0], -1))
        return tf.matmul(features, tf.transpose(features))

    def style_loss(self, style, combination):
        channels, size = 3, self.rows * self.cols
        return tf.reduce_sum(tf.square(self.gram_matrix(style) - self.gram_matrix(combination))) / (
            4.0 * (channels ** 2) * (size ** 2))

    @staticmethod
    def content_loss(base, combination):
        return tf.reduce_sum(tf.square(combination - base))

    def total_variation_loss(self, x):
        rows, cols = self.rows, self.cols
        a = tf.square(x[:, : rows - 1, : cols - 1, :] - x[:, 1:, : cols - 1, :])
        b = tf.square(x[:, : rows - 1, : cols - 1, :] - x[:, : rows - 1, 1:, :])
        return tf.reduce_sum(tf.pow(a + b, 1.25))

    def compute_loss(self, combination_image, base_image, style_reference_image):
        input_tensor = tf.concat([base_image, style_reference_image, combination_image], axis=0)
        features = self.feature_extractor(input_tensor)
        loss = tf.zeros(shape=())
        layer_features = features[CONTENT_LAYER]
        loss = loss + self.content_weight * self.content_loss(layer_features[0], layer_features[2])
        for layer_name in STYLE_LAYERS:
            layer_features = features[layer_name]
            loss += (self.style_weight / len(STYLE_LAYERS)) * self.style_loss(layer_features[1], layer_features[2])
        return loss + self.total_variation_weight * self.total_variation_loss(combination_image)

    def _compute_loss_and_grads(self, combination_image, base_image, style_reference_image):
        with tf.GradientTape() as tape:
            loss = self.compute_loss(combination_image, base_image, style_reference_image)
        return loss, tape.gradient(loss, combination_image)

    def step(self):
        loss, grads = self.compute_loss_and_grads(
            self.combination_image, self.base_image, self.style_reference_image)
        self.optimizer.apply_gradients([(grads, self.combination_image)])
        return loss
