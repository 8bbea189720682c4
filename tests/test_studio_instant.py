"""The studio's Instant preview: the arbitrary network on any painting, and what Refine records (no Gradio)."""


import numpy as np
import pytest
from PIL import Image

from conftest import CONTENT_PATH, STYLE_PATH, gradient_image
from tf_nst.errors import ImageError
from tf_nst.settings import StylizeSettings
from tf_nst.studio.instant import INSTANT_INIT, arbitrary_instant


@pytest.fixture
def painting(tmp_path):
    """A painting that is no bundled one: an upload."""
    path = tmp_path / "my_upload.png"
    Image.fromarray(gradient_image(48, 64, seed=9)).save(path)
    return str(path)


def test_instant_takes_any_painting_and_is_what_init_model_arbitrary_computes(painting, tmp_path):
    """An uploaded painting, two styles blended, a painted region each: the image `--init model:arbitrary`
    starts `stylize --from` with, pixel for pixel."""
    from tf_nst.cli.realtime import model_start
    from tf_nst.engine.masks import Regions
    from tf_nst.io.images import load_image

    left, right = np.zeros((512, 512), np.uint8), np.zeros((512, 512), np.uint8)
    left[:, :256], right[:, 256:] = 255, 255
    masks = [str(tmp_path / "left.png"), str(tmp_path / "right.png")]
    Image.fromarray(left).save(masks[0])
    Image.fromarray(right).save(masks[1])
    settings = StylizeSettings(size=64, precision="float32", style_blend=[1.0, 3.0])
    image = arbitrary_instant(CONTENT_PATH, [painting, STYLE_PATH], settings, masks)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    content, styles = load_image(CONTENT_PATH), [load_image(painting), load_image(STYLE_PATH)]
    regions = Regions.build([load_image(path) for path in masks], None, content.rgb.shape,
                            [style.rgb.shape for style in styles])
    expected = model_start(INSTANT_INIT.split(":")[1], content.rgb, settings, styles, regions).rgb
    assert np.array_equal(image, expected)
    alone = arbitrary_instant(CONTENT_PATH, [painting], StylizeSettings(size=64, precision="float32"))
    assert np.abs(alone.astype(int) - image.astype(int)).mean() > 1  # the second painting changes it


def test_instant_refuses_a_file_that_is_not_an_image(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match="not a recognised image file"):
        arbitrary_instant(CONTENT_PATH, [str(tmp_path / "notes.png")], StylizeSettings(size=64))


def test_refine_after_instant_records_its_start(tmp_path, monkeypatch):
    """Refine starts from the Instant image and records `init: model:arbitrary` and the image's hash; inputs
    changed since Instant make the Instant image again for them."""
    from tf_nst.io.provenance import init_record
    from tf_nst.studio import actions
    from tf_nst.studio.runner import Job

    made = []

    def instant(content, styles, settings, mask_paths):
        made.append(settings.size)
        return np.full((8, 8, 3), settings.size % 256, np.uint8)

    state = actions.new_state("session")
    job = Job(settings=StylizeSettings(size=64), content=CONTENT_PATH, styles=[STYLE_PATH], mask_paths=None,
              output=str(tmp_path / "out.png"))
    assert actions.refine_start(state, job, instant).init is None  # no Instant pressed: the form's start
    actions.show_instant(state, job, instant)
    refined = actions.refine_start(state, job, instant)
    assert refined.init_kind == INSTANT_INIT and made == [64] and refined.init[0, 0, 0] == 64
    bigger = Job(settings=StylizeSettings(size=96), content=CONTENT_PATH, styles=[STYLE_PATH], mask_paths=None,
                 output=str(tmp_path / "out.png"))
    assert actions.refine_start(state, bigger, instant).init[0, 0, 0] == 96 and made == [64, 96]
    assert init_record(INSTANT_INIT, refined.init) != init_record(INSTANT_INIT, bigger.init)
