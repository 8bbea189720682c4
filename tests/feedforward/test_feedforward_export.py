"""A trained network as a SavedModel: served through the gRPC harness (TF Serving's Session loader) and the
unchanged request path, equal to the library's output."""

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from conftest import CONTENT_PATH, gradient_image, tiny_styled_network
from model_server import start_server
from tf_nst.cli import app as cli
from tf_nst.engine.feedforward.rendering import FeedForward
from tf_nst.engine.feedforward.model_files import save_model
from tf_nst.engine.feedforward.transformer import style_weights_for
from tf_nst.runs.realtime import ModelRun
from tf_nst.serving import client as serving
from tf_nst.serving import contract
from tf_nst.serving.feedforward_export import export_network


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny network with distinct per-style norms, saved as a model folder, and its export."""
    network = tiny_styled_network(3)
    folder = str(tmp_path_factory.mktemp("model") / "tiny")
    save_model(network, folder, {"steps": 0})
    base = str(tmp_path_factory.mktemp("exports") / "fast")
    path = export_network(network, base, {"config": network.get_config()}, max_pixels=96 * 96)
    server, service, address = start_server({contract.MODEL_NAME: base})
    yield network, folder, base, path, service, address
    server.stop(0)


def test_served_equals_library_output(trained):
    network, _, _, path, service, address = trained
    content = gradient_image(48, 64, seed=4)
    library = FeedForward(network).stylize(content)
    assert service.models[contract.MODEL_NAME].warmup_count == 2
    for signature in contract.SIGNATURE_NAMES:
        served = serving.request_grpc(address, content, content, signature=signature, timeout=60)
        np.testing.assert_array_equal(served.image, library)
        assert served.losses.shape == (1, 4) and np.isnan(served.losses).all()
    local = serving.load_saved_model(path).stylize(content, content)
    np.testing.assert_array_equal(local.image, library)


def test_served_style_weights_blend_and_mask(trained):
    from tensorflow_serving.apis import predict_pb2

    network, _, _, _, service, _ = trained
    content = gradient_image(48, 64, seed=5)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = contract.MODEL_NAME
    request.inputs[contract.CONTENT].CopyFrom(tf.make_tensor_proto(content[None]))
    request.inputs[contract.STYLE_WEIGHTS].CopyFrom(tf.make_tensor_proto(np.array([[0.3, 0.7]], np.float32)))
    response = service.models[contract.MODEL_NAME].predict(request, timeout=60)
    served = tf.make_ndarray(response.outputs[contract.STYLIZED])[0]
    library = FeedForward(network).stylize(content, {"calm": 0.3, "wild": 0.7})
    np.testing.assert_array_equal(served, library)
    assert np.abs(served.astype(int) - FeedForward(network).stylize(content).astype(int)).max() > 10
    black = np.zeros((1, 48, 64, 1), np.uint8)
    black[0, :, :32] = 255
    request.inputs[contract.MASK].CopyFrom(tf.make_tensor_proto(black))
    response = service.models[contract.MODEL_NAME].predict(request, timeout=60)
    masked = tf.make_ndarray(response.outputs[contract.STYLIZED])[0]
    # Beyond the feathered edge (3 sigma = 3 px at 64 px wide): the photo, and the blend (within a grey level).
    np.testing.assert_array_equal(masked[:, 36:], content[:, 36:])
    assert np.abs(masked[:, :28].astype(int) - library[:, :28].astype(int)).max() <= 1
    assert style_weights_for(network.style_names, {"wild": 1}).shape == (1, 2)


def test_served_mask_edges_are_the_libraries_region_masks(trained):
    """T1 (the same ops): a hard-edged mask, served (tensor and PNG inputs) and through the Session loader, equals
    the library's `FeedForward.stylize` with it as a region mask (`Regions`, feathered), edge included."""
    network, _, _, path, service, address = trained
    content = gradient_image(48, 64, seed=7)
    hard = np.zeros((48, 64), np.uint8)
    hard[8:40, 12:44] = 255
    library = FeedForward(network).stylize(content, regions=[hard])
    unfeathered = np.clip(np.round(FeedForward(network).masked(content, {"calm": 1.0}, [hard / 255.0])), 0, 255)
    assert np.abs(library.astype(int) - unfeathered.astype(int)).max() > 10  # the edge is soft
    for signature in contract.SIGNATURE_NAMES:
        served = serving.request_grpc(address, content, content, mask=hard, signature=signature, timeout=60)
        np.testing.assert_array_equal(served.image, library)
    local = serving.load_saved_model(path).stylize(content, content, mask=hard)
    np.testing.assert_array_equal(local.image, library)


def test_cli_export_and_request_path_unchanged(trained, tmp_path, content_path):
    _, folder, _, _, _, _ = trained
    result = CliRunner().invoke(cli.cli, ["export", "--model", folder, "--output", str(tmp_path / "exp")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Exported {tmp_path / 'exp' / '1'} (styles calm, wild;")
    Image.fromarray(gradient_image(48, 64, seed=6)).save(tmp_path / "photo.png")
    out = tmp_path / "served.png"
    result = CliRunner().invoke(cli.cli, ["stylize", "--saved-model", str(tmp_path / "exp"), str(tmp_path / "photo.png"),
                                          "-o", str(out)])
    assert result.exit_code == 0, result.output
    # The library on TensorFlow at float32 (`stylize --model` runs one photo on onnxruntime: within a grey level,
    # tests/feedforward/test_feedforward_onnx.py).
    direct, _ = ModelRun(folder, precision="float32").stylize_file(str(tmp_path / "photo.png"),
                                                                   str(tmp_path / "direct.png"), 512)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), direct)


def test_cli_saved_model_equals_model_with_a_region_mask_to_fit(trained, tmp_path):
    """T1 (the same ops, float32): a soft region mask at the photo's full size, photo and mask fitted to
    --size: `stylize --saved-model` equals the library's TensorFlow path at float32 (`ModelRun`, as `stylize
    --model --precision float32` ran before one photo went to onnxruntime) pixel for pixel (the mask fitted,
    made grey uint8, feathered and mixed by the same functions on both paths)."""
    _, folder, _, _, _, _ = trained
    base = str(tmp_path / "exp")
    assert CliRunner().invoke(cli.cli, ["export", "--model", folder, "--output", base]).exit_code == 0
    Image.fromarray(gradient_image(96, 128, seed=9)).save(tmp_path / "photo.png")
    mask = np.zeros((96, 128), np.uint8)
    mask[10:80, 20:100] = np.linspace(90, 255, 80).astype(np.uint8)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    common = [str(tmp_path / "photo.png"), "--region-mask", str(tmp_path / "mask.png"), "--size", "64"]
    result = CliRunner().invoke(cli.cli, ["stylize", "--saved-model", base, *common, "-o", str(tmp_path / "served.png")])
    assert result.exit_code == 0, result.output
    direct, _ = ModelRun(folder, precision="float32").stylize_file(str(tmp_path / "photo.png"),
                                                                   str(tmp_path / "direct.png"), 64,
                                                                   mask_paths=[str(tmp_path / "mask.png")])
    served = np.asarray(Image.open(tmp_path / "served.png").convert("RGB"))
    assert served.shape == (48, 64, 3)
    np.testing.assert_array_equal(served, direct)


def test_export_blend_equals_its_normalized_weights(trained):
    """T1 (the same ops, float32): `style_weights` (2, 1) through the export equal the library's blend
    `calm:2,wild:1` (`resolve_blend`), and (0.667, 0.333) the library's `calm:0.667,wild:0.333`; the two
    blends are one grey level apart at most (T4: the weights rounded to three digits)."""
    network, _, _, path, _, _ = trained
    signature = tf.saved_model.load(path).signatures[contract.SERVING_DEFAULT]
    content = gradient_image(48, 64, seed=8)

    def served(weights):
        outputs = signature(content=tf.constant(content[None]), style=tf.zeros([1, 1, 1, 3], tf.uint8),
                            mask=tf.fill([1, 1, 1, 1], tf.constant(255, tf.uint8)),
                            style_weights=tf.constant([weights], tf.float32))
        return outputs[contract.STYLIZED][0].numpy()

    library = FeedForward(network)
    thirds, rounded = served([2.0, 1.0]), served([0.667, 0.333])
    np.testing.assert_array_equal(thirds, library.stylize(content, "calm:2,wild:1"))
    np.testing.assert_array_equal(rounded, library.stylize(content, "calm:0.667,wild:0.333"))
    assert np.abs(thirds.astype(int) - rounded.astype(int)).max() <= 1
    assert np.abs(thirds.astype(int) - served([1.0, 0.0]).astype(int)).max() > 10  # the blend matters


@pytest.mark.large
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_bundled_export_equals_stylize_model(precision, tmp_path):
    """T1 (the same ops): `stylize --saved-model` on the bundled model exported at a precision equals the
    library's TensorFlow path at that precision (`ModelRun("starry_night", precision)`), pixel for pixel, at 256
    px: `export --model bundled` (float32) and, bfloat16, the network exported with that policy (its kernels in
    the SavedModel are the library's: equal on a CPU with native bf16 and on one that emulates it)."""
    from tf_nst.engine.feedforward.model_files import load_model
    from tf_nst.io.model_folders import resolve_model
    from tf_nst.runs.training_models import network_policy

    exported = str(tmp_path / "exp")
    if precision == "float32":
        result = CliRunner().invoke(cli.cli, ["export", "--model", "bundled", "--output", exported])
        assert result.exit_code == 0, result.output
    else:
        network, info = load_model(resolve_model("bundled")[0], dtype=network_policy(precision))
        export_network(network, exported, info)
    photo = CONTENT_PATH  # at 256 px two pixels of it rounded apart when the export mixed in its default mask
    result = CliRunner().invoke(cli.cli, ["stylize", "--saved-model", exported, photo, "--size", "256",
                                          "-o", str(tmp_path / "served.png")])
    assert result.exit_code == 0, result.output
    direct, _ = ModelRun("starry_night", precision=precision).stylize_file(photo, str(tmp_path / "direct.png"), 256)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "served.png").convert("RGB")), direct)


def test_cli_export_precision_bfloat16_equals_stylize_model_at_bfloat16(trained, tmp_path):
    """`export --model --precision bfloat16` (what `stylize --model` runs under --precision auto on a bf16 CPU):
    `stylize --saved-model` equals `stylize --model --precision bfloat16`, and differs from the float32 export."""
    _, folder, _, _, _, _ = trained
    for precision in ("bfloat16", "float32"):
        result = CliRunner().invoke(cli.cli, ["export", "--model", folder, "--precision", precision,
                                              "-o", str(tmp_path / precision)])
        assert result.exit_code == 0, result.output
        assert f"; {precision}; signatures" in result.output
    Image.fromarray(gradient_image(48, 64, seed=11)).save(tmp_path / "photo.png")
    outputs = {}
    for name, arguments in {"bfloat16": ["--saved-model", str(tmp_path / "bfloat16")],
                            "float32": ["--saved-model", str(tmp_path / "float32")],
                            "library": ["--model", folder, "--precision", "bfloat16"]}.items():
        result = CliRunner().invoke(cli.cli, ["stylize", str(tmp_path / "photo.png"), *arguments,
                                              "-o", str(tmp_path / f"{name}.png")])
        assert result.exit_code == 0, result.output
        outputs[name] = np.asarray(Image.open(tmp_path / f"{name}.png").convert("RGB")).astype(int)
    np.testing.assert_array_equal(outputs["bfloat16"], outputs["library"])
    assert np.abs(outputs["bfloat16"] - outputs["float32"]).max() > 0
    result = CliRunner().invoke(cli.cli, ["export", "--precision", "bfloat16", "-o", str(tmp_path / "opt")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == ("Error: expected --precision only with --model (the "
                                                      "optimization's export runs float32)")
