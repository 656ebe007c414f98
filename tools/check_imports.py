"""Enforce Lumaflow's allowed import graph (docs/ARCHITECTURE.md) over every ``.py`` file of the repository.

Why a script of our own rather than import-linter: import-linter builds its graph with grimp, which finds a
root package through the import system and then walks that package's one folder on disk. Our
``[tool.setuptools] package-dir`` maps ``lumaflow.runtime``, ``lumaflow.build``, ``lumaflow.client``… to
top-level folders (``runtime/``, ``build/``, ``client/``…), so grimp sees only ``lumaflow/`` (four modules)
and a contract on ``lumaflow.client`` fails with "Module 'lumaflow.client' does not exist"; the serving stubs
``model_repository/<model>/1/model.py`` are no package at all (``1`` is no identifier), so it cannot see them
either. This script reads the same ``package-dir`` table from ``pyproject.toml``, gives each file its module
name and its room, and checks every import statement: absolute and relative, at module level, inside
functions (lazy), under ``if TYPE_CHECKING:`` and ``importlib.import_module("literal")`` calls alike.

The rooms and the rules are the tables of ``tools/import_rules.py``; each rule has a name, and a crossing names
the rule it broke. Files outside our packages (``tests/``, ``tools/``, ``docs/``) are not checked; which files
are ours is ``tools/source_files.py``'s walk.

Usage: ``python tools/check_imports.py [ROOT] [--json]``; exit status 1 when anything crosses.
Standard library only (Python 3.11's ``tomllib``; on 3.10 the ``tomli`` backport).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the interpreter here is 3.11
    import tomli as tomllib

# The sibling modules, also when this file is loaded by its path (tests/test_import_rules.py).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_rules import MODEL_REPOSITORY, ROOMS, RULES, Target, broken_rule, engine_library, room_of
from source_files import walk_python_files

__all__ = ["RULES", "check", "engine_library", "main", "module_name", "room_of", "walk_python_files"]


@dataclass(frozen=True)
class Crossing:
    """One import that breaks a rule."""

    path: str
    line: int
    room: str
    module: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.room} imports {self.module} (rule: {self.rule})"


@dataclass(frozen=True)
class SourceFile:
    """A file of ours: where it is, its module name, whether it is a package's ``__init__``, its room."""

    path: Path
    module: str
    is_package: bool
    room: str | None


# ---------------------------------------------------------------------------------------------------------------
# Files and module names


def package_dirs(root: Path) -> dict[str, str]:
    """``[tool.setuptools] package-dir`` of ``root/pyproject.toml``: package name -> folder (relative, ``/``)."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    with pyproject.open("rb") as handle:
        data = tomllib.load(handle)
    table = data.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    return {str(name): str(folder).strip("/").removeprefix("./") for name, folder in table.items()}


def module_name(path: Path, dirs: dict[str, str]) -> tuple[str, bool] | None:
    """The module name of the file at ``path`` (relative) under ``dirs``, and whether it is a package's __init__.

    The most specific folder of the package-dir table wins; ``""`` maps top-level packages. Serving stubs
    ``model_repository/<model>/<version>/<name>.py`` are ``model_repository.<model>.<name>``.
    """
    parts = path.with_suffix("").parts
    if len(parts) == 4 and parts[0] == MODEL_REPOSITORY:
        return f"{MODEL_REPOSITORY}.{parts[1]}.{parts[3]}", False
    best: tuple[int, str, tuple[str, ...]] | None = None
    for package, folder in dirs.items():
        folder_parts = tuple(part for part in folder.split("/") if part and part != ".")
        inside = parts[: len(folder_parts)] == folder_parts and len(parts) > len(folder_parts)
        if inside and (best is None or len(folder_parts) > best[0]):
            best = (len(folder_parts), package, parts[len(folder_parts) :])
    if best is None:
        return None
    _, package, rest = best
    is_package = rest[-1] == "__init__"
    if is_package:
        rest = rest[:-1]
    name = ".".join(part for part in (package, *rest) if part)
    return (name, is_package) if name else None


# ---------------------------------------------------------------------------------------------------------------
# Imports


@dataclass(frozen=True)
class Repository:
    """What the checker knows of one tree: our files, their module names, the names that are ours."""

    root: Path
    files: tuple[SourceFile, ...]
    modules: frozenset[str]
    our_tops: frozenset[str]  # top-level names of our packages (lumaflow, model_repository)
    folder_tops: frozenset[str]  # repository folders by path name (runtime, build, client, tests, tools…)

    def target(self, module: str) -> Target:
        top = module.split(".")[0]
        ours = top in self.our_tops
        return Target(
            module=module,
            ours=ours,
            room=room_of(module) if ours else None,
            stdlib=top in sys.stdlib_module_names,
            folder=not ours and top in self.folder_tops,
        )


def load_repository(root: Path) -> Repository:
    """Walk ``root`` and name every file of ours."""
    dirs = package_dirs(root)
    paths = list(walk_python_files(root))
    files: list[SourceFile] = []
    for path in paths:
        named = module_name(path, dirs)
        if named is None:
            continue
        module, is_package = named
        files.append(SourceFile(path, module, is_package, room_of(module)))
    our_tops = {name.split(".")[0] for name in dirs if name} | {MODEL_REPOSITORY}
    our_tops |= {file.module.split(".")[0] for file in files}
    # Our folders by their path names: runtime/ (lumaflow.runtime), but also tests/ and tools/.
    folder_tops = {path.parts[0] for path in paths if len(path.parts) > 1}
    modules = {file.module for file in files}
    # A package's parents are modules too (a folder of ours without __init__.py is a namespace package).
    modules |= {module.rsplit(".", depth)[0] for module in modules for depth in range(1, module.count(".") + 1)}
    return Repository(root, tuple(files), frozenset(modules), frozenset(our_tops), frozenset(folder_tops - our_tops))


def resolve_relative(source: SourceFile, level: int, module: str | None) -> str | None:
    """The absolute module a ``from <dots><module> import …`` in ``source`` names, or None (beyond the top)."""
    package = source.module.split(".") if source.is_package else source.module.split(".")[:-1]
    if level - 1 > len(package) or (level - 1 == len(package) and not module):
        return None
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


def imported_modules(tree: ast.AST, source: SourceFile, repository: Repository) -> Iterator[tuple[int, str]]:
    """Every (line, module) that ``tree`` imports, wherever the statement stands."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module if node.level == 0 else resolve_relative(source, node.level, node.module)
            if base is None:
                yield node.lineno, "." * node.level + (node.module or "")
                continue
            for alias in node.names:
                yield node.lineno, from_target(base, alias.name, repository)
        elif isinstance(node, ast.Call) and _is_import_call(node):
            argument = node.args[0]
            # A literal name; one relative to a ``package`` argument is not followed.
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str) and argument.value[:1] != ".":
                yield node.lineno, argument.value


def _is_import_call(node: ast.Call) -> bool:
    """``importlib.import_module(…)``, ``import_module(…)`` or ``__import__(…)`` with a first argument."""
    function = node.func
    name = ""
    if isinstance(function, ast.Attribute):
        name = function.attr
    elif isinstance(function, ast.Name):
        name = function.id
    return name in {"import_module", "__import__"} and bool(node.args)


def from_target(base: str, name: str, repository: Repository) -> str:
    """What ``from base import name`` reaches: the submodule ``base.name`` if there is one, else ``base``.

    Of ours, ``base.name`` is a module when a file (or folder) of ours has that name or a room names it
    (``lumaflow.bench`` before its folder exists); otherwise ``name`` is an attribute of ``base``. For other
    libraries the full name is kept (``onnxruntime.quantization`` versus ``onnxruntime.InferenceSession``).
    """
    if name == "*":
        return base
    candidate = f"{base}.{name}"
    if base.split(".")[0] not in repository.our_tops:
        return candidate
    if candidate in repository.modules or any(candidate == prefix for prefix, _, _ in ROOMS):
        return candidate
    return base


def check(root: Path) -> list[Crossing]:
    """Every crossing in the tree at ``root``, in file and line order."""
    repository = load_repository(root)
    crossings: list[Crossing] = []
    for source in repository.files:
        path = source.path.as_posix()
        if source.room is None:
            crossings.append(Crossing(path, 1, "unassigned", source.module, "every module of ours belongs to a room"))
            continue
        tree = ast.parse((root / source.path).read_bytes(), filename=path)
        seen: set[tuple[int, str]] = set()
        for line, module in sorted(imported_modules(tree, source, repository)):
            if (line, module) in seen:
                continue
            seen.add((line, module))
            if module.startswith("."):
                crossings.append(Crossing(path, line, source.room, module, "relative imports stay inside our packages"))
                continue
            rule = broken_rule(source.room, repository.target(module))
            if rule is not None:
                crossings.append(Crossing(path, line, source.room, module, rule.name))
    return crossings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("root", nargs="?", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--json", action="store_true", help="print the crossings as one JSON object")
    arguments = parser.parse_args(argv)
    root: Path = arguments.root.resolve()
    try:
        crossings = check(root)
    except SyntaxError as error:
        print(f"{error.filename}:{error.lineno}: cannot parse: {error.msg}", file=sys.stderr)
        return 2
    files = len({crossing.path for crossing in crossings})
    if arguments.json:
        print(json.dumps({"crossings": [asdict(crossing) for crossing in crossings], "count": len(crossings)}))
    else:
        for crossing in crossings:
            print(crossing)
        if crossings:
            print(f"{len(crossings)} import(s) cross the allowed import graph, in {files} file(s)")
        else:
            print("no import crosses the allowed import graph")
    return 1 if crossings else 0


if __name__ == "__main__":
    sys.exit(main())
