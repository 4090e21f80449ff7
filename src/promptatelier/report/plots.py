"""The report's plots (matplotlib, PNG as base64 for an <img> in the page): learners' totals,
answers per exercise by state, cases passed per criterion against the pass mark."""

from __future__ import annotations

import base64
import io
from typing import Any

from .palette import STATE_STYLE
from .tables import STATES, CohortTables
from .words import words

__all__ = ["plots"]


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def plots(t: CohortTables) -> dict[str, str]:
    """Base64 PNGs by name (learners, exercises, criteria); a plot with nothing to show is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = words(t.lang)
    out: dict[str, str] = {}
    with plt.rc_context({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}):
        if len(t.learners):
            fig, ax = plt.subplots(figsize=(6.4, 2.6))
            ax.hist(t.learners["percent"].fillna(0), bins=10, range=(0, 100), color="#0072B2", edgecolor="white")
            ax.set_xlabel(w["plot_learners_x"])
            ax.set_ylabel(w["plot_learners_y"])
            ax.yaxis.get_major_locator().set_params(integer=True)
            ax.set_title(w["plot_learners"], loc="left")
            out["learners"] = _png(fig)
            plt.close(fig)
        if len(t.items):
            exercises = list(t.exercise_infos)
            labels = [_short(t.exercise_infos[e].title_in(t.lang), 44) for e in exercises]
            fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(exercises) + 1.2))
            left = [0] * len(exercises)
            for state in STATES:
                counts = [int(((t.items["exercise"] == e) & (t.items["state"] == state)).sum()) for e in exercises]
                if not any(counts):
                    continue
                style = STATE_STYLE[state]
                ax.barh(labels, counts, left=left, color=style.tint if state == "not_submitted" else style.strong,
                        edgecolor="#57606a", linewidth=0.5, label=w["states_short"][state])
                left = [a + b for a, b in zip(left, counts, strict=True)]
            ax.invert_yaxis()
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_xlabel(w["plot_exercises_x"])
            ax.set_title(w["plot_exercises"], loc="left")
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
            out["exercises"] = _png(fig)
            plt.close(fig)
        scored = t.criteria[t.criteria["case_rate"].notna()] if len(t.criteria) else t.criteria
        if len(scored):
            fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(scored) + 1.2))
            labels = [f"{_short(r.title, 26)} · {_short(r.criterion, 44)}" for r in scored.itertuples()]
            rates = list(scored["case_rate"])
            y = range(len(scored))
            ax.barh(y, rates, color=[STATE_STYLE[b].strong for b in scored["band"]])
            marks = [t.exercise_infos[e].pass_mark * 100 for e in scored["exercise"]]
            ax.scatter(marks, y, marker="|", s=220, color="#1f2328", zorder=3)
            for i, rate in enumerate(rates):
                ax.text(min(rate, 100) + 1.5, i, f"{rate:.0f}", va="center", fontsize=8)
            ax.set_yticks(list(y), labels)
            ax.set_xlim(0, 110)
            ax.invert_yaxis()
            ax.set_xlabel(w["plot_criteria_x"])
            ax.set_title(w["plot_criteria"], loc="left")
            out["criteria"] = _png(fig)
            plt.close(fig)
    return out
