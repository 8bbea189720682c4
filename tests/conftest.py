"""Tiny fixtures: small images, random-weight and vgg16-hed stylizers."""

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


@pytest.fixture(autouse=True)
def isolated_machine(tmp_path_factory, monkeypatch):
    """An empty Keras cache of the test's own and no network beyond loopback.

    A test that needs the ImageNet weights provides the file (see `keras_cache_with_random_vgg19`).
    """
    keras_home = tmp_path_factory.mktemp("keras_home")
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
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


@pytest.fixture(scope="module")
def clip():
    """A generated 96 px, 8-frame clip with known motion (tests/video_clips.py)."""
    from video_clips import make_clip

    return make_clip(size=96, num_frames=8)


@pytest.fixture(scope="module")
def small_clip():
    from video_clips import make_clip

    return make_clip(size=48, num_frames=8)
