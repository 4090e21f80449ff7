"""Chat: a conversation with memory. Each turn sends the system prompt and the whole
conversation so far, which is what "memory" means for a chat model; the context's size in
tokens shows what that costs."""

from __future__ import annotations

import threading

import ipywidgets as w

from ..config import settings
from ..errors import AtelierError
from ..models import Completion, Message, complete, make_request
from ._common import LABEL_STYLE, AtelierWidget, Example, button, error_html, error_text, esc, labelled
from ._i18n import tn
from .playground import model_options

__all__ = ["Chat"]


class Chat(AtelierWidget):
    """System prompt, a transcript, a message box with Send, Stop and Reset, the context size."""

    def __init__(
        self,
        system: str = "",
        *,
        model: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 256,
        seed: int | None = 0,
        message: str = "",
        lang: str | None = None,
    ) -> None:
        super().__init__(lang=lang)
        model = model or settings().model
        self.messages: list[Message] = []
        self.last_completion: Completion | None = None
        self.error: BaseException | None = None
        self.seed = seed
        self.system = w.Textarea(value=system, placeholder=self.tr("system_placeholder"),
                                 layout=w.Layout(width="100%", height="4em"))
        self.model = w.Dropdown(options=model_options(model), value=model, description=self.tr("model"),
                                style=LABEL_STYLE)
        self.temperature = w.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.1, style=LABEL_STYLE,
                                         description=self.tr("temperature"), readout_format=".1f")
        self.max_tokens = w.BoundedIntText(value=max_tokens, min=1, max=8192, description=self.tr("max_tokens"),
                                           style=LABEL_STYLE, layout=w.Layout(width="auto", max_width="16em"))
        self.transcript = w.HTML()
        self.transcript.add_class("atelier-transcript")
        self.message = w.Textarea(value=message, placeholder=self.tr("message_placeholder"),
                                  layout=w.Layout(width="100%", height="3.5em"))
        self.send_button = button(self.tr("send"), "primary", "paper-plane")
        self.stop_button = button(self.tr("stop"), "warning", "stop", disabled=True)
        self.reset_button = button(self.tr("reset"), icon="refresh")
        self.status = w.HTML()
        self.context = w.HTML(f"<small>{esc(self.tr('context_empty'))}</small>")
        self.send_button.on_click(lambda _: self.send())
        self.stop_button.on_click(lambda _: self.stop())
        self.reset_button.on_click(lambda _: self.reset())
        self.children = [
            labelled(self.tr("system_prompt"), self.system),
            w.HBox([self.model, self.temperature, self.max_tokens]),
            self.transcript,
            self.message,
            w.HBox([self.send_button, self.stop_button, self.reset_button]),
            self.status,
            self.context,
        ]

    def examples(self) -> list[Example]:
        """The conversation so far with the message box's text as the next turn."""
        if not self.message.value.strip():
            return []
        history = [*self.messages, Message("user", self.message.value)]
        request = make_request(history, system=self.system.value.strip() or None,
                               temperature=float(self.temperature.value), max_tokens=int(self.max_tokens.value),
                               seed=self.seed)
        return [Example(self.name(), "message", self.model.value, request)]

    def send(self, text: str | None = None) -> None:
        """Add the message box's text (or `text`) to the conversation and ask for a reply."""
        if self.running:
            return
        content = self.message.value if text is None else text
        if not content.strip():
            self._error(AtelierError(self.tr("empty_prompt"), self.tr("empty_prompt_fix")))
            return
        self.error = None
        self.messages.append(Message("user", content))
        self.message.value = ""
        self._render()
        history = tuple(self.messages)
        model, system = self.model.value, self.system.value.strip() or None
        temperature, max_tokens = float(self.temperature.value), int(self.max_tokens.value)
        self.status.value = f"<i>{esc(self.tr('running', model=model))}</i>"

        def work(_stop: threading.Event) -> Completion:
            return complete(list(history), model=model, system=system, temperature=temperature,
                            max_tokens=max_tokens, seed=self.seed, tag="chat")

        def done(result: Completion | None, error: BaseException | None) -> None:
            self.status.value = ""
            if error is not None:
                # the unanswered message goes back to the box, so the learner can retry
                self.messages.pop()
                self.message.value = content
                self._error(error)
                return
            assert result is not None
            self.last_completion = result
            self.messages.append(Message("assistant", result.text))
            self._render()

        self._start(work, done)

    def reset(self) -> None:
        """Forget the conversation (the system prompt stays)."""
        self.stop()
        self.messages.clear()
        self.last_completion = None
        self.error = None
        self.status.value = ""
        self._render()

    @property
    def context_tokens(self) -> int:
        """Tokens the last turn sent and received: the conversation's size for the model."""
        if self.last_completion is None:
            return 0
        return self.last_completion.usage.input_tokens + self.last_completion.usage.output_tokens

    def _error(self, error: BaseException) -> None:
        self.error = error
        self._render()
        self.status.value = error_html(error, self.lang)

    def _render(self) -> None:
        rows = []
        for m in self.messages:
            who, colour = (self.tr("you"), "#eef4ff") if m.role == "user" else (self.tr("assistant"), "#f6f8fa")
            rows.append(f'<div class="atelier-turn atelier-{m.role}" style="background:{colour};padding:4px 8px;'
                        f'margin:3px 0;line-height:1.45;text-align:left"><b>{esc(who)}{esc(self.tr("colon"))}</b>'
                        f'<span style="white-space:pre-wrap;overflow-wrap:anywhere">{esc(m.content)}</span></div>')
        self.transcript.value = "".join(rows)
        turns = sum(1 for m in self.messages if m.role == "user")
        self.context.value = "<small>{}</small>".format(esc(
            self.tr("context_tokens", tokens=tn("tokens", self.context_tokens, self.lang), turns=tn("turns", turns, self.lang))
            if self.last_completion and self.messages
            else self.tr("context_empty")))

    def _set_busy(self, busy: bool) -> None:
        self.send_button.disabled = busy
        self.stop_button.disabled = not busy

    def _on_stopped(self) -> None:
        if self.messages and self.messages[-1].role == "user":
            self.message.value = self.messages.pop().content
            self._render()
        self.status.value = f"<i>{esc(self.tr('stopped'))}</i>"

    def text(self) -> str:
        lines = [f"Chat ({self.model.value})"]
        if self.system.value.strip():
            lines.append(f"{self.tr('system_prompt')}{self.tr('colon')}{self.system.value}")
        for m in self.messages:
            lines.append(f"{self.tr('you') if m.role == 'user' else self.tr('assistant')}{self.tr('colon')}{m.content}")
        if self.error is not None:
            lines.append(error_text(self.error, self.lang))
        return "\n".join(lines)
