"""A trained network on files (`tf_nst.runs.realtime`): `stylize --model` and `batch --model` share one path."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import gradient_image, write_batch_inputs
from tf_nst.cli import app as cli
from tf_nst.engine.feedforward import FeedForward
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import provenance
from tf_nst.runs.realtime import ModelRun, normalized_blend, run_model_batch


def test_blend_is_normalized_and_checked():
    assert normalized_blend({"a": 3, "b": 1}, ["a", "b"]) == {"a": 0.75, "b": 0.25}
    with pytest.raises(InvalidArgumentError, match="expected styles of the model"):
        normalized_blend({"c": 1}, ["a", "b"])
    with pytest.raises(InvalidArgumentError, match="positive sum"):
        normalized_blend({"a": 0}, ["a", "b"])


def test_run_equals_the_engine_at_the_size(model_folder):
    """`ModelRun.stylize` fits the photo to the size and runs `FeedForward` on it (T1: the same ops, exact)."""
    run = ModelRun(model_folder, precision="float32")
    photo = gradient_image(60, 90, seed=1)
    out = run.stylize(photo, 48, {"wild": 1.0})
    assert out.shape == (32, 48, 3) and out.dtype == np.uint8
    from tf_nst.engine.pyramid import fit
    from tf_nst.settings import MIN_SIDE

    expected = FeedForward(run.runner.network).stylize(fit(photo, 48, MIN_SIDE), {"wild": 1.0})
    np.testing.assert_array_equal(out, expected)
    assert not np.array_equal(out, run.stylize(photo, 48, {"calm": 1.0}))


def test_batch_with_a_model_writes_each_style_and_resumes(model_folder, tmp_path):
    contents, _ = write_batch_inputs(tmp_path)
    run = ModelRun(model_folder, precision="float32")
    outdir = tmp_path / "out"
    summary = run_model_batch(run, [str(contents)], run.default_styles, outdir, 48)
    by_status = {status: sorted(r.output.split("/")[-1] for r in summary.results if r.status == status)
                 for status in ("ok", "error")}
    assert by_status["ok"] == ["city--calm.png", "city--wild.png", "leaf--calm.png", "leaf--wild.png"]
    assert [name.split("--")[0] for name in by_status["error"]] == ["broken", "broken"]
    written = np.asarray(Image.open(outdir / "city--wild.png").convert("RGB"))
    expected = run.stylize(np.asarray(Image.open(contents / "city.png").convert("RGB")), 48, {"wild": 1.0})
    np.testing.assert_array_equal(written, expected)  # T1: the same ops in one process
    assert Image.open(outdir / "leaf--calm.png").mode == "RGBA"  # the content's alpha travels
    stored = provenance.read_provenance(str(outdir / "city--wild.png"))["settings"]
    assert stored["style_blend"] == {"wild": 1.0} and stored["precision"] == "float32"
    again = run_model_batch(run, [str(contents)], run.default_styles, outdir, 48)
    assert sorted(r.status for r in again.results) == ["error"] * 2 + ["skipped"] * 4
    other_size = run_model_batch(run, [str(contents / "city.png")], ["calm"], outdir, 40)
    assert [r.status for r in other_size.results] == ["ok"]  # another size is another output
    lines = (outdir / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 13 and json.loads(lines[-1])["status"] == "ok"


def test_cli_batch_with_a_model(model_folder, tmp_path):
    contents, styles = write_batch_inputs(tmp_path)
    runner = CliRunner()
    outdir = tmp_path / "out"
    result = runner.invoke(cli.cli, ["batch", str(contents / "city.png"), "--model", model_folder, "--size", "48",
                                     "-o", str(outdir), "--precision", "float32", "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in outdir.glob("*.png")) == ["city--calm.png", "city--wild.png"]
    assert "2 pairs: 2 ok" in result.output
    with_style = runner.invoke(cli.cli, ["batch", str(contents), "--model", model_folder, "-s", str(styles),
                                         "-o", str(outdir)])
    assert with_style.exit_code == 2 and "expected CONTENT... alone with --model" in with_style.output
    blend = runner.invoke(cli.cli, ["batch", str(contents), "--model", model_folder, "--style-blend", "1,1",
                                    "-o", str(outdir)])
    assert blend.exit_code == 2 and "expected no blend" in blend.output
    failing = runner.invoke(cli.cli, ["batch", str(contents), "--model", model_folder, "--size", "48", "-o",
                                      str(tmp_path / "out2"), "--quiet"])
    assert failing.exit_code == 1 and "broken.jpg x calm" in failing.output


def test_stylize_with_a_model_records_the_run(model_folder, tmp_path):
    content = tmp_path / "photo.png"
    Image.fromarray(gradient_image(40, 60, seed=2)).save(content)
    output = tmp_path / "fast.png"
    result = CliRunner().invoke(cli.cli, ["stylize", str(content), "--model", model_folder, "--size", "48",
                                          "--style-blend", "calm:1,wild:3", "--precision", "float32", "-o",
                                          str(output)])
    assert result.exit_code == 0, result.output
    stored = provenance.read_provenance(str(output))["settings"]
    assert stored["style_blend"] == {"calm": 0.25, "wild": 0.75}
    run = ModelRun(model_folder, precision="float32")
    assert stored == json.loads(json.dumps(run.settings_for({"calm": 1, "wild": 3}, 48)))
    np.testing.assert_array_equal(np.asarray(Image.open(output)),
                                  run.stylize(np.asarray(Image.open(content)), 48, {"calm": 1, "wild": 3}))
