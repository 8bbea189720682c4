"""README's front page as a new user meets it: Install's first line in a fresh venv, then every command of
"The first image" and "Real time" as written, twice in a row (what writes a file must be repeatable).

The commands are read out of README.md, so README and this test cannot drift. A line holding a
placeholder for the user's own files (`CONTENT.jpg STYLE.jpg`) is skipped: it names no file here
and its VGG19 weights need the network. The rest run as every test does, with downloads blocked
and an empty Keras cache: the front page works offline. Only the install reaches a package
index (pip's cache makes it quick); without one answering, the test is skipped.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

# Taken as this module is imported, before the autouse fixture blocks the network for the test itself.
MACHINE_ENVIRONMENT = dict(os.environ)
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*\.(jpg|jpeg|png)$")  # CONTENT.jpg, STYLE.jpg: the user's own files
NO_INDEX = ("Could not find a version that satisfies", "Failed to establish a new connection",
            "Temporary failure in name resolution", "Network is unreachable")
SECTIONS = ("The first image", "Real time")


def readme_block(title):
    """The command lines of the first fenced block under README's `## title`, comments dropped."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as stream:
        readme = stream.read()
    section = readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def front_page_commands():
    """`(runnable, skipped)` command lines of README's front-page sections."""
    lines = [line for title in SECTIONS for line in readme_block(title)]
    skipped = [line for line in lines if any(PLACEHOLDER.match(word) for word in line)]
    return [line for line in lines if line not in skipped], skipped


def test_the_front_page_commands_are_read_from_readme():
    runnable, skipped = front_page_commands()
    assert readme_block("Install")[0] == ["pip", "install", "-r", "requirements.txt"]
    assert all(line[:2] == ["python", "cli.py"] for line in runnable + skipped)
    assert [line[2] for line in runnable] == ["stylize", "info", "models", "stylize", "stylize"]
    assert [line[2] for line in skipped] == ["stylize"]  # the user's own photo and painting, VGG19


def fresh_clone(target):
    """What a clone holds for these commands: cli.py, the package (assets and bundled models), requirements,
    and the docs' painting that Real time's arbitrary-network line takes."""
    target.mkdir()
    for name in ("cli.py", "requirements.txt", "README.md"):
        shutil.copy(os.path.join(ROOT, name), target / name)
    shutil.copytree(os.path.join(ROOT, "tf_nst"), target / "tf_nst", ignore=shutil.ignore_patterns("__pycache__"))
    paintings = os.path.join("docs", "gallery", "paintings")
    shutil.copytree(os.path.join(ROOT, paintings), target / paintings)
    return target


def install(clone, venv):
    """README's Install line in a fresh venv (no --system-site-packages), with the machine's network."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    pip_line = readme_block("Install")[0]
    result = subprocess.run([str(venv / "bin" / pip_line[0]), *pip_line[1:]], cwd=clone, capture_output=True,
                            text=True, env=MACHINE_ENVIRONMENT, timeout=1800)
    if result.returncode != 0 and any(sign in result.stdout + result.stderr for sign in NO_INDEX):
        pytest.skip(f"no package index answers pip: {result.stderr.strip().splitlines()[-1]}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.large
def test_readme_front_page_works_as_written_twice_in_a_fresh_venv(tmp_path):
    clone, venv = fresh_clone(tmp_path / "clone"), tmp_path / "venv"
    install(clone, venv)
    # The venv's bin first on PATH, as an activated venv has it; downloads stay blocked (conftest).
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", VIRTUAL_ENV=str(venv),
               TF_NST_MODELS=str(tmp_path / "no_local_models"))
    env.pop("PYTHONPATH", None)
    runnable, _ = front_page_commands()
    for round_number in (1, 2):
        for line in runnable:
            result = subprocess.run([str(venv / "bin" / "python"), *line[1:]], cwd=clone, capture_output=True,
                                    text=True, env=env, timeout=900)
            assert result.returncode == 0, f"round {round_number}: {shlex.join(line)}\n{result.stderr[-3000:]}"
            assert "Error:" not in result.stderr
    assert (clone / "first.png").exists() and (clone / "fast.png").exists()
