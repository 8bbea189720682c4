"""The package's shape: layers and no cycles (import-linter), every constant defined once, small parts.

These read the source (AST) and run `lint-imports`; none imports TensorFlow.
"""

import ast
import collections
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "tf_nst")
MAX_FUNCTION_CODE_LINES = 60
MAX_MODULE_LINES = 400


def modules():
    """`{dotted name: path}` of every module of tf_nst."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


def parse(path):
    with open(path, encoding="utf-8") as stream:
        source = stream.read()
    return source, ast.parse(source, path)


def test_import_layers_and_no_cycles_hold():
    # The contract lives in .importlinter: cli -> runs -> serving -> engine -> io -> settings -> errors.
    # The interpreter's own lint-imports (requirements-dev.txt), not whichever one PATH finds first.
    # No fallback to PATH: a hand-installed copy elsewhere must not make this pass.
    command = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    assert os.path.exists(command), f"expected lint-imports beside {sys.executable}: pip install -r requirements-dev.txt"
    result = subprocess.run([command], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# --- every constant defined once ------------------------------------------------------------------

def is_constant_name(name):
    """UPPER_CASE, private ones too (`_GLOB_CHARACTERS`); dunders such as `__all__` are not constants."""
    bare = name.lstrip("_")
    return not name.startswith("__") and bare != "" and bare.upper() == bare and any(c.isalpha() for c in bare)


def module_constants(tree):
    """`{name: value node}` of module-level UPPER_CASE assignments (not imports)."""
    constants = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) and node.value is not None else []
        for target in targets:
            if isinstance(target, ast.Name) and is_constant_name(target.id):
                constants[target.id] = node.value
    return constants


def literal_key(node):
    """A hashable form of a literal choice list (tuple/list/set of >= 2 constants), else None."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 and all(
            isinstance(element, ast.Constant) for element in node.elts):
        return tuple(element.value for element in node.elts)
    return None


def duplicated_constants():
    """Names defined in more than one module, and choice lists whose literal value is spelled twice.

    Choice lists are also looked for in class bodies (`LBFGS.FIRST_STEPS`), by value.
    """
    by_name, by_value = collections.defaultdict(list), collections.defaultdict(list)
    for module, path in modules().items():
        tree = parse(path)[1]
        for name, value in module_constants(tree).items():
            by_name[name.lstrip("_")].append(module)
            key = literal_key(value)
            if key is not None:
                by_value[key].append(f"{module}.{name}")
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                for name, value in module_constants(node).items():
                    if literal_key(value) is not None:
                        by_value[literal_key(value)].append(f"{module}.{node.name}.{name}")
    names = {name: places for name, places in by_name.items() if len(places) > 1}
    values = {key: places for key, places in by_value.items() if len(places) > 1}
    return names, values


def test_every_constant_is_defined_in_one_module():
    names, values = duplicated_constants()
    lines = [f"{name}: defined in {', '.join(places)}" for name, places in sorted(names.items())]
    lines += [f"{key!r}: spelled in {', '.join(places)}" for key, places in values.items()]
    assert not lines, "constants defined twice (import them from settings.choices or serving.contract):\n" + \
        "\n".join(lines)


def test_the_constant_check_catches_a_copy():
    # The check above must be able to fail: two modules spelling one choice list.
    first = module_constants(ast.parse("MODES = ('a', 'b')\n_LIMIT = 3\nname = 1\n"))
    second = module_constants(ast.parse("OTHER = ('a', 'b')\n__all__ = ['x']\n"))
    assert set(first) == {"MODES", "_LIMIT"} and set(second) == {"OTHER"}
    assert literal_key(first["MODES"]) == literal_key(second["OTHER"]) == ("a", "b")


# --- small parts --------------------------------------------------------------------------------

def code_lines(source_lines, node):
    """Lines of code of a function: its docstring, blank lines and comment-only lines left out."""
    skipped = set()
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(
            body[0].value.value, str):
        skipped.update(range(body[0].lineno, body[0].end_lineno + 1))
    count = 0
    for number in range(node.lineno, node.end_lineno + 1):
        text = source_lines[number - 1].strip()
        if number not in skipped and text and not text.startswith("#"):
            count += 1
    return count


def long_functions(source, tree, module):
    lines = source.splitlines()
    return [(f"{module}:{node.lineno} {node.name}", code_lines(lines, node)) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and code_lines(lines, node) > MAX_FUNCTION_CODE_LINES]


def test_no_function_over_60_code_lines():
    offenders = []
    for module, path in modules().items():
        source, tree = parse(path)
        offenders += long_functions(source, tree, module)
    assert not offenders, f"functions over {MAX_FUNCTION_CODE_LINES} code lines:\n" + "\n".join(
        f"{where}: {count}" for where, count in sorted(offenders, key=lambda item: -item[1]))


def test_no_module_over_400_lines():
    offenders = []
    for module, path in modules().items():
        with open(path, encoding="utf-8") as stream:
            count = len(stream.read().splitlines())
        if count > MAX_MODULE_LINES:
            offenders.append((module, count))
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(
        f"{module}: {count}" for module, count in sorted(offenders, key=lambda item: -item[1]))


@pytest.mark.parametrize("source, expected", [
    ('def f():\n    """Doc\n    string."""\n    # why\n\n    return 1\n', 2),
    ("def f():\n    x = 1\n    return x\n", 3),
])
def test_code_lines_leave_out_docstrings_comments_and_blanks(source, expected):
    tree = ast.parse(source)
    assert code_lines(source.splitlines(), tree.body[0]) == expected
