"""The layers, checked on the source: geo/ is pure, services take plain values, the domains do
not import the pages, and no view imports another blueprint's views."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in a file, function-level ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def files(pattern: str) -> list[Path]:
    found = sorted(ROOT.glob(pattern))
    assert found, pattern
    return found


@pytest.mark.parametrize("path", files("geo/*.py"), ids=lambda p: p.name)
def test_geo_is_pure(path):
    bad = [m for m, _ in imports(path) if m.split(".")[0] in ("flask", "app", "flask_babel")]
    assert not bad, bad


@pytest.mark.parametrize("path", files("app/*/services.py"), ids=lambda p: p.parent.name)
def test_services_take_plain_values(path):
    bad = [(m, n) for m, n in imports(path)
           if m == "flask" and {"request", "g", "session"} & set(n)]
    assert not bad, bad


@pytest.mark.parametrize("path", [p for p in files("app/**/*.py")
                                  if p.parts[len(ROOT.parts) + 1] not in ("web", "__init__.py")],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_domains_do_not_import_the_pages(path):
    bad = [m for m, _ in imports(path) if m == "app.web" or m.startswith("app.web.")]
    if path.parts[-2] == "planner" and path.name == "views.py":  # the dashboard page's basemap
        bad = [m for m in bad if m != "app.web"]
    assert not bad, bad


@pytest.mark.parametrize("path", files("app/**/views.py"), ids=lambda p: str(p.relative_to(ROOT)))
def test_views_do_not_import_other_views(path):
    bad = [m for m, _ in imports(path) if m.endswith(".views") or ".views." in m]
    assert not bad, bad


@pytest.mark.parametrize("path", [p for p in files("app/web/*.py") if p.name != "views.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_page_modules_share_helpers_not_each_other(path):
    """What the page modules share is in app/web/forms.py; none imports another's views."""
    bad = [m for m, _ in imports(path) if m in ("app.web.views", "app.web.account", "app.web.moderation",
                                                  "app.web.agent")]
    assert not bad, bad
