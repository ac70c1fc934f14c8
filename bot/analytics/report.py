"""`python -m bot report`: the figures of a period (CONTRACTS section 9) as CSV and an HTML report.

`figures(...)` computes every metric of docs/analytics.md for the bank-local days
``since``..``until`` (both included) from the stored event stream and the records;
`write(...)` writes ``metrics.csv`` (metric, split, value) and ``report.html`` (charts as
inline PNG, nothing loaded from elsewhere) with what changed against the period before.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.analytics.metrics import (
    SPLITS,
    Figure,
    conversation_figures,
    form_funnels,
    percentile,
    sessions_of,
    top_unrecognised,
)
from bot.unit_of_work import UowFactory

#: Figures where a rise is good news, and where it is bad news (the summary says which); others are volumes.
HIGHER_IS_BETTER = {"containment_rate", "satisfaction_mean", "form_completion_rate"}
LOWER_IS_BETTER = {"escalation_rate", "fallback_rate", "abandonment_rate", "doom_loop_rate", "time_to_person_p50_s",
                   "time_to_person_p90_s", "notices_failed"}  # fmt: skip


@dataclass(frozen=True)
class Period:
    since: dt.date
    until: dt.date

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def previous(self) -> Period:
        return Period(self.since - dt.timedelta(days=self.days), self.since - dt.timedelta(days=1))

    def local_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        return dt.datetime.combine(self.since, dt.time()), dt.datetime.combine(
            self.until + dt.timedelta(days=1), dt.time()
        )

    def utc_bounds(self, zone: str) -> tuple[dt.datetime, dt.datetime]:
        start, end = self.local_bounds()
        tz = ZoneInfo(zone)
        return tuple(  # type: ignore[return-value]
            t.replace(tzinfo=tz).astimezone(dt.timezone.utc).replace(tzinfo=None) for t in (start, end)
        )


@dataclass(frozen=True)
class Report:
    period: Period
    figures: list[Figure]
    unrecognised: list[tuple[str, int]]


def figures(uow_factory: UowFactory, period: Period, zone: str, now_utc: dt.datetime, idle_minutes: int) -> Report:
    """Every figure of the period, for every split."""
    utc_start, utc_end = period.utc_bounds(zone)
    local_start, local_end = period.local_bounds()
    with uow_factory() as uow:
        rows = uow.reports.events_between(utc_start, utc_end)
        tickets = [
            (t.conversation_id, t.customer_id, t.language, t.created_at)
            for t in uow.reports.tickets_between(local_start, local_end)
        ]
        waits = []
        for conversation_id, customer_id, language, created in tickets:
            first = uow.reports.first_agent_reply_after(conversation_id, created)
            if first is not None:
                waits.append((customer_id is not None, language, (first - created).total_seconds()))
        ratings = [
            (r.customer_id is not None, r.language, r.rating)
            for r in uow.reports.ratings_between(local_start, local_end)
        ]
        notices = uow.reports.notice_counts_between(local_start, local_end)
        holds = uow.reports.hold_counts_between(period.since, period.until)
        cases = uow.reports.case_counts_between(local_start, local_end)
        extensions = uow.reports.extension_counts_between(local_start, local_end)
    sessions = sessions_of(rows)
    out = conversation_figures(sessions, now_utc, dt.timedelta(minutes=idle_minutes))
    out += form_funnels(sessions)
    for split in SPLITS:

        def keep(verified: bool, language: str, split: str = split) -> bool:
            return (
                split == "all" or split == f"language={language}" or split == ("verified" if verified else "anonymous")
            )

        mine_waits = [w for v, lang, w in waits if keep(v, lang)]
        mine_ratings = [r for v, lang, r in ratings if keep(v, lang)]
        out += [
            Figure("handoffs", split, sum(1 for _c, cid, lang, _t in tickets if keep(cid is not None, lang))),
            Figure("time_to_person_p50_s", split, round(percentile(mine_waits, 50), 1)),
            Figure("time_to_person_p90_s", split, round(percentile(mine_waits, 90), 1)),
            Figure("satisfaction_ratings", split, len(mine_ratings)),
            Figure(
                "satisfaction_mean", split, round(sum(mine_ratings) / len(mine_ratings), 2) if mine_ratings else 0.0
            ),
        ]
    for status, n in sorted(notices.items()):
        out.append(Figure(f"notices_{status}", "all", n))
    out.append(Figure("notices_held", "all", sum(holds.values())))
    for reason, n in sorted(holds.items()):
        out.append(Figure("notices_held", f"reason={reason}", n))
    for (kind, status), n in sorted(cases.items()):
        out.append(Figure("cases", f"type={kind},status={status}", n))
    for status, n in sorted(extensions.items()):
        out.append(Figure("extension_requests", f"status={status}", n))
    return Report(period, out, top_unrecognised(sessions))


def _chart(report: Report) -> str:
    """A bar chart of the headline rates per split, as a data: URI (the report needs no other file)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = ["containment_rate", "escalation_rate", "fallback_rate", "abandonment_rate"]
    values = {(f.metric, f.split): f.value for f in report.figures}
    figure, axis = plt.subplots(figsize=(8, 3.6), dpi=100)
    width = 0.8 / len(SPLITS)
    for k, split in enumerate(SPLITS):
        axis.bar(
            [i + k * width for i in range(len(rates))],
            [values.get((r, split), 0) * 100 for r in rates],
            width,
            label=split,
        )
    axis.set_xticks([i + 0.4 - width / 2 for i in range(len(rates))], [r.replace("_rate", "") for r in rates])
    axis.set_ylabel("%")
    axis.set_ylim(0, 100)
    axis.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def changes(current: Report, previous: Report) -> list[str]:
    """Sentences on the headline figures (split ``all``) that moved against the previous period."""
    before = {(f.metric, f.split): f.value for f in previous.figures}
    out = []
    for f in current.figures:
        if f.split != "all" or (f.metric, "all") not in before:
            continue
        old = before[(f.metric, "all")]
        if old == f.value:
            continue
        if f.metric in LOWER_IS_BETTER or f.metric in HIGHER_IS_BETTER:
            better = (f.value > old) == (f.metric in HIGHER_IS_BETTER)
            out.append(f"{f.metric}: {old:g} → {f.value:g} ({'better' if better else 'worse'})")
        else:  # volumes: neither good nor bad by themselves
            out.append(f"{f.metric}: {old:g} → {f.value:g}")
    return out


def write(out_dir: Path, current: Report, previous: Report) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out_dir / "metrics.csv", out_dir / "report.html"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["metric", "split", "value"])
        for f in current.figures:
            writer.writerow([f.metric, f.split, f"{f.value:g}"])
    e = html.escape
    by_metric: dict[str, dict[str, float]] = defaultdict(dict)
    for f in current.figures:
        by_metric[f.metric][f.split] = f.value
    splits: list[str] = list(SPLITS)
    rows = "".join(
        f"<tr><th scope='row'>{e(m)}</th>"
        + "".join(f"<td>{values[s]:g}</td>" if s in values else "<td></td>" for s in splits)
        + "</tr>"
        for m, values in by_metric.items()
        if any(s in values for s in splits)
    )
    other = [f for f in current.figures if f.split not in SPLITS]
    other_rows = "".join(f"<tr><td>{e(f.metric)}</td><td>{e(f.split)}</td><td>{f.value:g}</td></tr>" for f in other)
    moved = "".join(f"<li>{e(c)}</li>" for c in changes(current, previous)) or "<li>no change</li>"
    misunderstood = (
        "".join(f"<tr><td>{e(text)}</td><td>{n}</td></tr>" for text, n in current.unrecognised)
        or "<tr><td colspan='2'>none</td></tr>"
    )
    period = f"{current.period.since.isoformat()} – {current.period.until.isoformat()}"
    html_path.write_text(
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Assistant report {e(period)}</title>
<style>body{{font-family:sans-serif;margin:24px;color:#1d2521}}table{{border-collapse:collapse;margin:8px 0 20px}}
th,td{{border:1px solid #dde3e0;padding:4px 8px;text-align:right}}th[scope=row],td:first-child{{text-align:left}}</style></head>
<body>
<h1>Assistant report</h1>
<p>Period (bank time): <strong id="period">{e(period)}</strong>; compared with {e(current.period.previous().since.isoformat())} – {e(current.period.previous().until.isoformat())}.
Definitions: docs/analytics.md.</p>
<h2>What changed</h2><ul id="changes">{moved}</ul>
<h2>Headline rates</h2><img alt="containment, escalation, fallback and abandonment by split" src="{_chart(current)}">
<h2>Figures by split</h2>
<table id="figures"><thead><tr><th>metric</th>{"".join(f"<th>{e(s)}</th>" for s in splits)}</tr></thead><tbody>{rows}</tbody></table>
<h2>Forms, cases, extension requests, notices</h2>
<table id="other"><thead><tr><th>metric</th><th>split</th><th>value</th></tr></thead><tbody>{other_rows}</tbody></table>
<h2>Top misunderstood messages (masked)</h2>
<table id="unrecognised"><thead><tr><th>message</th><th>times</th></tr></thead><tbody>{misunderstood}</tbody></table>
</body></html>
""",
        encoding="utf-8",
    )
    return csv_path, html_path


def parse_period(since: str, until: str | None, today: dt.date) -> Period:
    """The period of the command line; ValueError with a clear message for bad dates."""
    try:
        start = dt.date.fromisoformat(since)
        end = dt.date.fromisoformat(until) if until else today
    except ValueError:
        raise ValueError("dates must be ISO dates like 2026-11-28") from None
    if end < start:
        raise ValueError("--until is before --since")
    return Period(start, end)


def values(report: Report) -> dict[tuple[str, str], float]:
    return {(f.metric, f.split): f.value for f in report.figures}


__all__: Sequence[str] = ("Period", "Report", "figures", "write", "changes", "parse_period", "values")
