"""tf_nst.serving.contract: the export's wire names, controls and what an export fixes (TensorFlow-free)."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from tf_nst.errors import InvalidArgumentError
from tf_nst.serving import contract


def test_the_contract_imports_without_tensorflow():
    code = "import sys, tf_nst.serving.contract; print('tensorflow' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"


def test_controls_are_the_schema_control_fields_under_their_option_names():
    from tf_nst.settings import control_names

    assert contract.CONTROL_FIELDS == {"steps": "num_steps", "content_weight": "content_weight",
                                       "style_weight": "style_weight", "tv_weight": "tv_weight", "seed": "seed",
                                       "init": "init"}
    assert sorted(contract.CONTROL_FIELDS.values()) == sorted(control_names())
    assert contract.wire_controls({"num_steps": 5, "init": None}) == {"steps": 5, "init": None}


def test_control_values_are_typed_and_unknown_names_refused():
    values = contract.control_values({"steps": 3.0, "seed": 7, "init": "random", "tv_weight": None})
    assert values["steps"].dtype == np.int32 and values["seed"].dtype == np.int64
    assert values["init"].item() == b"random" and "tv_weight" not in values
    with pytest.raises(InvalidArgumentError, match="expected controls among steps, content_weight.*Received: stpes"):
        contract.control_values({"stpes": 3})


def test_tf_dtypes_resolve_lazily():
    import tensorflow as tf

    assert [contract.tf_dtype(name) for name in contract.CONTROL_NAMES] == [
        tf.int32, tf.float32, tf.float32, tf.float32, tf.int64, tf.string]


def test_an_export_fixes_every_setting_but_the_controls_and_size():
    assert contract.export_controls({"num_steps": 50, "size": 128, "seed": 1}, ["num_steps", "size"]) == {
        "num_steps": 50}
    with pytest.raises(InvalidArgumentError, match="^--lbfgs-history, --max-memory: fixed when the model was "
                                                   "exported, expected only --size, --content-weight, "):
        contract.export_controls({}, ["max_memory", "lbfgs_history"])
    with pytest.raises(InvalidArgumentError, match="expected init one of content, random with --saved-model. "
                                                   "Received: init='mean-noise'"):
        contract.export_controls({"init": "mean-noise"}, ["init"])
