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


def _from_imports(path: Path) -> set[str]:
    """Full dotted names imported (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_domain_imports_no_database_session_settings_or_rasa():
    forbidden = (
        "sqlalchemy.orm.Session",
        "sqlalchemy.orm.sessionmaker",
        "bot.db",
        "bot.settings",
        "bot.unit_of_work",
        "bot.repository",
        "bot.services",
        "rasa",
        "rasa_sdk",
    )
    seen = 0
    for path in (ROOT / "bot" / "domain").rglob("*.py"):
        seen += 1
        bad = [n for n in _from_imports(path) if any(n == f or n.startswith(f + ".") for f in forbidden)]
        assert bad == [], path
    assert seen >= 8


def test_services_reach_records_only_through_repositories():
    """No SQL in a service: the only SQLAlchemy they know is its error classes."""
    for path in (ROOT / "bot" / "services").rglob("*.py"):
        sql = sorted(
            n for n in _from_imports(path) if n.startswith("sqlalchemy") and not n.startswith("sqlalchemy.exc")
        )
        assert sql == [], path
        assert ".session" not in path.read_text(encoding="utf-8"), path


CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}


def test_nothing_but_the_bank_clock_reads_the_system_date_or_time():
    """datetime.now(), utcnow(), today() and date.today() appear only in bot/clock.py."""
    offenders = []
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "actions").rglob("*.py")]:
        if path == ROOT / "bot" / "clock.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
                if (owner_name, node.func.attr) in CLOCK_CALLS:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
    assert "datetime.now(" in (ROOT / "bot" / "clock.py").read_text(
        encoding="utf-8"
    )  # the check looks at the right thing
