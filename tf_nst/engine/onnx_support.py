"""What both TensorFlow-free networks share (`tf_nst.engine.arbitrary_onnx`, `tf_nst.engine.feedforward_onnx`):
`GraphBuilder`, which builds an ONNX graph with the `onnx` helper API; `cached_graph`, the built graphs kept
under `cache_folder()`; and `onnx_session`, the one way their graphs are run on onnxruntime's CPU provider.
Neither `onnx` nor `onnxruntime` is imported until used."""

import functools
import os

import numpy as np

from tf_nst.errors import OutputError
from tf_nst.io.atomic import atomic_output

OPSET = 17
IR_VERSION = 8  # the IR of opset 17; onnxruntime refuses models newer than it knows


def cache_folder():
    """Where built graphs are kept: `$XDG_CACHE_HOME/tf-nst/onnx` (default `~/.cache/tf-nst/onnx`), read when called."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "tf-nst", "onnx")


def onnx_session(graph, threads=None):
    """An onnxruntime CPU session of ONNX bytes `graph` (`threads`: its intra-op threads, default onnxruntime's
    choice): the one way both networks' graphs are run."""
    import onnxruntime

    shared_arena()
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    # Threads that sleep between operators instead of spinning: on a shared or busy CPU spinning
    # took turns from the working threads (decoder4 at 512x384, load 5.7 on 2 cores: 0.93 s, spinning 1.71 s).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No memory pattern (planned from the first run's allocations): the same pixels, and faster on both the
    # first run and later ones (the arbitrary network, 512x384 on a 2-core AVX2 EPYC, idle: first call 1.16 s
    # against 1.21 s, a second one 0.90 s against 1.05 s, medians of 4 fresh processes).
    options.enable_mem_pattern = False
    # Every session allocates from the one arena of `shared_arena`: a command runs each of its seven graphs
    # once, and each session's own arena touched fresh memory on its first run (first call 1.06 s against
    # 1.24 s, medians of 6 fresh processes, the same machine and pixels).
    options.add_session_config_entry("session.use_env_allocators", "1")
    if threads:
        options.intra_op_num_threads = int(threads)
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


@functools.cache
def shared_arena():
    """onnxruntime's CPU arena allocator, registered once per process for every session of `onnx_session`."""
    import onnxruntime

    memory = onnxruntime.OrtMemoryInfo("Cpu", onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                       onnxruntime.OrtMemType.DEFAULT)
    onnxruntime.create_and_register_allocator(memory, onnxruntime.OrtArenaCfg(0, -1, -1, -1))


def cached_graph(path, build):
    """The bytes at `path`, or `build()`'s, written there atomically (a cache that cannot be written is skipped)."""
    if os.path.isfile(path):
        with open(path, "rb") as stream:
            return stream.read()
    data = build()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_output(path) as stream:
            stream.write(data)
    except (OSError, OutputError):
        pass  # a read-only or full cache only costs the next run a build
    return data


class GraphBuilder:
    """Nodes and initializers of one ONNX graph, named in order (the `onnx` helper API); `model` gives its bytes,
    checked. Both TensorFlow-free networks build their graphs with it."""

    def __init__(self):
        import onnx
        from onnx import helper, numpy_helper

        self.onnx, self.helper, self.numpy_helper = onnx, helper, numpy_helper
        self.nodes, self.initializers, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, value, prefix="w"):
        name = self.name(prefix)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op, inputs, **attributes):
        output = self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [output], **attributes))
        return output

    def conv(self, x, kernel, bias, pads, relu):
        """A 3x3 convolution of a Keras `(h, w, in, out)` kernel (both cross-correlate)."""
        weight = self.constant(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), np.float32))
        x = self.node("Conv", [x, weight, self.constant(bias.astype(np.float32))], kernel_shape=[3, 3], pads=pads)
        return self.node("Relu", [x]) if relu else x

    def moments(self, features, channels, level):
        """`mean{level}` `(C, 1)` and `scatter{level}` `(C, C)`: the centred features' sum of outer products."""
        flat = self.node("Reshape", [features, self.constant(np.array([channels, -1], np.int64), "shape")])
        self.node("ReduceMean", [flat], axes=[1], keepdims=1)
        self.nodes[-1].output[0] = f"mean{level}"
        centred = self.node("Sub", [flat, f"mean{level}"])
        self.node("Gemm", [centred, centred], transB=1)
        self.nodes[-1].output[0] = f"scatter{level}"
        return [(f"mean{level}", [channels, 1]), (f"scatter{level}", [channels, channels])]

    def model(self, inputs, outputs):
        """Serialized bytes of the graph; `inputs`, `outputs`: `[(name, shape)]`, None for any size."""
        helper, tensor = self.helper, self.onnx.TensorProto.FLOAT
        graph = helper.make_graph(self.nodes, "tf_nst_arbitrary",
                                  [helper.make_tensor_value_info(name, tensor, shape) for name, shape in inputs],
                                  [helper.make_tensor_value_info(name, tensor, shape) for name, shape in outputs],
                                  self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tf-nst")
        model.ir_version = IR_VERSION
        self.onnx.checker.check_model(model)
        return model.SerializeToString()
