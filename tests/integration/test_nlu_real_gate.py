"""Quality gate on questions real people wrote: the trained model may not be more than three
points worse on the held-out real sets than the figures the README quotes (tests/nlu_real/gate.json).

Not a timing test: it parses about 1,700 held-out questions with the model `make test` trained.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from eval_real import evaluate  # noqa: E402

from tests.integration.conftest import latest_model  # noqa: E402

#: How far below the quoted figure a model may fall before CI fails (points).
SLACK = 0.03


def test_the_held_out_real_sets_stay_within_three_points_of_the_readme() -> None:
    gate = json.loads((ROOT / "tests" / "nlu_real" / "gate.json").read_text(encoding="utf-8"))
    report = evaluate(latest_model(), "heldout")
    worse = []
    for lang in ("zh", "en"):
        got, quoted = report[lang], gate[lang]
        if got["inscope_accuracy"] < quoted["inscope_accuracy"] - SLACK:
            worse.append(f"{lang} in-scope accuracy {got['inscope_accuracy']:.3f} < {quoted['inscope_accuracy']:.3f}")
        for rate in ("oos_to_domain", "oos_to_acting"):
            if got[rate] > quoted[rate] + SLACK:
                worse.append(f"{lang} {rate} {got[rate]:.3f} > {quoted[rate]:.3f}")
    assert not worse, "; ".join(worse)
