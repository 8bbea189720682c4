"""The stroke scale: a photo larger than the style size a network was trained at renders at that size, scaled up
with its finer detail added back (`rendering.stroke_scaled`), in the library and in the export alike."""

import os

import numpy as np
import tensorflow as tf
from PIL import Image

from conftest import gradient_image, tiny_styled_network
from tf_nst.engine.feedforward.model_files import save_model, stroke_size
from tf_nst.engine.feedforward.rendering import FeedForward, stroke_scaled, stroke_shape
from tf_nst.io.model_folders import read_model_info
from tf_nst.runs.realtime import ModelRun
from tf_nst.serving import client as serving
from tf_nst.serving.export_files import read_export_info
from tf_nst.serving.feedforward_export import export_network

BUNDLED = os.path.join(os.path.dirname(__file__), "..", "..", "tf_nst", "assets", "models", "bundled")


def photo_tensor(height, width, seed=0):
    return tf.constant(gradient_image(height, width, seed=seed).astype(np.float32)[None])


def test_stroke_shape_keeps_the_aspect_and_a_minimum_side():
    assert [int(side) for side in stroke_shape(300, 400, 100)] == [75, 100]
    assert [int(side) for side in stroke_shape(40, 1000, 500)] == [32, 500]  # 20 px would be under MIN_SIDE
    assert [int(side) for side in stroke_shape(20, 1000, 500)] == [20, 500]  # no side grows


def test_stroke_scaled_passes_small_photos_and_keeps_the_photos_detail():
    photo = photo_tensor(96, 128)
    calls = []

    def shifted(image):
        calls.append(tuple(image.shape))
        return image + 10.0

    # Not larger than the stroke size (or no stroke size): rendered as it is, exactly.
    np.testing.assert_array_equal(stroke_scaled(shifted, photo, 128), photo + 10.0)
    np.testing.assert_array_equal(stroke_scaled(shifted, photo, 0), photo + 10.0)
    assert calls == [(1, 96, 128, 3), (1, 96, 128, 3)]
    # Larger: rendered at 48 x 64, scaled up; the detail added back makes a shift exact up to float rounding.
    scaled = stroke_scaled(shifted, photo, 64)
    assert calls[-1] == (1, 48, 64, 3) and scaled.shape == photo.shape
    np.testing.assert_allclose(scaled, photo + 10.0, atol=1e-3)
    # A render that flattens its input: what comes back at full size is the photo's finer detail alone.
    flat = stroke_scaled(lambda image: tf.zeros_like(image), photo, 64)
    small = tf.image.resize(photo, [48, 64], "area")
    np.testing.assert_allclose(flat, photo - tf.image.resize(small, [96, 128], "bicubic"), atol=1e-3)


def test_large_photos_keep_the_strokes_relative_size():
    """Rendered at the stroke scale, a 2x photo scaled back down is the 1x photo's rendering (within a few grey
    levels: the scalings' rounding); rendered at its own size, the network's texture is half as large."""
    network = tiny_styled_network(3)
    big = gradient_image(128, 192, seed=2)
    small = np.asarray(Image.fromarray(big).resize((96, 64), Image.BOX))
    reference = FeedForward(network).stylize(small).astype(np.float32)

    def halved(image):
        return tf.image.resize(image.astype(np.float32)[None], [64, 96], "area")[0].numpy()

    scaled = halved(FeedForward(network, stroke_size=96).stylize(big))
    native = halved(FeedForward(network).stylize(big))
    scaled_gap, native_gap = np.abs(scaled - reference).mean(), np.abs(native - reference).mean()
    assert scaled_gap < 4.0, scaled_gap
    assert native_gap > 2 * scaled_gap, (native_gap, scaled_gap)


def test_a_model_folders_stroke_size_is_its_training_style_size(tmp_path):
    assert stroke_size(read_model_info(BUNDLED)) == 512
    assert stroke_size({"config": {}}) == 0 and stroke_size({"provenance": {"settings": {}}}) == 0
    folder = str(tmp_path / "tiny")
    save_model(tiny_styled_network(5), folder, {"steps": 0, "settings": {"style_size": 40}})
    run = ModelRun(folder, precision="float32")
    assert run.stroke_size == 40 and run.runner.stroke_size == 40
    assert run.settings_for(None, 64)["stroke_size"] == 40
    photo = gradient_image(48, 64, seed=1)
    expected = FeedForward(run.runner.network, stroke_size=40).stylize(photo)
    np.testing.assert_array_equal(run.stylize(photo, 64), expected)
    native = ModelRun(folder, precision="float32", stroke_size=0)
    assert native.stroke_size == 0
    assert np.abs(native.stylize(photo, 64).astype(int) - run.stylize(photo, 64).astype(int)).max() > 10


def test_the_export_renders_at_the_stroke_scale_as_the_library(tmp_path):
    """float32: the SavedModel (Session loader path) gives the library's pixels for a photo larger than the stroke
    size and for one smaller; the export records its stroke size."""
    network = tiny_styled_network(4)
    info = {"config": network.get_config(), "provenance": {"settings": {"style_size": 48}}}
    path = export_network(network, str(tmp_path / "fast"), info, max_pixels=128 * 128)
    export = serving.load_saved_model(path)
    for shape in ((72, 96), (40, 44)):
        content = gradient_image(*shape, seed=6)
        library = FeedForward(network, stroke_size=48).stylize(content)
        np.testing.assert_array_equal(export.stylize(content, content).image, library)
    assert read_export_info(path)["stroke_size"] == 48
    unscaled = export_network(network, str(tmp_path / "native"), info, max_pixels=128 * 128, stroke_size=0)
    content = gradient_image(72, 96, seed=6)
    np.testing.assert_array_equal(serving.load_saved_model(unscaled).stylize(content, content).image,
                                  FeedForward(network).stylize(content))


def test_stroke_scale_is_recorded_in_the_png(tmp_path):
    from tf_nst.io.provenance import read_provenance

    folder = str(tmp_path / "tiny")
    save_model(tiny_styled_network(5), folder, {"steps": 0, "settings": {"style_size": 32}})
    output = str(tmp_path / "out.png")
    Image.fromarray(gradient_image(48, 64, seed=3)).save(tmp_path / "photo.png")
    ModelRun(folder, precision="float32").stylize_file(str(tmp_path / "photo.png"), output, 40)
    assert read_provenance(output)["settings"]["stroke_size"] == 32


def test_cli_stroke_size_option(tmp_path):
    """`--stroke-size` with a style network (stylize, batch, export), recorded; refused without a network (the
    optimization, an export of it), before TensorFlow's work: one usage error. (The arbitrary network takes it too:
    tests/feedforward/test_arbitrary_stroke_scale.py.)"""
    from click.testing import CliRunner

    from tf_nst.cli import app as cli
    from tf_nst.io.provenance import read_provenance

    folder = str(tmp_path / "tiny")
    save_model(tiny_styled_network(5), folder, {"steps": 0, "settings": {"style_size": 40}})
    photo = str(tmp_path / "photo.png")
    Image.fromarray(gradient_image(48, 64, seed=3)).save(photo)
    runner = CliRunner()
    for stroke, expected in ((None, 40), ("0", 0), ("32", 32)):
        output = str(tmp_path / f"out-{stroke}.png")
        args = ["stylize", photo, "--model", folder, "--size", "64", "-o", output]
        result = runner.invoke(cli.cli, args + (["--stroke-size", stroke] if stroke else []))
        assert result.exit_code == 0, result.output
        assert read_provenance(output)["settings"]["stroke_size"] == expected
    result = runner.invoke(cli.cli, ["batch", photo, "--model", folder, "--size", "64", "--stroke-size", "0",
                                     "-o", str(tmp_path / "batch")])
    assert result.exit_code == 0, result.output
    made = [name for name in os.listdir(tmp_path / "batch") if name.endswith(".png")]
    assert made and all(read_provenance(str(tmp_path / "batch" / name))["settings"]["stroke_size"] == 0
                        for name in made)
    result = runner.invoke(cli.cli, ["export", "--model", folder, "--stroke-size", "0", "-o", str(tmp_path / "exp")])
    assert result.exit_code == 0, result.output
    assert read_export_info(str(tmp_path / "exp" / "1"))["stroke_size"] == 0
    for args in (["stylize", photo, "--stroke-size", "0"], ["export", "-o", str(tmp_path / "x"), "--stroke-size", "0"],
                 ["video", photo, photo, "--stroke-size", "0", "-o", str(tmp_path / "v.gif")],
                 ["stylize", photo, "--model", folder, "--stroke-size", "-1"]):
        result = runner.invoke(cli.cli, args)
        assert result.exit_code == 2 and "stroke-size" in result.output, (args, result.output)
