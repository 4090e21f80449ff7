"""Token explorer: the most likely next tokens after a prompt, with their probabilities, and how
temperature reshapes them. At temperature T a token's share is proportional to p ** (1 / T): at
0 the top token takes everything (deterministic), higher values flatten the distribution."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence

import ipywidgets as w

from ..errors import UnsupportedFeatureError
from ..models import Completion, TopLogprob, complete
from ._common import LABEL_STYLE, AtelierWidget, button, error_html, error_text, esc, labelled
from ._i18n import decimal
from .playground import model_options

__all__ = ["TokenExplorer", "reshape", "show_token"]


def reshape(logprobs: Sequence[float], temperature: float) -> list[float]:
    """Probabilities over these tokens after sampling at `temperature` (renormalised)."""
    if not logprobs:
        return []
    if temperature <= 0:
        top = max(range(len(logprobs)), key=lambda i: logprobs[i])
        return [1.0 if i == top else 0.0 for i in range(len(logprobs))]
    scaled = [lp / temperature for lp in logprobs]
    peak = max(scaled)
    weights = [math.exp(s - peak) for s in scaled]
    total = sum(weights)
    return [x / total for x in weights]


def show_token(token: str) -> str:
    """A token with its spaces and line breaks made visible."""
    return token.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥") or "∅"


class TokenExplorer(AtelierWidget):
    """Prompt in, a bar chart of the next token's top candidates at the chosen temperature."""

    def __init__(
        self,
        prompt: str = "",
        *,
        model: str | None = None,
        top_k: int = 8,
        temperature: float = 1.0,
        system: str = "",
        lang: str | None = None,
    ) -> None:
        super().__init__(lang=lang)
        model = model or "local"
        self.system_text = system
        self.prompt = w.Textarea(value=prompt, placeholder=self.tr("user_placeholder"),
                                 layout=w.Layout(width="100%", height="5em"))
        self.model = w.Dropdown(options=model_options(model), value=model, description=self.tr("model"),
                                style=LABEL_STYLE)
        self.top_k = w.IntSlider(value=top_k, min=2, max=20, description=self.tr("top_k"), style=LABEL_STYLE)
        self.temperature = w.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.1, style=LABEL_STYLE,
                                         description=self.tr("temperature"), readout_format=".1f")
        self.run_button = button(self.tr("explore"), "primary", "bar-chart")
        self.stop_button = button(self.tr("stop"), "warning", "stop", disabled=True)
        self.status = w.HTML()
        self.chart = w.HTML()
        self.chart.add_class("atelier-token-chart")
        self.candidates: list[TopLogprob] = []
        self.error: BaseException | None = None
        self.draws: list[str] = []
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.temperature.observe(lambda _: self._render(), names="value")
        self.children = [
            labelled(self.tr("prompt"), self.prompt),
            w.HBox([self.model, self.top_k]),
            w.HBox([self.temperature, self.run_button, self.stop_button]),
            self.status,
            self.chart,
        ]

    def run(self) -> None:
        """Ask the model for one token with its top candidates (greedy, so the answer is stable)."""
        if self.running:
            return
        prompt, model, k = self.prompt.value, self.model.value, int(self.top_k.value)
        if not prompt.strip():
            from ..errors import AtelierError

            self._fail(AtelierError(self.tr("empty_prompt"), self.tr("empty_prompt_fix")))
            return
        self.status.value = f"<i>{esc(self.tr('running', model=model))}</i>"

        def work(_stop: threading.Event) -> Completion:
            return complete(prompt, model=model, system=self.system_text or None, temperature=0.0, max_tokens=1,
                            seed=0, logprobs=True, top_logprobs=k, tag="token-explorer")

        def done(result: Completion | None, error: BaseException | None) -> None:
            self.status.value = ""
            if error is None and (result is None or not result.logprobs or not result.logprobs[0].top):
                error = UnsupportedFeatureError(
                    f"{model} did not return token probabilities.",
                    "Choose the local model, which always can.",
                )
            if error is not None:
                self._fail(error)
                return
            assert result is not None and result.logprobs
            self.error = None
            seen: dict[str, TopLogprob] = {}
            for cand in result.logprobs[0].top:
                seen.setdefault(cand.token, cand)
            self.candidates = sorted(seen.values(), key=lambda c: -c.logprob)[:k]
            self._render()

        self._start(work, done)

    def probabilities(self, temperature: float | None = None) -> list[tuple[str, float, float]]:
        """(token, probability from the model, probability at `temperature`) for each candidate."""
        t = float(self.temperature.value if temperature is None else temperature)
        lps = [c.logprob for c in self.candidates]
        base, shaped = reshape(lps, 1.0), reshape(lps, t)
        return [(c.token, b, s) for c, b, s in zip(self.candidates, base, shaped, strict=True)]

    def sample(self, n: int = 10, temperature: float | None = None, rng: random.Random | None = None) -> list[str]:
        """`n` draws of the next token at `temperature` from the candidates."""
        rows = self.probabilities(temperature)
        if not rows:
            return []
        rng = rng or random.Random()
        return rng.choices([r[0] for r in rows], weights=[r[2] for r in rows], k=n)

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self.candidates = []
        self.chart.value = error_html(error, self.lang)

    def _render(self) -> None:
        if not self.candidates:
            return
        t = float(self.temperature.value)
        rows = self.probabilities(t)
        self.draws = self.sample(10, t)
        bars = []
        for token, base, shaped in rows:
            bars.append(
                "<tr><td style='font-family:monospace;padding-right:8px;text-align:right'>"
                f"{esc(show_token(token))}</td><td style='width:320px'>"
                f"<div style='background:#c9d3df;height:6px;width:{base * 100:.1f}%' title='T=1'></div>"
                f"<div class='atelier-bar' style='background:#2d6cdf;height:12px;width:{shaped * 100:.1f}%'></div></td>"
                f"<td style='padding-left:8px'>{shaped:.1%}</td></tr>")
        note = self.tr("temperature_zero") if t == 0 else self.tr("temperature_high", t=decimal(t, 1, self.lang))
        self.chart.value = (
            f"<b>{esc(self.tr('next_tokens'))}</b><table>{''.join(bars)}</table>"
            f"<small>{esc(self.tr('renormalised', k=len(rows)))} {esc(note)}</small><br>"
            f"<small>{esc(self.tr('samples', draws=' '.join(show_token(d) for d in self.draws)))}</small>")

    def _set_busy(self, busy: bool) -> None:
        self.run_button.disabled = busy
        self.stop_button.disabled = not busy

    def _on_stopped(self) -> None:
        self.status.value = f"<i>{esc(self.tr('stopped'))}</i>"

    def text(self) -> str:
        lines = [f"Token explorer ({self.model.value}, {self.tr('temperature').lower()} {self.temperature.value:g})",
                 f"{self.tr('prompt')}{self.tr('colon')}{self.prompt.value}"]
        if self.error is not None:
            lines.append(error_text(self.error, self.lang))
        for token, _base, shaped in self.probabilities():
            lines.append(f"{show_token(token):>14} {'█' * round(shaped * 30):<30} {shaped:6.1%}")
        return "\n".join(lines)
