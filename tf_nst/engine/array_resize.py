"""TensorFlow's area and bicubic resizes in numpy, and the stroke scale built on them: the twins of
`tf_nst.engine.feedforward.rendering`'s `stroke_shape`, `stroke_fitted` and `stroke_scaled` for the
TensorFlow-free runtimes of both networks (`tf_nst.engine.arbitrary_onnx`, `tf_nst.engine.feedforward_onnx`).

The weights are TensorFlow's own (`tf.image.resize`): equal within 1e-4 grey levels bicubic and 0.004 area at a
non-integer factor (float32 sums in another order; tests/feedforward/test_arbitrary_stroke_scale.py), applied as
sums over each output row's few taps.
"""

import numpy as np


def area_matrix(source, target):
    """`(target, source)` weights of TensorFlow's area resize along one axis (`tf.image.resize(method="area")`)."""
    scale = source / target
    matrix = np.zeros((target, source), np.float64)
    for index in range(target):
        start, end = index * scale, (index + 1) * scale
        for cell in range(int(np.floor(start)), int(np.ceil(end))):
            matrix[index, min(cell, source - 1)] += (min(cell + 1, end) - max(cell, start)) / scale
    return matrix


def _keys_cubic(distance):
    """Keys' cubic kernel (a = -0.5) at `distance` >= 0, float32: TensorFlow's bicubic coefficients."""
    a, x = np.float32(-0.5), np.asarray(distance, np.float32)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, far).astype(np.float32)


def bicubic_matrix(source, target):
    """`(target, source)` float32 weights of TensorFlow's bicubic resize along one axis (`tf.image.resize(method=
    "bicubic")`: half-pixel centres, Keys' cubic from a table of 1024 steps, taps outside the image dropped
    and the others renormalized)."""
    table = 1024
    scale = np.float32(source) / np.float32(target)
    position = (np.arange(target, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    start = np.floor(position).astype(np.int64)
    step = np.rint((position - start.astype(np.float32)) * np.float32(table)).astype(np.int64)
    fraction = step.astype(np.float32) / np.float32(table)
    matrix = np.zeros((target, source), np.float32)
    rows = np.arange(target)
    taps = [(start - 1, np.float32(1) + fraction), (start, fraction), (start + 1, np.float32(1) - fraction),
            (start + 2, np.float32(2) - fraction)]
    weights = [np.where((index >= 0) & (index < source), _keys_cubic(distance), np.float32(0))
               for index, distance in taps]
    total = np.sum(weights, axis=0, dtype=np.float32)
    for (index, _), weight in zip(taps, weights):
        np.add.at(matrix, (rows, np.clip(index, 0, source - 1)), weight / total)
    return matrix


def _taps(matrix):
    """`(indices, weights)` `(target, K)` of a `(target, source)` resize matrix's non-zero weights per row (K the
    most in a row; rows with fewer padded with weight 0)."""
    counts = (matrix != 0).sum(1)
    width = max(1, int(counts.max()))
    order = np.argsort(matrix == 0, axis=1, kind="stable")[:, :width]
    return order, np.take_along_axis(matrix, order, axis=1).astype(np.float32)


def _resize_axis(image, matrix, axis):
    """`matrix` `(target, source)` applied along `axis` of `image`, as sums over each row's few taps (a dense
    product would cost source × target per line)."""
    indices, weights = _taps(matrix)
    shape = [1] * image.ndim
    shape[axis] = weights.shape[0]
    out = np.zeros(image.shape[:axis] + (weights.shape[0],) + image.shape[axis + 1:], np.float32)
    for tap in range(weights.shape[1]):
        out += weights[:, tap].reshape(shape) * np.take(image, indices[:, tap], axis=axis)
    return out


def resize_image(image, shape, method):
    """`(H, W, C)` float32 resized to `shape` `(h, w)` by TensorFlow's `"area"` or `"bicubic"` resize
    (`area_matrix`, `bicubic_matrix`): rows, then columns."""
    image = np.asarray(image, np.float32)
    matrix = {"area": lambda source, target: area_matrix(source, target).astype(np.float32),
              "bicubic": bicubic_matrix}[method]
    rows = _resize_axis(image, matrix(image.shape[0], shape[0]), 0)
    return _resize_axis(rows, matrix(image.shape[1], shape[1]), 1)


def stroke_shape(height, width, stroke_size, min_side):
    """`tf_nst.engine.feedforward.rendering.stroke_shape` without TensorFlow: `(h, w)` with the longest side
    `stroke_size` (each side at least `min_side` or its own, whichever is less), float32 as there."""
    scale = np.float32(stroke_size) / np.float32(max(height, width))

    def side(length):
        return int(max(np.round(np.float32(length) * scale), min(np.float32(length), np.float32(min_side))))

    return side(height), side(width)


def stroke_fitted(image, stroke_size, min_side):
    """`rendering.stroke_fitted` without TensorFlow: an `(H, W, C)` image area-scaled to `stroke_size` when
    its longest side is over it, else as it is (float32)."""
    image = np.asarray(image, np.float32)
    if not stroke_size or max(image.shape[:2]) <= stroke_size:
        return image
    return resize_image(image, stroke_shape(*image.shape[:2], stroke_size, min_side), "area")


def stroke_scaled(render, photo, stroke_size, min_side):
    """`rendering.stroke_scaled` without TensorFlow, on an `(H, W, 3)` photo: `render(small)` of the photo
    scaled down to `stroke_size`, scaled up (bicubic) with the photo's finer detail added back; a photo not
    over `stroke_size` (or `stroke_size` 0) rendered as it is."""
    photo = np.asarray(photo, np.float32)
    if not stroke_size or max(photo.shape[:2]) <= stroke_size:
        return render(photo)
    small = stroke_fitted(photo, stroke_size, min_side)
    detail = photo - resize_image(small, photo.shape[:2], "bicubic")
    return resize_image(render(small), photo.shape[:2], "bicubic") + detail
