"""The rooms and rules of Lumaflow's allowed import graph (docs/ARCHITECTURE.md), and how a rule judges an import.

``ROOMS`` gives each module of ours its room; ``RULES`` says what each room may not import. Each rule has a name,
and a crossing names the rule it broke. An import is reported once, under the first rule (in table order) it
breaks. The scanner that finds the imports is ``tools/check_imports.py``. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------------------------
# The rooms: (module prefix, room, which modules it covers). ``"exact"``: the prefix itself only; ``"tree"``: the
# prefix and everything below it; ``"below"``: each module strictly below the prefix, the room named
# ``<room>:<next component>`` (one room per engine module). The most specific match wins (longest prefix first).
ROOMS: tuple[tuple[str, str, str], ...] = (
    ("lumaflow.runtime.engines", "engine", "below"),
    ("lumaflow.runtime", "runtime", "tree"),
    ("lumaflow.server.models", "serving", "tree"),
    ("model_repository", "serving", "below-any"),
    ("lumaflow.server", "launcher", "tree"),
    ("lumaflow.contract", "contract", "tree"),
    ("lumaflow.params", "params", "tree"),
    ("lumaflow.ensemble", "declarations", "tree"),
    ("lumaflow.build", "build", "tree"),
    ("lumaflow.client", "client", "tree"),
    ("lumaflow.loadtest", "loadtest", "tree"),
    ("lumaflow.web", "web", "tree"),
    ("lumaflow.bench", "bench", "tree"),
    ("lumaflow.cli", "cli", "tree"),
    ("lumaflow", "root", "exact"),
)

# Engine libraries (top-level import names) and, for an engine module ``lumaflow.runtime.engines.<name>``, the one
# library it wraps. A name not listed here wraps the library its first ``_``-separated word names (``torch_cuda``).
ENGINE_LIBRARIES: frozenset[str] = frozenset({"onnxruntime", "openvino", "torch", "tensorrt"})
ENGINE_MODULE_LIBRARY: dict[str, str] = {
    "onnxruntime": "onnxruntime",
    "openvino": "openvino",
    "torch": "torch",
    "torch_cuda": "torch",
    "tensorrt": "tensorrt",
}

# Serving stubs live outside package-dir: model_repository/<model>/<version>/<name>.py.
MODEL_REPOSITORY = "model_repository"


@dataclass(frozen=True)
class Rule:
    """One rule of the import graph.

    ``rooms``: the rooms it binds (``"*"``: every room; ``"engine:*"``: every engine module). ``forbids``: what
    those rooms may not import, as rooms of ours or as classes: ``ours`` (any module of ours), ``non-stdlib``
    (anything outside the standard library), ``engine-library``, ``other-engine-library`` (an engine library that
    is not the importing engine module's own), ``engine:*`` (an engine module, rather than the registry) and
    ``repository-folder`` (a folder of the repository imported by its path: ``runtime.x`` for
    ``lumaflow.runtime.x``, or ``tests.x``), ``unassigned`` (a module of ours in no room).
    ``unless``: rooms of ours still allowed; ``unless_modules``: module prefixes still allowed. A module always
    may import its own room.
    """

    name: str
    rooms: tuple[str, ...]
    forbids: tuple[str, ...]
    unless: tuple[str, ...] = ()
    unless_modules: tuple[str, ...] = ()


ALL_ROOMS = ("*",)
RULES: tuple[Rule, ...] = (
    Rule("nothing imports the CLI", ALL_ROOMS, forbids=("cli",)),
    Rule(
        "ours are imported as lumaflow.<package>, never by a repository folder's path",
        ALL_ROOMS,
        forbids=("repository-folder",),
    ),
    Rule("every module of ours belongs to a room", ALL_ROOMS, forbids=("unassigned",)),
    Rule("contract and params import the standard library only", ("contract", "params"), forbids=("non-stdlib",)),
    Rule("the root package imports only contract", ("root",), forbids=("non-stdlib",), unless=("contract",)),
    Rule(
        "engine modules are reached through the registry lumaflow.runtime.engines",
        ("runtime", "engine:*", "serving", "build"),
        forbids=("engine:*",),
    ),
    Rule(
        "an engine module imports only its own engine library",
        ("engine:*",),
        forbids=("other-engine-library",),
    ),
    Rule(
        "engine libraries are imported only by lumaflow.runtime.engines.<name>",
        ("declarations", "runtime", "serving", "launcher", "client", "loadtest", "web"),
        forbids=("engine-library",),
    ),
    Rule(
        "build imports torch, tensorrt, onnxruntime.quantization and openvino (NNCF quantises an ov.Model); sessions"
        " through lumaflow.runtime.engines",
        ("build",),
        forbids=("engine-library",),
        unless_modules=("torch", "tensorrt", "onnxruntime.quantization", "openvino"),
    ),
    Rule(
        "bench imports torch; other engines through lumaflow.runtime.engines",
        ("bench",),
        forbids=("engine-library",),
        unless_modules=("torch",),
    ),
    Rule(
        "declarations import only contract and params of ours",
        ("declarations",),
        forbids=("ours",),
        unless=("contract", "params", "root"),
    ),
    Rule(
        "the runtime imports only contract, params and itself of ours",
        ("runtime", "engine:*"),
        forbids=("ours",),
        unless=("contract", "params", "root", "runtime"),
    ),
    Rule(
        "serving models import only the runtime, contract and params of ours",
        ("serving",),
        forbids=("ours",),
        unless=("contract", "params", "root", "runtime"),
    ),
    Rule(
        "the launcher never imports load tests, bench or serving models",
        ("launcher",),
        forbids=("loadtest", "bench", "serving"),
    ),
    Rule(
        "build imports only contract, params, declarations and the runtime of ours",
        ("build",),
        forbids=("ours",),
        unless=("contract", "params", "root", "declarations", "runtime"),
    ),
    Rule("the client imports only contract of ours", ("client",), forbids=("ours",), unless=("contract", "root")),
    Rule(
        "the web page imports only the client and contract of ours",
        ("web",),
        forbids=("ours",),
        unless=("client", "contract", "root"),
    ),
    Rule(
        "load tests import only the client and contract of ours",
        ("loadtest",),
        forbids=("ours",),
        unless=("client", "contract", "root"),
    ),
)


@dataclass(frozen=True)
class Target:
    """What an import statement reaches: the module name and how it classifies."""

    module: str
    ours: bool
    room: str | None
    stdlib: bool
    folder: bool  # one of our repository folders imported by its path (``runtime.imaging``)


_ROOMS_BY_LENGTH = sorted(ROOMS, key=lambda row: -len(row[0]))


def room_of(module: str) -> str | None:
    """The room of a module of ours, or None (not in any room)."""
    for prefix, room, covers in _ROOMS_BY_LENGTH:
        below = module.startswith(prefix + ".")
        if covers == "exact" and module == prefix:
            return room
        if covers == "tree" and (module == prefix or below):
            return room
        if covers == "below" and below:
            return f"{room}:{module[len(prefix) + 1 :].split('.')[0]}"
        if covers == "below-any" and below:
            return room
    return None


def engine_library(room: str) -> str | None:
    """The engine library an engine module's room (``engine:<name>``) wraps."""
    name = room.split(":", 1)[1]
    if name in ENGINE_MODULE_LIBRARY:
        return ENGINE_MODULE_LIBRARY[name]
    first = name.split("_")[0]
    return first if first in ENGINE_LIBRARIES else None


def binds(rule: Rule, room: str) -> bool:
    """Whether ``rule`` binds a module of ``room``."""
    return any(
        pattern == "*" or pattern == room or (pattern.endswith(":*") and room.startswith(pattern[:-1]))
        for pattern in rule.rooms
    )


def matches(token: str, target: Target, room: str) -> bool:
    """Whether ``target``, imported from ``room``, is what ``token`` names."""
    top = target.module.split(".")[0]
    if token == "ours":
        return target.ours
    if token == "non-stdlib":
        return not target.stdlib
    if token == "engine-library":
        return top in ENGINE_LIBRARIES
    if token == "other-engine-library":
        return top in ENGINE_LIBRARIES and top != engine_library(room)
    if token == "repository-folder":
        return target.folder
    if token == "unassigned":
        return target.ours and target.room is None
    if token.endswith(":*"):
        return target.room is not None and target.room.startswith(token[:-1])
    return target.room == token


def allowed(rule: Rule, target: Target, room: str) -> bool:
    """Whether ``target`` is an exception to ``rule`` for a module of ``room``."""
    if target.room is not None and (target.room == room or target.room in rule.unless):
        return True
    return any(target.module == prefix or target.module.startswith(prefix + ".") for prefix in rule.unless_modules)


def broken_rule(room: str, target: Target) -> Rule | None:
    """The first rule that importing ``target`` from ``room`` breaks, or None."""
    for rule in RULES:
        forbidden = binds(rule, room) and any(matches(token, target, room) for token in rule.forbids)
        if forbidden and not allowed(rule, target, room):
            return rule
    return None
