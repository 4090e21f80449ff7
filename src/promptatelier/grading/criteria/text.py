"""Criteria on the text of an output: contains, regex, matches, labels, starts / ends with."""

from __future__ import annotations

import re
from typing import Any

from ..base import Score
from . import criterion
from ._util import as_list, fold, normalise, short


def _check_regex(args: dict[str, Any]) -> None:
    try:
        re.compile(args["pattern"])
    except re.error as exc:
        raise ValueError(f"the pattern {args['pattern']!r} is not a valid regular expression ({exc})") from None
    flags = args.get("flags", "")
    if not isinstance(flags, str) or set(flags) - set("imsx"):
        raise ValueError("flags must be a string of i, m, s, x")


def _check_texts(args: dict[str, Any]) -> None:
    texts = as_list(args.get("text"))
    if not texts or not all(isinstance(t, str) and t for t in texts):
        raise ValueError("text must be a non-empty string or a list of them")
    if args.get("mode", "all") not in ("all", "any"):
        raise ValueError("mode must be 'all' or 'any'")


@criterion("contains", label=("Mentions {text}", "Mentionne {text}"), validate=_check_texts)
def contains(output: str, case: Any, spec: Any, *, text: str | list[str], mode: str = "all",
             ignore_case: bool = True, ignore_accents: bool = True) -> Score:
    """The output contains the text (all of several, or any with mode = "any")."""
    hay = fold(output, ignore_case=ignore_case, ignore_accents=ignore_accents)
    wanted = as_list(text)
    found = [t for t in wanted if fold(t, ignore_case=ignore_case, ignore_accents=ignore_accents) in hay]
    missing = [t for t in wanted if t not in found]
    if mode == "any":
        value = 1.0 if found else 0.0
    else:
        value = len(found) / len(wanted)
    if not missing or (mode == "any" and found):
        return Score(value, f"contains {short(found[0])!r}", f"contient {short(found[0])!r}")
    return Score(value, f"does not contain {short(missing[0])!r}", f"ne contient pas {short(missing[0])!r}")


@criterion("not_contains", label=("Does not mention {text}", "Ne mentionne pas {text}"), validate=_check_texts)
def not_contains(output: str, case: Any, spec: Any, *, text: str | list[str], ignore_case: bool = True,
                 ignore_accents: bool = True) -> Score:
    """The output contains none of the texts (any one of them fails it)."""
    hay = fold(output, ignore_case=ignore_case, ignore_accents=ignore_accents)
    found = [t for t in as_list(text) if fold(t, ignore_case=ignore_case, ignore_accents=ignore_accents) in hay]
    if found:
        return Score(0.0, f"contains {short(found[0])!r}, which it should not", f"contient {short(found[0])!r}, ce qui est interdit")
    return Score(1.0, "contains none of the forbidden texts", "ne contient aucun des textes interdits")


@criterion("regex", label=("Matches the pattern {pattern}", "Suit le motif {pattern}"), validate=_check_regex)
def regex(output: str, case: Any, spec: Any, *, pattern: str, flags: str = "", full: bool = False,
          negate: bool = False) -> Score:
    """The output matches `pattern` (anywhere, or entirely with full = true; negate inverts)."""
    bits = 0
    for f in flags:
        bits |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[f]
    compiled = re.compile(pattern, bits)
    hit = (compiled.fullmatch(output.strip()) if full else compiled.search(output)) is not None
    if negate:
        return Score(0.0 if hit else 1.0, "matches a forbidden pattern" if hit else "avoids the pattern",
                     "suit un motif interdit" if hit else "évite le motif")
    return Score(1.0 if hit else 0.0, "matches the pattern" if hit else "does not match the pattern",
                 "suit le motif" if hit else "ne suit pas le motif")


def _expected_list(case: Any) -> list[str]:
    return [str(e) for e in as_list(case.expected)]


@criterion("exact_match", label=("Gives exactly the expected answer", "Donne exactement la réponse attendue"), needs_expected=True)
def exact_match(output: str, case: Any, spec: Any) -> Score:
    """The whole output, trimmed, is the expected answer (or one of a list of them)."""
    ok = output.strip() in [e.strip() for e in _expected_list(case)]
    return Score(1.0 if ok else 0.0, "is exactly the expected answer" if ok else f"is {short(output.strip())!r}, not the expected answer",
                 "est exactement la réponse attendue" if ok else f"vaut {short(output.strip())!r}, pas la réponse attendue")


@criterion("normalised_match", label=("Gives the expected answer", "Donne la réponse attendue"), needs_expected=True)
def normalised_match(output: str, case: Any, spec: Any, *, contains: bool = False) -> Score:
    """The output equals the expected answer once case, accents, punctuation and spaces are
    folded (or contains it, with contains = true)."""
    got = normalise(output)
    wanted = [normalise(e) for e in _expected_list(case)]
    if contains:
        ok = any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", got) for w in wanted if w)
    else:
        ok = got in wanted
    return Score(1.0 if ok else 0.0, "gives the expected answer" if ok else f"answers {short(output.strip())!r}, not the expected answer",
                 "donne la réponse attendue" if ok else f"répond {short(output.strip())!r}, pas la réponse attendue")


def _check_labels(args: dict[str, Any]) -> None:
    labels = args.get("labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x.strip() for x in labels):
        raise ValueError("labels must be a list of at least two label strings")


def find_labels(output: str, labels: list[str]) -> list[str]:
    """The labels the output names as whole words (accent and case insensitive)."""
    text = normalise(output)
    return [label for label in labels if re.search(rf"(?<!\w){re.escape(normalise(label))}(?!\w)", text)]


@criterion("label_accuracy", label=("Picks the right label", "Choisit la bonne étiquette"), needs_expected=True, validate=_check_labels)
def label_accuracy(output: str, case: Any, spec: Any, *, labels: list[str]) -> Score:
    """Right when the output names exactly one label and it is the expected one (averaged over
    cases this is the accuracy)."""
    named = find_labels(output, labels)
    expected = normalise(case.expected)
    if len(named) != 1:
        what = "no label" if not named else f"{len(named)} labels"
        return Score(0.0, f"names {what} instead of exactly one", f"donne {'aucune étiquette' if not named else f'{len(named)} étiquettes'} au lieu d'une seule")
    ok = normalise(named[0]) == expected
    return Score(1.0 if ok else 0.0, f"answers {named[0]!r}" + ("" if ok else ", not the expected label"),
                 f"répond {named[0]!r}" + ("" if ok else ", pas l'étiquette attendue"))


@criterion("label_only", label=("Answers with a label only", "Répond par une étiquette seule"), validate=_check_labels)
def label_only(output: str, case: Any, spec: Any, *, labels: list[str]) -> Score:
    """The output is one of the labels and nothing else (trailing punctuation allowed)."""
    got = normalise(output)
    ok = got in {normalise(x) for x in labels}
    return Score(1.0 if ok else 0.0, "is a bare label" if ok else f"is {short(output.strip())!r}, not a bare label",
                 "est une étiquette seule" if ok else f"vaut {short(output.strip())!r}, pas une étiquette seule")


@criterion("starts_with", label=("Starts with {prefix!r}", "Commence par {prefix!r}"))
def starts_with(output: str, case: Any, spec: Any, *, prefix: str, ignore_case: bool = True) -> Score:
    ok = fold(output, ignore_case=ignore_case, ignore_accents=False).startswith(fold(prefix, ignore_case=ignore_case, ignore_accents=False))
    return Score(1.0 if ok else 0.0, f"starts with {prefix!r}" if ok else f"does not start with {prefix!r}",
                 f"commence par {prefix!r}" if ok else f"ne commence pas par {prefix!r}")


@criterion("ends_with", label=("Ends with {suffix!r}", "Se termine par {suffix!r}"))
def ends_with(output: str, case: Any, spec: Any, *, suffix: str, ignore_case: bool = True) -> Score:
    ok = fold(output, ignore_case=ignore_case, ignore_accents=False).endswith(fold(suffix, ignore_case=ignore_case, ignore_accents=False))
    return Score(1.0 if ok else 0.0, f"ends with {suffix!r}" if ok else f"does not end with {suffix!r}",
                 f"se termine par {suffix!r}" if ok else f"ne se termine pas par {suffix!r}")
