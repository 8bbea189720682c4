"""The optimization as a SavedModel: export layout, saved_model_cli, local loads, served gRPC/REST path."""

import concurrent.futures
import os
import subprocess
import sys
import textwrap

import grpc
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from conftest import ROOT, gradient_image
from model_server import start_server

from tf_nst.cli import app as cli
from tf_nst.serving import export, export_files
from tf_nst.serving import client as serving
from tf_nst.serving.request_inputs import encode_png
from tf_nst.errors import InvalidArgumentError, OutputError, ServingError
from tf_nst.io.images import load_image, resize
from tf_nst.engine.stylizer import Stylizer

MAX_STEPS = 20
MAX_PIXELS = 128 * 128
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A random-weight VGG19 export (what the library call is compared with) and its base folder."""
    stylizer = Stylizer(weights=None, size=64, num_steps=3, scales=1)
    base = str(tmp_path_factory.mktemp("models") / "tf_nst")
    path = export.export_model(stylizer, base, max_steps=MAX_STEPS, max_pixels=MAX_PIXELS)
    return stylizer, base, path


@pytest.fixture(scope="module")
def served(exported):
    server, service, address = start_server({"tf_nst": exported[1]})
    yield service, address
    server.stop(0)


def images(seed=1, size=64):
    content = gradient_image(size * 3 // 4, size, seed=seed)
    style = np.random.default_rng(seed + 10).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return content, style


def test_layout_versions_and_atomic_write(exported, tmp_path):
    stylizer, base, path = exported
    assert path == os.path.join(base, "1")
    for name in ("saved_model.pb", "variables", export.WARMUP_FILE, export.EXPORT_INFO_FILE):
        assert os.path.exists(os.path.join(path, name))
    assert [entry for entry in os.listdir(base)] == ["1"]  # no temporary folder left behind
    assert export_files.next_version(base) == 2
    with pytest.raises(OutputError, match="version 1 already exists"):
        export.export_model(stylizer, base, version=1)
    with pytest.raises(InvalidArgumentError, match="expected default steps <= max_steps"):
        export.export_model(stylizer, str(tmp_path), max_steps=2)


def test_saved_model_cli_show_lists_signatures(exported):
    output = subprocess.run(["saved_model_cli", "show", "--dir", exported[2], "--all"],
                            capture_output=True, text=True, env=ENV, check=True).stdout
    default = output[output.index("signature_def['serving_default']"):output.index("signature_def['stylize_bytes']")]
    as_bytes = output[output.index("signature_def['stylize_bytes']"):]
    for block, inputs, outputs in (
            (default, {"content": ("DT_UINT8", "(1, -1, -1, 3)"), "style": ("DT_UINT8", "(1, -1, -1, 3)")},
             {"stylized": ("DT_UINT8", "(1, -1, -1, 3)"), "losses": ("DT_FLOAT", "(-1, 4)")}),
            (as_bytes, {"content_bytes": ("DT_STRING", "()"), "style_bytes": ("DT_STRING", "()")},
             {"stylized_bytes": ("DT_STRING", "()"), "losses": ("DT_FLOAT", "(-1, 4)")})):
        controls = {"steps": ("DT_INT32", "()"), "content_weight": ("DT_FLOAT", "()"),
                    "style_weight": ("DT_FLOAT", "()"), "tv_weight": ("DT_FLOAT", "()"),
                    "seed": ("DT_INT64", "()"), "init": ("DT_STRING", "()")}
        for kind, specs in (("inputs", {**inputs, **controls}), ("outputs", outputs)):
            for name, (dtype, shape) in specs.items():
                entry = block[block.index(f"{kind}['{name}']"):]
                assert entry.split("\n")[1].strip() == f"dtype: {dtype}", name
                assert entry.split("\n")[2].strip() == f"shape: {shape}", name
        assert "Method name is: tensorflow/serving/predict" in block
    from tf_nst.serving.export_files import read_signature_defaults

    defaults = read_signature_defaults(exported[2], export.STYLIZE_BYTES)
    assert defaults["steps"] == 3 and defaults["init"] == b"content" and defaults["style_weight"] > 0


def test_saved_model_cli_run_uses_the_session_loader(exported, tmp_path):
    content, style = images()
    np.save(tmp_path / "content.npy", content[None])
    np.save(tmp_path / "style.npy", style[None])
    completed = subprocess.run(
        ["saved_model_cli", "run", "--dir", exported[2], "--tag_set", "serve", "--signature_def", "serving_default",
         "--inputs", f"content={tmp_path / 'content.npy'};style={tmp_path / 'style.npy'}",
         "--input_exprs", "steps=2;content_weight=1.0;style_weight=10.0;tv_weight=1.0;seed=0;init='content'",
         "--outdir", str(tmp_path), "--overwrite"],
        capture_output=True, text=True, env=ENV)
    assert completed.returncode == 0, completed.stderr[-2000:]
    stylized = np.load(tmp_path / "stylized.npy")
    assert stylized.shape == (1, 48, 64, 3) and stylized.dtype == np.uint8
    assert np.load(tmp_path / "losses.npy").shape == (3, 4)


def test_loads_and_runs_where_tf_nst_is_not_importable(exported, tmp_path):
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        sys.path = [p for p in sys.path if p not in ("", {ROOT!r})]
        try:
            import tf_nst
            raise SystemExit("tf_nst importable")
        except ImportError:
            pass
        model = tf.saved_model.load({exported[2]!r})
        image = tf.constant(np.full((1, 40, 40, 3), 120, np.uint8))
        everywhere = tf.constant(np.full((1, 1, 1, 1), 255, np.uint8))  # the mask's default
        out = model.signatures["serving_default"](content=image, style=image, mask=everywhere, steps=tf.constant(1),
            content_weight=tf.constant(1.0), style_weight=tf.constant(1.0), tv_weight=tf.constant(1.0),
            seed=tf.constant(0, tf.int64), init=tf.constant("random"))
        print(out["stylized"].shape, out["losses"].shape)
    """)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               env=ENV, cwd=str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "(1, 40, 40, 3) (2, 4)"


def test_local_model_matches_library_call(exported):
    stylizer, base, _ = exported
    content, style = images()
    library = Stylizer.stylize(stylizer, content, style)
    model = serving.load_saved_model(base)  # base folder: highest version
    result = model.stylize(content, style)  # export defaults = the stylizer's settings
    # The library traces its pieces for any image size, as the export does: bit-identical.
    np.testing.assert_array_equal(result.image, library.image)
    # Reported losses may differ in the last bit (multi-threaded reductions); the images may not.
    # tolerance T1 (see conftest.py): the same ops on the same CPU in one process.
    np.testing.assert_allclose(result.losses, library.history, rtol=1e-6, atol=0)
    from_bytes = model.stylize_bytes(encode_png(content), encode_png(style))
    np.testing.assert_array_equal(from_bytes.image, result.image)


def half_mask(height, width):
    """White on the left half, black on the right: the style on the left only."""
    mask = np.zeros((height, width), np.uint8)
    mask[:, : width // 2] = 255
    return mask


def test_masked_request_equals_library_call_and_white_is_unmasked(served, exported):
    stylizer, base, _ = exported
    content, style = images(seed=4)
    mask = half_mask(*content.shape[:2])
    library = Stylizer.stylize(stylizer, content, style, region_masks=[mask])
    model = serving.load_saved_model(base)
    local = model.stylize(content, style, mask=mask)
    np.testing.assert_array_equal(local.image, library.image)
    # tolerance T1 (see conftest.py): the same ops on the same CPU in one process.
    np.testing.assert_allclose(local.losses, library.history, rtol=1e-5, atol=0)
    # Through the Session loader behind gRPC, both signatures; a white mask is the unmasked graph.
    _, address = served
    for signature in export.SIGNATURE_NAMES:
        served_result = grpc_call(address, content, style, signature=signature, mask=mask)
        np.testing.assert_array_equal(served_result.image, library.image)
    unmasked = model.stylize(content, style)
    white = model.stylize(content, style, mask=np.full(content.shape[:2], 255, np.uint8))
    np.testing.assert_array_equal(white.image, unmasked.image)
    assert np.abs(unmasked.image.astype(int) - local.image.astype(int)).max() > 0  # the mask changed it


@pytest.mark.parametrize("mask, message", [
    (np.zeros((48, 64), np.uint8), "expected mask with a region somewhere"),
    (np.full((64, 64), 128, np.uint8), r"expected mask with the content's aspect ratio \(within 1%\). "
                                       r"Received: mask of 64x64 for content of 64x48"),
])
def test_bad_masks_are_invalid_argument(served, mask, message):
    _, address = served
    content, style = images()
    with pytest.raises(InvalidArgumentError, match=message):
        grpc_call(address, content, style, mask=mask, steps=1)


def test_local_model_errors(exported, tmp_path):
    model = serving.load_saved_model(exported[2])
    content, style = images()
    with pytest.raises(InvalidArgumentError, match=r"expected steps in \[1, 20\]. Received: steps=21"):
        model.stylize(content, style, steps=21)
    with pytest.raises(ServingError, match="expected a SavedModel folder"):
        serving.load_saved_model(str(tmp_path))


def grpc_call(address, content, style, **kwargs):
    return serving.request_grpc(address, content, style, timeout=60, **kwargs)


def test_warmup_requests_replay(served, exported):
    # TF Serving replays these at load: one request per signature, each a real one-step run.
    from tensorflow_serving.apis import prediction_log_pb2

    service, _ = served
    model = service.models["tf_nst"]
    assert model.warmup_count == 2
    records = tf.compat.v1.io.tf_record_iterator(os.path.join(exported[2], export.WARMUP_FILE))
    requests = [prediction_log_pb2.PredictionLog.FromString(record).predict_log.request for record in records]
    assert [request.model_spec.signature_name for request in requests] == list(export.SIGNATURE_NAMES)
    side = min(export.WARMUP_SIDE, int(MAX_PIXELS ** 0.5))
    for request in requests:
        assert request.model_spec.name == export.MODEL_NAME and tf.make_ndarray(request.inputs[export.STEPS]) == 1
        response = model.predict(request, timeout=None)
        losses = tf.make_ndarray(response.outputs[export.LOSSES])
        assert losses.shape == (2, len(exported[0].loss_names)) and np.isfinite(losses).all()
        if request.model_spec.signature_name == export.SERVING_DEFAULT:
            assert tf.make_ndarray(response.outputs[export.STYLIZED]).shape == (1, side, side, 3)
        else:
            assert tf.io.decode_png(tf.make_ndarray(response.outputs[export.STYLIZED_BYTES]).item()).shape == (
                side, side, 3)


def test_grpc_round_trip_both_signatures_equal_local_call(served, exported):
    _, address = served
    content, style = images(seed=3)
    local = serving.load_saved_model(exported[2]).stylize(content, style, steps=4, seed=7, init="random")
    for signature in export.SIGNATURE_NAMES:
        result = grpc_call(address, content, style, signature=signature, steps=4, seed=7, init="random")
        assert result.losses.shape == (5, 4)
        np.testing.assert_array_equal(result.image, local.image)
        # tolerance T1 (see conftest.py): the same ops on the same CPU in one process.
        np.testing.assert_allclose(result.losses, local.losses, rtol=1e-6)


def test_grpc_defaults_filled_by_server(served, exported):
    _, address = served
    content, style = images()
    result = grpc_call(address, content, style)  # no controls sent
    assert result.losses.shape == (exported[0].settings.num_steps + 1, 4)


@pytest.mark.parametrize("kwargs, content_shape, message", [
    ({"steps": MAX_STEPS + 1}, (48, 64), r"expected steps in \[1, 20\]. Received: steps=21"),
    ({"steps": 0}, (48, 64), r"Received: steps=0"),
    ({"style_weight": -1.0}, (48, 64), r"expected style_weight a finite number >= 0"),
    ({}, (200, 200), r"expected content of at most 16384 pixels \(export cap\). Received: content of 200x200"),
    ({}, (16, 64), r"expected content with sides of at least 32 pixels"),
])
def test_grpc_over_cap_is_invalid_argument(served, kwargs, content_shape, message):
    _, address = served
    content = gradient_image(*content_shape)
    for signature in export.SIGNATURE_NAMES:
        with pytest.raises(InvalidArgumentError, match=message.replace("content", "content(_bytes)?")
                           if signature == export.STYLIZE_BYTES else message):
            grpc_call(address, content, images()[1], signature=signature, **kwargs)


def raw_predict(address, inputs, signature=export.STYLIZE_BYTES, model="tf_nst"):
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    with grpc.insecure_channel(address) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)


@pytest.mark.parametrize("content_bytes, message", [
    (b"not an image at all", "expected content_bytes to be PNG or JPEG bytes"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 8 + b"\x00\x00\xff\xff\x00\x00\xff\xff" + b"\x00" * 20,
     "expected content_bytes of at most 16384 pixels"),  # a 65535x65535 header: refused before decoding
    (b"\xff\xd8\xff" + b"\x00" * 40, "Invalid JPEG data, size 43"),  # a JPEG header with no image: the decoder says so
])
def test_grpc_garbage_bytes_are_invalid_argument(served, content_bytes, message):
    _, address = served
    style = encode_png(images()[1])
    with pytest.raises(grpc.RpcError) as raised:
        raw_predict(address, {"content_bytes": np.array(content_bytes, object), "style_bytes": np.array(style, object),
                              "steps": np.int32(1)})
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in raised.value.details()


@pytest.mark.parametrize("content, message", [
    # Like TF Serving, the server checks dtypes against the SignatureDef, and the session checks
    # fed shapes against the signature's [1, None, None, 3]: such requests never reach the graph.
    (np.zeros((1, 48, 48, 3), np.float32), "Expects arg[content] to be uint8 but float32 is provided"),
    (np.zeros((48, 48, 3), np.uint8), "Cannot feed value of shape (48, 48, 3)"),
    (np.zeros((1, 48, 48, 4), np.uint8), "Cannot feed value of shape (1, 48, 48, 4)"),
])
def test_grpc_wrong_dtype_and_rank_are_invalid_argument(served, content, message):
    _, address = served
    with pytest.raises(grpc.RpcError) as raised:
        raw_predict(address, {"content": content, "style": np.zeros((1, 48, 48, 3), np.uint8)},
                    signature=export.SERVING_DEFAULT)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in raised.value.details()


@pytest.mark.parametrize("shape, message", [
    ((48, 48, 3), r"expected content of shape \[1, height, width, 3\]. Received: shape=\[48 48 3\]"),
    ((1, 48, 48, 4), r"expected content of shape \[1, height, width, 3\]. Received: shape=\[1 48 48 4\]"),
    ((2, 48, 48, 3), r"expected content of shape \[1, height, width, 3\]. Received: shape=\[2 48 48 3\]"),
    ((1, 16, 48, 3), r"expected content with sides of at least 32 pixels. Received: content of 48x16"),
])
def test_check_image_guards_graphs_without_a_fixed_rank(exported, shape, message):
    """The export's own image check, for callers whose input spec does not fix the rank."""
    builder = export.SignatureBuilder(exported[0], MAX_STEPS, MAX_PIXELS, export.export_defaults(exported[0]))
    check = tf.function(lambda image: builder.check_image(export.CONTENT, image),
                        input_signature=[tf.TensorSpec(None, tf.uint8)])
    assert check(np.zeros((1, 48, 48, 3), np.uint8)).shape == (1, 48, 48, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        check(np.zeros(shape, np.uint8))


def test_grpc_errors_unknown_model_unreachable_deadline(served):
    _, address = served
    content, style = images()
    with pytest.raises(ServingError, match="model 'nope' is not served at .*NOT_FOUND"):
        grpc_call(address, content, style, model_name="nope")
    with pytest.raises(ServingError, match="version 9 is not served"):
        grpc_call(address, content, style, version=9)
    with pytest.raises(ServingError, match="cannot reach a model server at 127.0.0.1:9.*UNAVAILABLE"):
        grpc_call("127.0.0.1:9", content, style)
    with pytest.raises(ServingError, match="no reply from .* within 0.001 s"):
        serving.request_grpc(address, content, style, steps=MAX_STEPS, timeout=0.001)


def test_concurrent_requests_get_their_own_results(served):
    _, address = served
    inputs = [images(seed=seed) for seed in range(4)]
    sequential = [grpc_call(address, content, style, steps=3).image for content, style in inputs]
    assert not np.array_equal(sequential[0], sequential[1])
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(grpc_call, address, content, style, steps=3) for content, style in inputs]
        concurrent_images = [future.result().image for future in futures]
    for expected, got in zip(sequential, concurrent_images):
        np.testing.assert_array_equal(got, expected)


def test_cli_request_and_errors(served, content_path, style_path, tmp_path):
    _, address = served
    runner = CliRunner()
    output = tmp_path / "out.png"
    result = runner.invoke(cli.cli, ["request", "--server", address, "--size", "64", "--steps", "2",
                                     content_path, style_path, "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert load_image(output).rgb.shape == (64, 64, 3)
    result = runner.invoke(cli.cli, ["request", "--server", address, "--size", "64", "--steps", "99",
                                     content_path, style_path, "-o", str(tmp_path / "b.png")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: the server rejected the request: expected steps in [1, 20]. Received: steps=99")
    result = runner.invoke(cli.cli, ["request", "--server", address, "--model", "other",
                                     content_path, style_path, "-o", str(tmp_path / "c.png")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: model 'other' is not served at")


def test_cli_request_and_saved_model_take_a_mask(served, exported, content_path, style_path, tmp_path):
    from PIL import Image

    from tf_nst.io.provenance import read_provenance

    _, address = served
    mask_path = str(tmp_path / "left.png")
    Image.fromarray(half_mask(512, 512), "L").save(mask_path)  # the 512x512 content's left half
    runner = CliRunner()
    served_png, local_png = tmp_path / "served.png", tmp_path / "local.png"
    result = runner.invoke(cli.cli, ["request", "--server", address, "--size", "64", "--steps", "2", "--quiet",
                                     content_path, style_path, "--style-mask", mask_path, "-o", str(served_png)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli.cli, ["stylize", "--saved-model", exported[2], "--size", "64", "--steps", "2",
                                     "--quiet", content_path, style_path, "--style-mask", mask_path,
                                     "-o", str(local_png)])
    assert result.exit_code == 0, result.output
    model = serving.load_saved_model(exported[2])
    content = serving.prepare_image(load_image(content_path).rgb, 64)
    style = serving.prepare_image(load_image(style_path).rgb, 64)
    from tf_nst.runs.pairs import prepare_mask

    mask, _ = prepare_mask(load_image(mask_path), (512, 512), content.shape)  # the mask at the request's size
    assert np.abs(mask.astype(int) - half_mask(64, 64)).max() <= 128  # soft at the boundary only
    expected = model.stylize(content, style, mask=mask, steps=2)
    for path in (served_png, local_png):
        np.testing.assert_array_equal(load_image(path).rgb, expected.image)
        assert read_provenance(path)["masks"] == {"region_masks": [mask_path]}
    result = runner.invoke(cli.cli, ["stylize", "--saved-model", exported[2], content_path, style_path,
                                     "--style-image-mask", mask_path, "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "expected no --style-image-mask with --saved-model" in result.output


def test_cli_export_and_stylize_saved_model(tmp_path, content_path, style_path):
    runner = CliRunner()
    base = tmp_path / "models"
    result = runner.invoke(cli.cli, ["export", "--output", str(base), "--weights", "random", "--steps", "2",
                                     "--max-steps", "5"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Exported {base / '1'} (")
    output = tmp_path / "out.png"
    result = runner.invoke(cli.cli, ["stylize", "--saved-model", str(base / "1"), "--size", "48",
                                     content_path, style_path, "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert load_image(output).rgb.shape == (48, 48, 3)
    result = runner.invoke(cli.cli, ["stylize", "--saved-model", str(base), "--optimizer", "adam",
                                     content_path, style_path, "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("Error: --optimizer: fixed when the model was exported")


class RestStandIn:
    """TF Serving's REST predict (columnar `inputs`, `{"b64"}` for `_bytes`) over the same Session model."""

    def __init__(self, service):
        import base64
        import http.server
        import json
        import threading

        from tensorflow_serving.apis import predict_pb2

        models = service.models

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                name = self.path.split("/v1/models/")[1].split(":")[0].split("/")[0]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if name not in models:
                    return self.reply(404, {"error": f"Servable not found for request: Latest({name})"})
                model = models[name]
                signature = model.signatures[body["signature_name"]]
                request = predict_pb2.PredictRequest()
                request.model_spec.signature_name = body["signature_name"]
                for key, value in body["inputs"].items():
                    if isinstance(value, dict):
                        value = np.array(base64.b64decode(value["b64"]), object)
                    else:
                        dtype = tf.dtypes.as_dtype(signature.inputs[key].dtype)
                        value = np.array(value.encode() if isinstance(value, str) else value,
                                         object if dtype == tf.string else dtype.as_numpy_dtype)
                    request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
                try:
                    response = model.predict(request, timeout=None)
                except Exception as error:  # noqa: BLE001 - mirrors TF Serving's {"error": ...} replies
                    return self.reply(400, {"error": str(error)})
                outputs = {}
                for key, proto in response.outputs.items():
                    value = tf.make_ndarray(proto)
                    outputs[key] = ({"b64": base64.b64encode(value.item()).decode()} if key.endswith("_bytes")
                                    else value.tolist())
                self.reply(200, {"outputs": outputs})

            def reply(self, code, data):
                payload = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_rest_client_round_trip_and_errors(served, exported):
    service, address = served
    rest = RestStandIn(service)
    try:
        content, style = images(seed=5)
        result = serving.request_rest(rest.address, content, style, steps=2, timeout=60)
        expected = grpc_call(address, content, style, steps=2, signature=export.STYLIZE_BYTES)
        np.testing.assert_array_equal(result.image, expected.image)
        with pytest.raises(InvalidArgumentError, match=r"expected steps in \[1, 20\]"):
            serving.request_rest(rest.address, content, style, steps=50, timeout=60)
        with pytest.raises(ServingError, match="model 'x' is not served"):
            serving.request_rest(rest.address, content, style, model_name="x", timeout=60)
    finally:
        rest.server.shutdown()


@pytest.mark.large
def test_vgg16_hed_served_result_equals_library_call_and_really_stylizes(tmp_path, content_path, style_path):
    """Realistic settings (128 px, 20 L-BFGS steps, real weights), where any float difference
    between the fused served graph and the library's chunks would grow to tens of grey levels;
    then 100 steps through the Session-loaded gRPC path must really stylize (as the engine's e2e)."""
    stylizer = Stylizer(backbone="vgg16-hed", size=128, num_steps=20, scales=1, seed=5)
    base = str(tmp_path / "tf_nst")
    path = export.export_model(stylizer, base, max_steps=200, max_pixels=256 * 256)
    content = serving.prepare_image(load_image(content_path).rgb, 128)
    style = serving.prepare_image(load_image(style_path).rgb, 128)
    library = stylizer.stylize(content, style, chunk_steps=7)  # chunking must not matter either
    local = serving.load_saved_model(path).stylize(content, style)
    np.testing.assert_array_equal(local.image, library.image)
    # tolerance T1 (see conftest.py): the same ops on the same CPU in one process.
    np.testing.assert_allclose(local.losses, library.history, rtol=1e-6, atol=0)
    server, _, address = start_server({"tf_nst": base})  # TF1 Session loader, as TF Serving
    try:
        served = serving.request_grpc(address, content, style, timeout=300)
        long_run = serving.request_grpc(address, content, style, steps=100, timeout=600)
    finally:
        server.stop(0)
    np.testing.assert_array_equal(served.image, library.image)
    # tolerance T1 (see conftest.py): the same ops on the same CPU in one process.
    np.testing.assert_allclose(served.losses, library.history, rtol=1e-6, atol=0)
    assert_really_stylized(stylizer, long_run.image, content, style)


def assert_really_stylized(stylizer, image, content, style):
    """Style loss down 10x from the photo, content nearer the photo than the painting is, not flat."""
    height, width = content.shape[:2]
    objective = stylizer.objective()
    targets = objective.compute_targets(tf.constant(content[None], tf.float32),
                                        [tf.constant(style[None], tf.float32)], tf.ones([1]))
    measure = objective.value_and_grad(targets, 1.0, 1.0, 0.0)

    def parts(rgb):
        return dict(zip(stylizer.loss_names, measure(tf.constant(rgb[None], tf.float32))[1].numpy()))

    output, original = parts(image), parts(content)
    unrelated = parts(resize(style, (width, height)))
    assert output["style"] < 0.1 * original["style"]
    assert output["content"] < 0.6 * unrelated["content"]
    assert image.std() > 30
    assert np.mean(np.abs(image.astype(int) - content.astype(int))) > 10
