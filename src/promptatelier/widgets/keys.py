"""Key entry: one password field per provider.

A Password widget's `value` is a synced trait, and JupyterLab saves synced values in the
notebook's widget state. So the field syncs only on Enter or when it loses focus
(`continuous_update=False`), and the moment a key arrives in the kernel it goes to
`config.set_key` (memory only) and the field is emptied, before anything can save it; the
kernel does not echo the key back to the browser either. The key is
never put in `os.environ` (child processes would inherit it), a file, or an output.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
from traitlets import Unicode

from ..config import KEY_ENV_VARS, get_key, key_source, mask, set_key
from ..models import clear_backends
from ._common import AtelierWidget, button, esc

__all__ = ["KeyEntry"]

class KeyField(w.Password):
    """A password field whose value is not echoed back to the browser when it arrives."""

    value = Unicode(help="The key as typed; emptied as soon as it is taken.").tag(sync=True, echo_update=False)


PROVIDER_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic", "openai-compatible": "OpenAI-compatible server"}


class KeyEntry(AtelierWidget):
    """Where each provider's key comes from, and a field to give one for this session."""

    def __init__(self, providers: list[str] | None = None, *, lang: str | None = None) -> None:
        super().__init__(lang=lang)
        self.providers = list(providers or KEY_ENV_VARS)
        self.fields: dict[str, KeyField] = {}
        self.states: dict[str, w.HTML] = {}
        self.forget_buttons: dict[str, w.Button] = {}
        self.message = w.HTML()
        rows: list[Any] = [w.HTML(f"<small>{esc(self.tr('keys_intro'))}</small>")]
        for provider in self.providers:
            field = KeyField(value="", placeholder=self.tr("key_placeholder"),
                               description=PROVIDER_NAMES.get(provider, provider),
                               continuous_update=False, style={"description_width": "14em"},
                               layout=w.Layout(width="32em"))
            field.add_class(f"atelier-key-{provider}")
            field.observe(lambda change, p=provider: self._take(p, change["new"]), names="value")
            forget = button(self.tr("forget_key"), icon="trash")
            forget.on_click(lambda _, p=provider: self.forget(p))
            self.fields[provider], self.forget_buttons[provider], self.states[provider] = field, forget, w.HTML()
            rows.append(w.HBox([field, forget, self.states[provider]]))
        rows.append(self.message)
        self.children = rows
        self.refresh()

    def _take(self, provider: str, value: str) -> None:
        if not value:
            return
        # empty the synced field first: the key must not linger in widget state
        self.fields[provider].value = ""
        self.use_key(provider, value)

    def use_key(self, provider: str, key: str) -> None:
        """Keep `key` for `provider` in memory for this session."""
        set_key(provider, key)
        clear_backends()  # a backend made before holds the old key in its client
        self.message.value = f"<small>{esc(self.tr('key_set', provider=PROVIDER_NAMES.get(provider, provider)))}</small>"
        self.refresh()

    def forget(self, provider: str) -> None:
        """Forget the key typed for `provider` (environment and .env keys stay)."""
        set_key(provider, None)
        clear_backends()
        self.message.value = f"<small>{esc(self.tr('key_forgotten', provider=PROVIDER_NAMES.get(provider, provider)))}</small>"
        self.refresh()

    def describe(self, provider: str) -> str:
        """Where `provider`'s key comes from, with the key masked."""
        source = key_source(provider)
        var = KEY_ENV_VARS[provider]
        masked = mask(get_key(provider))
        if source == "session":
            return self.tr("key_from_session", masked=masked)
        if source == "environment":
            return self.tr("key_from_environment", masked=masked, var=var)
        if source == ".env":
            return self.tr("key_from_dotenv", masked=masked, var=var)
        return self.tr("key_none")

    def refresh(self) -> None:
        for provider in self.providers:
            self.states[provider].value = f"<small>{esc(self.describe(provider))}</small>"
            self.forget_buttons[provider].disabled = key_source(provider) != "session"

    def text(self) -> str:
        return "\n".join(["Keys"] + [f"{PROVIDER_NAMES.get(p, p)}: {self.describe(p)}" for p in self.providers])
