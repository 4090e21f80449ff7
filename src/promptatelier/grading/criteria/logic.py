"""Criteria made of other criteria: `any_of`, an OR between output criteria.

    [[criteria]]
    use = "any_of"
    criteria = [
      { use = "contains", text = "refund" },
      { use = "regex", pattern = "money back", flags = "i" },
    ]
"""

from __future__ import annotations

from typing import Any

from ..base import Score
from . import criterion, get_criterion


def _subs(args: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    out = []
    for item in args["criteria"]:
        crit = get_criterion(item["use"])
        out.append((crit, {k: v for k, v in item.items() if k != "use"}))
    return out


def _check(args: dict[str, Any]) -> None:
    items = args.get("criteria")
    if not isinstance(items, list) or len(items) < 2 or not all(isinstance(i, dict) for i in items):
        raise ValueError('criteria must list at least two criteria: criteria = [{ use = "contains", text = "x" }, { use = ... }]')
    for n, item in enumerate(items):
        use = item.get("use")
        if not isinstance(use, str):
            raise ValueError(f"criteria[{n}] has no use = \"<criterion name>\"")
        try:
            crit = get_criterion(use)
        except Exception as exc:
            raise ValueError(f"criteria[{n}]: {getattr(exc, 'problem', exc)}") from None
        if crit.family != "output":
            raise ValueError(f"criteria[{n}]: {use!r} is a {crit.family} criterion; any_of combines output criteria only")
        sub = {k: v for k, v in item.items() if k != "use"}
        try:
            crit.check_args(sub)
        except ValueError as exc:
            raise ValueError(f"criteria[{n}] ({use}): {exc}") from None


def _label(args: dict[str, Any], lang: str) -> str:
    items = args.get("criteria") or []
    parts = []
    for item in items:
        try:
            crit = get_criterion(item["use"])
            parts.append(crit.describe({k: v for k, v in item.items() if k != "use"}, lang))
        except Exception:
            parts.append(str(item.get("use")))
    joiner = " ou " if lang == "fr" else " or "
    return joiner.join(parts) if parts else ("L'un des critères" if lang == "fr" else "One of the criteria")


@criterion("any_of", label=_label, validate=_check)
def any_of(output: str, case: Any, spec: Any, *, criteria: list[dict[str, Any]]) -> Score:
    """Passes as well as the best of its criteria: an OR, so that two acceptable forms (a word in
    either language, two spellings of a format) need no hand-written regex."""
    best: Score | None = None
    for crit, args in _subs({"criteria": criteria}):
        if crit.needs_expected and not case.has_expected:
            continue
        score = crit.fn(output, case, spec, **args)
        if score.value is not None and (best is None or best.value is None or score.value > best.value):
            best = score
    if best is None:
        return Score(None, "none of the alternatives could be scored", "aucune des possibilités n'a pu être notée")
    return best
