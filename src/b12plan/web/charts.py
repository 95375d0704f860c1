"""Charts drawn on the server as SVG (matplotlib, no pyplot, no network), so they show offline, print, and
go into PDFs. Text is drawn as glyph outlines (`svg.fonttype: path`): the SVG needs no font on the reader's
machine. Output is reproducible: no date in the metadata, a fixed hash salt for element ids.

Every chart has a text alternative on its page (a table of the same values): a chart never carries
information that is not also written down.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from b12plan.services.overviews import Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["interval_chart", "lab_chart", "symptom_chart"]

_RC: Any = {
    "svg.fonttype": "path",
    "svg.hashsalt": "b12plan",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# Okabe-Ito: told apart with the commonest colour-vision deficiencies; each line also has its own marker.
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_lock = threading.Lock()  # rcParams are global: one chart at a time


def _figure() -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(7.2, 3.0), layout="constrained")


def _svg(draw: Callable[[Axes], None]) -> str:
    import matplotlib

    with _lock, matplotlib.rc_context(_RC):
        figure = _figure()
        axes = figure.add_subplot()
        draw(axes)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _injections(axes: Axes, days: Sequence[dt.date]) -> None:
    for i, x in enumerate(_x(days)):
        axes.axvline(
            x,
            color="#6b6b6b",
            linestyle=":",
            linewidth=1,
            label="injection given" if i == 0 else None,
        )


def _x(days: Sequence[dt.date]) -> list[float]:
    """Days as matplotlib's date numbers."""
    from matplotlib.dates import date2num

    return [float(date2num(day)) for day in days]  # type: ignore[no-untyped-call]


def _date_axis(axes: Axes) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.xaxis_date()


def lab_chart(series: Series, injections: Sequence[dt.date]) -> str:
    """One lab measure over time (`series`, in its unit) with the injection days as dotted lines."""

    def draw(axes: Axes) -> None:
        days = _x([p[0] for p in series.points])
        values = [p[1] for p in series.points]
        axes.plot(days, values, marker="o", color=_COLOURS[0], label=series.label)
        _injections(axes, injections)
        axes.set_ylabel(f"{series.label} ({series.unit})")
        axes.set_title(f"{series.label} ({series.unit}) and injections")
        _date_axis(axes)
        axes.legend(loc="best", frameon=False)

    return _svg(draw)


def symptom_chart(series: Mapping[str, Series], injections: Sequence[dt.date]) -> str:
    """Diary scores (0 none to 10 worst) by symptom over time, with the injection days."""

    def draw(axes: Axes) -> None:
        for i, one in enumerate(series.values()):
            axes.plot(
                _x([p[0] for p in one.points]),
                [p[1] for p in one.points],
                marker=_MARKERS[i % len(_MARKERS)],
                color=_COLOURS[i % len(_COLOURS)],
                label=one.label,
            )
        _injections(axes, injections)
        axes.set_ylim(-0.3, 10.3)
        axes.set_ylabel("score (0 none, 10 worst)")
        axes.set_title("Symptom scores and injections")
        _date_axis(axes)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)

    return _svg(draw)


def interval_chart(
    mean_by_day: Mapping[str, Mapping[int, float]],
    interval_days: float | None,
    range_days: tuple[int, int] | None,
) -> str:
    """Mean diary score by day since the injection that began each maintenance cycle, per symptom, with the
    plan's interval (a solid line) and the interval range the rule set allows (a shaded band)."""

    def draw(axes: Axes) -> None:
        if range_days is not None:
            axes.axvspan(
                range_days[0],
                range_days[1],
                color="#CCE3F2",
                label=f"rule set's range ({range_days[0]}-{range_days[1]} days)",
            )
        if interval_days is not None:
            axes.axvline(interval_days, color="#000000", label=f"planned interval ({interval_days:g} days)")
        for i, (symptom, by_day) in enumerate(mean_by_day.items()):
            days = sorted(by_day)
            axes.plot(
                days,
                [by_day[d] for d in days],
                marker=_MARKERS[i % len(_MARKERS)],
                color=_COLOURS[i % len(_COLOURS)],
                label=symptom.replace("_", " "),
            )
        axes.set_xlim(left=0)
        axes.set_ylim(-0.3, 10.3)
        axes.set_xlabel("days since the injection")
        axes.set_ylabel("mean score (0 none, 10 worst)")
        axes.set_title("Symptoms through the injection cycle")
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)

    return _svg(draw)
