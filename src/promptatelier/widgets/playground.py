"""Playground: try a prompt on a model, see the answer with its tokens, latency and cost, and
reload earlier runs from this session's history."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import ipywidgets as w

from ..config import settings
from ..errors import AtelierError
from ..models import ChatRequest, Completion, complete, make_request
from ..models.cost import price_for
from ..views import CSS
from ._common import LABEL_STYLE, AtelierWidget, Example, button, error_html, error_text, esc, labelled
from ._i18n import decimal, t, tn

__all__ = ["Playground", "PlaygroundRun"]


@dataclass(frozen=True)
class PlaygroundRun:
    """One run: everything needed to reload it, and what came back."""

    system: str
    prompt: str
    model: str
    temperature: float
    max_tokens: int
    seed: int | None
    completion: Completion | None = None
    error: BaseException | None = None

    def label(self, n: int) -> str:
        first = " ".join(self.prompt.split())[:40]
        return f"#{n} {self.model} T={self.temperature:g} · {first}"


def cost_label(completion: Completion, lang: str) -> str:
    if price_for(completion.model) is None:
        return t("unpriced", lang)
    return t("free", lang) if completion.cost_usd == 0 else f"${completion.cost_usd:.6f}"


def stats_line(completion: Completion, lang: str) -> str:
    return t(
        "stats_cached" if completion.cached else "stats",
        lang,
        input=tn("tokens", completion.usage.input_tokens, lang),
        output=tn("tokens", completion.usage.output_tokens, lang),
        latency=decimal(completion.latency_s, 2, lang),
        cost=cost_label(completion, lang),
    )


def model_options(extra: str | None = None) -> list[str]:
    """The models the course offers (atelier.toml [models] available), plus `extra`."""
    options = list(settings().available_models) or ["local"]
    if extra and extra not in options:
        options.insert(0, extra)
    return options


class Playground(AtelierWidget):
    """System and user prompt, model and sampling settings, Run / Stop, the answer, a history."""

    def __init__(
        self,
        prompt: str = "",
        system: str = "",
        *,
        model: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 256,
        seed: int | None = 0,
        lang: str | None = None,
    ) -> None:
        super().__init__(lang=lang)
        model = model or settings().model
        self.system = w.Textarea(value=system, placeholder=self.tr("system_placeholder"),
                                 layout=w.Layout(width="100%", height="4em"))
        self.prompt = w.Textarea(value=prompt, placeholder=self.tr("user_placeholder"),
                                 layout=w.Layout(width="100%", height="7em"))
        self.prompt.add_class("atelier-prompt")
        self.model = w.Dropdown(options=model_options(model), value=model, description=self.tr("model"),
                                style=LABEL_STYLE)
        self.temperature = w.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.1, style=LABEL_STYLE,
                                         description=self.tr("temperature"), readout_format=".1f")
        self.max_tokens = w.BoundedIntText(value=max_tokens, min=1, max=8192, description=self.tr("max_tokens"),
                                           style=LABEL_STYLE, layout=w.Layout(width="auto", max_width="16em"))
        self.seed = w.IntText(value=0 if seed is None else seed, description=self.tr("seed"), style=LABEL_STYLE,
                              layout=w.Layout(width="auto", max_width="12em"))
        self.run_button = button(self.tr("run"), "primary", "play")
        self.run_button.add_class("atelier-run")
        self.stop_button = button(self.tr("stop"), "warning", "stop", disabled=True)
        self.status = w.HTML()
        self.answer = w.HTML()
        self.answer.add_class("atelier-answer")
        self.stats = w.HTML()
        self.history_picker = w.Dropdown(options=[(self.tr("history_empty"), -1)], value=-1, style=LABEL_STYLE,
                                         description=self.tr("history"), layout=w.Layout(width="70%"))
        self.load_button = button(self.tr("load"), icon="history", disabled=True)
        self.history: list[PlaygroundRun] = []
        self.last: PlaygroundRun | None = None

        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.load_button.on_click(lambda _: self.load(self.history_picker.value))
        self.children = [
            labelled(self.tr("system_prompt"), self.system),
            labelled(self.tr("user_prompt"), self.prompt),
            w.HBox([self.model, self.temperature]),
            w.HBox([self.max_tokens, self.seed, self.run_button, self.stop_button]),
            self.status,
            self.answer,
            self.stats,
            w.HBox([self.history_picker, self.load_button]),
        ]

    # --- actions --------------------------------------------------------------------------
    def settings_now(self) -> PlaygroundRun:
        return PlaygroundRun(
            system=self.system.value,
            prompt=self.prompt.value,
            model=self.model.value,
            temperature=float(self.temperature.value),
            max_tokens=int(self.max_tokens.value),
            seed=int(self.seed.value),
        )

    def request(self, run: PlaygroundRun | None = None) -> ChatRequest:
        """What Run sends for `run` (default: the fields as they stand)."""
        run = run or self.settings_now()
        return make_request(run.prompt, system=run.system.strip() or None, temperature=run.temperature,
                            max_tokens=run.max_tokens, seed=run.seed)

    def examples(self) -> list[Example]:
        if not self.prompt.value.strip():
            return []
        return [Example(self.name(), "prompt", self.model.value, self.request())]

    def run(self) -> None:
        """Send the prompt in the background; the answer appears when it comes."""
        if self.running:
            return
        run = self.settings_now()
        if not run.prompt.strip():
            self._show(PlaygroundRun(**{**run.__dict__, "error": AtelierError(self.tr("empty_prompt"), self.tr("empty_prompt_fix"))}))
            return
        self.status.value = f"<i>{esc(self.tr('running', model=run.model))}</i>"
        self.answer.value = ""
        self.stats.value = ""

        def work(_stop: threading.Event) -> Completion:
            return complete(self.request(run), model=run.model, tag="playground")

        def done(result: Completion | None, error: BaseException | None) -> None:
            finished = PlaygroundRun(**{**run.__dict__, "completion": result, "error": error})
            self.history.append(finished)
            self._refresh_history()
            self._show(finished)

        self._start(work, done)

    def load(self, index: int) -> None:
        """Put a past run's prompts and settings back in the fields, and show its answer."""
        if not 0 <= index < len(self.history):
            return
        run = self.history[index]
        self.system.value, self.prompt.value = run.system, run.prompt
        if run.model not in self.model.options:
            self.model.options = [run.model, *self.model.options]
        self.model.value = run.model
        self.temperature.value, self.max_tokens.value = run.temperature, run.max_tokens
        self.seed.value = 0 if run.seed is None else run.seed
        self._show(run)

    # --- display ----------------------------------------------------------------------------
    def _show(self, run: PlaygroundRun) -> None:
        self.last = run
        self.status.value = ""
        if run.error is not None:
            self.answer.value = error_html(run.error, self.lang)
            self.stats.value = ""
            return
        assert run.completion is not None
        self.answer.value = (
            f'<div style="{CSS["view"]}"><div style="font-weight:bold">{esc(self.tr("answer"))}</div>'
            f'<pre class="atelier-answer-text" style="{CSS["pre"]}">{esc(run.completion.text)}</pre></div>'
        )
        self.stats.value = f"<small>{esc(stats_line(run.completion, self.lang))}</small>"

    def _refresh_history(self) -> None:
        options = [(r.label(i + 1), i) for i, r in enumerate(self.history)]
        self.history_picker.options = options
        self.history_picker.value = len(options) - 1
        self.load_button.disabled = False

    def _set_busy(self, busy: bool) -> None:
        self.run_button.disabled = busy
        self.stop_button.disabled = not busy

    def _on_stopped(self) -> None:
        self.status.value = f"<i>{esc(self.tr('stopped'))}</i>"

    @property
    def answer_text(self) -> str:
        """The last answer's text ('' when none, or when it failed)."""
        if self.last is None or self.last.completion is None:
            return ""
        return self.last.completion.text

    def text(self) -> str:
        lines = [f"Playground ({self.model.value}, {self.tr('temperature').lower()} {self.temperature.value:g})"]
        if self.system.value.strip():
            lines.append(f"{self.tr('system_prompt')}{self.tr('colon')}{self.system.value}")
        lines.append(f"{self.tr('user_prompt')}{self.tr('colon')}{self.prompt.value}")
        if self.last is not None and self.last.error is not None:
            lines.append(error_text(self.last.error, self.lang))
        elif self.last is not None and self.last.completion is not None:
            lines += [f"{self.tr('answer')}{self.tr('colon')}{self.last.completion.text}",
                      stats_line(self.last.completion, self.lang)]
        return "\n".join(lines)
