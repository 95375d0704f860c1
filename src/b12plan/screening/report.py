"""The summary table and the HTML report of a screening run: counts and charts, never a person's data.

Charts are drawn by matplotlib as SVG and written inline, so the report is one file that opens offline
(no CDN, no script). SVG ids are salted with a fixed string and carry no date, so the same run gives the
same report byte for byte.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from b12plan.domain.codes import Status
from b12plan.domain.rules import RuleSet, ScreenRule
from b12plan.screening.sqlgen import AGE_BANDS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from b12plan.screening.service import ScreenResult, ScreenTables

__all__ = ["summary_table", "write_report"]

_EVIDENCE = {"P": "primary source", "Q": "quoted source", "D": "b12plan design rule"}
_BANDS = [label for label, _ in AGE_BANDS]


def _per_1000(count: int, population: int) -> float:
    return round(1000.0 * count / population, 2) if population else 0.0


def _by_band(counts: pa.Table) -> dict[str, dict[str, int]]:
    """code -> band -> people."""
    out: dict[str, dict[str, int]] = {}
    for row in counts.to_pylist():
        band = out.setdefault(str(row["code"]), {})
        band[str(row["band"])] = band.get(str(row["band"]), 0) + int(row["people"])
    return out


def summary_table(tables: ScreenTables, rules: RuleSet) -> pa.Table:
    """One row per finding (every screening rule, found or not), per status, and per rejection reason."""
    status = _by_band(tables.status_counts)
    population = sum(sum(b.values()) for b in status.values())
    found = _by_band(tables.finding_counts)
    rows: list[dict[str, object]] = []
    for rule in rules.of(ScreenRule):
        n = sum(found.get(rule.finding, {}).values())
        rows.append(
            {
                "kind": "finding",
                "code": rule.finding,
                "rule_id": rule.id,
                "evidence": rule.evidence,
                "rule_source": rules.source_url(rule),
                "people": n,
                "per_1000": _per_1000(n, population),
            }
        )
    for code in Status:
        n = sum(status.get(code.value, {}).values())
        rows.append(
            {
                "kind": "status",
                "code": code.value,
                "rule_id": None,
                "evidence": None,
                "rule_source": None,
                "people": n,
                "per_1000": _per_1000(n, population),
            }
        )
    if tables.rejected.num_rows:
        grouped = tables.rejected.group_by(["reason", "rule_id"]).aggregate([("observation_id", "count")])
        for r in sorted(grouped.to_pylist(), key=lambda r: (str(r["reason"]), str(r["rule_id"]))):
            rows.append(
                {
                    "kind": "rejected",
                    "code": r["reason"],
                    "rule_id": r["rule_id"],
                    "evidence": None,
                    "rule_source": None,
                    "people": int(r["observation_id_count"]),
                    "per_1000": None,
                }
            )
    columns: list[tuple[str, pa.DataType]] = [
        ("kind", pa.string()),
        ("code", pa.string()),
        ("rule_id", pa.string()),
        ("evidence", pa.string()),
        ("rule_source", pa.string()),
        ("people", pa.int64()),
        ("per_1000", pa.float64()),
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema(columns))


def _figure(width: float, height: float) -> Figure:
    """A matplotlib figure without pyplot (no GUI backend, faster to import), ids salted for stable SVG."""
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.hashsalt"] = "b12plan"
    return Figure(figsize=(width, height))


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _bar_chart(labels: Sequence[str], values: Sequence[float], xlabel: str) -> str:
    fig = _figure(7.5, 0.45 * max(len(labels), 3) + 0.8)
    ax = fig.subplots()
    positions = list(range(len(labels)))
    ax.barh(positions, values, color="#2f6f9f")
    ax.set_yticks(positions, labels=list(labels))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    for pos, value in zip(positions, values, strict=True):
        ax.text(value, pos, f" {value:g}", va="center", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def _heatmap(rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float]], title: str) -> str:
    fig = _figure(7.5, 0.45 * max(len(rows), 3) + 1.0)
    ax = fig.subplots()
    ax.imshow(values, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(cols)), labels=list(cols))
    ax.set_yticks(range(len(rows)), labels=list(rows))
    top = max((v for row in values for v in row), default=0.0)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            colour = "white" if top and value > top / 2 else "black"
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8, color=colour)
    ax.set_title(title, fontsize=10)
    return _svg(fig)


def write_report(path: Path, tables: ScreenTables, rules: RuleSet, result: ScreenResult) -> Path:
    """Write the HTML report of a run and return its path."""
    import jinja2

    summary = summary_table(tables, rules).to_pylist()
    findings = [r for r in summary if r["kind"] == "finding"]
    statuses = [r for r in summary if r["kind"] == "status"]
    rejected = [r for r in summary if r["kind"] == "rejected"]
    status_bands = _by_band(tables.status_counts)
    band_sizes = {b: sum(s.get(b, 0) for s in status_bands.values()) for b in [*_BANDS, "unknown"]}
    if not band_sizes["unknown"]:
        del band_sizes["unknown"]
    population = sum(band_sizes.values())
    found = _by_band(tables.finding_counts)
    matrix = [
        [_per_1000(found.get(str(f["code"]), {}).get(b, 0), size) for b, size in band_sizes.items()]
        for f in findings
    ]
    codes = [str(f["code"]) for f in findings]
    charts = {
        "findings": _bar_chart(
            codes, [float(f["per_1000"] or 0) for f in findings], "people per 1000 screened"
        ),
        "status": _bar_chart(
            [str(s["code"]) for s in statuses],
            [float(s["per_1000"] or 0) for s in statuses],
            "people per 1000 screened",
        ),
        "bands": _heatmap(codes, list(band_sizes), matrix, "people per 1000 in each age band"),
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("b12plan.screening", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("report.html.j2").render(
        title=f"B12 screening, {rules.ruleset.title}",
        rules=rules,
        result=result,
        population=population,
        findings=findings,
        statuses=statuses,
        rejected=rejected,
        rule_text={r.finding: r.text for r in rules.of(ScreenRule)},
        evidence_words=_EVIDENCE,
        band_sizes=band_sizes,
        charts=charts,
    )
    path.write_text(html, encoding="utf-8")
    return path
