"""A trained network on files (`tf_nst.runs.realtime`): `stylize --model` and `batch --model` share one path."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import gradient_image, write_batch_inputs
from tf_nst.cli import app as cli
from tf_nst.engine.feedforward.rendering import FeedForward
from tf_nst.errors import InvalidArgumentError
from tf_nst.io import provenance
from tf_nst.runs.realtime import ModelRun, run_model_batch
from tf_nst.settings import StyleBlend, resolve_blend


def test_blend_is_normalized_and_checked_in_settings():
    assert resolve_blend({"a": 3, "b": 1}, ["a", "b"]) == {"a": 0.75, "b": 0.25}
    assert resolve_blend("1,3", ["a", "b"]) == resolve_blend([1, 3], ["a", "b"]) == {"a": 0.25, "b": 0.75}
    assert resolve_blend(None, ["a", "b"]) == {"a": 1.0}
    blend = resolve_blend("a:3,b:1", ["a", "b"])
    assert isinstance(blend, StyleBlend) and resolve_blend(blend, ["a", "b"]) is blend  # carried, not redone
    with pytest.raises(InvalidArgumentError, match=r"expected styles of the model \(a, b\). Received: c"):
        resolve_blend({"c": 1}, ["a", "b"])
    with pytest.raises(InvalidArgumentError, match=r"expected 2 weights, one per style of the model \(a, b\)"):
        resolve_blend([1, 2, 3], ["a", "b"])
    with pytest.raises(InvalidArgumentError, match="not all zero"):
        resolve_blend({"a": 0}, ["a", "b"])


def test_a_blend_means_its_proportions_through_model(tmp_path):
    """`starry_night:2,the_scream:1` is `starry_night:0.667,the_scream:0.333` and `2,1` (float32, to the rounding
    of 0.667: at most one grey level)."""
    content = tmp_path / "photo.png"
    Image.fromarray(gradient_image(40, 60, seed=2)).save(content)
    outputs = []
    for index, blend in enumerate(["starry_night:2,the_scream:1", "starry_night:0.667,the_scream:0.333", "2,1,0"]):
        output = tmp_path / f"out{index}.png"
        result = CliRunner().invoke(cli.cli, ["stylize", str(content), "--model", "bundled", "--size", "48",
                                              "--style-blend", blend, "--precision", "float32", "-o", str(output)])
        assert result.exit_code == 0, result.output
        outputs.append(np.asarray(Image.open(output)).astype(int))
    assert np.abs(outputs[0] - outputs[1]).max() <= 1
    np.testing.assert_array_equal(outputs[0], outputs[2])


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
    # One photo runs on onnxruntime (float32), the run the CLI builds (`runtime="auto"`).
    run = ModelRun(model_folder, precision="float32", runtime="auto")
    assert stored == json.loads(json.dumps(run.settings_for({"calm": 1, "wild": 3}, 48)))
    assert stored["runtime"] == "onnxruntime"
    np.testing.assert_array_equal(np.asarray(Image.open(output)),
                                  run.stylize(np.asarray(Image.open(content)), 48, {"calm": 1, "wild": 3}))


def test_a_bad_region_mask_is_the_same_error_with_and_without_model(model_folder, tmp_path):
    """A mask of another aspect ratio, or black everywhere, is one `Error:` line, the same under `--model`
    as under the optimization (both build the engine's `Regions`)."""
    content = tmp_path / "photo.png"
    Image.fromarray(gradient_image(40, 60, seed=2)).save(content)
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(tmp_path / "square.png")
    Image.fromarray(np.zeros((40, 60), np.uint8)).save(tmp_path / "black.png")
    style = tmp_path / "style.png"
    Image.fromarray(gradient_image(32, 32, seed=3)).save(style)
    for mask in ("square.png", "black.png"):
        lines = []
        for args in (["--model", model_folder, "--style-blend", "calm:1"], [str(style)]):
            result = CliRunner().invoke(cli.cli, ["stylize", str(content), *args, "--region-mask", str(tmp_path / mask),
                                                  "--size", "48", "-o", str(tmp_path / "out.png")])
            assert result.exit_code != 0 and result.output.count("Error:") == 1, result.output
            lines.append(result.output.strip().splitlines()[-1])
        assert lines[0] == lines[1] and lines[0].startswith("Error: expected masks"), lines
        assert not (tmp_path / "out.png").exists()
