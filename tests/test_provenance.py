"""tf_nst.io.provenance: settings, input hashes and versions in every PNG; the one "already made?" check."""

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from conftest import ROOT

from tf_nst.errors import ImageError
from tf_nst.io import provenance
from tf_nst.io.images import save_png

SETTINGS = {"size": 64, "num_steps": 10, "precision": "float32", "style_weight": 10.0}


@pytest.fixture
def made(tmp_path):
    """An output PNG with its two inputs."""
    inputs = []
    for name, value in (("content.png", 10), ("style.png", 200)):
        Image.new("RGB", (8, 8), (value, value, value)).save(tmp_path / name)
        inputs.append(str(tmp_path / name))
    output = save_png(tmp_path / "out.png", np.zeros((8, 8, 3), np.uint8), settings=SETTINGS, inputs=inputs)
    return output, inputs


def test_round_trip_of_settings_hashes_order_and_versions(made):
    output, inputs = made
    stored = provenance.read_provenance(output)
    assert stored["settings"] == SETTINGS and stored["inputs"] == inputs
    assert stored["inputs_sha256"] == {path: provenance.file_sha256(path) for path in inputs}
    assert stored["versions"]["tf_nst"] == provenance.VERSION


def test_versions_are_those_of_the_numerical_packages_imported_as_installed():
    """A TensorFlow-free run records onnxruntime's version and not TensorFlow's (it did not make the pixels);
    each version recorded is the installed distribution's. In a fresh interpreter: this one has imported
    TensorFlow."""
    script = ("import importlib.metadata, json, onnxruntime\n"
              "from tf_nst.io import provenance\n"
              "print(json.dumps([provenance.versions(), importlib.metadata.version('onnxruntime')]))")
    found, installed = json.loads(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                                 text=True, cwd=ROOT).stdout)
    assert found == {"tf_nst": provenance.VERSION, "onnxruntime": installed}
    import keras
    import tensorflow as tf

    assert provenance.versions()["tensorflow"] == tf.__version__ and provenance.versions()["keras"] == keras.__version__


def test_matches_same_settings_and_input_bytes_only(made, tmp_path):
    output, inputs = made
    assert provenance.matches(output, SETTINGS, inputs)
    assert not provenance.matches(output, {**SETTINGS, "num_steps": 11}, inputs)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(inputs[1])  # the style changed on disk
    assert not provenance.matches(output, SETTINGS, inputs)


def test_matches_by_bytes_not_paths_and_from_a_stream(made, tmp_path):
    output, inputs = made
    moved = [shutil.copy(path, tmp_path / f"moved-{index}.png") for index, path in enumerate(inputs)]
    assert provenance.matches(output, SETTINGS, moved)
    hashes = provenance.input_hashes(inputs)
    with open(output, "rb") as stream:
        assert provenance.matches(io.BytesIO(stream.read()), SETTINGS, hashes=hashes)


def test_files_not_written_by_tf_nst(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    (tmp_path / "text.png").write_text("not a png")
    with pytest.raises(ImageError, match="no tf-nst settings found"):
        provenance.read_provenance(tmp_path / "plain.png")
    with pytest.raises(ImageError, match="cannot read PNG"):
        provenance.read_provenance(tmp_path / "text.png")
    assert not provenance.matches(tmp_path / "plain.png", SETTINGS)
    assert not provenance.matches(tmp_path / "missing.png", SETTINGS)


def test_a_tf_nst_0_1_png_is_read_in_todays_field_names(tmp_path):
    # 0.1 stored the optimizer's own config and the inputs inside the settings, and no precision.
    old = {"size": 128, "optimizer": "lbfgs", "optimizer_config": {"history_size": 7, "first_step": "torch"},
           "content": "a.jpg", "styles": ["b.jpg", "c.jpg"]}
    info = PngImagePlugin.PngInfo()
    info.add_itxt(provenance.SETTINGS_KEY, json.dumps(old))
    Image.new("RGB", (4, 4)).save(tmp_path / "old.png", pnginfo=info)
    stored = provenance.read_provenance(tmp_path / "old.png")
    assert stored["settings"] == {"size": 128, "optimizer": "lbfgs", "lbfgs_history": 7, "lbfgs_first_step": "torch",
                                  "precision": "float32"}
    assert stored["inputs"] == ["a.jpg", "b.jpg", "c.jpg"]
