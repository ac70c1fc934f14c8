"""The domain core must not depend on Rasa (STYLE.md: where code lives)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("rasa", "rasa_sdk", "sanic")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_of_bot_outside_rasa_ext_imports_rasa_rasa_sdk_or_sanic():
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & set(FORBIDDEN))
        for path in (ROOT / "bot").rglob("*.py")
        if "rasa_ext" not in path.parts
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(offenders) >= 10  # the walk really saw the package


def test_actions_do_not_touch_the_database_directly():
    for path in (ROOT / "actions").rglob("*.py"):
        assert "sqlalchemy" not in _imports(path), path
