"""Published settings as data, for comparison runs (`cli.py stylize --preset NAME`).

Keys are `cli.py stylize` option names (underscored); explicit options override
a preset. Optimizer step sizes are converted to tf-nst's pixel units (grey
levels, 0-255) from each project's image range.

Loss weights: tf-nst normalizes each loss term by its target's energy, the
published projects do not, so a published weight does not mean the same thing
here. Each preset therefore keeps the published *structure* (layers,
optimizer and its hyper-parameters, steps, size, initialisation, snapshots)
and states in `weights_note` how its weights were chosen.
"""

STYLE_LAYERS_1_TO_5 = ",".join(f"block{i}_conv1" for i in range(1, 6))

PRESETS = {
    # jcjohnson/neural-style neural_style.lua defaults.
    "jcjohnson": {
        "size": 512, "steps": 1000, "optimizer": "lbfgs", "init": "random",
        "content_layers": "block4_conv2", "style_layers": STYLE_LAYERS_1_TO_5,
        "content_weight": 5.0, "style_weight": 100.0, "tv_weight": 1e-3,
        "pooling": "max", "style_scale": 1.0, "save_every": 100, "backbone": "vgg19",
        "weights_note": "published values (content 5, style 100, TV 1e-3) applied to normalized terms; "
                        "their 1:20 content:style ratio is close to tf-nst's default 1:10",
    },
    # TensorFlow's "Neural style transfer" tutorial (tensorflow.org/tutorials/generative/style_transfer).
    "tf-tutorial": {
        "size": 512, "steps": 1000, "optimizer": "adam",
        # lr 0.02 on a [0, 1] image = 5.1 grey levels; epsilon 0.1 on [0, 1] gradients = 0.1/255 here.
        "learning_rate": 0.02 * 255, "adam_beta1": 0.99, "adam_beta2": 0.999, "adam_epsilon": 0.1 / 255,
        "init": "content", "content_layers": "block5_conv2", "style_layers": STYLE_LAYERS_1_TO_5,
        "content_weight": 1.0, "style_weight": 10.0, "tv_weight": 1.0, "backbone": "vgg19",
        "weights_note": "the tutorial's weights (content 1e4, style 1e-2, TV 30) act on unnormalized "
                        "means and wash images out at other sizes; tf-nst's defaults are used instead",
    },
    # prayge: the PyTorch project tf-nst grew from.
    "prayge": {
        "size": 750, "steps": 500, "optimizer": "adam",
        # lr 0.003 on a [0, 1] image = 0.765 grey levels.
        "learning_rate": 0.003 * 255, "adam_beta1": 0.5, "adam_beta2": 0.999,
        "init": "content", "content_layers": STYLE_LAYERS_1_TO_5, "style_layers": STYLE_LAYERS_1_TO_5,
        "content_weight": 1.0, "style_weight": 100.0, "save_every": 250, "backbone": "vgg19",
        "weights_note": "published style weight 100 (content 1) applied to normalized terms",
    },
}


def get_preset(name):
    """The settings of preset `name` (a copy)."""
    from tf_nst.errors import InvalidArgumentError

    if name not in PRESETS:
        raise InvalidArgumentError(f"expected preset one of {', '.join(PRESETS)}. Received: preset={name!r}")
    return dict(PRESETS[name])
