"""Criteria on the text of an output: contains, regex, matches, labels, starts / ends with."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..base import Score
from . import criterion
from ._util import NB, as_list, casefold, fold, normalise, quote_fr, short


def _check_regex(args: dict[str, Any]) -> None:
    try:
        re.compile(args["pattern"])
    except re.error as exc:
        raise ValueError(f"the pattern {args['pattern']!r} is not a valid regular expression ({exc})") from None
    flags = args.get("flags", "")
    if not isinstance(flags, str) or set(flags) - set("imsx"):
        raise ValueError("flags must be a string of i, m, s, x")


TextItem = str | dict[str, str | bool]
_TEXT_OPTIONS = {"text", "ignore_case", "ignore_accents"}


def _items(text: TextItem | list[TextItem]) -> list[dict[str, Any]]:
    """Each text to look for as {text, ignore_case?, ignore_accents?}; a ValueError says what is wrong."""
    items = as_list(text)
    if not items:
        raise ValueError("text must be a non-empty text or a list of them")
    out = []
    for item in items:
        entry = dict(item) if isinstance(item, dict) else {"text": item}
        unknown = set(entry) - _TEXT_OPTIONS
        if unknown:
            raise ValueError(f"a text's options are text, ignore_case and ignore_accents, not {sorted(unknown)}")
        if not isinstance(entry.get("text"), str) or not entry["text"].strip():
            raise ValueError("every text to look for must hold something other than spaces: an empty one would "
                             "always be found")
        for option in ("ignore_case", "ignore_accents"):
            if not isinstance(entry.get(option, True), bool):
                raise ValueError(f"{option} must be true or false")
        out.append(entry)
    return out


def _check_texts(args: dict[str, Any]) -> None:
    _items(args.get("text"))
    if args.get("mode", "all") not in ("all", "any"):
        raise ValueError("mode must be 'all' or 'any'")


def _found(output: str, items: list[dict[str, Any]], ignore_case: bool, ignore_accents: bool) -> list[bool]:
    """For each text, whether the output holds it, each folded with its own options or the criterion's."""
    hay: dict[tuple[bool, bool], str] = {}
    found = []
    for item in items:
        key = (item.get("ignore_case", ignore_case), item.get("ignore_accents", ignore_accents))
        if key not in hay:
            hay[key] = fold(output, ignore_case=key[0], ignore_accents=key[1])
        found.append(fold(item["text"], ignore_case=key[0], ignore_accents=key[1]) in hay[key])
    return found


def _unusable(exc: ValueError) -> Score:
    return Score(None, f"cannot be checked: {exc}", f"ne peut pas être vérifié{NB}: un texte à chercher est vide ou mal écrit")


def _texts_label(joiner: tuple[str, str]) -> Callable[[dict[str, Any], str], str]:
    def label(args: dict[str, Any], lang: str) -> str:
        shown = []
        for item in as_list(args.get("text")):
            value = item.get("text") if isinstance(item, dict) else item
            path = getattr(value, "path", None)
            if path is not None:
                shown.append(f"the case's {path}" if lang == "en" else f"la valeur {path} du cas")
            else:
                shown.append(repr(str(value)) if lang == "en" else quote_fr(value, 40))
        en, fr = joiner
        word = (" or " if args.get("mode") == "any" else en) if lang == "en" else (" ou " if args.get("mode") == "any" else fr)
        return word.join(shown)
    return label


def _mentions(args: dict[str, Any], lang: str) -> str:
    return ("Mentions " if lang == "en" else "Mentionne ") + _texts_label((" and ", " et "))(args, lang)


def _not_mentions(args: dict[str, Any], lang: str) -> str:
    return ("Does not mention " if lang == "en" else "Ne mentionne pas ") + _texts_label((" or ", " ni "))(
        {**args, "mode": "all"}, lang)


@criterion("contains", label=_mentions, validate=_check_texts)
def contains(output: str, case: Any, spec: Any, *, text: TextItem | list[TextItem], mode: str = "all",
             ignore_case: bool = True, ignore_accents: bool = True) -> Score:
    """The output contains the text (all of several, or any with mode = "any"); a text may be
    a table { text = "SKU-12", ignore_case = false } to override the options for that text."""
    try:
        items = _items(text)
    except ValueError as exc:
        return _unusable(exc)
    found = _found(output, items, ignore_case, ignore_accents)
    hits = [i["text"] for i, ok in zip(items, found) if ok]
    missing = [i["text"] for i, ok in zip(items, found) if not ok]
    value = (1.0 if hits else 0.0) if mode == "any" else len(hits) / len(items)
    if not missing or (mode == "any" and hits):
        return Score(value, f"contains {short(hits[0])!r}", f"contient {quote_fr(hits[0])}")
    return Score(value, f"does not contain {short(missing[0])!r}", f"ne contient pas {quote_fr(missing[0])}")


@criterion("not_contains", label=_not_mentions, validate=_check_texts)
def not_contains(output: str, case: Any, spec: Any, *, text: TextItem | list[TextItem], ignore_case: bool = True,
                 ignore_accents: bool = True) -> Score:
    """The output contains none of the texts (any one of them fails it); a text may be a table
    { text = "...", ignore_case = false } with its own options."""
    try:
        items = _items(text)
    except ValueError as exc:
        return _unusable(exc)
    found = [i["text"] for i, ok in zip(items, _found(output, items, ignore_case, ignore_accents)) if ok]
    if found:
        return Score(0.0, f"contains {short(found[0])!r}, which it should not", f"contient {quote_fr(found[0])}, ce qui est interdit")
    return Score(1.0, "contains none of the forbidden texts", "ne contient aucun des textes interdits")


@criterion("regex", label=("Matches the pattern {pattern}", "Suit le motif {pattern}"), validate=_check_regex)
def regex(output: str, case: Any, spec: Any, *, pattern: str, flags: str = "", full: bool = False,
          negate: bool = False, raw: bool = False) -> Score:
    """The output matches `pattern` (anywhere, or entirely with full = true; negate inverts).
    The output is trimmed of surrounding whitespace first (models often end with a newline),
    unless raw = true; spaces inside are never touched."""
    bits = 0
    for f in flags:
        bits |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[f]
    compiled = re.compile(pattern, bits)
    text = output if raw else output.strip()
    hit = (compiled.fullmatch(text) if full else compiled.search(text)) is not None
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
                 "est exactement la réponse attendue" if ok else f"vaut {quote_fr(output.strip())}, pas la réponse attendue")


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
                 "donne la réponse attendue" if ok else f"répond {quote_fr(output.strip())}, pas la réponse attendue")


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
    """Right when the output names exactly one label and it is the expected one, or one of a
    list of acceptable ones (averaged over cases this is the accuracy)."""
    named = find_labels(output, labels)
    if len(named) != 1:
        if not named:
            return Score(0.0, "names no label instead of exactly one", "ne nomme aucune étiquette (il en faut une seule)")
        return Score(0.0, f"names {len(named)} labels instead of exactly one", f"nomme {len(named)} étiquettes au lieu d'une seule")
    ok = normalise(named[0]) in {normalise(e) for e in _expected_list(case)}
    return Score(1.0 if ok else 0.0, f"answers {named[0]!r}" + ("" if ok else ", not the expected label"),
                 f"répond {quote_fr(named[0])}" + ("" if ok else ", pas l'étiquette attendue"))


@criterion("label_only", label=("Answers with a label only", "Répond par une étiquette seule"), validate=_check_labels)
def label_only(output: str, case: Any, spec: Any, *, labels: list[str]) -> Score:
    """The output is one of the labels and nothing else (trailing punctuation allowed)."""
    got = normalise(output)
    ok = got in {normalise(x) for x in labels}
    return Score(1.0 if ok else 0.0, "is a bare label" if ok else f"is {short(output.strip())!r}, not a bare label",
                 "est une étiquette seule" if ok else f"vaut {quote_fr(output.strip())}, pas une étiquette seule")


def _check_affix(key: str) -> Callable[[dict[str, Any]], None]:
    def check(args: dict[str, Any]) -> None:
        value = args.get(key)
        if isinstance(value, str) and not (value if args.get("raw") else value.strip()):
            raise ValueError(f"{key} must hold something other than spaces: an empty {key} always matches")
    return check


def _edge(output: str, affix: str, ignore_case: bool, raw: bool) -> tuple[str, str]:
    """The output and the prefix / suffix as compared: with raw, exactly as written (case folded
    if asked); otherwise trimmed, runs of whitespace made one space, invisible characters dropped."""
    if raw:
        return (casefold(output), casefold(affix)) if ignore_case else (output, affix)
    return fold(output, ignore_case=ignore_case, ignore_accents=False), fold(affix, ignore_case=ignore_case, ignore_accents=False)


@criterion("starts_with", label=("Starts with {prefix!r}", f"Commence par «{NB}{{prefix}}{NB}»"), validate=_check_affix("prefix"))
def starts_with(output: str, case: Any, spec: Any, *, prefix: str, ignore_case: bool = True, raw: bool = False) -> Score:
    """The output begins with `prefix` (leading whitespace and spacing differences forgiven
    unless raw = true)."""
    text, want = _edge(output, prefix, ignore_case, raw)
    if not want:
        return Score(None, "the prefix is empty, so there is nothing to check", f"le début attendu est vide{NB}: rien à vérifier")
    ok = text.startswith(want)
    return Score(1.0 if ok else 0.0, f"starts with {prefix!r}" if ok else f"does not start with {prefix!r}",
                 f"commence par {quote_fr(prefix)}" if ok else f"ne commence pas par {quote_fr(prefix)}")


@criterion("ends_with", label=("Ends with {suffix!r}", f"Se termine par «{NB}{{suffix}}{NB}»"), validate=_check_affix("suffix"))
def ends_with(output: str, case: Any, spec: Any, *, suffix: str, ignore_case: bool = True, raw: bool = False) -> Score:
    """The output ends with `suffix` (trailing whitespace and spacing differences forgiven
    unless raw = true)."""
    text, want = _edge(output, suffix, ignore_case, raw)
    if not want:
        return Score(None, "the suffix is empty, so there is nothing to check", f"la fin attendue est vide{NB}: rien à vérifier")
    ok = text.endswith(want)
    return Score(1.0 if ok else 0.0, f"ends with {suffix!r}" if ok else f"does not end with {suffix!r}",
                 f"se termine par {quote_fr(suffix)}" if ok else f"ne se termine pas par {quote_fr(suffix)}")
