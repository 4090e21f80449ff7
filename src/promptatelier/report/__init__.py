"""The cohort report behind `atelier report`: tables (pandas), plots (matplotlib) and one HTML
page in the course language, plus one CSV file per table, from the grading journal.

    from promptatelier.report import write_report
    files = write_report("m01_en", journal.all(), Path("reports/m01_en.html"), lang="en")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exercises import CriterionInfo, ExerciseInfo, exercise_info
from .tables import STATES, CohortTables, cohort_tables, item_state

__all__ = ["CSV_TABLES", "STATES", "CohortTables", "CriterionInfo", "ExerciseInfo", "ReportFiles", "cohort_tables",
           "exercise_info", "item_state", "write_report"]

# the tables written as CSV, each to <html stem>-<name>.csv next to the page
CSV_TABLES = ("learners", "exercises", "criteria", "items")


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    csv: dict[str, Path]
    tables: CohortTables


def write_report(assignment: str, results: Sequence[Any], output: Path, lang: str = "en",
                 order: Sequence[str] | None = None) -> ReportFiles:
    """Write the HTML page to `output` and the CSV tables next to it; `order` is the
    assignment's exercise order (else the journal's)."""
    from .html import render_html
    from .plots import plots

    tables = cohort_tables(results, lang, order=order)
    output.parent.mkdir(parents=True, exist_ok=True)
    csv = {name: output.with_name(f"{output.stem}-{name}.csv") for name in CSV_TABLES}
    for name, frame in tables.csv_frames().items():
        frame.to_csv(csv[name], index=False, encoding="utf-8")
    page = render_html(assignment, tables, plots(tables), [p.name for p in csv.values()])
    output.write_text(page, encoding="utf-8")
    return ReportFiles(output, csv, tables)
