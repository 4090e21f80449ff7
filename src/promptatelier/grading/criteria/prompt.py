"""Criteria on the prompt itself: placeholders, delimiters, examples, token budget, and no
expected answer of a hidden case leaked into it."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from ..base import Score
from . import criterion
from ._util import normalise

_OPENERS = ('"""', "'''", "```", "---", "###", "«", '"', "[", "(", "{")
_CLOSERS = {'"""': '"""', "'''": "'''", "```": "```", "---": "---", "###": "###", "«": "»", '"': '"', "[": "]", "(": ")", "{": "}"}
_TAG_OPEN = re.compile(r"<([A-Za-z][\w-]*)[^<>]*>\s*$")
_KEY_LINE = re.compile(r"^\s*([^\W\d_][\w' -]{0,24}?)\s*:", re.UNICODE)
_EXAMPLE_LINE = re.compile(r"^\s*(?:#+\s*)?(?:example|exemple|ex\.)\s*\d*\s*[:.)-]?", re.IGNORECASE)


@criterion("placeholders", family="prompt", label=("Uses the right placeholders", "Utilise les bons champs"))
def placeholders(submission: Any, spec: Any) -> Score:
    """Every placeholder the exercise fills is used, and no unknown {name} is left."""
    used = submission.placeholders()
    missing = [p for p in spec.placeholders if p not in used]
    unknown = [p for p in used if p not in spec.placeholders]
    if not missing and not unknown:
        return Score(1.0, f"uses {', '.join('{' + p + '}' for p in used) or 'no placeholder'}", f"utilise {', '.join('{' + p + '}' for p in used) or 'aucun champ'}")
    problems_en, problems_fr = [], []
    if missing:
        problems_en.append(f"never uses {', '.join('{' + p + '}' for p in missing)}")
        problems_fr.append(f"n'utilise jamais {', '.join('{' + p + '}' for p in missing)}")
    if unknown:
        problems_en.append(f"uses unknown {', '.join('{' + p + '}' for p in unknown)} (write {{{{ }}}} for literal braces)")
        problems_fr.append(f"utilise des champs inconnus {', '.join('{' + p + '}' for p in unknown)}")
    total = max(1, len(spec.placeholders) + len(unknown))
    return Score(max(0.0, 1 - (len(missing) + len(unknown)) / total), "; ".join(problems_en), " ; ".join(problems_fr))


def _delimited(text: str, start: int, end: int) -> bool:
    before, after = text[:start].rstrip(" \t"), text[end:].lstrip(" \t")
    tag = _TAG_OPEN.search(before.rstrip())
    if tag and re.match(rf"\s*</{re.escape(tag.group(1))}\s*>", after):
        return True
    before_s, after_s = before.rstrip(), after.lstrip()
    for opener in _OPENERS:
        if before_s.endswith(opener) and after_s.startswith(_CLOSERS[opener]):
            return True
    return False


@criterion("delimiters", family="prompt", label=("Fences the data with delimiters", "Encadre les données par des délimiteurs"))
def delimiters(submission: Any, spec: Any, *, placeholders: list[str] | None = None) -> Score:
    """Each data placeholder sits between delimiters (<tag>…</tag>, triple quotes, ```, ---,
    ###, « », quotes or brackets); a plain prompt needs at least one delimited block."""
    names = placeholders if placeholders is not None else list(spec.placeholders)
    text = submission.full_text
    if not names:
        block = re.search(r"<([A-Za-z][\w-]*)[^<>]*>.+?</\1\s*>|\"\"\".+?\"\"\"|```.+?```|'''.+?'''", text, re.DOTALL)
        return Score(1.0 if block else 0.0, "the data is delimited" if block else "no delimited block of data",
                     "les données sont délimitées" if block else "aucun bloc de données délimité")
    bare = []
    for name in names:
        spots = [m for m in re.finditer(r"(?<!\{)\{" + re.escape(name) + r"\}(?!\})", text)]
        if not spots or not all(_delimited(text, m.start(), m.end()) for m in spots):
            bare.append(name)
    if bare:
        return Score(1 - len(bare) / len(names), f"{{{bare[0]}}} is not between delimiters", f"{{{bare[0]}}} n'est pas entre délimiteurs")
    return Score(1.0, "every placeholder is fenced by delimiters", "chaque champ est encadré par des délimiteurs")


def count_examples(submission: Any) -> int:
    """Few-shot examples: assistant turns in a message list, else the largest of <example> tags,
    'Example N' lines, and repeats of a 'Key:' line (not counting the line with the data)."""
    if submission.kind == "messages":
        roles = [r for r, _ in submission.parts]
        return roles.count("assistant")
    text = submission.full_text
    tags = len(re.findall(r"<(?:example|exemple)\b", text, re.IGNORECASE))
    lines = text.splitlines()
    numbered = sum(1 for line in lines if _EXAMPLE_LINE.match(line))
    keys = Counter(
        m.group(1).strip().lower() for line in lines if (m := _KEY_LINE.match(line)) and "{" not in line
    )
    repeats = max((n for n in keys.values() if n >= 2), default=0)
    return max(tags, numbered, repeats)


@criterion("examples", family="prompt", label=("Gives {min} or more examples", "Donne au moins {min} exemples"))
def examples(submission: Any, spec: Any, *, min: int = 2, max: int | None = None) -> Score:  # noqa: A002
    n = count_examples(submission)
    ok = n >= min and (max is None or n <= max)
    span = f"{min}–{max}" if max is not None else f"≥ {min}"
    return Score(1.0 if ok else 0.0, f"{n} example(s) found, {span} wanted", f"{n} exemple(s) trouvé(s), {span} attendus")


def _check_budget(args: dict[str, Any]) -> None:
    if args.get("max_tokens") is None and args.get("relative_to") is None:
        raise ValueError("give max_tokens (a number of tokens) or relative_to (the prompt to shorten) with max_share")
    if args.get("max_tokens") is not None and args["max_tokens"] < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 < args.get("max_share", 0.6) <= 1:
        raise ValueError("max_share must be in (0, 1], e.g. 0.6 for a prompt 40% shorter")


def _budget_label(args: dict[str, Any], lang: str) -> str:
    if args.get("relative_to") is not None:
        share = round(100 * args.get("max_share", 0.6))
        return (f"Au plus {share}\u00a0% des jetons du prompt d'origine" if lang == "fr"
                else f"At most {share}% of the original prompt's tokens")
    n = args.get("max_tokens")
    return f"Tient en {n}\u00a0jetons" if lang == "fr" else f"Stays within {n} tokens"


@criterion("token_budget", family="prompt", label=_budget_label, validate=_check_budget)
def token_budget(submission: Any, spec: Any, *, max_tokens: int | None = None, relative_to: str | None = None,
                 max_share: float = 0.6) -> Score:
    """The prompt (its templates, without the case's data) fits the budget, counted in real tokens
    by the embedded model's tokenizer: `max_tokens`, or `max_share` of the tokens of
    `relative_to` (the prompt the learner must shorten)."""
    from ...models.tokenizer import TOKENIZER_NAME, count_tokens

    n = count_tokens(submission.full_text)
    budget = max_tokens if max_tokens is not None else int(max_share * count_tokens(relative_to or ""))
    if relative_to is not None and max_tokens is not None:
        budget = min(budget, int(max_share * count_tokens(relative_to)))
    ok = n <= budget
    how = f"{TOKENIZER_NAME}'s tokenizer"
    return Score(1.0 if ok else 0.0, f"{n} tokens ({'within' if ok else 'over'} {budget}, counted by {how})",
                 f"{n}\u00a0jetons ({'dans la limite de' if ok else 'au-delà de'} {budget}, comptés par le tokenizer de {TOKENIZER_NAME})")


def _answer_strings(expected: Any) -> list[str]:
    if isinstance(expected, dict):
        return [json.dumps(expected, ensure_ascii=False), *(s for v in expected.values() for s in _answer_strings(v))]
    if isinstance(expected, list):
        return [s for v in expected for s in _answer_strings(v)]
    return [str(expected)]


@criterion("no_answer_leak", family="prompt", gate=True,
           label=("Keeps the hidden answers out of the prompt", "Ne recopie pas les réponses cachées"))
def no_answer_leak(submission: Any, spec: Any, *, min_chars: int = 12, input_chars: int = 24) -> Score:
    """No hidden case's expected answer (at least min_chars long, once normalised, and not also a
    visible answer) and no hidden input (at least input_chars long) appears in the prompt."""
    hidden = spec.hidden_cases()
    if not hidden:
        return Score(1.0, "no hidden case to leak", "aucun cas caché")
    prompt = f" {normalise(submission.full_text)} "
    public = {normalise(s) for c in spec.cases if c.has_expected for s in _answer_strings(c.expected)}
    leaked_answers = leaked_inputs = 0
    for case in hidden:
        if case.has_expected:
            for s in _answer_strings(case.expected):
                n = normalise(s)
                if len(n) >= min_chars and n not in public and f" {n} " in prompt:
                    leaked_answers += 1
                    break
        for value in case.vars.values():
            n = normalise(value)
            if len(n) >= input_chars and n in prompt:
                leaked_inputs += 1
                break
    if leaked_answers or leaked_inputs:
        what = f"{leaked_answers} hidden answer(s) and {leaked_inputs} hidden input(s)"
        return Score(0.0, f"the prompt contains {what}", f"le prompt contient {leaked_answers} réponse(s) et {leaked_inputs} entrée(s) cachées",
                     flag=f"hidden cases copied into the prompt ({what})")
    return Score(1.0, "no hidden answer in the prompt", "aucune réponse cachée dans le prompt")


# what a prompt says only to sway whoever grades it (the injection detector's kinds); a prompt may
# legitimately play roles, set scores for the model's task or override defaults, so those stay allowed
_GRADER_KINDS = ("address", "request")


@criterion("not_addressed_to_grader", family="prompt", gate=True,
           label=("Talks to the model, not to the grader", "S'adresse au modèle, pas au correcteur"))
def not_addressed_to_grader(submission: Any, spec: Any) -> Score:
    """A prompt is read by the model, never by whoever grades it: a line that addresses the grader
    or asks for marks can only try to sway a grade. Read line by line with the judge's injection
    detector (Unicode folded, obfuscation undone), so a role line cannot hide a request after it."""
    if getattr(spec, "kind", "") in ("eval_cases", "eval_rubric"):  # a rubric may well speak of grading
        return Score(1.0, "an evaluation, not a prompt", "une évaluation, pas un prompt")
    for line in submission.full_text.splitlines():
        found = _grader_address(line)
        if found is not None:
            return Score(0.0, f"the prompt {found.text('en')}: {found.found!r}",
                         f"le prompt {found.text('fr')}\u00a0: «\u00a0{found.found}\u00a0»",
                         flag=f"the prompt {found.text('en')} ({found.found!r})")
    return Score(1.0, "the prompt speaks to the model only", "le prompt ne parle qu'au modèle")


def _grader_address(line: str) -> Any:
    """The first span of the line that addresses the grader or asks for marks, looking past the
    spans the detector finds first that a prompt may hold (a role, a score for the task)."""
    from .injection import injection_reason, shadow

    line = shadow(line)  # the form the detector reports its spans in
    for _ in range(4):
        found = injection_reason(line) if line.strip() else None
        if found is None or found.kind in _GRADER_KINDS:
            return found
        if found.found not in line:  # found only once disguises were undone: nothing plainer to find
            return None
        line = line.replace(found.found, " ")
    return None
