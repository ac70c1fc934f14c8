"""Render a report.html (python -m bot report --out DIR) to a PNG with Debian's Chromium.

.venv/bin/python scripts/report_screenshot.py DIR/report.html docs/report.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def main(report: str, out: str) -> int:
    source = Path(report).resolve()
    if not source.exists():
        print(f"no report at {source}: run python -m bot report --since ... --out DIR first", file=sys.stderr)
        return 2
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1000, "height": 1150})
        page.goto(source.as_uri())
        page.screenshot(path=out)
        browser.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
