"""The architecture is enforced, not only drawn (docs/architecture.md).

The import contracts in pyproject.toml (layers of rooms, front ends only through the cube
service, no cycles at any depth — imports inside functions count) are checked with
import-linter, and no module uses an underscore name of another room.
"""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold(capsys: object) -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def _module(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str:
    return ".".join(module.split(".")[:2])


def private_imports(root: Path = ROOT) -> list[str]:
    """`from other_room import _name` (and `import other_room._module`) anywhere in the package
    `labis_olap` under `root`."""
    found = []
    for path in sorted((root / "labis_olap").rglob("*.py")):
        me = _module(path, root)
        package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
                target = ".".join(p for p in (base, node.module or "") if p)
                names, modules = [a.name for a in node.names], [target]
            elif isinstance(node, ast.Import):
                names, modules = [], [a.name for a in node.names]
            else:
                continue
            if not target_is_ours(modules[0]) or _room(modules[0]) == _room(me):
                continue
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            private += [m for m in modules if any(p.startswith("_") for p in m.split(".")[1:])]
            if private:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {', '.join(private)}")
    return found


def target_is_ours(module: str) -> bool:
    return module == "labis_olap" or module.startswith("labis_olap.")


def test_no_module_uses_a_private_name_of_another_room() -> None:
    assert private_imports() == []


def test_the_private_name_check_finds_what_it_must(tmp_path: Path) -> None:
    """On a sample package: private names across rooms are found, within a room they are not."""
    files = {
        "labis_olap/__init__.py": "",
        "labis_olap/model/__init__.py": "",
        "labis_olap/model/reader.py": "from ._inner import _fine\nfrom .cuts import _also_fine\n",
        "labis_olap/query/__init__.py": "",
        "labis_olap/query/a.py": "from ..model.reader import _allowed, public\n",
        "labis_olap/query/b.py": "import labis_olap.model._inner\nfrom labis_olap.model import reader\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert private_imports(tmp_path) == [
        "labis_olap/query/a.py:1: _allowed",
        "labis_olap/query/b.py:1: labis_olap.model._inner",
    ]
