"""The report's colours and symbols, shared by the HTML and the plots so that a state looks the
same everywhere. Okabe–Ito hues (told apart with the common colour-vision deficiencies); every
cell also carries a symbol and a number or word, so no reading depends on colour alone."""

from __future__ import annotations

__all__ = ["FLAG", "STATE_STYLE", "StateStyle"]

from typing import NamedTuple


class StateStyle(NamedTuple):
    strong: str  # bars and chips in plots
    tint: str  # cell backgrounds (dark text stays readable on it)
    symbol: str
    border: str = "solid"


STATE_STYLE = {
    "passed": StateStyle("#009E73", "#c2e8d8", "✓"),
    "below": StateStyle("#E69F00", "#fbe3a6", "↓"),
    "very_low": StateStyle("#D55E00", "#f6c3a5", "✗"),
    "invalid": StateStyle("#CC79A7", "#f1d3e4", "!"),
    "not_answered": StateStyle("#999999", "#ececec", "–"),
    "not_submitted": StateStyle("#d0d0d0", "#ffffff", "∅", "dashed"),
    "not_graded": StateStyle("#56B4E9", "#d4ebf8", "…"),
    "manual": StateStyle("#0072B2", "#c6dcef", "✎"),
}
FLAG = "⚑"
