"""The package's layers: no import runs back up, and ``core/`` needs nothing but itself.

Each folder of ``ssomw/`` sits on a layer; a module may import its own folder and any folder on
a lower layer, never a higher one. Imports inside functions count too (they are still
dependencies). The layers, lowest first, are the README's code map read bottom-up.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ssomw"
LAYERS = [
    {"core"},
    {"pages", "store"},
    {"telemetry", "config"},
    {"session", "directory", "middleware", "integration"},
    {"oidc"},
    {"identity"},
    {"gateway"},
    {"broker"},  # ssomw as an OpenID provider: over the gateway's runtime and policy
    {"views"},
    {"admin"},
    {"console"},  # beside admin/: the same services, as pages
    {"__init__", "wsgi"},
    {"demo"},
    {"cli"},
]
LAYER_OF = {room: n for n, rooms in enumerate(LAYERS) for room in rooms}
# The Flask factory (ssomw/__init__.py) imports the views inside its function on purpose: a
# module-level import would run for every `import ssomw.<anything>` and pull in Flask.
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
# The one library core/ may use: a pure codec (IDNA 2008 with UTS #46 mapping) for host names;
# the standard library has only IDNA 2003, which maps look-alike characters differently.
CORE_LIBRARIES = {"idna"}


def room_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


def imported_rooms(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    rooms = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names]
                                     if node.module == "ssomw" else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "ssomw" and len(parts) > 1:
                rooms.add(parts[1])
    return rooms


def third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - STDLIB - {"ssomw"}


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_folder_has_a_layer() -> None:
    rooms = {room_of(p) for p in MODULES}
    assert rooms <= set(LAYER_OF), f"unplaced: {rooms - set(LAYER_OF)}"


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_import_runs_back_up_the_layers(path: Path) -> None:
    room = room_of(path)
    upward = {other for other in imported_rooms(path) - {room}
              if LAYER_OF.get(other, -1) >= LAYER_OF[room]}
    assert not upward, f"{room} (layer {LAYER_OF[room]}) imports {sorted(upward)}"


def test_core_uses_only_the_standard_library() -> None:
    for path in (PACKAGE / "core").rglob("*.py"):
        assert third_party(path) <= CORE_LIBRARIES, f"{path.name}: {third_party(path)}"
        assert imported_rooms(path) <= {"core"}, path.name


def test_at_most_four_loose_modules() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= 4, loose


def test_every_folder_states_its_rule() -> None:
    for folder in sorted(p for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"
                         and (p / "__init__.py").exists()):
        init = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
        assert (folder / "README.md").exists() or len(init) > 40, folder.name


def test_views_stay_thin() -> None:
    """A view parses, calls one service and renders: a reviewer reads one in a screen or two."""
    for path in (PACKAGE / "views").glob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= 250, f"{path.name} has {lines} lines: move the logic to its service"


def test_tests_mirror_the_package() -> None:
    tests = Path(__file__).resolve().parent
    for folder in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        assert (tests / folder.name).is_dir(), f"tests/{folder.name}/ is missing"
