"""The training photos: found, checked, hashed, then a `tf.data` pipeline of random crops.

Every file is opened once here (Pillow, with the pixel cap): unreadable ones are skipped and
counted, readable ones hashed (the model's provenance). The pipeline decodes, scales at random
(the crop covers 1/2 to all of the shorter side), crops `size`×`size`, flips, batches and prefetches.
A crop of one flat colour is drawn again (`FLAT_CROP_STD`): with bfloat16 convolutions such a crop
gave the network's first layer a non-finite gradient (a training of the bundled model went NaN at
the step that drew one from a wallpaper's plain background), and it teaches nothing.
"""

import dataclasses
import hashlib

import numpy as np
import tensorflow as tf

from tf_nst.errors import ImageError, InvalidArgumentError
from tf_nst.io.images import load_image
from tf_nst.io.inputs import expand_inputs
from tf_nst.io.provenance import file_sha256

# A crop whose every channel's standard deviation is under this (0-255) is one flat colour: bfloat16
# (2-3 significant digits) rounds it to a constant. It is drawn again, up to FLAT_CROP_ATTEMPTS times
# (other photos, other places), and kept only if every attempt is flat (photos of one colour only).
FLAT_CROP_STD = 1.0
FLAT_CROP_ATTEMPTS = 16


@dataclasses.dataclass(frozen=True)
class PhotoSet:
    """Readable training photos and what was skipped.

    Args:
        paths: readable photo files, sorted.
        hashes: sha256 of each.
        unreadable: `[(path, problem)]` of the skipped files.
    """

    paths: tuple
    hashes: tuple
    unreadable: tuple

    @property
    def digest(self):
        """One sha256 of the sorted photo hashes: the training set's identity."""
        return hashlib.sha256("\n".join(sorted(self.hashes)).encode()).hexdigest()

    def provenance(self):
        return {"count": len(self.paths), "sha256": self.digest, "unreadable": len(self.unreadable),
                "hashes": list(self.hashes)}


def find_photos(specs, min_side):
    """A `PhotoSet` of files, folders and globs; photos smaller than `min_side` count as unreadable.

    Raises:
        InvalidArgumentError: nothing matches, or no photo is readable.
    """
    paths = expand_inputs(specs, name="--photos")
    readable, hashes, unreadable = [], [], []
    for path in paths:
        try:
            image = load_image(path)
        except ImageError as error:
            unreadable.append((path, error.problem))
            continue
        if min(image.rgb.shape[:2]) < min_side:
            unreadable.append((path, f"smaller than {min_side} px"))
            continue
        readable.append(path)
        hashes.append(file_sha256(path))
    if not readable:
        raise InvalidArgumentError(
            f"expected readable training photos of at least {min_side} px. Received: --photos with "
            f"{len(paths)} file(s), none readable ({unreadable[0][0]}: {unreadable[0][1]})")
    return PhotoSet(tuple(readable), tuple(hashes), tuple(unreadable))


def _decode(path):
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    return tf.cast(image, tf.float32)


def random_crop(image, size, seed):
    """A random square `size` crop covering 1/2 to all of the shorter side, scaled to `size`, flipped."""
    shape = tf.shape(image)
    short = tf.cast(tf.minimum(shape[0], shape[1]), tf.float32)
    fraction = tf.random.stateless_uniform([], seed, 0.5, 1.0)
    side = tf.maximum(tf.cast(short * fraction, tf.int32), tf.minimum(size, tf.cast(short, tf.int32)))
    crop = tf.image.stateless_random_crop(image, [side, side, 3], seed + 1)
    crop = tf.image.resize(crop, [size, size], antialias=True)
    crop = tf.image.stateless_random_flip_left_right(crop, seed + 2)
    return tf.clip_by_value(crop, 0.0, 255.0)


def photo_dataset(paths, size, batch_size, seed=0, decoded_side=None, rows=None):
    """Endless batches `(batch_size, size, size, 3)` float 0-255 of random crops of `paths`.

    Photos are decoded once and kept (shrunk to `decoded_side`, default `4 * size`, longest side),
    so a step costs a crop, not a JPEG decode. `rows=(first, count)` keeps only those rows of each
    batch (a worker's share of a global batch: the crops are those of the whole batch, so the rows of
    all workers together are the one-machine batch), in batches of `count`.
    """
    decoded_side = decoded_side or 4 * size
    images = [_shrink(_decode(path), decoded_side) for path in paths]
    # One flat pixel buffer with each photo's shape and offset: photos of any size in one tensor.
    shapes = tf.constant([image.shape[:2] for image in images], tf.int64)
    sizes = shapes[:, 0] * shapes[:, 1] * 3
    offsets = tf.concat([[0], tf.cumsum(sizes)[:-1]], 0)
    pixels = tf.concat([tf.reshape(image, [-1]) for image in images], 0)
    count = len(images)
    photos_per_batch = tf.constant(batch_size, tf.int64)

    def attempt(index, number):
        seed_pair = tf.stack([tf.cast(seed, tf.int64) + number * 104_729, index])  # attempt 0: the plain stream
        photo = tf.random.stateless_uniform([], seed_pair, 0, count, dtype=tf.int64)
        image = tf.reshape(pixels[offsets[photo]:offsets[photo] + sizes[photo]],
                           tf.concat([shapes[photo], [3]], 0))
        return random_crop(image, size, tf.cast(seed_pair, tf.int32) * 3)

    def crop(index):
        def redraw(number, _):
            return number + 1, attempt(index, number + 1)

        _, image = tf.while_loop(
            lambda number, image: (number < FLAT_CROP_ATTEMPTS - 1) & is_flat(image), redraw,
            (tf.constant(0, tf.int64), attempt(index, tf.constant(0, tf.int64))))
        return tf.ensure_shape(image, [size, size, 3])

    dataset = tf.data.Dataset.counter()
    if rows is not None:
        first, batch_size = rows
        dataset = dataset.filter(lambda index: (index % photos_per_batch >= first)
                                 & (index % photos_per_batch < first + batch_size))
    dataset = dataset.map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def is_flat(image):
    """True for an `(H, W, 3)` 0-255 image of one colour: every channel's deviation under `FLAT_CROP_STD`."""
    return tf.reduce_max(tf.math.reduce_std(image, axis=[0, 1])) < FLAT_CROP_STD


def _shrink(image, side):
    shape = tf.shape(image)
    longest = tf.cast(tf.maximum(shape[0], shape[1]), tf.float32)
    scale = tf.minimum(1.0, side / longest)
    new = tf.cast(tf.round(tf.cast(shape[:2], tf.float32) * scale), tf.int32)
    return tf.image.resize(image, new, antialias=True)


def load_previews(paths, side):
    """Held-out photos as `(1, h, w, 3)` float arrays, longest side `side`."""
    previews = []
    for path in paths:
        rgb = load_image(path).rgb
        scale = side / max(rgb.shape[:2])
        shape = [max(8, int(round(rgb.shape[0] * scale))), max(8, int(round(rgb.shape[1] * scale)))]
        previews.append(tf.image.resize(np.asarray(rgb, np.float32)[None], shape, antialias=True))
    return previews
