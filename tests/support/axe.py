"""axe-core (from the npm registry, installed in tests/a11y by tests/bootstrap.sh) run on a
page open in Playwright.

The script is evaluated through the DevTools protocol, which a page's CSP does not govern:
the page keeps its real CSP (``script-src 'self'``) while it is checked.

    findings = axe_findings(page)             # critical and serious only
    assert findings == [], describe(findings)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.require import unavailable

AXE = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
SEVERE = ("critical", "serious")


def axe_findings(page: Any, impacts: tuple[str, ...] = SEVERE) -> list[dict[str, Any]]:
    """The violations axe finds with one of ``impacts``, as ``{id, impact, help, nodes}``."""
    if not AXE.exists():
        unavailable(f"{AXE} is missing: run tests/bootstrap.sh")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate("""async () => {
        const r = await window.axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in impacts]


def describe(findings: list[dict[str, Any]]) -> str:
    return "\n".join(f"{f['impact']}: {f['id']} ({f['help']}) at {', '.join(f['nodes'])}"
                     for f in findings)
