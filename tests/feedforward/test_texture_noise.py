"""Texture noise (`tf_nst.engine.texture_noise`): the fixed field a style network adds to its input, per style.

The field is one seeded tile, the same values in numpy (onnxruntime's path) and TensorFlow (the network, its
tiles, its export): the TensorFlow paths compare bit for bit at float32 where they did without noise (the export,
the tiles within the tiling tests' tolerance), onnxruntime within the runtimes' tolerance (T4, as
tests/feedforward/test_feedforward_onnx.py: at most 2 grey levels, 0.03 on average)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import gradient_image, tiny_styled_network
from tf_nst.engine.feedforward.model_files import load_model, save_model
from tf_nst.engine.feedforward.rendering import FeedForward
from tf_nst.engine.feedforward.tiling import render_tiled
from tf_nst.engine.feedforward.transformer import TransformerNet, noise_field as graph_noise_field, style_weights_for
from tf_nst.engine.texture_noise import NOISE_TILE, noise_amplitudes, noise_field, noise_tile
from tf_nst.errors import InvalidArgumentError
from tf_nst.serving.feedforward_export import export_network
from tf_nst.serving import client as serving
from tf_nst.settings.parsing import parse_texture_noise

STYLES = ("calm", "wild")


def test_the_tile_is_seeded_unit_noise_that_repeats_without_a_seam():
    tile = noise_tile()
    assert tile.shape == (NOISE_TILE, NOISE_TILE) and tile.dtype == np.float32
    assert abs(float(tile.std()) - 1.0) < 1e-3 and abs(float(tile.mean())) < 0.1
    # Blurred: neighbours correlate; across the wrap-around edge as much as inside (no seam when tiled).
    inside = np.corrcoef(tile[:, :-1].ravel(), tile[:, 1:].ravel())[0, 1]
    across = np.corrcoef(tile[:, -1], tile[:, 0])[0, 1]
    assert inside > 0.5 and abs(across - inside) < 0.15, (inside, across)
    field = noise_field(NOISE_TILE + 10, 2 * NOISE_TILE + 3, 8.0)
    assert field.shape == (NOISE_TILE + 10, 2 * NOISE_TILE + 3)
    np.testing.assert_array_equal(field[:NOISE_TILE, NOISE_TILE:2 * NOISE_TILE], tile * np.float32(8.0))
    np.testing.assert_array_equal(field[NOISE_TILE:, :5], field[:10, :5])


def test_the_graph_field_equals_numpys():
    amplitude = tf.constant([[[5.5]]], tf.float32)
    graph = graph_noise_field(tf.constant(300), tf.constant(270), amplitude)[0].numpy()
    np.testing.assert_array_equal(graph, noise_field(300, 270, np.float32(5.5)))


def test_amplitudes_per_style_and_their_refusals():
    assert noise_amplitudes(4, STYLES) == (4.0, 4.0)
    assert noise_amplitudes({"wild": 16}, STYLES) == (0.0, 16.0)
    assert noise_amplitudes([1, 2], STYLES) == (1.0, 2.0)
    with pytest.raises(InvalidArgumentError, match="among calm, wild. Received: storm"):
        noise_amplitudes({"storm": 3}, STYLES)
    with pytest.raises(InvalidArgumentError, match="one texture noise per style"):
        noise_amplitudes([1, 2, 3], STYLES)
    with pytest.raises(InvalidArgumentError, match="from 0 to 128"):
        noise_amplitudes(-1, STYLES)
    # The CLI's parser: a named 0 is an amplitude like any other; malformed pairs are refused.
    assert parse_texture_noise("wild:0") == {"wild": 0.0} and parse_texture_noise("calm:4,wild:16") == {
        "calm": 4.0, "wild": 16.0}
    with pytest.raises(InvalidArgumentError, match="name:grey pairs"):
        parse_texture_noise("wild:1:2")


def test_only_the_styles_with_noise_change_and_a_blend_mixes_the_amplitudes():
    plain = tiny_styled_network(3, STYLES)
    noisy = tiny_styled_network(3, STYLES, texture_noise={"wild": 24})
    rgb = gradient_image(40, 56, seed=5)
    calm, wild = ({"calm": 1.0}, {"wild": 1.0})
    np.testing.assert_array_equal(FeedForward(noisy).stylize(rgb, calm), FeedForward(plain).stylize(rgb, calm))
    changed = np.abs(FeedForward(noisy).stylize(rgb, wild).astype(int) - FeedForward(plain).stylize(rgb, wild))
    assert changed.mean() > 1.0
    # A blend's amplitude is the weighted sum: half of "wild" is the network with 12 on every style.
    half = tiny_styled_network(3, STYLES, texture_noise=12)
    blend = {"calm": 0.5, "wild": 0.5}
    np.testing.assert_array_equal(FeedForward(noisy).stylize(rgb, blend), FeedForward(half).stylize(rgb, blend))
    assert noisy.get_config()["texture_noise"] == [0.0, 24.0] and "texture_noise" not in plain.get_config()
    assert TransformerNet.from_config(noisy.get_config()).texture_noise == (0.0, 24.0)


def test_tiles_a_model_folder_onnxruntime_and_the_export_add_the_same_noise(tmp_path):
    network = tiny_styled_network(3, STYLES, texture_noise=[6, 20])
    rgb = gradient_image(70, 90, seed=6)
    weights = style_weights_for(list(STYLES), {"calm": 0.25, "wild": 0.75})
    library = FeedForward(network).stylize(rgb, {"calm": 0.25, "wild": 0.75})
    # Tiles: the noise is added once to the whole image (`prepare`), so tiles see the untiled input.
    whole = network({"image": tf.constant(rgb[None], tf.float32), "style_weights": weights})[0].numpy()
    tiled, grid = render_tiled(network, tf.constant(rgb[None], tf.float32), weights, 48 * 48)
    assert grid[0] * grid[1] > 2
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-2)  # T2, as test_feedforward_tiling's TILED_ATOL
    # The folder keeps it; onnxruntime adds it in numpy.
    folder = str(tmp_path / "noisy")
    save_model(network, folder, {"steps": 0})
    assert json.load(open(f"{folder}/model.json"))["config"]["texture_noise"] == [6.0, 20.0]
    loaded, _ = load_model(folder, dtype="float32")
    assert loaded.texture_noise == (6.0, 20.0)
    pytest.importorskip("onnxruntime")
    from tf_nst.engine.feedforward_onnx import OnnxFeedForward

    onnx = OnnxFeedForward(folder, cache=False).stylize(rgb, {"calm": 0.25, "wild": 0.75}).astype(int)
    reference = FeedForward(loaded).stylize(rgb, {"calm": 0.25, "wild": 0.75}).astype(int)
    difference = np.abs(onnx - reference)
    assert difference.max() <= 2 and difference.mean() <= 0.03, (difference.max(), difference.mean())
    # The export: its graph adds the same constant field, so served = library, bit for bit (float32).
    path = export_network(network, str(tmp_path / "export"), {"config": network.get_config()})
    served = serving.load_saved_model(path).stylize(rgb, rgb, style_weights=weights.numpy())
    np.testing.assert_array_equal(served.image, library)



@pytest.mark.large  # 10-20 s: real training steps
def test_train_texture_noise_is_kept_inherited_and_checked(photos, tmp_path):
    """`train --texture-noise`: the model folder's config keeps it (and the settings say what was asked); a
    `--start-from` run without it keeps the model's, with 0 drops it; a name the network lacks, or a value that is
    not one, is one `Error:` line and writes nothing."""
    from click.testing import CliRunner

    from conftest import STYLE_PATH
    from test_training import tiny_options
    from tf_nst.cli import app as cli
    from tf_nst.io.model_folders import read_model_info

    def run(output, *options):
        return CliRunner().invoke(cli.cli, ["train", STYLE_PATH, "--photos", photos, "-o", str(tmp_path / output),
                                            "--steps", "2"] + list(options) + tiny_options())

    result = run("noisy", "--texture-noise", "starry_night:12")
    assert result.exit_code == 0, result.output
    info = read_model_info(str(tmp_path / "noisy"))
    assert info["config"]["texture_noise"] == [12.0]
    assert info["provenance"]["settings"]["texture_noise"] == {"starry_night": 12.0}
    assert run("kept", "--start-from", str(tmp_path / "noisy")).exit_code == 0
    assert read_model_info(str(tmp_path / "kept"))["config"]["texture_noise"] == [12.0]
    assert run("dropped", "--start-from", str(tmp_path / "noisy"), "--texture-noise", "0").exit_code == 0
    assert "texture_noise" not in read_model_info(str(tmp_path / "dropped"))["config"]
    # --add-style: the model's styles keep theirs, the new one takes what is given.
    scream = STYLE_PATH.replace("starry_night", "the_scream")
    added = CliRunner().invoke(cli.cli, ["train", scream, "--photos", photos, "-o", str(tmp_path / "added"), "--steps",
                                         "2", "--add-style", str(tmp_path / "noisy"), "--texture-noise",
                                         "the_scream:5"] + tiny_options())
    assert added.exit_code == 0, added.output
    assert read_model_info(str(tmp_path / "added"))["config"]["texture_noise"] == [12.0, 5.0]
    for value, message in (("storm:3", "Error: expected texture noise for styles among starry_night. "
                                       "Received: storm"),
                           ("loud", "Error: Invalid value for '--texture-noise': expected a number or name:grey "
                                    "pairs. Received: texture_noise='loud'"),
                           ("300", "Error: Invalid value for '--texture-noise': expected a number from 0 to 128. "
                                   "Received: texture_noise='300'")):
        result = run("bad", "--texture-noise", value)
        assert result.exit_code != 0 and result.output.strip().splitlines()[-1] == message, result.output
        assert not (tmp_path / "bad").exists()
