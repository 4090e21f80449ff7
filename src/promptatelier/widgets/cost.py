"""Cost meter: what this session has asked of each model, in tokens and dollars, from the
kit's ledger. The other widgets refresh it after each run; Refresh catches calls made with
`complete()` directly."""

from __future__ import annotations

import ipywidgets as w

from ..models import ledger
from ..models.cost import LedgerRow
from ._common import AtelierWidget, _meters, button, esc
from ._i18n import tn

__all__ = ["CostMeter"]


class CostMeter(AtelierWidget):
    """A table per model: requests (and how many came from the cache), tokens in/out, cost."""

    def __init__(self, *, lang: str | None = None) -> None:
        super().__init__(lang=lang)
        self.table = w.HTML()
        self.table.add_class("atelier-cost")
        self.refresh_button = button(self.tr("refresh"), icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.children = [w.HTML(f"<b>{esc(self.tr('cost_title'))}</b>"), self.table, self.refresh_button]
        self._version = -1
        _meters.add(self)
        self.refresh()

    @property
    def rows(self) -> list[LedgerRow]:
        return sorted(ledger().snapshot(), key=lambda r: r.model)

    def _cost(self, row: LedgerRow) -> str:
        if not row.priced:
            return f"${row.cost_usd:.6f}+ ({self.tr('unpriced')})" if row.cost_usd else self.tr("unpriced")
        return self.tr("free") if row.cost_usd == 0 else f"${row.cost_usd:.6f}"

    def refresh(self) -> None:
        """Read the ledger again (cheap; skipped when nothing changed)."""
        if ledger().version == self._version:
            return
        self._version = ledger().version
        rows = self.rows
        if not rows:
            self.table.value = f"<i>{esc(self.tr('cost_empty'))}</i>"
            return
        head = "".join(f"<th style='padding:2px 8px'>{esc(h)}</th>" for h in (
            self.tr("model"), self.tr("requests"), self.tr("cached"), self.tr("input_tokens"),
            self.tr("output_tokens"), self.tr("cost")))
        body = "".join(
            f"<tr><td style='padding:2px 8px'>{esc(r.model)}</td><td>{r.requests}</td><td>{r.cached}</td>"
            f"<td>{r.input_tokens}</td><td>{r.output_tokens}</td><td>{esc(self._cost(r))}</td></tr>"
            for r in rows)
        total = LedgerRow(self.tr("total"), sum(r.requests for r in rows), sum(r.cached for r in rows),
                          sum(r.input_tokens for r in rows), sum(r.output_tokens for r in rows),
                          sum(r.cost_usd for r in rows), all(r.priced for r in rows))
        body += (f"<tr style='font-weight:bold'><td style='padding:2px 8px'>{esc(total.model)}</td><td>{total.requests}</td>"
                 f"<td>{total.cached}</td><td>{total.input_tokens}</td><td>{total.output_tokens}</td>"
                 f"<td>{esc(self._cost(total))}</td></tr>")
        self.table.value = f"<table><tr>{head}</tr>{body}</table>"

    def text(self) -> str:
        rows = self.rows
        if not rows:
            return f"{self.tr('cost_title')}{self.tr('colon')}{self.tr('cost_empty')}"
        lines = [self.tr("cost_title")]
        for r in rows:
            lines.append(f"{r.model}{self.tr('colon')}{tn('requests', r.requests, self.lang)} ({r.cached} {self.tr('cached')}), "
                         f"{r.input_tokens} {self.tr('input_tokens')}, {r.output_tokens} {self.tr('output_tokens')}, "
                         f"{self._cost(r)}")
        return "\n".join(lines)
