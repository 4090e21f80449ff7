"""The example prompts of the widgets a notebook made, and a way to run them all once.

A notebook hands its widgets example prompts that nobody runs while it is executed (a widget
runs on a click), so a degenerate answer to one of them would reach learners unseen. CI runs
them once on the embedded model and checks the outputs (tests/course/test_notebooks.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AtelierError
from ._common import Example, live_widgets

__all__ = ["examples", "run_examples", "ExampleRun"]


@dataclass(frozen=True)
class ExampleRun:
    """One example's outcome: the output's text, or the error (a widget whose prompt cannot be
    sent as it stands, such as a template missing a placeholder the exercise needs)."""

    widget: str
    label: str
    text: str | None
    error: BaseException | None = None


def examples() -> list[Example]:
    """Every live widget's example requests, in the order the widgets were made."""
    return [example for widget in live_widgets() for example in widget.examples()]


def run_examples(model: str | None = None) -> list[ExampleRun]:
    """Run each widget's examples once (on `model` if given, else on the widget's model); a
    widget whose examples cannot be made gives one run with its error, and the others still run."""
    from ..models import Completion, complete_many

    slots: list[Example | ExampleRun] = []
    for widget in live_widgets():
        try:
            slots += widget.examples()
        except AtelierError as exc:
            slots.append(ExampleRun(widget.name(), "", None, exc))
    by_model: dict[str, list[int]] = {}
    for i, slot in enumerate(slots):
        if isinstance(slot, Example):
            by_model.setdefault(model or slot.model, []).append(i)
    for name, indices in by_model.items():
        batch = complete_many([slots[i].request for i in indices], model=name, progress=False, tag="examples")
        for i, result in zip(indices, batch, strict=True):
            example = slots[i]
            assert isinstance(example, Example)
            slots[i] = (ExampleRun(example.widget, example.label, result.text) if isinstance(result, Completion)
                        else ExampleRun(example.widget, example.label, None, result))
    return [slot for slot in slots if isinstance(slot, ExampleRun)]
