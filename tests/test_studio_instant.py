"""The studio's Instant preview: the bundled model on the bundled paintings (no Gradio needed)."""

import os

import numpy as np
import pytest

from conftest import ASSETS, CONTENT_PATH
from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import StylizeSettings
from tf_nst.studio.instant import bundled_instant


def test_instant_blends_the_bundled_paintings_at_the_form_size():
    settings = StylizeSettings(size=96)
    painting = [os.path.join(ASSETS, "starry_night.jpg")]
    alone = bundled_instant(CONTENT_PATH, painting, settings)
    blend = bundled_instant(CONTENT_PATH, painting + [os.path.join(ASSETS, "the_scream.jpg")], settings)
    assert alone.shape == (96, 96, 3) and alone.dtype == np.uint8
    assert np.abs(alone.astype(int) - blend.astype(int)).mean() > 1  # the second style changes it


def test_instant_refuses_a_style_the_model_does_not_hold(tmp_path):
    with pytest.raises(InvalidArgumentError, match="expected bundled paintings for Instant"):
        bundled_instant(CONTENT_PATH, [str(tmp_path / "my_upload.png")], StylizeSettings(size=64))
