import json
import os

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import cli
from tf_nst.images import read_png_text

FAST = ["--backbone", "vgg16-hed", "--size", "48", "--steps", "4", "--quiet"]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def keras_cache_with_random_vgg19(tmp_path, monkeypatch):
    """A Keras cache holding a (random-weight) VGG19 notop file, as after a first download."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    models = tmp_path / "keras" / "models"
    models.mkdir(parents=True)
    # The published file uses Keras' legacy .h5 layout; write the same layout.
    with h5py.File(models / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "w") as stream:
        legacy_h5_format.save_weights_to_hdf5_group(stream, keras.applications.VGG19(include_top=False, weights=None))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return models


def test_defaults_run_with_cached_vgg19(runner, tmp_path, keras_cache_with_random_vgg19, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli.cli, ["stylize", "--size", "48", "--steps", "2"])
    assert result.exit_code == 0, result.output
    image = Image.open(tmp_path / "stylized.png")
    assert max(image.size) == 48 and image.mode == "RGB"
    assert "Wrote stylized.png" in result.output


def test_offline_vgg19_error_line(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    result = runner.invoke(cli.cli, ["stylize", "--size", "48", "--steps", "1", "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    expected_file = os.path.join(str(tmp_path / "empty"), "models", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert last.startswith("Error: could not download the ImageNet weights for vgg19")
    assert "--weights PATH" in last and expected_file in last and "--backbone vgg16-hed" in last
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.png").exists()
    # Keras' own "Downloading data from ..." (stdout) is replaced by one note on stderr.
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Note: downloading the vgg19 ImageNet weights (once) from https://storage.googleapis.com/tensorflow/"
        "keras-applications/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", last]
    assert keras.config.is_interactive_logging_enabled()  # Keras' logging is given back


def test_weights_option_loads_a_local_file(runner, tmp_path, keras_cache_with_random_vgg19, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "elsewhere"))
    weights = keras_cache_with_random_vgg19 / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    out = tmp_path / "w.png"
    result = runner.invoke(cli.cli, ["stylize", "--size", "40", "--steps", "1", "--quiet",
                                     "--weights", str(weights), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_options_parse_and_outputs(runner, tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    log = tmp_path / "log.json"
    args = ["stylize", content_path, style_path, "-o", str(out), "--backbone", "vgg16-hed",
            "--size", "48", "--steps", "4", "--optimizer", "adam", "--learning-rate", "3",
            "--content-weight", "2", "--style-weight", "5", "--tv-weight", "0.5",
            "--content-layers", "block4_conv2", "--style-layers", "block1_conv1:2,block2_conv1",
            "--init", "random", "--seed", "7", "--pooling", "avg", "--save-every", "2",
            "--log-json", str(log), "--quiet"]
    result = runner.invoke(cli.cli, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out-000002.png").exists() and (tmp_path / "out-000004.png").exists()
    data = json.loads(log.read_text())
    settings = data["settings"]
    assert settings["optimizer"] == "adam" and settings["learning_rate"] == 3.0
    assert settings["style_layers"] == {"block1_conv1": 2.0, "block2_conv1": 1.0}
    assert settings["pooling"] == "avg" and settings["seed"] == 7 and settings["init"] == "random"
    assert len(data["history"]) == 5 and data["loss_names"] == ["total", "content", "style", "tv"]
    text = read_png_text(out)
    assert json.loads(text["tf_nst:settings"])["content_weight"] == 2.0
    assert set(json.loads(text["tf_nst:inputs_sha256"])) == {content_path, style_path}
    info = runner.invoke(cli.cli, ["info", str(out)])
    assert info.exit_code == 0 and '"backbone": "vgg16-hed"' in info.output


def test_save_every_zero_writes_no_snapshots(runner, tmp_path, content_path, style_path):
    # 0 switches snapshots off, e.g. a preset's --save-every.
    out = tmp_path / "out.png"
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(out), *FAST,
                                     "--save-every", "0"])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.png"]


def test_progress_bar_shows_losses(runner, tmp_path, content_path, style_path):
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(tmp_path / "p.png"),
                                     "--backbone", "vgg16-hed", "--size", "40", "--steps", "10"])
    assert result.exit_code == 0, result.output
    assert "10/10" in result.output and "style=" in result.output and "content=" in result.output


def test_missing_file_error_line(runner, tmp_path, style_path):
    missing = str(tmp_path / "nope.jpg")
    result = runner.invoke(cli.cli, ["stylize", missing, style_path, "-o", str(tmp_path / "o.png"), *FAST])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"Error: {missing}: no such file"


def test_bad_option_value_error_line(runner, tmp_path):
    result = runner.invoke(cli.cli, ["stylize", "--optimizer", "sgd"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: Invalid value for '--optimizer': 'sgd' is not one of 'lbfgs', 'adam'.")
    result = runner.invoke(cli.cli, ["stylize", "--steps", "0"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: Invalid value for '--steps': 0 is not in the range 1<=x<=100000.")


def test_unknown_layer_is_a_usage_error_listing_valid_layers(runner, tmp_path, content_path, style_path):
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(tmp_path / "o.png"),
                                     *FAST, "--style-layers", "block9_conv9"])
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: expected layer names of the backbone, one of block1_conv1, block1_conv2")
    assert last.endswith("Received: unknown layers block9_conv9")


def test_existing_output_needs_overwrite(runner, tmp_path, content_path, style_path):
    out = tmp_path / "o.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(out)
    before = out.read_bytes()
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(out), *FAST])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"Error: {out}: already exists (pass --overwrite to replace it)"
    assert out.read_bytes() == before
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(out), *FAST, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (48, 48)


def test_from_replays_settings_and_inputs(runner, tmp_path, content_path, style_path):
    first = tmp_path / "first.png"
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(first), *FAST,
                                     "--init", "random", "--seed", "5", "--style-weight", "7",
                                     "--optimizer", "adam", "--adam-beta1", "0.5", "--preserve-colors", "luminance"])
    assert result.exit_code == 0, result.output
    replay = tmp_path / "replay.png"
    result = runner.invoke(cli.cli, ["stylize", "--from", str(first), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(replay)))
    first_settings = json.loads(read_png_text(first)["tf_nst:settings"])
    assert json.loads(read_png_text(replay)["tf_nst:settings"]) == first_settings
    assert first_settings["optimizer_config"]["beta_1"] == 0.5
    # An explicit option overrides the replayed one.
    override = tmp_path / "override.png"
    result = runner.invoke(cli.cli, ["stylize", "--from", str(first), "-o", str(override), "--quiet", "--seed", "6"])
    assert result.exit_code == 0, result.output
    assert json.loads(read_png_text(override)["tf_nst:settings"])["seed"] == 6


def test_from_replays_a_coarse_to_fine_schedule(runner, tmp_path, content_path, style_path):
    first = tmp_path / "first.png"
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(first), *FAST,
                                     "--scales", "32,48", "--scale-steps", "3,2"])
    assert result.exit_code == 0, result.output
    settings = json.loads(read_png_text(first)["tf_nst:settings"])
    assert settings["scales"] == [32, 48] and settings["scale_steps"] == [3, 2]
    replay = tmp_path / "replay.png"
    result = runner.invoke(cli.cli, ["stylize", "--from", str(first), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(replay)))
    # New --steps or --size replace the replayed schedule instead of clashing with it.
    log = tmp_path / "again.json"
    result = runner.invoke(cli.cli, ["stylize", "--from", str(first), "-o", str(tmp_path / "again.png"),
                                     "--quiet", "--steps", "2", "--size", "64", "--log-json", str(log)])
    assert result.exit_code == 0, result.output
    again = json.loads(log.read_text())["settings"]
    assert again["scales"] == [64] and again["scale_steps"] == [2]


@pytest.mark.parametrize("value, message", [
    ("3,x", "expected comma-separated integers, received '3,x'"),
    ("3,-1", "expected integers >= 0, received '3,-1'"),
])
def test_scale_steps_is_validated(runner, tmp_path, value, message):
    result = runner.invoke(cli.cli, ["stylize", "--scale-steps", value, "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"Error: Invalid value for '--scale-steps': {message}"


def test_from_rejects_a_png_without_settings(runner, tmp_path):
    plain = tmp_path / "plain.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(plain)
    result = runner.invoke(cli.cli, ["stylize", "--from", str(plain)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"Error: Invalid value for '--from': {plain}: no tf-nst settings found (not written by tf-nst)")


@pytest.mark.parametrize("preset, expected", [
    ("prayge", {"optimizer": "adam", "style_weight": 100.0, "learning_rate": 0.003 * 255,
                "content_layers": {f"block{i}_conv1": 1.0 for i in range(1, 6)}}),
    ("tf-tutorial", {"optimizer": "adam", "content_layers": {"block5_conv2": 1.0}, "learning_rate": 0.02 * 255,
                     "content_weight": 1e4, "style_weight": 1e-2, "tv_weight": 30.0, "loss_form": "tf-tutorial"}),
    ("jcjohnson", {"optimizer": "lbfgs", "init": "mean-noise", "content_weight": 5.0, "style_weight": 100.0,
                   "loss_form": "jcjohnson",
                   "optimizer_config": {"history_size": 100, "learning_rate": 1.0, "first_step": "torch"}}),
])
def test_presets_apply_and_explicit_options_override(runner, tmp_path, content_path, style_path, preset, expected):
    out = tmp_path / "p.png"
    log = tmp_path / "p.json"
    # Size, steps and backbone given explicitly override the preset's.
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(out), "--preset", preset,
                                     *FAST, "--log-json", str(log)])
    assert result.exit_code == 0, result.output
    settings = json.loads(log.read_text())["settings"]
    assert settings["size"] == 48 and settings["num_steps"] == 4 and settings["backbone"] == "vgg16-hed"
    for key, value in expected.items():
        assert settings[key] == pytest.approx(value) if isinstance(value, float) else settings[key] == value
    # The unnormalized presets were tuned for VGG19 features: say so when the backbone differs.
    warned = f"Note: preset {preset}'s weights were set for vgg19 features; with vgg16-hed" in result.output
    assert warned == (settings["loss_form"] != "normalized")
