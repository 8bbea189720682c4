"""`pip install .`: `import tf_nst` from anywhere, the bundled assets, and the `tf-nst` command."""

import os
import subprocess
import sys

from conftest import ROOT


def test_wheel_installs_the_package_its_assets_and_the_command(tmp_path):
    # No build isolation: the build needs nothing from the network (setuptools is installed).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "wheel"), ROOT], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "wheel").iterdir()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(target))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import os, tf_nst, tf_nst.cli.options as c, tf_nst.io.model_folders as m; print(tf_nst.__file__); "
            "print(os.path.exists(c.DEFAULT_CONTENT) and m.is_model_folder(os.path.join(m.BUNDLED_MODELS, 'bundled')))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=elsewhere, env=env,
                           check=True).stdout.split()
    assert found[0].startswith(str(target)) and found[1] == "True"
    command = subprocess.run([sys.executable, str(target / "bin" / "tf-nst"), "stylize", "--help"],
                             capture_output=True, text=True, cwd=elsewhere, env=env)
    assert command.returncode == 0, command.stderr
    assert "Usage: tf-nst stylize [OPTIONS] [CONTENT] [STYLES]..." in command.stdout
