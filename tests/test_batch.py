"""Batches on one machine: naming, failures recorded, reruns that do no work, interrupt and resume."""

import os

import numpy as np
import pytest
from conftest import gradient_image
from PIL import Image

from tf_nst.runs import batch
from tf_nst.runs.records import read_manifest
from tf_nst.errors import InvalidArgumentError
from tf_nst.io.provenance import read_provenance
from tf_nst.engine.stylizer import Stylizer

MANIFEST_FIELDS = {"content", "style", "output", "status", "seconds", "loss", "error", "steps", "notes", "run",
                   "time"}


@pytest.fixture(scope="module")
def stylizer():
    return Stylizer(backbone="vgg16-hed", size=32, num_steps=3, scales=1, seed=3)


def write_image(path, seed, height=40, width=48):
    Image.fromarray(gradient_image(height, width, seed=seed)).save(path)
    return str(path)


@pytest.fixture
def folders(tmp_path):
    """contents/: five images (PNG, JPEG, WebP, BMP, TIFF) and one corrupt PNG; styles/: two."""
    contents, styles = tmp_path / "contents", tmp_path / "styles"
    contents.mkdir()
    styles.mkdir()
    for seed, extension in enumerate(("png", "jpg", "webp", "bmp", "tiff")):
        write_image(contents / f"photo{seed}.{extension}", seed)
    (contents / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (contents / "notes.txt").write_text("not an image, not picked up from a folder")
    write_image(styles / "waves.png", 10, 36, 36)
    write_image(styles / "dots.jpg", 11, 40, 32)
    return contents, styles


def pngs(outdir):
    return sorted(name for name in os.listdir(outdir) if name.endswith(".png"))


def pixels(path):
    return np.asarray(Image.open(path))


def test_folder_with_a_corrupt_file(stylizer, folders, tmp_path):
    contents, styles = folders
    outdir = tmp_path / "out"
    pairs = batch.make_pairs([contents], [styles / "waves.png"])
    assert len(pairs) == 6
    summary = batch.run_batch(stylizer, pairs, outdir)
    assert (summary.ok, summary.skipped, summary.errors, summary.total) == (5, 0, 1, 6)
    assert not summary.all_ok and not summary.interrupted
    assert summary.summary_line().startswith("6 pairs: 5 ok, 0 skipped, 1 error in ")
    assert pngs(outdir) == [f"photo{seed}--waves.png" for seed in range(5)]
    records = read_manifest(outdir / batch.MANIFEST_NAME)
    assert len(records) == 6
    for record in records:
        assert set(record) == MANIFEST_FIELDS
        assert record["status"] in batch.STATUSES
    failed = [record for record in records if record["status"] == "error"]
    assert len(failed) == 1 and failed[0]["content"] == str(contents / "broken.png")
    assert failed[0]["error"] == f"{contents / 'broken.png'}: cannot decode image (starts like a PNG file but is corrupt)"
    assert failed[0]["loss"] is None and not (outdir / "broken--waves.png").exists()
    done = [record for record in records if record["status"] == "ok"]
    assert all(record["loss"] > 0 and record["steps"] == 3 and record["seconds"] > 0 for record in done)
    stored = read_provenance(outdir / "photo0--waves.png")
    assert stored["inputs"][0] == str(contents / "photo0.png")
    assert stored["inputs"][1:] == [str(styles / "waves.png")]
    assert stored["settings"]["seed"] == 3 and set(stored["inputs_sha256"]) == {
        str(contents / "photo0.png"), str(styles / "waves.png")}

    # A rerun does no work: every done pair is skipped, no file is rewritten.
    mtimes = {name: os.stat(outdir / name).st_mtime_ns for name in pngs(outdir)}
    seen = []
    again = batch.run_batch(stylizer, pairs, outdir, callback=seen.append)
    assert (again.ok, again.skipped, again.errors) == (0, 5, 1)
    assert [event.result.status for event in seen] == ["error"] + ["skipped"] * 5  # broken.png sorts first
    assert [(event.done, event.total, event.unit) for event in seen] == [(n, 6, "pair") for n in range(1, 7)]
    assert seen[-1].counts == {"ok": 0, "skipped": 5, "error": 1, "interrupted": 0}
    assert {name: os.stat(outdir / name).st_mtime_ns for name in pngs(outdir)} == mtimes
    assert len(read_manifest(outdir / batch.MANIFEST_NAME)) == 12  # one line per pair per run


def test_two_styles_three_contents(stylizer, folders, tmp_path):
    contents, styles = folders
    chosen = [contents / "photo0.png", contents / "photo1.jpg", contents / "photo2.webp"]
    pairs = batch.make_pairs(chosen, [str(styles / "*")])
    summary = batch.run_batch(stylizer, pairs, tmp_path / "out")
    assert summary.all_ok and summary.ok == 6
    assert pngs(tmp_path / "out") == sorted(
        f"photo{index}--{style}.png" for index in range(3) for style in ("dots", "waves"))
    assert [result.output for result in summary.results] == [
        str(tmp_path / "out" / f"photo{index}--{style}.png") for index in range(3) for style in ("dots", "waves")]


def test_interrupted_and_resumed_equals_uninterrupted(stylizer, folders, tmp_path):
    contents, styles = folders
    pairs = batch.make_pairs([contents / f"photo{seed}.png" if seed == 0 else contents / "photo1.jpg"
                              for seed in range(2)], [styles])
    assert len(pairs) == 4
    reference = batch.run_batch(stylizer, pairs, tmp_path / "reference")
    assert reference.all_ok

    outdir = tmp_path / "resumed"
    # Stopped between pairs after two were done.
    first = []
    stopped = batch.run_batch(stylizer, pairs, outdir, callback=first.append,
                              should_stop=lambda: len(first) >= 2)
    assert stopped.interrupted and not stopped.all_ok and (stopped.ok, stopped.not_done) == (2, 2)
    assert "2 not done (interrupted)" in stopped.summary_line()
    assert len(pngs(outdir)) == 2
    # Stopped inside the third pair's optimization: that pair is dropped, nothing partial written.
    # should_stop is asked before each pair (three times up to the third), then between its chunks.
    calls = []
    dropped = batch.run_batch(stylizer, pairs, outdir,
                              should_stop=lambda: calls.append(1) or len(calls) > 3)
    assert [result.status for result in dropped.results] == ["skipped", "skipped", "interrupted"]
    assert len(pngs(outdir)) == 2 and not any(name.startswith(".tmp") for name in os.listdir(outdir))
    resumed = batch.run_batch(stylizer, pairs, outdir)
    assert (resumed.skipped, resumed.ok) == (2, 2) and resumed.all_ok
    assert pngs(outdir) == pngs(tmp_path / "reference")
    for name in pngs(outdir):
        np.testing.assert_array_equal(pixels(outdir / name), pixels(tmp_path / "reference" / name))
    statuses = [record["status"] for record in read_manifest(outdir / batch.MANIFEST_NAME)]
    assert statuses == ["ok", "ok", "skipped", "skipped", "interrupted", "skipped", "skipped", "ok", "ok"]


def test_changed_settings_or_foreign_file_are_not_skipped(stylizer, folders, tmp_path):
    contents, styles = folders
    pairs = batch.make_pairs([contents / "photo0.png"], [styles / "waves.png"])
    outdir = tmp_path / "out"
    outdir.mkdir()
    output = outdir / "photo0--waves.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(output)  # the user's own file, no provenance
    refused = batch.run_batch(stylizer, pairs, outdir)
    assert refused.errors == 1 and "not written by tf-nst" in refused.results[0].error
    assert pixels(output).shape == (8, 8, 3)
    assert batch.run_batch(stylizer, pairs, outdir, overwrite=True).ok == 1
    assert batch.run_batch(stylizer, pairs, outdir).skipped == 1
    changed = Stylizer(stylizer.settings, tv_weight=stylizer.settings.tv_weight * 2)
    assert batch.run_batch(changed, pairs, outdir).ok == 1
    assert read_provenance(output)["settings"]["style_blend"] is None


def test_output_name_collisions_are_refused(stylizer, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_image(tmp_path / folder / "x.png", 0)
    style = write_image(tmp_path / "s.png", 1)
    pairs = batch.make_pairs([tmp_path / "a", tmp_path / "b"], [style])
    with pytest.raises(InvalidArgumentError, match="expected one pair per output name .* 1 collisions"):
        batch.run_batch(stylizer, pairs, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_pairs_from_csv(tmp_path):
    for name in ("a.png", "b.jpg", "s.png"):
        write_image(tmp_path / name, 0)
    (tmp_path / "pairs.csv").write_text("content,style\na.png,s.png\n\nb.jpg,s.png\na.png,s.png\n")
    pairs = batch.read_pairs_csv(tmp_path / "pairs.csv")
    assert pairs == [batch.Pair(str(tmp_path / "a.png"), str(tmp_path / "s.png")),
                     batch.Pair(str(tmp_path / "b.jpg"), str(tmp_path / "s.png"))]
    assert batch.plan_outputs(pairs, "out") == [os.path.join("out", "a--s.png"), os.path.join("out", "b--s.png")]
    (tmp_path / "bad.csv").write_text("image,style\na.png,s.png\n")
    with pytest.raises(InvalidArgumentError, match="expected a CSV header with content and style columns"):
        batch.read_pairs_csv(tmp_path / "bad.csv")


def test_pairs_csv_not_utf8_is_a_typed_error(tmp_path):
    (tmp_path / "latin1.csv").write_bytes("content,style\ncaf\u00e9.png,s.png\n".encode("latin-1"))
    with pytest.raises(InvalidArgumentError, match=r"expected a UTF-8 CSV file of pairs. Received: .*latin1.csv "
                                                   r"\(byte 0xe9 at offset 17 is not UTF-8\)"):
        batch.read_pairs_csv(tmp_path / "latin1.csv")
    # A BOM (Excel's "CSV UTF-8") is not part of the first column's name.
    (tmp_path / "bom.csv").write_bytes("content,style\na.png,s.png\n".encode("utf-8-sig"))
    assert batch.read_pairs_csv(tmp_path / "bom.csv") == [batch.Pair(str(tmp_path / "a.png"), str(tmp_path / "s.png"))]


def test_pairs_csv_with_a_mask_column(tmp_path):
    (tmp_path / "masks").mkdir()
    (tmp_path / "pairs.csv").write_text("content,style,mask\na.png,s.png,masks/left.png\na.png,s.png,\n"
                                        "a.png,s.png,/abs/right.png\n")
    pairs = batch.read_pairs_csv(tmp_path / "pairs.csv")
    assert pairs == [batch.Pair(str(tmp_path / "a.png"), str(tmp_path / "s.png"), str(tmp_path / "masks" / "left.png")),
                     batch.Pair(str(tmp_path / "a.png"), str(tmp_path / "s.png")),
                     batch.Pair(str(tmp_path / "a.png"), str(tmp_path / "s.png"), "/abs/right.png")]
    # One content x style with two masks (and none) does not collide.
    assert batch.plan_outputs(pairs, "out") == [os.path.join("out", name)
                                                for name in ("a--s--left.png", "a--s.png", "a--s--right.png")]
    (tmp_path / "twice.csv").write_text("content,style,mask\na.png,s.png,x/m.png\na.png,s.png,y/m.png\n")
    with pytest.raises(InvalidArgumentError, match=r"<content-stem>--<style-stem>\[--<mask-stem>\]\.png.* 1 coll"):
        batch.plan_outputs(batch.read_pairs_csv(tmp_path / "twice.csv"), "out")


def write_mask(path, width, height, white_columns):
    mask = np.zeros((height, width), np.uint8)
    mask[:, white_columns] = 255
    Image.fromarray(mask).save(path)
    return str(path)


def test_batch_with_masks_names_provenance_rerun_and_a_changed_or_black_mask(stylizer, tmp_path):
    content, style = write_image(tmp_path / "photo.png", 1), write_image(tmp_path / "waves.png", 2, 36, 36)
    left = write_mask(tmp_path / "left.png", 48, 40, slice(0, 24))
    write_mask(tmp_path / "black.png", 48, 40, slice(0, 0))
    (tmp_path / "pairs.csv").write_text("content,style,mask\nphoto.png,waves.png,left.png\n"
                                        "photo.png,waves.png,black.png\nphoto.png,waves.png,\n")
    pairs = batch.read_pairs_csv(tmp_path / "pairs.csv")
    outdir = tmp_path / "out"
    summary = batch.run_batch(stylizer, pairs, outdir)
    assert [(result.status, result.mask) for result in summary.results] == [
        ("ok", left), ("error", str(tmp_path / "black.png")), ("ok", None)]
    assert summary.results[1].error == ("expected masks with a region somewhere (white or grey). "
                                        "Received: every mask black")
    assert pngs(outdir) == ["photo--waves--left.png", "photo--waves.png"]
    stored = read_provenance(outdir / "photo--waves--left.png")
    assert stored["masks"] == {"region_masks": [left]} and stored["inputs"] == [content, style]
    assert len(stored["inputs_sha256"]) == 3 and left in stored["inputs_sha256"]
    masked, plain = pixels(outdir / "photo--waves--left.png"), pixels(outdir / "photo--waves.png")
    assert not np.array_equal(masked, plain)
    assert "masks" not in read_provenance(outdir / "photo--waves.png")
    again = batch.run_batch(stylizer, pairs, outdir)
    assert [result.status for result in again.results] == ["skipped", "error", "skipped"]
    write_mask(left, 48, 40, slice(0, 12))  # the same path, other bytes: the pair is redone
    redone = batch.run_batch(stylizer, pairs[:1], outdir)
    assert redone.results[0].status == "ok"
    assert not np.array_equal(pixels(outdir / "photo--waves--left.png"), masked)
    lines = read_manifest(outdir / batch.MANIFEST_NAME)
    assert [line.get("mask") for line in lines[:3]] == [left, str(tmp_path / "black.png"), None]
    assert "mask" not in lines[2]


def test_each_style_is_decoded_once_per_batch(stylizer, folders, tmp_path, monkeypatch):
    import tf_nst.io.images as images

    contents, styles = folders
    decoded = []
    real_load = images.load_image
    monkeypatch.setattr(images, "load_image", lambda path, **kwargs: decoded.append(os.fspath(path)) or real_load(
        path, **kwargs))
    pairs = batch.make_pairs([contents / "photo0.png", contents / "photo1.jpg"], [styles / "waves.png"])
    assert batch.run_batch(stylizer, pairs, tmp_path / "out").ok == 2
    assert decoded.count(str(styles / "waves.png")) == 1 and len(decoded) == 3


def test_a_stop_request_drops_the_pair_in_progress_and_a_time_budget_keeps_it(stylizer, folders, tmp_path):
    from tf_nst.runs.contract import StopRequest

    contents, styles = folders
    pairs = batch.make_pairs([contents / "photo0.png", contents / "photo1.jpg"], [styles / "waves.png"])
    stop = StopRequest()
    stopped = batch.run_batch(stylizer, pairs, tmp_path / "stopped", should_stop=stop,
                              callback=lambda event: stop.set())
    assert [result.status for result in stopped.results] == ["ok"] and stopped.interrupted
    timed = Stylizer(backbone="vgg16-hed", size=32, num_steps=500, max_seconds=0.01)
    summary = batch.run_batch(timed, pairs[:1], tmp_path / "timed")
    assert [result.status for result in summary.results] == ["ok"] and not summary.interrupted
    assert summary.results[0].steps < 500 and os.path.exists(summary.results[0].output)


# --- the command ----------------------------------------------------------------------------------

def run_cli(*args):
    from click.testing import CliRunner

    from tf_nst.cli import app as cli

    return CliRunner().invoke(cli.cli, ["batch", *map(str, args)])


def test_cli_batch_two_styles_three_contents_then_a_rerun(tmp_path):
    contents = [write_image(tmp_path / f"c{seed}.png", seed) for seed in range(3)]
    styles = [write_image(tmp_path / "s-a.png", 10, 36, 36), write_image(tmp_path / "s-b.jpg", 11)]
    outdir = tmp_path / "out"
    common = ["--backbone", "vgg16-hed", "--size", "32", "--steps", "2", "-o", outdir, "--quiet"]
    result = run_cli(*contents, "-s", styles[0], "-s", styles[1], *common)
    assert result.exit_code == 0, result.output
    assert pngs(outdir) == sorted(f"c{c}--s-{s}.png" for c in range(3) for s in "ab")
    assert result.output.strip().splitlines()[-1].startswith("6 pairs: 6 ok, 0 skipped, 0 errors in ")
    again = run_cli(*contents, "-s", styles[0], "-s", styles[1], *common)
    assert again.exit_code == 0, again.output
    assert again.output.strip().splitlines()[-1].startswith("6 pairs: 0 ok, 6 skipped, 0 errors in ")


def test_cli_batch_failure_is_recorded_and_exit_1(folders, tmp_path):
    contents, styles = folders
    outdir = tmp_path / "out"
    result = run_cli(contents, "--style", styles / "waves.png", "--backbone", "vgg16-hed", "--size", "32",
                     "--steps", "2", "-o", outdir, "--quiet")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("6 pairs: 5 ok, 0 skipped, 1 error in ")
    assert any(line.startswith(f"Note: {contents / 'broken.png'} x ") for line in lines)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    ([], "Error: expected CONTENT... with --style STYLE..., or --pairs FILE.csv"),
    (["a.png"], "Error: expected at least one CONTENT and one --style"),
    (["a.png", "-s", "b.png", "--runner", "DirectRunner"],
     "Error: expected --saved-model with --runner (workers load the export)"),
    (["a.png", "-s", "b.png", "--saved-model", "m", "--lbfgs-history", "3"],
     "Error: --lbfgs-history: fixed when the model was exported, expected only --size, --content-weight, "
     "--style-weight, --tv-weight, --steps, --init, --seed with --saved-model"),
])
def test_cli_batch_usage_errors(tmp_path, args, message):
    result = run_cli(*args, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == message


def test_cli_batch_pairs_csv_not_utf8_is_one_error_line(tmp_path):
    (tmp_path / "pairs.csv").write_bytes("content,style\nphoto\xe9.png,s.png\n".encode("latin-1"))
    result = run_cli("--pairs", tmp_path / "pairs.csv", "-o", tmp_path / "out", "--backbone", "vgg16-hed")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: expected a UTF-8 CSV file of pairs. Received: {tmp_path / 'pairs.csv'} "
                      "(byte 0xe9 at offset 19 is not UTF-8)"]


def test_cli_batch_a_black_mask_in_the_csv_is_a_note_naming_the_mask(tmp_path):
    write_image(tmp_path / "photo.png", 1)
    write_image(tmp_path / "waves.png", 2, 36, 36)
    write_mask(tmp_path / "black.png", 48, 40, slice(0, 0))
    (tmp_path / "pairs.csv").write_text("content,style,mask\nphoto.png,waves.png,black.png\n")
    result = run_cli("--pairs", tmp_path / "pairs.csv", "-o", tmp_path / "out", "--backbone", "vgg16-hed",
                     "--size", "32", "--steps", "2", "--quiet")
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == (f"Note: {tmp_path / 'photo.png'} x {tmp_path / 'waves.png'} (mask {tmp_path / 'black.png'}): "
                        "expected masks with a region somewhere (white or grey). Received: every mask black")
    assert lines[-1].startswith("1 pairs: 0 ok, 0 skipped, 1 error in ")
    assert pngs(tmp_path / "out") == []
