"""A trained network as a SavedModel: served through the gRPC harness (TF Serving's Session loader) and the
unchanged request path, equal to the library's output."""

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from conftest import gradient_image, tiny_styled_network
from model_server import start_server
from tf_nst.cli import app as cli
from tf_nst.engine.feedforward.rendering import FeedForward
from tf_nst.engine.feedforward.model_files import save_model
from tf_nst.engine.feedforward.transformer import style_weights_for
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
    direct = tmp_path / "direct.png"
    result = CliRunner().invoke(cli.cli, ["stylize", str(tmp_path / "photo.png"), "--model", folder, "--precision",
                                          "float32", "-o", str(direct)])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(direct).convert("RGB")))
