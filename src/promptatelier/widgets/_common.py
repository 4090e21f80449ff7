"""What every widget shares: errors shown in words, background runs that can be stopped, a
plain-text face for places without a widget frontend (nbconvert, nbgrader autograde), labels
that are never cut, and the list of widgets made in this kernel with their example prompts."""

from __future__ import annotations

import html
import itertools
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..errors import (
    AtelierError,
    BackendError,
    ConfigError,
    MissingKeyError,
    ModelUnavailableError,
    SpecError,
    SubmissionError,
    UnsupportedFeatureError,
)
from ._i18n import language, t

if TYPE_CHECKING:
    from ..models import ChatRequest

__all__ = ["error_parts", "error_html", "error_text", "BackgroundRun", "AtelierWidget", "button", "esc", "notify_ledger",
           "Example", "LABEL_STYLE", "labelled", "live_widgets"]

# a description as wide as its text: ipywidgets' default width cuts 'Temperature' to 'Temperat…'
LABEL_STYLE = {"description_width": "initial"}

# most specific first: the first class an error is an instance of names its heading
_HEADINGS: tuple[tuple[type[BaseException], str], ...] = (
    (MissingKeyError, "error_missing_key"),
    (ModelUnavailableError, "error_unavailable"),
    (UnsupportedFeatureError, "error_unsupported"),
    (SpecError, "error_spec"),
    (SubmissionError, "error_submission"),
    (ConfigError, "error_config"),
    (BackendError, "error_backend"),
    (AtelierError, "error_input"),
)


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def error_parts(exc: BaseException, lang: str | None = None) -> tuple[str, str, str]:
    """(heading, what went wrong, how to fix it) for an error, without a traceback."""
    for kind, key in _HEADINGS:
        if isinstance(exc, kind):
            problem, fix = exc.localised(language(lang)) if isinstance(exc, AtelierError) else (str(exc), "")
            return t(key, lang), problem, fix
    return t("error_unexpected", lang), f"{type(exc).__name__}: {exc}", ""


def error_html(exc: BaseException, lang: str | None = None) -> str:
    """The error in a box: heading, what went wrong, how to fix it; the whole message, wrapped."""
    heading, problem, fix = error_parts(exc, lang)
    fix_html = f"<div><b>{esc(t('fix', lang))}{esc(t('colon', lang))}</b>{esc(fix)}</div>" if fix else ""
    return (
        '<div class="atelier-error" role="alert" style="border-left:4px solid #cf222e;background:#ffebe9;'
        'padding:6px 10px;margin:4px 0;text-align:left;white-space:normal;overflow-wrap:anywhere">'
        f"<b>{esc(heading)}</b><div>{esc(problem)}</div>{fix_html}</div>"
    )


def error_text(exc: BaseException, lang: str | None = None) -> str:
    heading, problem, fix = error_parts(exc, lang)
    return "\n".join(x for x in (heading, problem, f"{t('fix', lang)}{t('colon', lang)}{fix}" if fix else "") if x)


def labelled(label: str, field: w.Widget) -> w.VBox:
    """A field under its label, for labels too long to sit beside a wide field."""
    caption = w.HTML(f"<b>{esc(label)}</b>")
    caption.add_class("atelier-label")
    return w.VBox([caption, field], layout=w.Layout(width="100%"))


@dataclass(frozen=True)
class Example:
    """A request a widget would send as it stands (its example prompt), for checks in CI."""

    widget: str
    label: str
    model: str
    request: ChatRequest


class BackgroundRun:
    """Runs `work` in a daemon thread so the kernel stays responsive and a Stop button works.

    A model call cannot be cut short from outside, so stopping abandons the run: its result is
    dropped when it arrives. `work` receives a `threading.Event` set on stop, which batch work
    checks between requests.
    """

    def __init__(self, work: Callable[[threading.Event], Any], on_done: Callable[[Any, BaseException | None], None]) -> None:
        self.stop_event = threading.Event()
        self._work = work
        self._on_done = on_done
        self.thread = threading.Thread(target=self._run, name="atelier-widget-run", daemon=True)

    def start(self) -> BackgroundRun:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

    def _run(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = self._work(self.stop_event)
        except BaseException as exc:  # noqa: BLE001 - shown in the widget, never as a traceback
            error = exc
        if not self.stopped:
            self._on_done(result, error)


_meters: weakref.WeakSet[Any] = weakref.WeakSet()
# every widget made in this kernel, in order, without keeping any alive
_made: list[weakref.ref[AtelierWidget]] = []
_numbers: dict[str, itertools.count[int]] = {}


def live_widgets() -> list[AtelierWidget]:
    """The kit's widgets made in this kernel and not closed, oldest first."""
    alive = [ref() for ref in _made]
    _made[:] = [ref for ref, widget in zip(_made, alive, strict=True) if widget is not None and widget.comm is not None]
    return [widget for widget in alive if widget is not None and widget.comm is not None]


def notify_ledger() -> None:
    """Tell every live cost meter that the ledger changed (widgets call this after a run)."""
    for meter in list(_meters):
        meter.refresh()


class AtelierWidget(w.VBox):
    """Base of the kit's widgets: a language, a background run, a plain-text face."""

    def __init__(self, lang: str | None = None, **kwargs: Any) -> None:
        from ._i18n import language

        self.lang = language(lang)
        self._run: BackgroundRun | None = None
        kind = type(self).__name__
        self._name = f"{kind} {next(_numbers.setdefault(kind, itertools.count(1)))}"
        super().__init__(**kwargs)
        self.add_class("atelier-widget")
        _made.append(weakref.ref(self))

    def name(self) -> str:
        """'Playground 2': the widget's kind and its rank among those made in this kernel."""
        return self._name

    def examples(self) -> list[Example]:
        """The requests this widget would send as it stands (none for widgets that send none)."""
        return []

    def tr(self, key: str, **values: Any) -> str:
        return t(key, self.lang, **values)

    # --- background runs -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._run is not None and self._run.thread.is_alive() and not self._run.stopped

    def _start(self, work: Callable[[threading.Event], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        def finish(result: Any, error: BaseException | None) -> None:
            try:
                done(result, error)
            finally:
                self._set_busy(False)
                notify_ledger()

        self._set_busy(True)
        self._run = BackgroundRun(work, finish).start()

    def stop(self) -> None:
        """Stop the current run (its result, if it still comes, is ignored)."""
        if self._run is not None and not self._run.stopped:
            self._run.stop()
            self._set_busy(False)
            self._on_stopped()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run ends (tests, scripts); True when it has ended."""
        if self._run is None:
            return True
        self._run.thread.join(timeout)
        return not self._run.thread.is_alive()

    def _set_busy(self, busy: bool) -> None:
        """Enable/disable the run and stop buttons; widgets override."""

    def _on_stopped(self) -> None:
        """Show that the run was stopped; widgets override."""

    # --- plain text --------------------------------------------------------------------------
    def text(self) -> str:  # pragma: no cover - each widget overrides
        return type(self).__name__

    def __repr__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = self.text()
        return bundle


def button(label: str, style: str = "", icon: str = "", **kwargs: Any) -> w.Button:
    """A button as wide as its label (ipywidgets' fixed width cuts 'Show next tokens')."""
    kwargs.setdefault("layout", w.Layout(width="auto", min_width="6em"))
    return w.Button(description=label, button_style=style, icon=icon, **kwargs)
