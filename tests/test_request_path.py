"""The one request path to an export: a masked request gives the same pixels on every front end,
and "already made?" is decided alike (by input bytes, not paths) on every engine."""

import csv
import os
import shutil
import signal

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import gradient_image
from PIL import Image
from spark_cluster import java_missing_reason

from tf_nst.cli import app as cli
from tf_nst.engine.stylizer import Stylizer
from tf_nst.io.images import load_image
from tf_nst.io.provenance import read_provenance
from tf_nst.runs import batch, pairs
from tf_nst.serving import export
from tf_nst.serving.client import load_saved_model, prepare_image

SIZE = 48
STEPS = 2
STYLE_SCALE = 0.75  # not 1: every front end must size the style as the export says (36 px, not 48)


def soft_mask(height, width):
    """Left half white, right half black, a soft ramp between (a quarter of the width)."""
    ramp = np.clip((width * 5 / 8 - np.arange(width)) / (width / 4), 0.0, 1.0)
    return np.round(255 * np.repeat(ramp[None], height, 0)).astype(np.uint8)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A content, a style and a soft mask at twice the content's size; a one-scale vgg16-hed export."""
    root = tmp_path_factory.mktemp("request-path")
    inputs = root / "inputs"
    inputs.mkdir()
    Image.fromarray(gradient_image(40, 56, seed=1)).save(inputs / "city.png")
    Image.fromarray(gradient_image(36, 36, seed=3)).save(inputs / "waves.png")
    Image.fromarray(soft_mask(80, 112), "L").save(inputs / "left.png")
    stylizer = Stylizer(backbone="vgg16-hed", size=SIZE, num_steps=STEPS, scales=1, seed=7, precision="float32",
                        style_scale=STYLE_SCALE)
    version = export.export_model(stylizer, str(root / "models" / "tf_nst"), max_steps=10, max_pixels=64 * 64)
    pair = batch.Pair(str(inputs / "city.png"), str(inputs / "waves.png"), str(inputs / "left.png"))
    return root, pair, os.path.dirname(version)


def python_api(model_base, pair):
    """The masked request through the Python API on the export (no front end)."""
    plan = pairs.PairPlan.from_export(model_base)
    content = load_image(pair.content).rgb
    prepared = prepare_image(content, plan.size, plan.min_side)
    mask, _ = pairs.prepare_mask(load_image(pair.mask), content.shape, prepared.shape)
    assert mask.shape == prepared.shape[:2] and 0 < np.mean((mask > 0) & (mask < 255))  # soft, resized
    assert plan.style_size == round(STYLE_SCALE * SIZE)
    style = prepare_image(load_image(pair.style).rgb, plan.style_size, plan.min_side)
    return load_saved_model(plan.saved_model).stylize(prepared, style, mask=mask).image


def write_pairs_csv(path, pair):
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["content", "style", "mask"])
        writer.writerow([pair.content, pair.style, pair.mask])
    return str(path)


def run_cli(arguments):
    handler = signal.getsignal(signal.SIGINT)  # PySpark installs its own while a session lives
    try:
        result = CliRunner().invoke(cli.cli, arguments)
    finally:
        signal.signal(signal.SIGINT, handler)
    assert result.exit_code == 0, result.output
    return result


def test_a_masked_request_gives_the_same_pixels_on_every_front_end(setup, tmp_path):
    root, pair, model_base = setup
    expected = python_api(model_base, pair)
    single = tmp_path / "single.png"
    run_cli(["stylize", "--saved-model", model_base, pair.content, pair.style, "--style-mask", pair.mask,
             "-o", str(single), "--quiet"])
    outputs = {"stylize --saved-model": single}
    csv_path = write_pairs_csv(tmp_path / "pairs.csv", pair)
    engines = {"beam": []}
    if java_missing_reason() is None:
        engines["spark"] = ["--engine", "spark", "--master", "local[1]", "--conf",
                            "spark.ui.showConsoleProgress=false", "--conf", "spark.driver.host=127.0.0.1"]
    for engine, options in engines.items():
        run_cli(["batch", "--pairs", csv_path, "-o", str(tmp_path / engine), "--saved-model", model_base,
                 "--quiet", *options])
        outputs[f"batch ({engine})"] = tmp_path / engine / batch.output_name(pair)
    for front_end, path in outputs.items():
        np.testing.assert_array_equal(load_image(path).rgb, expected, err_msg=front_end)
    stored = [read_provenance(path) for path in outputs.values()]
    assert all(entry["settings"] == stored[0]["settings"] for entry in stored)  # a one-scale Stylizer's
    assert all(sorted(entry["inputs_sha256"].values()) == sorted(stored[0]["inputs_sha256"].values())
               for entry in stored)
    assert all(entry["masks"] == {"region_masks": [pair.mask]} for entry in stored)


def test_a_renamed_input_is_skipped_alike_on_every_engine(setup, tmp_path):
    root, pair, model_base = setup
    outdir = tmp_path / "out"
    first = batch.read_pairs_csv(write_pairs_csv(tmp_path / "pairs.csv", pair))
    run_cli(["batch", "--pairs", str(tmp_path / "pairs.csv"), "-o", str(outdir), "--saved-model", model_base,
             "--quiet"])
    moved = tmp_path / "moved"
    shutil.copytree(os.path.dirname(pair.content), moved)  # the same bytes under other paths
    renamed = batch.Pair(*(str(moved / os.path.basename(path)) for path in (pair.content, pair.style, pair.mask)))
    output = str(outdir / batch.output_name(renamed))
    assert output == str(outdir / batch.output_name(first[0]))
    # The Spark task's path (and the local driver's): the one request path.
    plan = pairs.PairPlan.from_export(model_base)
    assert pairs.run_pair(plan, renamed, output, lambda: pytest.fail("a done pair loads no model")).status == "skipped"
    # Beam (DirectRunner).
    from tf_nst.runs import beam as nst_beam

    summary = nst_beam.run(pairs=[renamed], outdir=str(outdir), saved_model=model_base)
    assert [result.status for result in summary.results] == ["skipped"]
    # The local library batch stores the same settings, so it skips the renamed pair too.
    stylizer = Stylizer(backbone="vgg16-hed", size=SIZE, num_steps=STEPS, scales=1, seed=7, precision="float32",
                        style_scale=STYLE_SCALE)
    assert batch.run_batch(stylizer, [renamed], outdir).results[0].status == "skipped"
