"""The Apache Beam pipeline on the DirectRunner: same pixels as the library batch, failures in the manifest."""

import os

import numpy as np
import pytest
from conftest import write_batch_inputs
from PIL import Image

pytest.importorskip("apache_beam", reason="apache_beam not installed (pip install -r requirements-beam.txt)")

from tf_nst.runs import batch  # noqa: E402
from tf_nst.runs.records import read_manifest  # noqa: E402
from tf_nst.serving import export  # noqa: E402
from tf_nst.runs import beam as nst_beam  # noqa: E402
from tf_nst.errors import InvalidArgumentError, ServingError  # noqa: E402
from tf_nst.io.provenance import read_provenance  # noqa: E402
from tf_nst.engine.stylizer import Stylizer  # noqa: E402

SIZE = 48
STEPS = 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Inputs (two contents, one corrupt, two styles), a one-scale vgg16-hed Stylizer, its export."""
    root = tmp_path_factory.mktemp("beam")
    contents, styles = write_batch_inputs(root)
    stylizer = Stylizer(backbone="vgg16-hed", size=SIZE, num_steps=STEPS, scales=1, seed=7)
    model = export.export_model(stylizer, str(root / "models" / "tf_nst"), max_steps=10, max_pixels=96 * 96)
    library = batch.run_batch(stylizer, batch.make_pairs([contents], [styles]), root / "library")
    # A mask at the prepared content's size (34x48): the library and the export see the same values.
    mask = np.zeros((34, 48), np.uint8)
    mask[:, 24:] = 255
    Image.fromarray(mask).save(root / "right.png")
    masked = batch.run_batch(stylizer, [batch.Pair(str(contents / "city.png"), str(styles / "waves.png"),
                                                   str(root / "right.png"))], root / "library-masked")
    assert masked.ok == 1
    return root, contents, styles, os.path.dirname(model), library


def test_direct_runner_equals_library_batch(setup):
    root, contents, styles, model, library = setup
    assert (library.ok, library.errors) == (4, 2)
    outdir = root / "beam"
    summary = nst_beam.run([str(contents)], [str(styles)], str(outdir), model)
    assert (summary.ok, summary.skipped, summary.errors, summary.total) == (4, 0, 2, 6)
    assert not summary.all_ok
    names = sorted(name for name in os.listdir(outdir) if name.endswith(".png"))
    assert names == sorted(os.path.basename(result.output) for result in library.results if result.status == "ok")
    for name in names:
        served = np.asarray(Image.open(outdir / name))
        expected = np.asarray(Image.open(root / "library" / name))
        assert served.shape == expected.shape
        np.testing.assert_array_equal(served, expected)  # RGB and the content's alpha
    assert np.asarray(Image.open(outdir / "leaf--dots.png")).shape[2] == 4
    records = read_manifest(outdir / batch.MANIFEST_NAME)
    assert len(records) == 6 and len({record["run"] for record in records}) == 1
    failed = sorted((record["content"], record["style"], record["error"]) for record in records
                    if record["status"] == "error")
    broken = str(contents / "broken.jpg")
    assert failed == [(broken, str(styles / "dots.jpg"), f"{broken}: cannot decode image (starts like a JPEG "
                       "file but is corrupt)"), (broken, str(styles / "waves.png"), failed[1][2])]
    done = [record for record in records if record["status"] == "ok"]
    assert all(record["steps"] == STEPS and record["loss"] > 0 for record in done)
    # The provenance is what the library batch records for the same settings.
    stored, reference = read_provenance(outdir / "city--waves.png"), read_provenance(root / "library" / "city--waves.png")
    assert stored["settings"] == reference["settings"]
    assert stored["inputs_sha256"] == reference["inputs_sha256"]

    # A rerun does no work.
    mtimes = {name: os.stat(outdir / name).st_mtime_ns for name in names}
    again = nst_beam.run([str(contents)], [str(styles)], str(outdir), model)
    assert (again.ok, again.skipped, again.errors) == (0, 4, 2)
    assert {name: os.stat(outdir / name).st_mtime_ns for name in names} == mtimes


def test_request_over_the_export_cap_is_a_manifest_error(setup, tmp_path):
    root, contents, styles, model, _ = setup
    pairs = [batch.Pair(str(contents / "city.png"), str(styles / "waves.png"))]
    summary = nst_beam.run(pairs=pairs, outdir=str(tmp_path), saved_model=model, size=128,
                           controls={"steps": 1})
    assert summary.errors == 1
    assert "expected content of at most 9216 pixels (export cap)" in summary.results[0].error
    assert not os.path.exists(tmp_path / "city--waves.png")


def test_pairs_with_masks_equal_the_library_and_a_black_mask_is_a_manifest_error(setup, tmp_path):
    root, contents, styles, model, _ = setup
    Image.fromarray(np.zeros((40, 56), np.uint8)).save(root / "black.png")
    pairs = [batch.Pair(str(contents / "city.png"), str(styles / "waves.png"), str(root / name))
             for name in ("right.png", "black.png")]
    summary = nst_beam.run(pairs=pairs, outdir=str(tmp_path), saved_model=model)
    assert [(result.status, result.mask) for result in summary.results] == [("ok", pairs[0].mask),
                                                                          ("error", pairs[1].mask)]
    assert summary.results[1].error == "expected masks with a region somewhere (white or grey). Received: every mask black"
    reference = root / "library-masked" / "city--waves--right.png"
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "city--waves--right.png")),
                                  np.asarray(Image.open(reference)))
    stored, expected = read_provenance(tmp_path / "city--waves--right.png"), read_provenance(reference)
    assert (stored["inputs_sha256"], stored["masks"]) == (expected["inputs_sha256"], expected["masks"])
    assert not np.array_equal(np.asarray(Image.open(reference)), np.asarray(Image.open(root / "library" / "city--waves.png")))


def test_inputs_and_arguments_are_checked_before_running(setup, tmp_path):
    root, contents, styles, model, _ = setup
    assert nst_beam.match_inputs([str(contents)]) == [str(contents / name) for name in
                                                      ("broken.jpg", "city.png", "leaf.png")]
    assert nst_beam.match_inputs([str(styles / "*.jpg"), str(styles / "dots.jpg")]) == [str(styles / "dots.jpg")]
    with pytest.raises(InvalidArgumentError, match="expected an existing file, folder or glob"):
        nst_beam.match_inputs([str(tmp_path / "nothing")], "style")
    clash = [batch.Pair(str(contents / "city.png"), str(styles / "dots.jpg")),
             batch.Pair(str(contents / "city.png"), str(root / "dots.png"))]
    with pytest.raises(InvalidArgumentError, match="expected one pair per output name"):
        nst_beam.run(pairs=clash, outdir=str(tmp_path), saved_model=model)
    with pytest.raises(InvalidArgumentError, match="expected controls among"):
        nst_beam.run(pairs=clash[:1], outdir=str(tmp_path), saved_model=model, controls={"stpes": 3})
    with pytest.raises(ServingError, match="expected a SavedModel folder"):
        nst_beam.run(pairs=clash[:1], outdir=str(tmp_path), saved_model=str(tmp_path))
    options = nst_beam.pipeline_options_from("DirectRunner", ["direct_num_workers=2", "--direct_running_mode=multi_threading"])
    assert options.get_all_options()["direct_num_workers"] == 2
    assert options.get_all_options()["direct_running_mode"] == "multi_threading"


def test_cli_batch_on_the_direct_runner_equals_cli_batch(setup, tmp_path):
    """`cli.py batch --saved-model M --runner DirectRunner` gives `cli.py batch`'s pixels."""
    from click.testing import CliRunner

    from tf_nst.cli import app as cli

    root, contents, styles, model, _ = setup
    good = [str(contents / "city.png"), str(contents / "leaf.png")]
    common = ["-s", str(styles / "waves.png"), "--size", str(SIZE), "--steps", str(STEPS), "--seed", "7",
              "--quiet"]
    local = CliRunner().invoke(cli.cli, ["batch", *good, *common, "-o", str(tmp_path / "local"),
                                         "--backbone", "vgg16-hed", "--scales", "1", "--precision", "float32"])
    assert local.exit_code == 0, local.output
    served = CliRunner().invoke(cli.cli, ["batch", *good, *common, "-o", str(tmp_path / "beam"),
                                          "--saved-model", model, "--runner", "DirectRunner"])
    assert served.exit_code == 0, served.output
    for name in ("city--waves.png", "leaf--waves.png"):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "beam" / name)),
                                      np.asarray(Image.open(tmp_path / "local" / name)))
