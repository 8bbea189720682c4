"""Texture noise: a fixed, seeded noise field a style network adds to its input, so flat areas have strokes.

A feed-forward network paints where its input has structure: a flat sky gave it nothing to follow, and it
filled such areas with one fine grating (docs/realtime.md, "A learned grating"). Noise at the input is the
old remedy of texture networks (Ulyanov et al. 2016 fed noise to theirs); here it is one fixed field, so a
photo always gives the same image (served = library, video frames without flicker from the noise).

The field is a `NOISE_TILE` × `NOISE_TILE` tile of Gaussian noise from a fixed seed (NumPy's legacy
`RandomState`, whose stream NumPy keeps across versions), blurred by `NOISE_BLUR_SIGMA` px with wrap-around (a
Gaussian in the frequency domain, so the tile repeats without a seam) and scaled to a standard deviation of 1;
an image of any size takes the tile repeated from its top-left corner. A network's `texture_noise` (its config:
grey levels of 0–255, one per style; a blend mixes them by its weights) scales it; 0 turns it off. NumPy only:
the TensorFlow network (`TransformerNet.prepare`) and the onnxruntime path (`tf_nst.engine.feedforward_onnx`)
add the same values.
"""

import functools

import numpy as np

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings.choices import MAX_TEXTURE_NOISE

NOISE_TILE = 256
NOISE_SEED = 0
NOISE_BLUR_SIGMA = 1.5


@functools.lru_cache(maxsize=1)
def noise_tile():
    """The float32 `(NOISE_TILE, NOISE_TILE)` tile: seeded Gaussian noise, blurred with wrap-around, unit standard
    deviation. Read-only (cached)."""
    noise = np.random.RandomState(NOISE_SEED).standard_normal((NOISE_TILE, NOISE_TILE))
    frequencies = np.fft.fftfreq(NOISE_TILE)
    gain = np.exp(-2.0 * (np.pi * NOISE_BLUR_SIGMA) ** 2 * (frequencies[:, None] ** 2 + frequencies[None, :] ** 2))
    blurred = np.real(np.fft.ifft2(np.fft.fft2(noise) * gain))
    tile = (blurred / blurred.std()).astype(np.float32)
    tile.setflags(write=False)
    return tile


def noise_field(height, width, amplitude):
    """Float32 `(height, width)`: the tile repeated from the top-left corner, times `amplitude` (grey levels, a
    float32 scalar)."""
    tile = noise_tile()
    reps = (-(-int(height) // NOISE_TILE), -(-int(width) // NOISE_TILE))
    return np.tile(tile, reps)[:int(height), :int(width)] * np.asarray(amplitude, np.float32)


def noise_amplitudes(value, style_names):
    """A tuple of float amplitudes, one per style of `style_names`, from one number (every style), a list (in
    their order) or `{style name: grey}` (the others 0).

    Raises:
        InvalidArgumentError: a name not in `style_names`, a list of another length, or a value outside 0-128.
    """
    names = list(style_names)
    if isinstance(value, dict):
        unknown = [name for name in value if name not in names]
        if unknown:
            raise InvalidArgumentError(f"expected texture noise for styles among {', '.join(names)}. "
                                       f"Received: {', '.join(map(str, unknown))}")
        value = [value.get(name, 0.0) for name in names]
    elif not isinstance(value, (list, tuple)):
        value = [value] * len(names)
    if len(value) != len(names):
        raise InvalidArgumentError(f"expected one texture noise per style ({len(names)}). Received: {list(value)}")
    amplitudes = tuple(float(amplitude) for amplitude in value)
    if not all(0.0 <= amplitude <= MAX_TEXTURE_NOISE for amplitude in amplitudes):
        raise InvalidArgumentError(f"expected texture noise from 0 to {MAX_TEXTURE_NOISE:g} grey levels. "
                                   f"Received: {list(amplitudes)}")
    return amplitudes
