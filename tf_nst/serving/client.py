"""Call the exported optimization: a local SavedModel, or TF Serving over gRPC or REST.

All three speak the signatures of the wire contract (`tf_nst/serving/contract.py`) that the
export (`tf_nst/serving/export.py`) writes. They return a `ServedResult` and raise the project's typed errors:
`InvalidArgumentError` for a request the model rejected (over a cap, not an
image, ...), `ServingError` for an unreachable server, an unknown model, a
deadline or a model folder that does not load.

Example:
```python
from tf_nst.serving import client as serving
model = serving.load_saved_model("models/tf_nst/1")
result = model.stylize(content_rgb, style_rgb, steps=50)        # in process
result = serving.request_grpc("127.0.0.1:8500", content_rgb, style_rgb, steps=50)
result = serving.request_rest("127.0.0.1:8501", content_rgb, style_rgb, steps=50)
```
"""

import base64
import dataclasses
import json
import re
import socket
import time
import urllib.error
import urllib.request

import numpy as np

from tf_nst.engine import pyramid
from tf_nst.errors import InvalidArgumentError, ServingError
from tf_nst.serving import contract as names
from tf_nst.serving.contract import DEFAULT_TIMEOUT, control_values
from tf_nst.serving.export_files import read_export_info, read_signature_defaults, resolve_version
from tf_nst.serving.request_inputs import bytes_inputs, decode_png, image_inputs
from tf_nst.settings import MIN_SIDE

# gRPC's default receive limit (4 MiB) rejects a ~1200 px uint8 reply after the work is done.
MAX_MESSAGE_BYTES = 1 << 30
GRPC_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]


@dataclasses.dataclass
class ServedResult:
    """What a served call returns.

    Args:
        image: `uint8` array `(height, width, 3)`.
        losses: float32 `(steps + 1, parts)`: row 0 is the start image, columns as
            `Stylizer.loss_names` (`total`, `content`, `style`, `tv`, ...).
        seconds: wall time of the call, transfer included.
    """

    image: np.ndarray
    losses: np.ndarray
    seconds: float

    @property
    def best_loss(self):
        return float(np.min(self.losses[:, 0]))


def prepare_image(rgb, size=None, min_side=MIN_SIDE):
    """What the client sends: `rgb` resized as the library's `pyramid.fit` does (or as is, without `size`)."""
    rgb = np.asarray(rgb, np.uint8)
    return rgb if size is None else pyramid.fit(rgb, size, min_side)


def server_message(text):
    """The useful line of a TF error message (the assertion text of an in-graph check)."""
    match = re.search(r"assertion failed: \[(.*?)\]\s*$", text, re.MULTILINE)
    if match:
        return match.group(1).replace('\\"', '"').replace("\\'", "'")
    noise = ("Graph execution error", "[[", "{{", "File ", "Detected at node", "Traceback", "<stack traces")
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith(noise) and not line.startswith((" ", "\t"))]
    return lines[0] if lines else text.strip()


# --- local SavedModel -----------------------------------------------------------------------


class LocalModel:
    """An exported tf-nst SavedModel loaded in this process (`tf.saved_model.load`).

    Needs neither `tf_nst`'s Python classes nor Keras: only TensorFlow.

    Args:
        path: a version folder (`models/tf_nst/1`) or a base folder (its highest version).
    """

    def __init__(self, path):
        import tensorflow as tf

        self.path = resolve_version(path)
        try:
            self._loaded = tf.saved_model.load(self.path)
        except (OSError, ValueError, tf.errors.OpError) as error:
            raise ServingError(f"could not load a SavedModel from {self.path}: expected a tf-nst export "
                               f"(python cli.py export). Received: {server_message(str(error))}") from None
        missing = [name for name in names.SIGNATURE_NAMES if name not in self._loaded.signatures]
        if missing:
            raise ServingError(f"{self.path}: expected signatures {', '.join(names.SIGNATURE_NAMES)}. "
                               f"Received: {', '.join(self._loaded.signatures) or 'none'}")
        # Python's signature functions need every argument; TF Serving fills these itself.
        self.defaults = {name: read_signature_defaults(self.path, name) for name in names.SIGNATURE_NAMES}
        self.info = read_export_info(self.path, required=False)

    def _call(self, signature, inputs, controls):
        import tensorflow as tf

        arguments = dict(self.defaults[signature])
        arguments.update(control_values(controls))
        arguments.update(inputs)
        function = self._loaded.signatures[signature]
        try:
            return {key: value.numpy() for key, value in function(
                **{key: tf.constant(value) for key, value in arguments.items()}).items()}
        except tf.errors.InvalidArgumentError as error:
            raise InvalidArgumentError(f"the model rejected the request: {server_message(error.message)}") from None

    def stylize(self, content, style, mask=None, style_weights=None, **controls):
        """Run `serving_default` on `uint8 (H, W, 3)` arrays, taken as they are (no resizing).

        `mask`: None (the style everywhere) or a grey `uint8 (h, w)` / `(h, w, 1)` array with the
        content's aspect ratio: where the style applies. Controls: steps, content_weight,
        style_weight, tv_weight, seed, init ("content"/"random"), strength (an arbitrary-style network's).

        Several paintings (an arbitrary-style network's export): `style` a list of arrays of any sizes,
        `mask` None or a list of one mask per painting, `style_weights` None (equal) or one weight per
        painting; they go through `stylize_bytes` as PNG strings (lossless: the same pixels as tensors).
        """
        started = time.perf_counter()
        if isinstance(style, (list, tuple)):
            outputs = self._call(names.STYLIZE_BYTES, bytes_inputs(content, style, mask, style_weights), controls)
            image = decode_png(outputs[names.STYLIZED_BYTES])
        else:
            outputs = self._call(names.SERVING_DEFAULT, image_inputs(content, style, mask, style_weights), controls)
            image = outputs[names.STYLIZED][0]
        return ServedResult(image, outputs[names.LOSSES], time.perf_counter() - started)

    def stylize_bytes(self, content_bytes, style_bytes, mask_bytes=None, **controls):
        """Run `stylize_bytes` on encoded PNG/JPEG bytes (a mask too, optional); the result is decoded."""
        started = time.perf_counter()
        inputs = {names.CONTENT_BYTES: np.array(content_bytes, object), names.STYLE_BYTES: np.array(style_bytes, object)}
        if mask_bytes is not None:
            inputs[names.MASK_BYTES] = np.array(mask_bytes, object)
        outputs = self._call(names.STYLIZE_BYTES, inputs, controls)
        return ServedResult(decode_png(outputs[names.STYLIZED_BYTES]), outputs[names.LOSSES],
                            time.perf_counter() - started)


def load_saved_model(path):
    """Load an export for in-process calls; see `LocalModel`."""
    return LocalModel(path)


# --- TF Serving over gRPC -------------------------------------------------------------------


def predict_request(content, style, model_name=names.MODEL_NAME, version=None,
                    signature=names.SERVING_DEFAULT, mask=None, style_weights=None, **controls):
    """A `PredictRequest` for `uint8 (H, W, 3)` arrays (PNG-encoded for `stylize_bytes`), mask optional; several
    paintings as `image_inputs` takes them."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    if signature not in names.SIGNATURE_NAMES:
        raise InvalidArgumentError(
            f"expected signature one of {', '.join(names.SIGNATURE_NAMES)}. Received: signature={signature!r}")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    inputs = (bytes_inputs if signature == names.STYLIZE_BYTES else image_inputs)(content, style, mask, style_weights)
    inputs.update(control_values(controls))
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """A model on TF Serving behind the local export's `stylize(content, style, mask=None, **controls)`,
    so the one request path (`tf_nst.runs.pairs`) calls either alike.

    Args:
        address: `host:port` (gRPC's 8500, or REST's 8501 with `rest=True`).
        model_name, version, signature, timeout: as `request_grpc` (REST always uses `stylize_bytes`).
    """

    address: str
    rest: bool = False
    model_name: str = names.MODEL_NAME
    version: int | None = None
    signature: str = names.SERVING_DEFAULT
    timeout: float = DEFAULT_TIMEOUT

    def stylize(self, content, style, mask=None, style_weights=None, **controls):
        if self.rest:
            return request_rest(self.address, content, style, model_name=self.model_name, version=self.version,
                                timeout=self.timeout, mask=mask, style_weights=style_weights, **controls)
        return request_grpc(self.address, content, style, model_name=self.model_name, version=self.version,
                            signature=self.signature, timeout=self.timeout, mask=mask, style_weights=style_weights,
                            **controls)


def request_grpc(server, content, style, model_name=names.MODEL_NAME, version=None,
                 signature=names.SERVING_DEFAULT, timeout=DEFAULT_TIMEOUT, channel=None, mask=None, style_weights=None,
                 **controls):
    """Stylize on TF Serving through its gRPC PredictionService.

    Args:
        server: `host:port` of the gRPC endpoint (TF Serving's 8500).
        content, style: `uint8 (H, W, 3)` arrays, sent as they are (see `prepare_image`).
        model_name, version: which servable (version None = the latest).
        signature: `serving_default` (raw tensors) or `stylize_bytes` (PNG both ways).
        timeout: the request's deadline in seconds; the server cancels the run after it.
        channel: an existing `grpc.Channel` to reuse.
        mask: None (the style everywhere) or a grey `uint8 (h, w)` array: where the style applies.
        style_weights: with several paintings (`style` a list, `mask` one per painting): their blend.
        **controls: steps, content_weight, style_weight, tv_weight, seed, init.

    Returns:
        A `ServedResult`.
    """
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    request = predict_request(content, style, model_name, version, signature, mask=mask, style_weights=style_weights,
                              **controls)
    own_channel = channel is None
    channel = channel or grpc.insecure_channel(server, options=GRPC_OPTIONS)
    started = time.perf_counter()
    try:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=timeout)
    except grpc.RpcError as error:
        raise _grpc_error(error, server, model_name, version, timeout) from None
    finally:
        if own_channel:
            channel.close()
    seconds = time.perf_counter() - started
    losses = tf.make_ndarray(response.outputs[names.LOSSES])
    if signature == names.STYLIZE_BYTES:
        image = decode_png(tf.make_ndarray(response.outputs[names.STYLIZED_BYTES]).item())
    else:
        image = tf.make_ndarray(response.outputs[names.STYLIZED])[0]
    return ServedResult(image, losses, seconds)


def _model_label(model_name, version):
    return f"model {model_name!r}" + (f" version {version}" if version is not None else "")


def _grpc_error(error, server, model_name, version, timeout):
    import grpc

    code, details = error.code(), error.details() or ""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgumentError(f"the server rejected the request: {server_message(details)}")
    if code == grpc.StatusCode.UNAVAILABLE:
        return ServingError(f"cannot reach a model server at {server}: expected TF Serving listening there "
                            f"(see serving/README.md). Received: UNAVAILABLE ({server_message(details)})")
    if code == grpc.StatusCode.NOT_FOUND:
        return ServingError(f"{_model_label(model_name, version)} is not served at {server}: expected a name "
                            f"from the server's models.config. Received: NOT_FOUND ({server_message(details)})")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ServingError(f"no reply from {server} within {timeout:g} s: expected the stylization to finish "
                            f"before the deadline; raise --timeout or lower --steps/--size. "
                            f"Received: DEADLINE_EXCEEDED")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return ServingError(f"message too large for {server}: expected a smaller image or a server with a "
                            f"larger message limit. Received: RESOURCE_EXHAUSTED ({server_message(details)})")
    return ServingError(f"request to {server} failed. Received: {code.name} ({server_message(details)})")


# --- TF Serving over REST -------------------------------------------------------------------


def rest_url(server, model_name=names.MODEL_NAME, version=None):
    base = server if server.startswith(("http://", "https://")) else f"http://{server}"
    version_part = f"/versions/{int(version)}" if version is not None else ""
    return f"{base.rstrip('/')}/v1/models/{model_name}{version_part}:predict"


def rest_body(content, style, mask=None, style_weights=None, **controls):
    """The JSON body of a REST predict call on `stylize_bytes` (binary inputs as `{"b64": ...}`)."""
    def jsonable(name, value):
        if name == names.STYLE_WEIGHTS:
            return value.tolist()
        if value.ndim:  # several paintings (or their masks): a list of strings
            return [{"b64": base64.b64encode(item).decode()} for item in value]
        return {"b64": base64.b64encode(value.item()).decode()}

    inputs = {name: jsonable(name, value) for name, value in bytes_inputs(content, style, mask, style_weights).items()}
    for name, value in control_values(controls).items():
        inputs[name] = value.item().decode() if name == names.INIT else value.item()
    return {"signature_name": names.STYLIZE_BYTES, "inputs": inputs}


def request_rest(server, content, style, model_name=names.MODEL_NAME, version=None,
                 timeout=DEFAULT_TIMEOUT, mask=None, style_weights=None, **controls):
    """Stylize on TF Serving's REST API (`stylize_bytes`, PNG in base64). Arguments as `request_grpc`.

    TF Serving's own REST timeout (`--rest_api_timeout_in_ms`, 30 s by default) must also
    be long enough; serving/docker-compose.yml raises it.
    """
    url = rest_url(server, model_name, version)
    data = json.dumps(rest_body(content, style, mask=mask, style_weights=style_weights, **controls)).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise _rest_error(error, server, model_name, version) from None
    except TimeoutError:
        raise ServingError(f"no reply from {server} within {timeout:g} s: expected the stylization to finish "
                           f"before the deadline; raise --timeout or lower --steps/--size. Received: timeout") from None
    except (urllib.error.URLError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise ServingError(f"no reply from {server} within {timeout:g} s: expected the stylization to "
                               f"finish before the deadline; raise --timeout. Received: timeout") from None
        raise ServingError(f"cannot reach a model server at {server}: expected TF Serving's REST port "
                           f"there (see serving/README.md). Received: {reason}") from None
    seconds = time.perf_counter() - started
    outputs = reply.get("outputs", reply)
    image = decode_png(base64.b64decode(outputs[names.STYLIZED_BYTES]["b64"]))
    return ServedResult(image, np.asarray(outputs[names.LOSSES], np.float32), seconds)


def _rest_error(error, server, model_name, version):
    try:
        message = json.loads(error.read()).get("error", "")
    except (ValueError, AttributeError):
        message = str(error.reason)
    if error.code == 404 or "not found" in message.lower() and "servable" in message.lower():
        return ServingError(f"{_model_label(model_name, version)} is not served at {server}: expected a name "
                            f"from the server's models.config. Received: {error.code} ({server_message(message)})")
    if error.code == 400:
        return InvalidArgumentError(f"the server rejected the request: {server_message(message)}")
    return ServingError(f"request to {server} failed. Received: HTTP {error.code} ({server_message(message)})")
