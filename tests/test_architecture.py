"""The layering, checked from the source: the core never imports discord, and every import
between Omnicord's areas points down (an import-linter 'layers' contract, as a test)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

#: Top to bottom; an area may import its own modules and any area below it.
LAYERS = (
    ("cli", "__main__"),
    ("cogs",),
    ("services",),
    ("build",),
    ("settings",),
    ("conversation", "live"),
    ("policy",),
    ("store",),
    ("media",),
    ("voice",),
    ("realtime",),
    ("model",),
    ("errors", "secrets", "logs", "pseudonyms", "checks", "files", "environment",
     "setting_values", "i18n", ""),
)
RANK = {area: len(LAYERS) - index for index, areas in enumerate(LAYERS) for area in areas}
# The one lazy import upwards-in-name: `omnicord run` starts the plugin's runner.
ALLOWED = {("omnicord.cli", "omnicord.cogs.runner")}


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    parts = list(relative.parts)
    parts = ["omnicord", *parts[1:]] if parts[0] == "bot" else ["omnicord", *parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def sources() -> list[Path]:
    return sorted([*(REPO / "bot").rglob("*.py"), *(REPO / "cogs").rglob("*.py")])


def test_only_the_plugin_imports_discord() -> None:
    offenders = [module_name(path) for path in sources()
                 if area(module_name(path)) != "cogs"
                 and any(name.split(".")[0] == "discord" for name in imports(path))]
    assert offenders == []


def test_every_import_between_areas_points_down() -> None:
    upward = []
    for path in sources():
        module = module_name(path)
        for name in imports(path):
            if not name.startswith("omnicord") or area(name) == area(module):
                continue
            if RANK[area(name)] > RANK[area(module)] and (module, name) not in ALLOWED:
                upward.append(f"{module} -> {name}")
    assert upward == []


def test_every_package_folder_is_installed() -> None:
    import tomllib

    declared = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
                   ["packages"])
    folders = {module_name(init) for init in sources() if init.name == "__init__.py"}
    assert folders == declared
    assert {area(m) for m in map(module_name, sources())} <= set(RANK)
