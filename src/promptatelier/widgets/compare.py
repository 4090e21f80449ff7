"""Compare: several prompts (or one prompt on several models) over a set of cases, side by
side, with a rubric score per cell and the winner per case when an exercise or criteria say
what a good answer is. Exportable as a pandas DataFrame.

A model may come with its own sampling settings, `("local", {"temperature": 1.0, "seed": 3})`,
so one model at two settings compares offline as two models would (module 11)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from ..config import settings
from ..errors import AtelierError
from ..models import ChatRequest, Completion, complete_many, get_backend
from ..views import CSS
from ._common import LABEL_STYLE, AtelierWidget, Example, button, error_html, error_text, esc
from ._i18n import decimal, tn
from .playground import model_options

__all__ = ["Compare", "Cell"]

# A criterion given directly: (output, case variables) -> a number in [0, 1], a bool, or a Score
Scorer = Callable[[str, dict[str, Any]], Any]
# A model string, or one with its own sampling settings: ("local", {"temperature": 1.0, "seed": 3})
ModelChoice = str | tuple[str, Mapping[str, Any]]
# the settings a column may change, with what each must be
_SAMPLING = {"temperature": "a number from 0 to 2", "seed": "a whole number ≥ 0", "max_tokens": "a whole number ≥ 1"}
_SAMPLING_FR = {"temperature": "un nombre de 0 à 2", "seed": "un nombre entier ≥ 0", "max_tokens": "un nombre entier ≥ 1"}


def _valid(key: str, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if key == "temperature":
        return 0 <= value <= 2
    return isinstance(value, int) and value >= (1 if key == "max_tokens" else 0)


def _model_choice(choice: Any) -> tuple[str, dict[str, Any]]:
    """(model, sampling settings) from a model string or a (model, settings) pair, or an error
    that shows the form."""
    if isinstance(choice, str):
        return choice, {}
    if isinstance(choice, tuple) and len(choice) == 2 and isinstance(choice[0], str) and isinstance(choice[1], Mapping):
        model, options = choice[0], dict(choice[1])
        bad = next((k for k, v in options.items() if k not in _SAMPLING or not _valid(k, v)), None)
        if bad is None:
            return model, options
        if bad in _SAMPLING:
            raise AtelierError(f"In Compare's models, {bad} must be {_SAMPLING[bad]}, not {options[bad]!r}.",
                               f'Write ("{model}", {{"{bad}": ...}}) with {_SAMPLING[bad]}.',
                               fr=(f"Dans les modèles de Compare, {bad} doit être {_SAMPLING_FR[bad]}, pas {options[bad]!r}.",
                                   f'Écrivez ("{model}", {{"{bad}": ...}}) avec {_SAMPLING_FR[bad]}.'))
        raise AtelierError(f"Compare cannot set {bad!r} for a model; it sets {', '.join(_SAMPLING)}.",
                           f'Write ("{model}", {{"temperature": 1.0, "seed": 3}}).',
                           fr=(f"Compare ne peut pas régler {bad!r} pour un modèle\u00a0; il règle {', '.join(_SAMPLING)}.",
                               f'Écrivez ("{model}", {{"temperature": 1.0, "seed": 3}}).'))
    raise AtelierError(f"{choice!r} is not a model for Compare.",
                       'Give a model string ("local") or a model with its settings: ("local", {"temperature": 1.0, "seed": 3}).',
                       fr=(f"{choice!r} n'est pas un modèle pour Compare.",
                           'Donnez un nom de modèle ("local") ou un modèle avec ses réglages\u00a0: ("local", {"temperature": 1.0, "seed": 3}).'))


def _as_submission(prompt: Any) -> Any:
    """A prompt given without an exercise (a template, a system/user dict or a list of messages)
    in the grading engine's form, which fills and renders it; None for any other shape."""
    from ..grading.submission import Submission

    if isinstance(prompt, str):
        return Submission("template", (("user", prompt),))
    if isinstance(prompt, dict) and set(prompt) == {"system", "user"} and all(isinstance(v, str) for v in prompt.values()):
        return Submission("system_template", (("system", prompt["system"]), ("user", prompt["user"])))
    if isinstance(prompt, list) and prompt and all(
            isinstance(m, dict) and set(m) == {"role", "content"} and isinstance(m["content"], str) for m in prompt):
        return Submission("messages", tuple((m["role"], m["content"]) for m in prompt))
    return None


@dataclass
class Cell:
    """One prompt on one model for one case: the output, its score and what it cost."""

    case: int
    column: int
    prompt: Any
    model: str
    completion: Completion | None = None
    # the column's own sampling settings (temperature, seed, max_tokens), if any
    sampling: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    score: float | None = None
    explanations: tuple[str, ...] = ()
    # what the model was given (for criteria such as no_invented_numbers), and the start of the
    # reply a prefill exercise imposes, which the model's text continues
    sent: str = ""
    prefill: str = ""

    @property
    def output(self) -> str:
        return self.prefill + self.completion.text if self.completion is not None else ""


class Compare(AtelierWidget):
    """Prompts × models as columns, cases as rows."""

    def __init__(
        self,
        prompts: Any,
        models: ModelChoice | Sequence[ModelChoice] | None = None,
        cases: Sequence[dict[str, Any]] | None = None,
        *,
        exercise: str | None = None,
        criteria: Sequence[dict[str, Any] | Scorer] | None = None,
        system: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int = 0,
        lang: str | None = None,
    ) -> None:
        super().__init__(lang=lang)
        self.spec = None
        if exercise is not None:
            from ..grading.spec import load_spec

            self.spec = load_spec(exercise)
        prompt_list = list(prompts) if isinstance(prompts, (list, tuple)) else [prompts]
        given = [models] if isinstance(models, (str, tuple)) else list(models or [settings().model])
        # each column's label -> (model, its sampling settings)
        self.model_settings: dict[str, tuple[str, dict[str, Any]]] = {}
        for choice in given:
            model, sampling = _model_choice(choice)
            self.model_settings[self._setting_label(model, sampling)] = (model, sampling)
        model_list = list(self.model_settings)
        self.criteria = list(criteria or [])
        self.system = system
        spec_model = self.spec.model if self.spec is not None else None
        self.temperature = temperature if temperature is not None else (spec_model.temperature if spec_model else 0.0)
        self.max_tokens = max_tokens if max_tokens is not None else (spec_model.max_tokens if spec_model else 256)
        self.seed = seed
        self.cases: list[dict[str, Any]] = self._cases(cases)
        self.cells: list[Cell] = []
        self.error: BaseException | None = None

        self.prompt_fields = [self._prompt_field(p, i) for i, p in enumerate(prompt_list)]
        options = model_options()
        options += [m for m in model_list if m not in options]
        self.models = w.SelectMultiple(options=options, value=tuple(model_list), description=self.tr("models"),
                                       rows=min(4, len(options)), style=LABEL_STYLE)
        self.run_button = button(self.tr("run"), "primary", "play")
        self.stop_button = button(self.tr("stop"), "warning", "stop", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="40%", visibility="hidden"))
        self.status = w.HTML()
        self.table = w.HTML()
        self.table.add_class("atelier-compare")
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.children = [
            *self.prompt_fields,
            self.models,
            w.HBox([self.run_button, self.stop_button, self.progress]),
            self.status,
            self.table,
        ]

    # --- set-up -------------------------------------------------------------------------------
    def _setting_label(self, model: str, sampling: dict[str, Any]) -> str:
        """A column's label in the course language, e.g. "local · temperature 1.0 · seed 3"."""
        if not sampling:
            return model
        parts = []
        for key in _SAMPLING:
            if key in sampling:
                value = sampling[key]
                shown = decimal(float(value), 1, self.lang) if key == "temperature" else str(value)
                parts.append(f"{self.tr(key).lower()} {shown}")
        return " · ".join([model, *parts])

    def _prompt_field(self, prompt: Any, i: int) -> w.Textarea:
        if not isinstance(prompt, str):
            import json

            prompt = json.dumps(prompt, ensure_ascii=False, indent=1)
        return w.Textarea(value=prompt, description=self.tr("prompt_n", n=i + 1), style=LABEL_STYLE,
                          layout=w.Layout(width="100%", height="5em"))

    def _cases(self, cases: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
        if cases is not None:
            return [dict(c) for c in cases]
        if self.spec is not None:  # the visible cases of the widget's language, as `check` runs them
            return [{**c.vars, **({"expected": c.expected} if c.has_expected else {})} for c in self.spec.cases_for(self.lang)]
        return [{}]

    @property
    def prompts(self) -> list[Any]:
        """The prompts as the fields hold them now (JSON text back to dicts/lists)."""
        out = []
        for field in self.prompt_fields:
            text = field.value
            if text.lstrip().startswith(("{", "[")) and (self.spec is None or self.spec.kind != "template"):
                import json

                try:
                    out.append(json.loads(text))
                    continue
                except ValueError:
                    pass
            out.append(text)
        return out

    @property
    def columns(self) -> list[tuple[int, str]]:
        """(prompt index, model) for each column."""
        return [(p, m) for p in range(len(self.prompt_fields)) for m in self.models.value]

    def column_label(self, column: int) -> str:
        p, m = self.columns[column]
        if len(self.prompt_fields) == 1:
            return m
        return self.tr("prompt_n", n=p + 1) if len(self.models.value) == 1 else f"{self.tr('prompt_n', n=p + 1)} · {m}"

    def _request(self, prompt: Any, case: dict[str, Any], sampling: dict[str, Any] | None = None) -> ChatRequest:
        return self._base_request(prompt, case).with_(**(sampling or {}))

    def _base_request(self, prompt: Any, case: dict[str, Any]) -> ChatRequest:
        if self.spec is not None:
            from ..grading.spec import Case
            from ..grading.submission import normalise, render_request

            variables = {k: str(v) for k, v in case.items() if k != "expected"}
            request = render_request(self.spec, normalise(self.spec, prompt), Case("compare", variables, case.get("expected")))
            return request.with_(temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)
        submission = _as_submission(prompt)
        if submission is None or not any(text.strip() for text in submission.texts()):
            raise AtelierError(self.tr("empty_prompt"), self.tr("empty_prompt_fix"))
        from ..grading.spec import Case

        system, messages = submission.render(Case("compare", {k: str(v) for k, v in case.items()}))
        if submission.kind == "template":  # a bare template takes the widget's system prompt
            system = self.system.strip() or None
        return ChatRequest(messages=tuple(messages), system=system, temperature=self.temperature,
                           max_tokens=self.max_tokens, seed=self.seed)

    def _plan(self) -> list[tuple[Cell, ChatRequest]]:
        if not self.prompt_fields or not self.models.value:
            raise AtelierError(self.tr("no_prompts"), self.tr("no_prompts_fix"))
        if not self.cases:
            raise AtelierError(self.tr("no_cases"), self.tr("no_cases_fix"))
        plan = []
        prompts = self.prompts
        for column, (p, label) in enumerate(self.columns):
            model, sampling = self.model_settings.get(label, (label, {}))
            if self.spec is None:
                submission = _as_submission(prompts[p])
                names = submission.placeholders() if submission is not None else []
                for n, case in enumerate(self.cases):
                    missing = [name for name in names if name not in case]
                    if missing:
                        raise AtelierError(self.tr("missing_variable", name=missing[0], n=n + 1),
                                           self.tr("missing_variable_fix", name=missing[0]))
            for n, case in enumerate(self.cases):
                request = self._request(prompts[p], case, sampling)
                sent = "\n\n".join([*([request.system] if request.system else []), *(m.content for m in request.messages)])
                plan.append((Cell(n, column, prompts[p], model, sampling=sampling, sent=sent,
                                  prefill=request.prefill or ""), request))
        return plan

    def examples(self) -> list[Example]:
        """Every prompt on every model for every case, as Run sends them."""
        return [Example(self.name(), f"{self.tr('case_n', n=cell.case + 1)} · {self.column_label(cell.column)}",
                        cell.model, request) for cell, request in self._plan()]

    # --- running ------------------------------------------------------------------------------
    def run(self) -> None:
        """Run every prompt on every model for every case, in the background, then score."""
        if self.running:
            return
        try:
            plan = self._plan()
        except AtelierError as exc:
            self._fail(exc)
            return
        self.error = None
        self.cells = [cell for cell, _ in plan]
        self.progress.max, self.progress.value = len(plan), 0
        self.progress.layout.visibility = "visible"
        self.status.value = f"<i>{esc(self.tr('running_n', done=0, total=len(plan)))}</i>"

        def work(stop: threading.Event) -> None:
            by_model: dict[str, list[tuple[Cell, ChatRequest]]] = {}
            for cell, request in plan:
                by_model.setdefault(cell.model, []).append((cell, request))
            done = 0
            for model, items in by_model.items():
                backend = get_backend(model)
                chunk = max(1, min(backend.max_parallel or settings().concurrency, settings().concurrency))
                for start in range(0, len(items), chunk):
                    if stop.is_set():
                        return
                    part = items[start:start + chunk]
                    results = complete_many([r for _, r in part], model=backend, progress=False, tag="compare")
                    for (cell, _), result in zip(part, results, strict=True):
                        if isinstance(result, Completion):
                            cell.completion = result
                            cell.score, cell.explanations = self.score(cell.output, self.cases[cell.case], cell.sent)
                        else:
                            cell.error = result
                    done += len(part)
                    if not stop.is_set():
                        self.progress.value = done
                        self.status.value = f"<i>{esc(self.tr('running_n', done=done, total=len(plan)))}</i>"
                        self._render()

        def finished(_result: Any, error: BaseException | None) -> None:
            self.progress.layout.visibility = "hidden"
            self.status.value = ""
            if error is not None:
                self._fail(error)
            else:
                self._render()

        self._start(work, finished)

    # --- scoring ------------------------------------------------------------------------------
    @property
    def scored(self) -> bool:
        return bool(self.criteria) or self.spec is not None

    def score(self, output: str, case: dict[str, Any], sent: str = "") -> tuple[float | None, tuple[str, ...]]:
        """The weighted mean of the criteria that could score this output, with their reasons.

        Judge criteria need a judge model and prompt criteria do not depend on the case, so a
        compare table leaves them out; `check` and `grade` apply the whole rubric.
        """
        if not self.scored:
            return None, ()
        items = self._criteria_items()
        total = weight_sum = 0.0
        reasons = []
        for weight, fn in items:
            try:
                value, why = _as_score(fn(output, {**case, "_sent": sent}) if getattr(fn, "kit", False) else fn(output, case))
            except Exception as exc:  # noqa: BLE001 - a criterion that cannot run leaves the cell unscored
                value, why = None, f"{type(exc).__name__}: {exc}"
            if why:
                reasons.append(why)
            if value is not None:
                total += weight * value
                weight_sum += weight
        return (total / weight_sum if weight_sum else None), tuple(reasons)

    def _criteria_items(self) -> list[tuple[float, Scorer]]:
        from ..grading.criteria import get_criterion, parse_case_refs
        from ..grading.spec import CriterionSpec

        specs: list[CriterionSpec] = []
        if self.spec is not None:
            specs += [c for c in self.spec.criteria if c.criterion.family == "output"]
        items: list[tuple[float, Scorer]] = []
        for given in self.criteria:
            if callable(given):
                items.append((1.0, given))
                continue
            args = parse_case_refs(dict(given))
            name, weight = args.pop("use"), float(args.pop("weight", 1.0))
            get_criterion(name).check_args(args)
            specs.append(CriterionSpec(use=name, weight=weight, args=args, key=name))
        for cspec in specs:
            items.append((cspec.weight, _kit_scorer(cspec, self.spec)))
        return items

    def winners(self) -> list[list[int]]:
        """For each case, the columns with the best score (empty when nothing was scored)."""
        out: list[list[int]] = []
        for n in range(len(self.cases)):
            scores = {c.column: c.score for c in self.cells if c.case == n and c.score is not None}
            best = max(scores.values(), default=None)
            out.append(sorted(col for col, s in scores.items() if best is not None and s == best))
        return out

    # --- output -------------------------------------------------------------------------------
    def to_dataframe(self):  # noqa: ANN201 - pandas is imported only here
        """One row per case × column: case, prompt, model and its sampling settings, output, score,
        tokens, latency, cost, winner."""
        import pandas as pd

        winners = self.winners()
        rows = []
        for cell in self.cells:
            c = cell.completion
            rows.append({
                "case": cell.case + 1,
                **{f"var:{k}": v for k, v in self.cases[cell.case].items()},
                "column": self.column_label(cell.column),
                "prompt": self.columns[cell.column][0] + 1,
                "model": cell.model,
                "temperature": cell.sampling.get("temperature", self.temperature),
                "seed": cell.sampling.get("seed", self.seed),
                "output": cell.output,
                "score": cell.score,
                "winner": cell.column in winners[cell.case],
                "input_tokens": c.usage.input_tokens if c else None,
                "output_tokens": c.usage.output_tokens if c else None,
                "latency_s": c.latency_s if c else None,
                "cost_usd": c.cost_usd if c else None,
                "cached": c.cached if c else None,
                "error": error_text(cell.error, self.lang) if cell.error else None,
            })
        return pd.DataFrame(rows)

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self.table.value = error_html(error, self.lang)

    def _render(self) -> None:
        if not self.cells:
            return
        winners = self.winners()
        ncols = max(c.column for c in self.cells) + 1
        grid = {(c.case, c.column): c for c in self.cells}
        td, th, colon = CSS["td"], CSS["th"], self.tr("colon")
        head = "".join(f"<th style='{th}'>{esc(self.column_label(i))}</th>" for i in range(ncols))
        win_head = f"<th style='{th};width:12%'>{esc(self.tr('winner'))}</th>" if self.scored else ""
        rows = []
        for n, case in enumerate(self.cases):
            vars_html = "".join(f"<div style='{CSS['small']}'><b>{esc(k)}</b>{esc(colon)}{esc(str(v)[:200])}</div>"
                                for k, v in case.items())
            tds = []
            for col in range(ncols):
                cell = grid.get((n, col))
                win = self.scored and col in winners[n]
                style = td + (";background:#e6f4ea" if win else "")
                if cell is None:
                    tds.append(f"<td style='{style}'></td>")
                elif cell.error is not None:
                    tds.append(f"<td style='{style}'>{error_html(cell.error, self.lang)}</td>")
                else:
                    score = "" if cell.score is None else (
                        f"<div><b>{esc(self.tr('score'))}{esc(colon)}{esc(decimal(cell.score, 2, self.lang))}</b></div>")
                    title = esc(" · ".join(cell.explanations))
                    tds.append(f"<td style='{style}' title='{title}'><pre class='atelier-output' style='{CSS['pre']}'>"
                               f"{esc(cell.output)}</pre>{score}</td>")
            win_td = ""
            if self.scored:
                names = [self.column_label(i) for i in winners[n]]
                label = (names[0] if len(names) == 1 else f"{self.tr('tie')}{colon}{', '.join(names)}") if names else "—"
                win_td = f"<td style='{td}'>{esc(label)}</td>"
            rows.append(f"<tr><td style='{td}'><b>{esc(self.tr('case_n', n=n + 1))}</b>{vars_html}</td>"
                        f"{''.join(tds)}{win_td}</tr>")
        self.table.value = (f"<div style='{CSS['view']}'><div style='{CSS['wrap']}'><table style='{CSS['table']}'>"
                            f"<thead><tr><th style='{th};width:20%'>{esc(self.tr('case'))}</th>{head}{win_head}</tr></thead>"
                            f"<tbody>{''.join(rows)}</tbody></table></div></div>")

    def _set_busy(self, busy: bool) -> None:
        self.run_button.disabled = busy
        self.stop_button.disabled = not busy

    def _on_stopped(self) -> None:
        self.progress.layout.visibility = "hidden"
        self.status.value = f"<i>{esc(self.tr('stopped'))}</i>"
        self._render()

    def text(self) -> str:
        lines = [f"Compare{self.tr('colon')}{tn('prompts', len(self.prompt_fields), self.lang)} × "
                 f"{tn('models', len(self.models.value), self.lang)} × {tn('cases', len(self.cases), self.lang)}"]
        if self.error is not None:
            lines.append(error_text(self.error, self.lang))
        winners = self.winners() if self.cells else []
        for cell in sorted(self.cells, key=lambda c: (c.case, c.column)):
            score = "" if cell.score is None else f" [{self.tr('score')} {decimal(cell.score, 2, self.lang)}]"
            body = error_text(cell.error, self.lang).replace("\n", " ") if cell.error else cell.output
            lines.append(f"{self.tr('case_n', n=cell.case + 1)} · {self.column_label(cell.column)}{score}{self.tr('colon')}{body}")
        for n, cols in enumerate(winners):
            if cols:
                lines.append(f"{self.tr('winner')} {self.tr('case_n', n=n + 1)}{self.tr('colon')}"
                             + ", ".join(self.column_label(c) for c in cols))
        return "\n".join(lines)


def _kit_scorer(cspec: Any, spec: Any) -> Scorer:
    """A grading criterion as a Compare scorer: the row's values as the case (arguments taken
    from the case resolved on it, the text sent as what the model was given)."""
    from ..grading.spec import Case

    def score(output: str, row: dict[str, Any]) -> Any:
        variables = {k: str(v) for k, v in row.items() if k not in ("expected", "_sent")}
        case = Case("compare", variables, row.get("expected"), prompt=row.get("_sent", ""))
        return cspec.criterion.fn(output, case, spec, **cspec.args_for(case))

    score.kit = True  # type: ignore[attr-defined]
    return score


def _as_score(value: Any) -> tuple[float | None, str]:
    """A criterion's result as (value in [0, 1] or None, explanation)."""
    if hasattr(value, "value") and hasattr(value, "explanation"):
        return value.value, value.explanation
    if value is None:
        return None, ""
    if isinstance(value, bool):
        return (1.0 if value else 0.0), ""
    return max(0.0, min(1.0, float(value))), ""


