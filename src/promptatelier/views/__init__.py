"""HTML the kit shows, from Jinja templates: the feedback on an evaluation (CLI reports,
nbgrader's feedback pages, autograded notebooks), the check view (`check()` and the
ExerciseCheck widget), and the helpers every view uses (Markdown, numbers, plurals).

It sits below grading and widgets and knows neither: templates read plain view objects.
Every style is inline: the same HTML lands in JupyterLab (whose tables right-align and fix
their layout), in nbgrader's classic feedback page and in a bare browser, and must read the
same in all three. Jinja2 and mistune come with nbgrader and nbconvert; both load on first use.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["CSS", "HEADLINE_COLOURS", "render", "markdown", "number", "plural", "percent", "split_fix"]

_HERE = Path(__file__).resolve().parent

# the look, in one place; templates read it as `css`
CSS = {
    "view": ("font-family:var(--jp-content-font-family,system-ui,-apple-system,'Segoe UI',sans-serif);"
             "font-size:14px;line-height:1.45;text-align:left;color:#1f2328;max-width:80em"),
    "wrap": "overflow-x:auto;margin:0.4em 0 0.8em 0",
    "table": "border-collapse:collapse;table-layout:fixed;width:100%;min-width:40em;margin:0;font-size:13px",
    "th": ("text-align:left;vertical-align:bottom;padding:6px 8px;border-bottom:2px solid #d0d7de;"
           "font-weight:600;white-space:normal;word-break:normal;overflow-wrap:normal"),
    "td": ("text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid #d8dee4;"
           "white-space:normal;word-break:normal;overflow-wrap:anywhere;hyphens:manual;line-height:1.4"),
    # model outputs: monospace, wrapped at spaces; a long unbroken run (a URL, JSON) breaks only
    # where it would overflow the column
    "pre": ("font-family:var(--jp-code-font-family,ui-monospace,SFMono-Regular,Menlo,Consolas,monospace);"
            "font-size:12.5px;white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;margin:0;"
            "padding:4px 6px;background:#f6f8fa;border-radius:4px;text-align:left;line-height:1.4"),
    "small": "color:#57606a;font-size:12px",
    "muted": "color:#57606a",
    "pass": "color:#1a7f37",
    "fail": "color:#cf222e",
    "unscored": "color:#6e7781",
    "h": "margin:0.3em 0;font-size:15px;font-weight:600;text-align:left",
    "h5": "margin:0.8em 0 0.2em 0;font-size:14px;font-weight:600;text-align:left",
    "p": "margin:0.25em 0;text-align:left",
    "list": "margin:0.25em 0;padding-left:1.4em;text-align:left",
    "plain_list": "list-style:none;margin:0;padding:0;text-align:left",
    "code": "font-family:var(--jp-code-font-family,ui-monospace,monospace);font-size:90%;"
            "background:#eff1f3;padding:0 3px;border-radius:3px",
    "box": "border-left:4px solid #cf222e;background:#ffebe9;padding:6px 10px;margin:4px 0;text-align:left",
}
HEADLINE_COLOURS = {"pass": "#1a7f37", "fail": "#9a6700", "invalid": "#cf222e", "not_graded": "#57606a"}


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_HERE)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["markdown"] = markdown
    env.globals["css"] = CSS
    return env


def render(template: str, **context: Any) -> str:
    """`template` (a file next to this module) filled with `context`, HTML-escaped."""
    html = _environment().get_template(template).render(**context)
    return re.sub(r">\n\s*<", "><", html.strip())  # the template's own line breaks


@lru_cache(maxsize=1)
def _markdown() -> Any:
    import mistune

    # escape=True: raw HTML in a hint or an instruction is shown as text, never run
    return mistune.create_markdown(escape=True, plugins=["strikethrough"])


def markdown(text: str | None, inline: bool = False) -> Any:
    """Instructor Markdown (instructions, hints) as safe HTML; `inline` drops a lone paragraph
    so that a hint sits in a table cell without a margin."""
    from markupsafe import Markup

    html = str(_markdown()(text or "")).strip().replace("'", "&#x27;")  # as html.escape writes it
    html = html.replace("<code>", f'<code style="{CSS["code"]}">')
    html = html.replace("<p>", f'<p style="{CSS["p"]}">').replace("<ul>", f'<ul style="{CSS["list"]}">')
    html = html.replace("<ol>", f'<ol style="{CSS["list"]}">')
    if inline and html.count("<p ") == 1 and html.startswith("<p ") and html.endswith("</p>"):
        html = html[html.index(">") + 1:-len("</p>")]
    return Markup(html)


def number(x: float, lang: str) -> str:
    """A score as people write it: 2.25, 3 (English), 2,25, 3 (French: decimal comma)."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "fr" else text


def percent(x: float, lang: str) -> str:
    return f"{round(x * 100)}\u00a0%" if lang == "fr" else f"{round(x * 100)}%"


def plural(n: int, one: str, many: str, lang: str) -> str:
    """`one` or `many` for `n`: French takes the singular for 0 and 1, English for 1 only."""
    return one if (n < 2 if lang == "fr" else n == 1) else many


_FIX = re.compile(r"\s+(?:Fix|Solution)\s?:\s+")


def split_fix(message: str) -> tuple[str, str]:
    """A note that joins 'problem. Fix: fix' as (problem, fix); ('message', '') when it has none."""
    message = re.sub(r"\.\.(?=\s|$)", ".", message)  # 'down.' + '.' when a sentence ends a sentence
    parts = _FIX.split(message, maxsplit=1)
    return (parts[0].strip(), parts[1].strip()) if len(parts) == 2 else (message.strip(), "")
