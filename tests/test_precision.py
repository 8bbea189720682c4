"""bf16 convolutions (`precision="bfloat16"`) and the CLI's `--precision` / `--scales SIZES`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tf_nst.cli import app as cli
from tf_nst.engine import backbones
from tf_nst.io import images as image_io
from tf_nst.engine.backbones import FeatureExtractor
from tf_nst.errors import InvalidArgumentError
from tf_nst.engine.stylizer import Stylizer

LAYERS = ["block1_conv1", "block3_conv1"]


def test_bfloat16_features_are_float32_and_close():
    image = np.random.default_rng(0).uniform(0, 255, (1, 48, 48, 3)).astype("float32")
    full = FeatureExtractor(LAYERS, backbone="vgg16-hed")
    half = FeatureExtractor(LAYERS, backbone="vgg16-hed", precision="bfloat16")
    assert {layer.dtype_policy.name for layer in half.model.layers[1:]} == {"mixed_bfloat16"}
    for name in LAYERS:
        a, b = np.asarray(full(image)[name]), half(image)[name]
        assert b.dtype == "float32"
        assert np.abs(a - np.asarray(b)).mean() / np.abs(a).mean() < 0.03


def test_precision_config_round_trip_and_errors():
    extractor = FeatureExtractor(LAYERS, weights=None, precision="bfloat16")
    config = extractor.get_config()
    assert config["precision"] == "bfloat16"
    assert FeatureExtractor.from_config(config).get_config() == config
    with pytest.raises(InvalidArgumentError, match="expected precision to be one of float32, bfloat16"):
        FeatureExtractor(LAYERS, weights=None, precision="float16")
    stylizer = Stylizer(weights=None, size=32, num_steps=1, precision="bfloat16")
    assert Stylizer.from_config(stylizer.get_config()).get_config()["precision"] == "bfloat16"


def test_cli_precision_and_scale_sizes(tmp_path):
    output = tmp_path / "out.png"
    result = CliRunner().invoke(cli.cli, [
        "stylize", "--backbone", "vgg16-hed", "--size", "64", "--steps", "1", "--scales", "32,64",
        "--precision", "bfloat16", "-o", str(output), "--quiet"])
    assert result.exit_code == 0, result.output
    with Image.open(output) as png:
        settings = json.loads(png.text["tf_nst:settings"])
    assert settings["precision"] == "bfloat16" and settings["scales"] == [32, 64]


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile", "amx_bf16"),
    ("fpu sse2 avx2 avx512f avx512_bf16", "avx512_bf16"),
    ("fpu sse2 avx2 avx512f", None),
])
def test_native_bf16_cpu_reads_the_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert backbones.native_bf16_cpu(str(cpuinfo)) == expected
    assert backbones.native_bf16_cpu(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("native, expected", [("amx_bf16", "bfloat16"), (None, "float32")])
def test_auto_precision_follows_the_cpu(monkeypatch, native, expected):
    monkeypatch.setattr(backbones, "native_bf16_cpu", lambda: native)
    extractor = FeatureExtractor(LAYERS, weights=None, precision="auto")
    assert extractor.precision == expected
    policies = {layer.dtype_policy.name for layer in extractor.model.layers[1:]}
    assert policies == ({"mixed_bfloat16"} if expected == "bfloat16" else {"float32"})
    # The choice made is what a config (and so a PNG's provenance) records.
    assert Stylizer(weights=None, size=32, num_steps=1, precision="auto").get_config()["precision"] == expected


@pytest.mark.parametrize("native, expected", [("avx512_bf16", "bfloat16"), (None, "float32")])
def test_cli_precision_defaults_to_auto(tmp_path, monkeypatch, native, expected):
    monkeypatch.setattr(backbones, "native_bf16_cpu", lambda: native)
    output = tmp_path / "out.png"
    result = CliRunner().invoke(cli.cli, [
        "stylize", "--backbone", "vgg16-hed", "--size", "32", "--steps", "1", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"{expected}, untiled)")
    info = CliRunner().invoke(cli.cli, ["info", str(output)])
    assert f'"precision": "{expected}"' in info.output


def test_replay_of_a_png_from_before_precision_was_recorded_stays_float32(tmp_path, monkeypatch):
    monkeypatch.setattr(backbones, "native_bf16_cpu", lambda: "amx_bf16")  # auto would pick bf16
    first = tmp_path / "first.png"
    result = CliRunner().invoke(cli.cli, [
        "stylize", "--backbone", "vgg16-hed", "--size", "32", "--steps", "1", "-o", str(first), "--quiet"])
    assert result.exit_code == 0, result.output
    with Image.open(first) as png:
        settings = json.loads(png.text["tf_nst:settings"])
        pixels = np.asarray(png.convert("RGB"))
    assert settings.pop("precision") == "bfloat16"
    old = tmp_path / "old.png"
    image_io.save_png(str(old), pixels, text={"tf_nst:settings": json.dumps(settings)})
    replay = tmp_path / "replay.png"
    result = CliRunner().invoke(cli.cli, ["stylize", "--from", str(old), "-o", str(replay), "--quiet"])
    assert result.exit_code == 0, result.output
    with Image.open(replay) as png:
        assert json.loads(png.text["tf_nst:settings"])["precision"] == "float32"
