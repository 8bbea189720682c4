"""Every choice list, limit and default of the settings, defined once (TensorFlow-free).

The schema (`tf_nst.settings.schema`), the engine, the drivers, the export and the CLI import
these names; a test finds no module-level constant defined in two modules of `tf_nst`.
"""

from tf_nst.errors import InvalidArgumentError

BACKBONE_NAMES = ("vgg19", "vgg16", "vgg16-hed")
POOLING_MODES = ("max", "avg")
PREPROCESSING_MODES = ("caffe", "unit", "none")
PRECISIONS = ("float32", "bfloat16", "auto")
LOSS_FORMS = ("normalized", "tf-tutorial", "jcjohnson")
OPTIMIZERS = ("lbfgs", "adam")
LBFGS_FIRST_STEPS = ("max_pixel", "torch")
PRESERVE_COLORS_MODES = ("none", "luminance", "histogram")
STYLE_STATISTICS = ("gram", "mean-cov")  # engine/statistics.py
INIT_MODES = ("content", "random", "mean-noise")
EXPORT_INIT_MODES = ("content", "random")  # the starts an exported model offers per request

MIN_SIDE = 32  # below this the deepest VGG layers have no spatial extent left
MAX_SIDE = 16384
MAX_STEPS = 100_000
MAX_SCALES = 6
MAX_STYLE_SCALE = 8.0
MIN_TILE = 64

DEFAULT_CONTENT_LAYERS = "block4_conv2"
DEFAULT_STYLE_LAYERS = ",".join(f"block{i}_conv1" for i in range(1, 6))
# Training of feed-forward networks (tf_nst/runs/training.py): Johnson et al.'s content layer
# (relu3_3 on VGG16) and Gram layers; the weights chosen by measurement (README, Real time).
TRAIN_CONTENT_LAYERS = "block3_conv3"
TRAIN_STYLE_LAYERS = "block1_conv2,block2_conv2,block3_conv3,block4_conv3"
TRAIN_STYLE_WEIGHT = 3.0
TRAIN_TV_WEIGHT = 1.0
MODEL_INIT_PREFIX = "model:"  # --init model:NAME starts the optimization from a trained model's result
ARBITRARY_KIND = "arbitrary"  # model.json config "kind" of an arbitrary-style network (any painting)
# The arbitrary-style network's layout (tf_nst/engine/feedforward/arbitrary.py and its TensorFlow-free
# runtime tf_nst/engine/arbitrary_onnx.py): one decoder per level, the backbone's mirror.
ARBITRARY_LEVEL_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1")
VGG_BLOCK_CHANNELS = (64, 128, 256, 512)
VGG_BLOCK_CONVS = {"vgg16": (2, 2, 3, 3), "vgg16-hed": (2, 2, 3, 3), "vgg19": (2, 2, 4, 4)}
# The decoders see each level's features divided by its root mean square over photos (vgg16-hed,
# measured on 128 px crops: 46, 57, 29, 15), so every level trains at one learning rate.
ARBITRARY_FEATURE_SCALES = (50.0, 60.0, 30.0, 15.0)


def arbitrary_decoder_plan(level, convs):
    """The decoder of `level` (the backbone's mirror back to RGB, `convs`: its convolutions per block) as
    `[("conv", filters, relu) | ("upsample",)]`: the Keras decoders and the ONNX graphs are built from it."""
    plan = []
    for block in range(level - 1, -1, -1):
        count = convs[block] if block < level - 1 else 1
        for index in range(count):
            last = index == count - 1
            target = (VGG_BLOCK_CHANNELS[block - 1] if block > 0 else 3) if last else VGG_BLOCK_CHANNELS[block]
            plan.append(("conv", target, not (last and block == 0)))
            if last and block > 0:
                plan.append(("upsample",))
    return plan


ARBITRARY_TRANSFORMS = ("wct", "adain")
# What runs an arbitrary-style network (tf_nst/runs/arbitrary_run.py): "auto" is onnxruntime (float32, no
# TensorFlow import) when it is installed and bfloat16 was not asked for, else TensorFlow.
ARBITRARY_RUNTIMES = ("auto", "onnxruntime", "tensorflow")
# keras.applications VGG preprocessing is Caffe-style: BGR, mean-subtracted, 0-255.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
MODEL_FORMAT = "tf-nst-feedforward"  # the "format" of a trained model folder's model.json
# A feed-forward pass over more pixels than this runs in tiles (tf_nst/engine/feedforward/tiling.py):
# one untiled pass of the bundled network takes about 330 bytes per pixel (docs/realtime.md), so
# 4096 x 4096 stays under 6 GB; tiled, each window (core and halo) holds at most this many pixels.
FEEDFORWARD_MAX_TILE_PIXELS = 4096 * 4096
# Reflect margin (px) around a photo before a trained style network, cropped off after: with a heavy style
# weight the network paints a column of light and dark dashes a few px inside the right border (docs/realtime.md).
FEEDFORWARD_BORDER_MARGIN = 16
# The most texture noise (grey levels of 0-255, the field's standard deviation) a style network may add to its
# input (`train --texture-noise`, tf_nst/engine/texture_noise.py).
MAX_TEXTURE_NOISE = 128.0
MIN_AUTO_TILE = 128  # a tile size chosen by the memory budget is at least this: below it the halos cost more than the cores
# An arbitrary-style network's photo or painting over this many pixels is processed in tiles of at most this
# many (halos included; tf_nst/engine/feedforward/arbitrary_tiling.py), so its memory stays bounded whatever
# the image's size (docs/arbitrary.md: 4096 x 3072 in 3.4 GB with bfloat16, 12 GB and more in one pass).
ARBITRARY_MAX_TILE_PIXELS = 1024 * 1024
# Reflect margin (px) around a photo before an arbitrary-style network's levels: the encoder's zero
# padding made a bright frame along the borders of every output (gone at 16 px, still visible at 8).
ARBITRARY_BORDER_MARGIN = 16
# An arbitrary-style network's stroke scale: a photo (with its paintings) whose longest side is over this is
# stylized at this size and scaled up, its finer detail added back (ArbitraryStylizer's `stroke_size`; a
# network folder's config "stroke_size" overrides it; --stroke-size). Measured (docs/arbitrary.md): at 1024 px
# closer to the painting and 3x faster than the network at 1024 px. 384, the peer's own working size: 1.6x
# faster than 512 at a 512 px output for a judge 0.02 further from the painting (0.444 against 0.419), equal at
# 1024 px (0.417): what brings the whole command within 3x the peer's.
ARBITRARY_STROKE_SIZE = 384


def check_half_size_levels(half_size_levels, levels):
    """The applied `levels` (deepest first) that run on the halved photo: the deepest ones, never all.

    The halving's design and figures: tf_nst/engine/feedforward/arbitrary_stylizer.py.

    Raises:
        InvalidArgumentError: levels that are not the deepest applied ones, or all of them.
    """
    half = tuple(sorted({int(level) for level in half_size_levels or ()}, reverse=True))
    if half and (half != tuple(levels[:len(half)]) or len(half) >= len(levels)):
        raise InvalidArgumentError(f"expected half_size_levels the deepest of the applied levels {list(levels)}, "
                                   f"not all of them. Received: half_size_levels={list(half_size_levels)}")
    return half

# --- runs: drivers and inputs (tf_nst/runs, tf_nst/io) ----------------------------------------------
COMPUTE_PRECISIONS = tuple(precision for precision in PRECISIONS if precision != "auto")  # what runs: "auto" resolved
FLOW_METHODS = ("dis", "farneback")  # OpenCV optical flow of the video driver (tf_nst/engine/flow.py)
RUNNERS = ("DirectRunner", "FlinkRunner", "SparkRunner", "DataflowRunner")  # Beam runners `batch --runner` offers
DEFAULT_MAX_INPUT_PIXELS = 100_000_000  # decompression-bomb guard of every image read
