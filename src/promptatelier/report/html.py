"""The report as one HTML page (Jinja template `templates/report.html.j2`), in the course language.

The learner × exercise heatmap is an HTML table, not a plot: each cell holds its number and a
word next to its colour, so it reads without colour, copies into a spreadsheet, and a screen
reader reads it; the plots (PNG) sit beside the tables they summarise.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..views import number, percent
from .palette import FLAG, STATE_STYLE
from .tables import STATES, CohortTables, band
from .words import count, words

__all__ = ["render_html"]

_HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(_HERE / "templates")), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _num(x: Any, lang: str) -> str:
    return "–" if _missing(x) else number(float(x), lang)


def _pct(x: Any, lang: str) -> str:
    """A percentage held as 0–100 (the tables' unit), as people write it."""
    return "–" if _missing(x) else percent(float(x) / 100, lang)


def _points(x: float, lang: str) -> str:
    """'2 points', '1 point', '1,5 point' (French takes the singular under 2)."""
    one, many = words(lang)["points_count"]
    return (one if (x < 2 if lang == "fr" else x == 1) else many).format(n=number(x, lang))


def _chip(state: str, w: dict[str, Any]) -> dict[str, str]:
    style = STATE_STYLE[state]
    return {"state": state, "symbol": style.symbol, "word": w["states_short"][state], "long": w["states"][state],
            "help": w["states_help"][state], "tint": style.tint, "border": style.border}


def _cell(row: Any, lang: str, w: dict[str, Any]) -> dict[str, Any]:
    chip = _chip(row.state, w)
    scored = row.state in ("passed", "below", "very_low")
    text = _num(row.points, lang) if scored else chip["word"]
    tip = f"{row.learner} · {row.title}{w['colon']}"
    tip += f"{_num(row.points, lang)} / {_num(row.max_points, lang)} ({chip['long']})" if scored else chip["long"]
    if row.reasons:
        tip += f" — {row.reasons}"
    return {**chip, "text": text, "scored": scored, "flagged": bool(row.flagged), "tip": tip}


def _summary(t: CohortTables) -> str:
    w, lang, items = words(t.lang), t.lang, t.items
    parts = [f"{int((items['state'] == s).sum())} {w['states'][s]}" for s in STATES if (items["state"] == s).any()]
    return w["summary"].format(
        learners=count("learners", items["learner"].nunique(), lang),
        exercises=count("exercises", len(t.exercise_infos), lang),
        answers=count("answers", len(items), lang), states=", ".join(parts),
        flagged=count("flagged_count", int(items["flagged"].sum()), lang))


def _heatmap(t: CohortTables, w: dict[str, Any]) -> dict[str, Any]:
    lang, infos = t.lang, t.exercise_infos
    columns = [{"id": e, "title": i.title_in(lang), "points": _points(i.points, lang),
                "pass_mark": w["pass_mark"].format(percent=percent(i.pass_mark, lang))} for e, i in infos.items()]
    by_learner: dict[str, dict[str, Any]] = {}
    for row in t.items.itertuples():
        by_learner.setdefault(row.learner, {})[row.exercise] = _cell(row, lang, w)
    totals = t.learners.set_index("learner")
    rows = [{"learner": learner, "cells": [cells.get(e) for e in infos],
             "total": f"{_num(totals.at[learner, 'points'], lang)} / {_num(totals.at[learner, 'max_points'], lang)}",
             "percent": _pct(totals.at[learner, "percent"], lang)}
            for learner, cells in sorted(by_learner.items())]
    rates = []
    for ex in t.exercises.itertuples():
        rate = None if _missing(ex.pass_rate) else float(ex.pass_rate)
        state = None if rate is None else band(rate / 100, infos[ex.exercise].pass_mark)
        rates.append({"text": _pct(rate, lang), **(_chip(state, w) if state else {"tint": "#ffffff", "symbol": ""})})
    return {"columns": columns, "rows": rows, "rates": rates}


def _records(frame: Any, lang: str, numbers: tuple[str, ...] = (), percents: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    out = []
    for record in frame.to_dict("records"):
        for key in numbers:
            record[key] = _num(record[key], lang)
        for key in percents:
            record[key] = _pct(record[key], lang)
        out.append(record)
    return out


def render_html(assignment: str, t: CohortTables, images: dict[str, str], csv_files: list[str]) -> str:
    """The whole page: flags first, then the heatmap, exercises, criteria, failures, learners."""
    lang = t.lang
    w = words(lang)
    attention = [{**r, "chip": _chip(r["state"], w), "points": _num(r["points"], lang),
                  "max_points": _num(r["max_points"], lang)} for r in t.attention.to_dict("records")]
    criteria = []
    for r in _records(t.criteria, lang, numbers=("weight",), percents=("case_rate",)):
        r["chip"] = _chip(r["band"], w) if r["band"] else None
        criteria.append(r)
    groups = [{"id": e, "title": i.title_in(lang), "pass_mark": w["pass_mark"].format(percent=percent(i.pass_mark, lang)),
               "criteria": [c for c in criteria if c["exercise"] == e],
               "failures": [f for f in t.failures.to_dict("records") if f["exercise"] == e],
               "cases": [c for c in t.cases.to_dict("records") if c["exercise"] == e]}
              for e, i in t.exercise_infos.items()]
    return _environment().get_template("report.html.j2").render(
        lang=lang, w=w, title=w["title"].format(assignment=assignment), summary=_summary(t),
        attention=attention, heatmap=_heatmap(t, w), flag=FLAG,
        legend=[_chip(s, w) for s in STATES], flag_help=w["states_help"]["flagged"],
        exercises=_records(t.exercises, lang, numbers=("max_points",),
                           percents=("pass_mark", "pass_rate", "mean_percent")),
        groups=groups, has_cases=bool(len(t.cases)),
        learners=_records(t.learners, lang, numbers=("points", "max_points"), percents=("percent",)),
        images=images,
        footer=w["footer"].format(files=", ".join(csv_files)),
    )
