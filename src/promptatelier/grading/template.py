"""`{name}` placeholders in prompt templates: finding them and filling them in.

Only a declared `{name}` is replaced; other braces (a JSON example) stay as written, and
`{{name}}` is a literal.
"""

from __future__ import annotations

import re

__all__ = ["find_placeholders", "fill", "PLACEHOLDER"]

PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def find_placeholders(text: str) -> list[str]:
    """The `{name}` placeholders in a template, in order, without repeats (`{{x}}` is literal)."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def fill(template: str, values: dict[str, str]) -> str:
    """Replace the known `{name}` placeholders; anything else (JSON braces...) stays as written."""
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return PLACEHOLDER.sub(sub, template)
