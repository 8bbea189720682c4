import json
import os

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tf_nst.cli import app as cli
from tf_nst.cli.options import CLI_FIELDS, FIELDS
from tf_nst.cli.stylize import stylize as stylize_command
from tf_nst.io.provenance import read_png_text

FAST = ["--backbone", "vgg16-hed", "--size", "48", "--steps", "4", "--quiet"]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def keras_cache_with_random_vgg19(tmp_path, monkeypatch):
    """A Keras cache holding a (random-weight) VGG19 notop file, as after a first download."""
    import keras
    from keras_files import write_legacy_h5_weights

    models = tmp_path / "keras" / "models"
    models.mkdir(parents=True)
    # The published file uses Keras' legacy .h5 layout; write the same layout.
    write_legacy_h5_weights(models / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                            keras.applications.VGG19(include_top=False, weights=None))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return models


def test_defaults_run_with_cached_vgg19(runner, tmp_path, keras_cache_with_random_vgg19, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli.cli, ["stylize", "--size", "48", "--steps", "2"])
    assert result.exit_code == 0, result.output
    image = Image.open(tmp_path / "stylized.png")
    assert max(image.size) == 48 and image.mode == "RGB"
    assert "Wrote stylized.png" in result.output


def test_first_run_downloads_the_weights_once(runner, tmp_path, isolated_machine, monkeypatch):
    """Where the download works (simulated: Keras' fetch writes a random-weight file), the run succeeds."""
    from keras_files import write_legacy_h5_weights

    fetched = []

    def download(file_name, origin, cache_dir, cache_subdir):
        path = os.path.join(cache_dir, cache_subdir, file_name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_legacy_h5_weights(path, keras.applications.VGG19(include_top=False, weights=None))
        fetched.append(origin)
        return path

    monkeypatch.setattr(keras.utils, "get_file", download)
    out = tmp_path / "o.png"
    result = runner.invoke(cli.cli, ["stylize", "--size", "40", "--steps", "1", "--quiet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Note: downloading the vgg19 ImageNet weights (once) from https://")
    assert fetched and out.exists()
    # Now cached: no second note, no second fetch.
    result = runner.invoke(cli.cli, ["stylize", "--size", "40", "--steps", "1", "--quiet", "-o", str(out),
                                     "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "downloading" not in result.stderr


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
    assert first_settings["adam_beta1"] == 0.5
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
    assert again["scales"] == "auto" and again["scale_steps"] is None and again["num_steps"] == 2


def test_from_rejects_a_png_without_settings(runner, tmp_path):
    plain = tmp_path / "plain.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(plain)
    result = runner.invoke(cli.cli, ["stylize", "--from", str(plain)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"Error: Invalid value for '--from': {plain}: no tf-nst settings found (not written by tf-nst)")


# Every CLI setting at a value other than its default (tiny and fast where it matters).
NON_DEFAULT_ARGS = {
    "backbone": "vgg16-hed", "weights": "random", "pooling": "avg", "precision": "bfloat16",
    "content_layers": "block3_conv1", "style_layers": "block1_conv1:2,block2_conv1",
    "content_weight": "2", "style_weight": "5", "tv_weight": "0.5", "loss_form": "tf-tutorial",
    "optimizer": "adam", "learning_rate": "3", "adam_beta1": "0.5", "adam_beta2": "0.9", "adam_epsilon": "1e-6",
    "lbfgs_history": "5", "lbfgs_first_step": "torch", "num_steps": "3", "size": "48", "scales": "32,48",
    "scale_steps": "2,3", "max_seconds": "1000", "max_memory": "8GB", "tile_size": "64", "style_scale": "0.9",
    "style_blend": "1,3", "preserve_colors": "histogram", "init": "random", "seed": "7",
}


def test_every_setting_round_trips_through_cli_png_and_from(runner, tmp_path, content_path, style_path):
    from tf_nst.settings import StylizeSettings, fields_by_name, option_name

    fields = fields_by_name()
    # A new setting must join this test; mean-cov needs the normalized loss form: its own test below.
    assert set(NON_DEFAULT_ARGS) | {"style_statistic"} == set(CLI_FIELDS)
    args = [token for name, value in NON_DEFAULT_ARGS.items() for token in (option_name(fields[name]), value)]
    first = tmp_path / "first.png"
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, style_path, "-o", str(first), "--quiet",
                                     *args])
    assert result.exit_code == 0, result.output
    stored = json.loads(read_png_text(first)["tf_nst:settings"])
    defaults = StylizeSettings().to_dict()
    for name in NON_DEFAULT_ARGS:
        assert stored[name] != defaults[name], name  # each option reached the settings
    replay = tmp_path / "replay.png"
    result = runner.invoke(cli.cli, ["stylize", "--from", str(first), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    # Same settings; not the same pixels here, as random backbone weights are drawn anew
    # (test_from_replays_settings_and_inputs shows a replay's pixels).
    assert json.loads(read_png_text(replay)["tf_nst:settings"]) == stored


def test_png_saved_from_python_carries_provenance(tmp_path, content_path, style_path):
    from tf_nst import Stylizer, read_provenance, save_png

    stylizer = Stylizer(backbone="vgg16-hed", size=32, num_steps=1)
    result = stylizer.stylize(content_path, style_path)
    out = tmp_path / "py.png"
    save_png(out, result.image, settings=stylizer.get_config(), inputs=[content_path, style_path])
    stored = read_provenance(out)
    assert stored["settings"] == json.loads(json.dumps(stylizer.get_config()))
    assert stored["inputs"] == [content_path, style_path] and set(stored["inputs_sha256"]) == set(stored["inputs"])
    assert stored["versions"]["tensorflow"] and stored["versions"]["keras"]
    # ... and `--from` replays it like a CLI output.
    replay = tmp_path / "replay.png"
    result = CliRunner().invoke(cli.cli, ["stylize", "--from", str(out), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    assert read_provenance(replay)["settings"] == stored["settings"]


def test_snapshots_carry_provenance(runner, tmp_path, content_path, style_path):
    from tf_nst import read_provenance

    out = tmp_path / "out.png"
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(out), *FAST, "--save-every", "2"])
    assert result.exit_code == 0, result.output
    snapshot = read_provenance(tmp_path / "out-000002.png")
    assert snapshot["settings"] == read_provenance(out)["settings"]


def test_saved_model_refuses_every_setting_fixed_in_the_export(runner, tmp_path, content_path, style_path):
    model = tmp_path / "model"
    model.mkdir()
    result = runner.invoke(cli.cli, ["stylize", "--saved-model", str(model), content_path, style_path,
                                     "--lbfgs-history", "5", "--max-memory", "2GB"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith(
        "Error: --lbfgs-history, --max-memory: fixed when the model was exported, expected only --size, ")


def test_tensorboard_logs_every_loss_part_and_snapshots(runner, tmp_path, content_path, style_path):
    import tensorflow as tf

    out = tmp_path / "tb.png"
    logs = tmp_path / "logs"
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(out), *FAST,
                                     "--tensorboard", str(logs), "--save-every", "2"])
    assert result.exit_code == 0, result.output
    scalars, images = {}, []
    for event_file in (logs / "tb").iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                if value.tag.startswith("loss/"):
                    scalars.setdefault(value.tag, []).append(event.step)
                elif value.tag == "snapshot":
                    images.append(event.step)
    assert set(scalars) == {"loss/total", "loss/content", "loss/style", "loss/tv"}
    assert scalars["loss/total"] == [1, 2, 3, 4]
    assert images == [2, 4, 4]  # two snapshots and the final image


def test_help_and_usage_errors_do_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys\nfrom tf_nst.cli import cli\n"
            "for args in (['stylize', '--help'], ['stylize', '--steps', '0']):\n"
            "    try:\n        cli(args)\n    except SystemExit:\n        pass\n"
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stdout + result.stderr


def test_usage_page_option_table_matches_help():
    import re

    from conftest import ROOT

    with open(os.path.join(ROOT, "docs", "usage.md")) as stream:
        readme = stream.read()
    table = readme.split("## Options of `stylize`", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"`(--[a-z0-9-]+)", table)) | set(re.findall(r"`-o, (--output)", table))
    offered = {option for param in stylize_command.params for option in param.opts if option.startswith("--")}
    assert documented == offered


def test_presets_use_field_names():
    from tf_nst.settings.presets import PRESETS

    for name, preset in PRESETS.items():
        unknown = set(preset) - set(FIELDS) - {"save_every", "notes"}
        assert not unknown, (name, unknown)


@pytest.mark.parametrize("preset, expected", [
    ("prayge", {"optimizer": "adam", "style_weight": 100.0, "learning_rate": 0.003 * 255,
                "content_layers": {f"block{i}_conv1": 1.0 for i in range(1, 6)}}),
    ("tf-tutorial", {"optimizer": "adam", "content_layers": {"block5_conv2": 1.0}, "learning_rate": 0.02 * 255,
                     "content_weight": 1e4, "style_weight": 1e-2, "tv_weight": 30.0, "loss_form": "tf-tutorial"}),
    ("jcjohnson", {"optimizer": "lbfgs", "init": "mean-noise", "content_weight": 5.0, "style_weight": 100.0,
                   "loss_form": "jcjohnson",
                   "lbfgs_history": 100, "lbfgs_first_step": "torch"}),
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
        # tolerance T3 (see conftest.py): float32 against a float64 numpy reference (a float through the CLI, settings and JSON).
        assert settings[key] == pytest.approx(value) if isinstance(value, float) else settings[key] == value
    # The unnormalized presets were tuned for VGG19 features: say so when the backbone differs.
    warned = f"Note: preset {preset}'s weights were set for vgg19 features; with vgg16-hed" in result.output
    assert warned == (settings["loss_form"] != "normalized")


def test_from_replays_a_png_written_by_tf_nst_0_1(runner, tmp_path, content_path, style_path):
    """0.1 stored the inputs and the optimizer's own config inside the settings (README's gallery)."""
    from tf_nst.io.images import save_png

    old = tmp_path / "old.png"
    settings = {"backbone": "vgg16-hed", "size": 48, "num_steps": 2, "scales": [48], "scale_steps": [2],
                "optimizer": "adam", "optimizer_config": {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-6,
                                                          "learning_rate": 3.0},
                "content": content_path, "styles": [style_path, style_path], "style_blend": [1.0, 3.0]}
    save_png(old, np.zeros((8, 8, 3), np.uint8), text={"tf_nst:settings": json.dumps(settings)})
    replay = tmp_path / "replay.png"
    result = runner.invoke(cli.cli, ["stylize", "--from", str(old), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    from tf_nst import read_provenance

    stored = read_provenance(replay)
    assert stored["inputs"] == [content_path, style_path, style_path]
    assert (stored["settings"]["adam_beta1"], stored["settings"]["adam_epsilon"]) == (0.5, 1e-6)
    assert stored["settings"]["scales"] == 1 and stored["settings"]["precision"] == "float32"


def test_style_statistic_round_trips_and_needs_the_normalized_form(runner, tmp_path, content_path, style_path):
    first = tmp_path / "first.png"
    fast = ["--size", "32", "--steps", "2", "--quiet", "--weights", "random"]
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(first), "--style-statistic",
                                     "mean-cov", *fast])
    assert result.exit_code == 0, result.output
    assert json.loads(read_png_text(first)["tf_nst:settings"])["style_statistic"] == "mean-cov"
    replay = tmp_path / "replay.png"
    result = runner.invoke(cli.cli, ["stylize", "--from", str(first), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(read_png_text(replay)["tf_nst:settings"])["style_statistic"] == "mean-cov"
    result = runner.invoke(cli.cli, ["stylize", content_path, style_path, "-o", str(tmp_path / "x.png"),
                                     "--style-statistic", "mean-cov", "--loss-form", "tf-tutorial", *fast])
    assert result.exit_code == 2 and result.output.strip().splitlines()[-1].startswith("Error: expected")
    assert not (tmp_path / "x.png").exists()
