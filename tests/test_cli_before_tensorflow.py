"""A wrong command answers before TensorFlow is imported, in one `Error:` line on stderr.

Each command runs in a fresh interpreter that reports, as it exits, whether TensorFlow was imported:
in-process the suite has imported it long before. Usage errors (click's own included) exit 2, the
others 1. How fast they answer is measured, not asserted here (see the closing note of issue 29).
"""

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from tf_nst.errors import ModelError
from tf_nst.io.model_folders import resolve_model

# `python cli.py ARGS...` with a report of `'tensorflow' in sys.modules` on stdout as the interpreter exits.
REPORTING_CLI = ("import atexit, sys\n"
                 "atexit.register(lambda: print('tensorflow imported:', 'tensorflow' in sys.modules))\n"
                 "sys.argv[0] = 'cli.py'\n"
                 "from tf_nst.cli import main\n"
                 "main()\n")


def run_cli(cwd, *args):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_NST_MODELS=str(cwd))
    return subprocess.run([sys.executable, "-c", REPORTING_CLI, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def assert_answered_before_tensorflow(result, error_line, exit_code):
    assert result.stderr == error_line + "\n"
    assert result.returncode == exit_code
    assert result.stdout.splitlines()[-1] == "tensorflow imported: False"


def unknown_model_line(name):
    """The `Error:` line of an unknown `--model` (the known names read where models are resolved)."""
    with pytest.raises(ModelError) as raised:
        resolve_model(name)
    return f"Error: {raised.value}"


@pytest.fixture
def existing_output(tmp_path):
    (tmp_path / "out.png").write_bytes(b"an earlier result")
    return "out.png"


def test_an_option_out_of_range_is_one_line_without_the_usage_block(tmp_path):
    assert_answered_before_tensorflow(run_cli(tmp_path, "stylize", "--size", "0"),
                                      "Error: Invalid value for '--size': 0 is not in the range 32<=x<=16384.", 2)


def test_a_missing_content_file(tmp_path):
    assert_answered_before_tensorflow(run_cli(tmp_path, "stylize", "missing.jpg"),
                                      "Error: missing.jpg: no such file", 1)


def test_an_unknown_model_name(tmp_path):
    assert_answered_before_tensorflow(run_cli(tmp_path, "stylize", "--model", "nosuch"),
                                      unknown_model_line("nosuch"), 1)


def test_an_unknown_model_as_the_start_image(tmp_path):
    assert_answered_before_tensorflow(run_cli(tmp_path, "stylize", "--init", "model:nosuch", "-o", "new.png"),
                                      unknown_model_line("nosuch"), 1)


@pytest.mark.parametrize("model", [[], ["--model", "starry_night"]], ids=["optimization", "model"])
def test_a_repeated_output_without_overwrite(tmp_path, existing_output, model):
    assert_answered_before_tensorflow(run_cli(tmp_path, "stylize", *model, "-o", existing_output),
                                      "Error: out.png: already exists (pass --overwrite to replace it)", 1)
    assert (tmp_path / existing_output).read_bytes() == b"an earlier result"


def test_a_missing_region_mask(tmp_path):
    assert_answered_before_tensorflow(run_cli(tmp_path, "stylize", "--region-mask", "sky.png", "-o", "new.png"),
                                      "Error: sky.png: no such file", 1)


def test_a_missing_style_on_an_export(tmp_path):
    assert_answered_before_tensorflow(
        run_cli(tmp_path, "stylize", "--saved-model", tmp_path, os.path.join(ROOT, "tf_nst", "assets",
                                                                             "astronaut.png"), "style.jpg"),
        "Error: style.jpg: no such file", 1)


@pytest.mark.parametrize("args, error_line", [
    (["info", "first.png"], "Error: Invalid value for 'IMAGE': Path 'first.png' does not exist."),
    (["nosuch"], "Error: No such command 'nosuch'."),
    (["stylize", "--nosuch"], "Error: No such option '--nosuch'."),
    (["info"], "Error: Missing argument 'IMAGE'."),
], ids=["missing-file", "command", "option", "missing-argument"])
def test_click_usage_errors_are_one_line(tmp_path, args, error_line):
    assert_answered_before_tensorflow(run_cli(tmp_path, *args), error_line, 2)


def test_the_group_alone_still_shows_its_help(tmp_path):
    result = run_cli(tmp_path)
    assert result.stderr.startswith("Usage: cli.py [OPTIONS] COMMAND [ARGS]...")
    assert "Error:" not in result.stderr


def test_average_of_one_model_folder(tmp_path):
    assert_answered_before_tensorflow(run_cli(tmp_path, "average", "bundled-copy", "-o", "mean"),
                                      "Error: expected at least two model folders to average. Received: 1", 1)
