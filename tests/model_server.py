"""A gRPC PredictionService that serves exports the way TF Serving does, for tests.

There is no `tensorflow_model_server` binary here, so this stands in for it on
the parts that decide whether an export works when served:

- the SavedModel is loaded with `tf.compat.v1.saved_model.loader.load` into a
  `tf.compat.v1.Session` (TF Serving's loader; `tf.saved_model.load` would hide
  the Keras-variable bug keras-team/keras#20095);
- the base folder's highest integer version is served; the warmup records in
  `assets.extra/tf_serving_warmup_requests` are replayed at load;
- a request runs the SignatureDef's tensors: unknown inputs and wrong dtypes are
  rejected, missing inputs are filled from `SignatureDef.defaults`, the gRPC
  deadline becomes `RunOptions.timeout_in_ms`;
- TF errors map to gRPC status codes (InvalidArgument -> INVALID_ARGUMENT, unknown
  model -> NOT_FOUND, deadline -> DEADLINE_EXCEEDED).

Not reproduced: batching (off for tf-nst anyway), the REST API, model-config reloads.
"""

import concurrent.futures
import os

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2, prediction_service_pb2_grpc

MAX_MESSAGE_BYTES = 2**31 - 1  # TF Serving's server accepts ~2 GB messages

_STATUS = {
    tf.errors.InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    tf.errors.DeadlineExceededError: grpc.StatusCode.DEADLINE_EXCEEDED,
    tf.errors.ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    tf.errors.CancelledError: grpc.StatusCode.CANCELLED,
    tf.errors.FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    tf.errors.NotFoundError: grpc.StatusCode.NOT_FOUND,
}


class RequestError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class ServedModel:
    """One version of one model, loaded in its own graph and session."""

    def __init__(self, name, base_path):
        versions = [int(entry) for entry in os.listdir(base_path) if entry.isdigit()]
        self.name, self.version = name, max(versions)
        self.path = os.path.join(base_path, str(self.version))
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], self.path)
        self.signatures = {key: value for key, value in meta_graph.signature_def.items()
                           if not key.startswith("__")}
        self.warmup_count = self._warmup()

    def _warmup(self):
        path = os.path.join(self.path, "assets.extra", "tf_serving_warmup_requests")
        count = 0
        if os.path.exists(path):
            for record in tf.compat.v1.io.tf_record_iterator(path):
                log = prediction_log_pb2.PredictionLog.FromString(record)
                self.predict(log.predict_log.request, timeout=None)
                count += 1
        return count

    def predict(self, request, timeout):
        name = request.model_spec.signature_name or "serving_default"
        if name not in self.signatures:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f'Serving signature key "{name}" not found.')
        signature = self.signatures[name]
        feeds = {}
        for alias, proto in request.inputs.items():
            if alias not in signature.inputs:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"input tensor alias not found in signature: {alias}. Inputs expected "
                                   f"to be in the set {{{','.join(sorted(signature.inputs))}}}.")
            expected = signature.inputs[alias].dtype
            if proto.dtype != expected:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"Expects arg[{alias}] to be {tf.dtypes.as_dtype(expected).name} but "
                                   f"{tf.dtypes.as_dtype(proto.dtype).name} is provided")
            feeds[signature.inputs[alias].name] = tf.make_ndarray(proto)
        for alias, info in signature.inputs.items():
            if alias in request.inputs:
                continue
            if alias not in signature.defaults:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Missing input: {alias}")
            feeds[info.name] = tf.make_ndarray(signature.defaults[alias])
        fetches = {alias: info.name for alias, info in signature.outputs.items()}
        options = tf.compat.v1.RunOptions()
        if timeout is not None:
            options.timeout_in_ms = max(1, int(timeout * 1000))
        try:
            outputs = self.session.run(fetches, feeds, options=options)
        except tf.errors.OpError as error:
            raise RequestError(_STATUS.get(type(error), grpc.StatusCode.INTERNAL), error.message) from None
        except ValueError as error:  # the Python session's own shape check of a feed
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.name
        response.model_spec.version.value = self.version
        response.model_spec.signature_name = name
        for alias, value in outputs.items():
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(value))
        return response


class SessionPredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, models):
        self.models = {name: ServedModel(name, path) for name, path in models.items()}

    def Predict(self, request, context):
        model = self.models.get(request.model_spec.name)
        wanted = request.model_spec.version.value if request.model_spec.HasField("version") else None
        if model is None or (wanted is not None and wanted != model.version):
            label = f"Specific({request.model_spec.name}, {wanted})" if wanted else f"Latest({request.model_spec.name})"
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {label}")
        try:
            return model.predict(request, context.time_remaining())
        except RequestError as error:
            context.abort(error.code, str(error))


def start_server(models, max_workers=8):
    """Serve `{model name: base path}` on 127.0.0.1; returns `(server, service, "127.0.0.1:port")`."""
    service = SessionPredictionService(models)
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=max_workers),
        options=[("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, service, f"127.0.0.1:{port}"
