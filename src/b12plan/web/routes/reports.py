"""The interval review report (page and PDF) and the chart images (SVG, drawn on the server).

A chart image is a separate response so that the page's Content-Security-Policy can stay strict: matplotlib
writes its SVG with style attributes, which the chart's own, narrower policy allows (no script, nothing
loaded). The PDF embeds the same SVG.
"""

from __future__ import annotations

import base64
from importlib import resources
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from b12plan.services import as_user, overviews
from b12plan.web import charts
from b12plan.web.deps import ActorStore, Clock, PageActor
from b12plan.web.templating import environment, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
ChartName = Literal["hb", "mcv", "symptoms", "interval"]
_SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _interval_svg(report: overviews.IntervalReport) -> str | None:
    if report.cycle is None or not report.cycle.mean_by_day:
        return None
    means = {str(symptom): by_day for symptom, by_day in report.cycle.mean_by_day.items()}
    return charts.interval_chart(means, report.interval_days, report.range_days)


@router.get("/patients/{ref}/interval-report", name="interval_report")
def interval_report(request: Request, ref: str, actor: PageActor, store: ActorStore, now: Clock) -> Response:
    report = overviews.interval_report(store, actor, ref, on=now.date())
    return render(request, "interval_report.html", {"report": report, "patient": report.patient})


@router.get("/patients/{ref}/interval-report.pdf", name="interval_report_pdf")
def interval_report_pdf(
    request: Request, ref: str, actor: PageActor, store: ActorStore, now: Clock
) -> Response:
    import weasyprint  # type: ignore[import-untyped, import-not-found, unused-ignore]

    report = overviews.interval_report(store, actor, ref, on=now.date())
    svg = _interval_svg(report)
    chart = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode() if svg else None
    css = resources.files("b12plan.web").joinpath("static", "app.css").read_text(encoding="utf-8")
    html = (
        environment()
        .get_template("interval_print.html")
        .render(report=report, patient=report.patient, chart=chart)
    )
    document = weasyprint.HTML(string=html).write_pdf(stylesheets=[weasyprint.CSS(string=css)])
    return Response(
        bytes(document),
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="b12plan-{ref}-interval-report.pdf"'},
    )


@router.get("/patients/{ref}/charts/{name}.svg", name="chart")
def chart(ref: str, name: ChartName, actor: PageActor, store: ActorStore, now: Clock) -> Response:
    svg: str | None
    if name == "interval":
        svg = _interval_svg(overviews.interval_report(store, actor, ref, on=now.date()))
    else:
        data = overviews.chart_data(as_user.patient_file(store, actor, ref))
        if name == "symptoms":
            svg = charts.symptom_chart(data.symptoms, data.injections) if data.symptoms else None
        else:
            series = data.hb if name == "hb" else data.mcv
            svg = charts.lab_chart(series, data.injections) if series.points else None
    if svg is None:
        return Response(status_code=404, headers={"content-security-policy": _SVG_POLICY})
    return Response(svg, media_type="image/svg+xml", headers={"content-security-policy": _SVG_POLICY})
