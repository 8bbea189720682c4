"""Published settings as data, for comparison runs (`cli.py stylize --preset NAME`).

Keys are `StylizeSettings` field names (tf_nst/settings/schema.py), plus `save_every`
(a `cli.py stylize` option); explicit options override a preset. Optimizer step sizes are converted to tf-nst's pixel units (grey
levels, 0-255) from each project's image range. `loss_form` selects the
project's own (unnormalized) loss definitions so its published weights mean
what they meant there; `notes` says what still differs.
"""

from tf_nst.settings import DEFAULT_STYLE_LAYERS as STYLE_LAYERS_1_TO_5

PRESETS = {
    # jcjohnson/neural-style, neural_style.lua defaults.
    "jcjohnson": {
        "size": 512, "num_steps": 1000, "optimizer": "lbfgs", "init": "mean-noise",
        # optim.lbfgs: nCorrection 100, first step min(1, 1/|g|_1) * g, no line search, tolerances off.
        "lbfgs_history": 100, "lbfgs_first_step": "torch",
        "content_layers": "block4_conv2", "style_layers": STYLE_LAYERS_1_TO_5,
        "content_weight": 5.0, "style_weight": 100.0, "tv_weight": 1e-3, "loss_form": "jcjohnson",
        "pooling": "max", "style_scale": 1.0, "save_every": 100, "backbone": "vgg19",
        "notes": "faithful settings, optimizer and start; differences left: Keras VGG19 weights "
                 "(converted from the same Caffe model), TensorFlow numerics, and the image is kept in "
                 "[0, 255]. Seen here (vgg16-hed, 256 px): the first ~110 steps overshoot (the curvature "
                 "measured over torch's tiny first step is far too flat), so the best image stays the "
                 "flat start until then; the loss then falls steadily. Its weights suit VGG19 features only: "
                 "with vgg16-hed (256 px, 200 steps from the content) the weighted terms end at content 340, "
                 "style 13400, TV 10100, and the content barely survives",
    },
    # TensorFlow's "Neural style transfer" tutorial (tensorflow.org/tutorials/generative/style_transfer).
    "tf-tutorial": {
        "size": 512, "num_steps": 1000, "optimizer": "adam",
        # lr 0.02 on a [0, 1] image = 5.1 grey levels; epsilon 0.1 on [0, 1] gradients = 0.1/255 here.
        "learning_rate": 0.02 * 255, "adam_beta1": 0.99, "adam_beta2": 0.999, "adam_epsilon": 0.1 / 255,
        "init": "content", "content_layers": "block5_conv2", "style_layers": STYLE_LAYERS_1_TO_5,
        "content_weight": 1e4, "style_weight": 1e-2, "tv_weight": 30.0, "loss_form": "tf-tutorial",
        "backbone": "vgg19",
        "notes": "faithful: same losses, weights, optimizer and steps (10 epochs x 100)",
    },
    # prayge: the PyTorch project tf-nst grew from.
    "prayge": {
        "size": 750, "num_steps": 500, "optimizer": "adam",
        # lr 0.003 on a [0, 1] image = 0.765 grey levels.
        "learning_rate": 0.003 * 255, "adam_beta1": 0.5, "adam_beta2": 0.999,
        "init": "content", "content_layers": STYLE_LAYERS_1_TO_5, "style_layers": STYLE_LAYERS_1_TO_5,
        "content_weight": 1.0, "style_weight": 100.0, "save_every": 250, "backbone": "vgg19",
        "loss_form": "normalized",
        "notes": "published settings; its loss definitions are not public, so tf-nst's normalized "
                 "losses carry the published style weight 100",
    },
}


def get_preset(name):
    """The settings of preset `name` (a copy, without its `notes`)."""
    from tf_nst.errors import InvalidArgumentError

    if name not in PRESETS:
        raise InvalidArgumentError(f"expected preset one of {', '.join(PRESETS)}. Received: preset={name!r}")
    settings = dict(PRESETS[name])
    settings.pop("notes")
    return settings


def backbone_note(name, backbone, loss_form):
    """A note when preset `name`'s unnormalized weights meet features they were not set for, else None."""
    if loss_form == "normalized":
        return None
    published = get_preset(name)["backbone"]
    if backbone == published:
        return None
    return (f"preset {name}'s weights were set for {published} features; with {backbone} its "
            f"unnormalized {loss_form} losses strike a different balance between content and style "
            f"(the default normalized losses carry across backbones)")
