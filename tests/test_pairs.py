"""One pair on an export, engine-free: the local batch's pixels, skip if done, every failure a record."""

import os

import numpy as np
import pytest
from conftest import gradient_image
from PIL import Image

from tf_nst.engine.stylizer import Stylizer
from tf_nst.errors import InvalidArgumentError, ServingError
from tf_nst.io.provenance import read_provenance
from tf_nst.runs import batch, pairs
from tf_nst.serving import export
from tf_nst.serving.client import load_saved_model

SIZE = 48
STEPS = 2


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    Image.fromarray(gradient_image(40, 56, seed=1)).save(root / "city.png")
    Image.fromarray(gradient_image(36, 36, seed=3)).save(root / "waves.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 30)
    stylizer = Stylizer(backbone="vgg16-hed", size=SIZE, num_steps=STEPS, scales=1, seed=7, precision="float32")
    version = export.export_model(stylizer, str(root / "models" / "tf_nst"), max_steps=10, max_pixels=64 * 64)
    good = batch.Pair(str(root / "city.png"), str(root / "waves.png"))
    library = batch.run_batch(stylizer, [good], root / "library")
    assert library.ok == 1
    return root, good, os.path.dirname(version), load_saved_model(version)


def test_run_pair_equals_the_local_batch_and_skips_when_done(setup, tmp_path):
    root, good, model_base, model = setup
    plan = pairs.PairPlan.from_export(model_base)
    assert (plan.size, plan.saved_model) == (SIZE, os.path.join(model_base, "1"))
    output = str(tmp_path / "city--waves.png")
    loads = []

    def get_model():
        loads.append(1)
        return model

    result = pairs.run_pair(plan, good, output, get_model)
    assert (result.status, result.steps, result.error) == ("ok", STEPS, None) and result.loss > 0
    np.testing.assert_array_equal(np.asarray(Image.open(output)),
                                  np.asarray(Image.open(root / "library" / "city--waves.png")))
    stored, reference = read_provenance(output), read_provenance(root / "library" / "city--waves.png")
    assert (stored["settings"], stored["inputs_sha256"]) == (reference["settings"], reference["inputs_sha256"])
    again = pairs.run_pair(plan, good, output, get_model)
    assert again.status == "skipped" and len(loads) == 1  # a done pair needs no model
    other = pairs.PairPlan.from_export(model_base, controls={"steps": 1})
    assert pairs.run_pair(other, good, output, get_model).status == "ok"  # other settings: redone


def test_failures_are_records(setup, tmp_path):
    root, good, model_base, model = setup
    plan = pairs.PairPlan.from_export(model_base)
    broken = batch.Pair(str(root / "broken.jpg"), good.style)
    result = pairs.run_pair(plan, broken, str(tmp_path / "broken--waves.png"), lambda: model)
    assert (result.status, result.error) == (
        "error", f"{broken.content}: cannot decode image (starts like a JPEG file but is corrupt)")
    missing = batch.Pair(str(root / "nothing.png"), good.style)
    result = pairs.run_pair(plan, missing, str(tmp_path / "nothing--waves.png"), lambda: model)
    assert result.status == "error" and result.error.startswith("cannot read input (")
    big = pairs.PairPlan.from_export(model_base, size=96)
    result = pairs.run_pair(big, good, str(tmp_path / "big.png"), lambda: model)
    assert result.status == "error" and "expected content of at most 4096 pixels (export cap)" in result.error

    def unloadable():
        raise ServingError("expected a tf-nst export. Received: nothing")

    result = pairs.run_pair(plan, good, str(tmp_path / "x.png"), unloadable)
    assert (result.status, result.error) == ("error", "expected a tf-nst export. Received: nothing")
    result = pairs.run_pair(plan, good, str(tmp_path / "no-such-folder" / "x.png"), lambda: model)
    assert result.status == "error" and result.error.startswith("cannot write output (")
    assert not os.listdir(tmp_path)


def test_plan_checks_the_export_and_the_request(setup, tmp_path):
    _, _, model_base, _ = setup
    with pytest.raises(InvalidArgumentError, match="expected controls among"):
        pairs.PairPlan.from_export(model_base, controls={"stpes": 3})
    with pytest.raises(InvalidArgumentError, match="expected size >= "):
        pairs.PairPlan.from_export(model_base, size=4)
    with pytest.raises(ServingError, match="expected a SavedModel folder"):
        pairs.PairPlan.from_export(tmp_path)


def test_a_pair_with_a_mask_equals_the_export_called_with_that_mask(setup, tmp_path):
    from tf_nst.serving.client import prepare_image

    root, good, model_base, model = setup
    plan = pairs.PairPlan.from_export(model_base)
    content = prepare_image(np.asarray(Image.open(good.content)), plan.size, plan.min_side)
    mask = np.zeros(content.shape[:2], np.uint8)
    mask[:, : content.shape[1] // 2] = 255  # at the prepared content's size: sent as is
    Image.fromarray(mask).save(root / "left.png")
    masked = batch.Pair(good.content, good.style, str(root / "left.png"))
    output = str(tmp_path / batch.output_name(masked))
    result = pairs.run_pair(plan, masked, output, lambda: model)
    assert (result.status, result.mask, os.path.basename(output)) == ("ok", masked.mask, "city--waves--left.png")
    style = prepare_image(np.asarray(Image.open(good.style)), plan.style_size, plan.min_side)
    expected = model.stylize(content, style, mask=mask)
    np.testing.assert_array_equal(np.asarray(Image.open(output).convert("RGB")), expected.image)
    assert not np.array_equal(expected.image, model.stylize(content, style).image)
    stored = read_provenance(output)
    assert stored["masks"] == {"region_masks": [masked.mask]} and masked.mask in stored["inputs_sha256"]
    assert pairs.run_pair(plan, masked, output, lambda: model).status == "skipped"
    Image.fromarray(255 - mask).save(root / "left.png")  # changed mask bytes: redone
    assert pairs.run_pair(plan, masked, output, lambda: model).status == "ok"


def test_a_bad_mask_is_an_error_record(setup, tmp_path):
    root, good, model_base, model = setup
    plan = pairs.PairPlan.from_export(model_base)
    Image.fromarray(np.zeros((40, 56), np.uint8)).save(root / "black.png")
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(root / "square.png")
    (root / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    errors = {}
    for name in ("black.png", "square.png", "torn.png", "missing.png"):
        pair = batch.Pair(good.content, good.style, str(root / name))
        result = pairs.run_pair(plan, pair, str(tmp_path / batch.output_name(pair)), lambda: model)
        assert result.status == "error" and result.mask == pair.mask
        errors[name] = result.error
    assert errors["black.png"] == "expected masks with a region somewhere (white or grey). Received: every mask black"
    assert errors["square.png"].startswith("expected masks[0] with the aspect ratio of its image (56x40")
    assert errors["torn.png"].startswith(str(root / "torn.png") + ": cannot decode image")
    assert errors["missing.png"].startswith("cannot read input (")
    assert not os.listdir(tmp_path)


def test_a_white_mask_is_the_unmasked_request():
    """One mask white everywhere runs the unmasked ops, in the library and so on the request path."""
    mask, notes = pairs.prepare_mask(np.full((80, 112), 255, np.uint8), (40, 56, 3), (48, 67, 3))
    assert mask is None and notes[-1].startswith("masks[0] is white everywhere")
    mask, _ = pairs.prepare_mask(np.full((80, 112), 128, np.uint8), (40, 56, 3), (48, 67, 3))
    assert mask.shape == (48, 67) and mask.dtype == np.uint8 and set(np.unique(mask)) == {128}
