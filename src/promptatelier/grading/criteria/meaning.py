"""Criteria for meaning that hold on a small model without a judge: the case's key facts are
carried, no number or quote is invented, the output is real text, and outputs change when the
input does. Each one is exact and explainable, so a learner sees why a case failed."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from itertools import combinations, groupby
from typing import Any

from ..base import Score
from . import criterion
from ._util import NB, as_list, drop_invisible, fold, normalise, plural, quote_fr, short, unfence
from .structure import sentences

__all__ = ["degenerate_reason", "find_numbers", "find_quotes", "carries"]

# ---------------------------------------------------------------- numbers

# a number: digits grouped by thousands with one separator (1,000  1.000  1 000  1'000),
# maybe with a decimal part, or digits with an optional decimal part (12.50, 12,5, 007)
_NUMBER = re.compile(
    r"(?<!\d)(?:\d{1,3}(?P<sep>[,. \u00a0\u202f\u2009'’])\d{3}(?:(?P=sep)\d{3})*(?:(?!(?P=sep))[.,]\d+)?(?!\d)"
    r"|\d+(?:[.,]\d+)?)(?!\d)"
)
_LIST_NUMBER = re.compile(r"^([ \t]*)\d{1,3}[.)](?=[ \t])", re.MULTILINE)
# number words and month names in a source also ground their figures ("two mugs" -> 2, "mai" -> 5)
_WORDS = {
    **{w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())},
    **{w: n for n, w in enumerate("zero un deux trois quatre cinq six sept huit neuf dix onze douze".split())},
    "une": 1, "dozen": 12, "douzaine": 12, "first": 1, "second": 2, "third": 3, "premier": 1, "premiere": 1,
    **{w: n + 1 for n, w in enumerate("january february march april may june july august september october november december".split())},
    **{w: n + 1 for n, w in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    **{w: n + 1 for n, w in enumerate("janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre".split())},
    "sept.": 9,
}


def _canon(digits: str) -> str | None:
    """A number's canonical form: 12.50, 12,5 and 012.5 all give '12.5'."""
    try:
        value = Decimal("".join(str(unicodedata.decimal(c, c)) if c.isdigit() else c for c in digits))
    except InvalidOperation:
        return None
    return format(value.normalize(), "f") if value else "0"


@dataclass(frozen=True)
class Number:
    """A number as written, with every value it can be read as ('12,500' is 12500 or 12.5) and,
    when grouped by spaces ('2 500'), the separate numbers it may also be."""

    text: str
    values: frozenset[str]
    parts: tuple[str, ...] = ()


def _read(match: re.Match[str]) -> Number:
    text, sep = match.group(0), match.group("sep")
    if sep is None:  # plain digits, maybe with a decimal point or comma
        value = _canon(text.replace(",", "."))
        return Number(text, frozenset([value] if value else []))
    whole, decimal = text, ""
    tail = re.search(r"[.,](\d+)$", text)
    if tail and text[tail.start()] != sep:
        whole, decimal = text[:tail.start()], tail.group(1)
    groups = whole.split(sep)
    values = {_canon("".join(groups) + (f".{decimal}" if decimal else ""))}
    if sep in ",." and len(groups) == 2 and not decimal:  # 12,500 / 12.500: thousands or decimals
        values.add(_canon(f"{groups[0]}.{groups[1]}"))
    parts = tuple(p for p in (_canon(g) for g in groups) if p) if sep not in ",." else ()
    return Number(text, frozenset(v for v in values if v), parts)


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(match: re.Match[str]) -> str:
    """A JSON \\uXXXX escape as its character: "\\u00e9" is é, not the number 00."""
    char = chr(int(match.group(1), 16))
    return char if not 0xD800 <= ord(char) <= 0xDFFF else " "


def find_numbers(text: str, *, ignore_list_numbers: bool = False) -> list[Number]:
    """The numbers written in a text (any script's digits; invisible characters ignored;
    currency signs, units and signs are not part of a number)."""
    text = drop_invisible(unicodedata.normalize("NFC", _JSON_ESCAPE.sub(_unescape, text)))
    if ignore_list_numbers:
        text = _LIST_NUMBER.sub(lambda m: m.group(1) + " ", text)
    return [_read(m) for m in _NUMBER.finditer(text)]


def _grounding(texts: Iterable[str], allow: Iterable[Any]) -> set[str]:
    """Every number value the sources give, with number words and month names."""
    known: set[str] = set()
    for text in texts:
        for number in find_numbers(text):
            known |= number.values | set(number.parts)
        for word in re.findall(r"[^\W\d_]+\.?", fold(text)):
            known |= {str(_WORDS[w]) for w in {word, word.rstrip(".")} if w in _WORDS}
    for extra in allow:
        for number in find_numbers(str(extra)):
            known |= number.values
    return known


def _grounded(number: Number, known: set[str]) -> bool:
    return bool(number.values & known) or bool(number.parts and set(number.parts) <= known)


# ---------------------------------------------------------------- facts


def _reader(text: str) -> str:
    """What a reader sees, for matching facts: compatibility forms unified (full-width １２ is
    12, ﬁ is fi), invisible characters dropped, case and accents folded."""
    return fold(unicodedata.normalize("NFKC", text))


_TOKEN = re.compile(_NUMBER.pattern + r"|(?P<word>[^\W\d_]+)")


def _tokens(text: str) -> list[str | frozenset[str]]:
    """Words as folded strings, numbers as the set of values they can be read as."""
    out: list[str | frozenset[str]] = []
    for m in _TOKEN.finditer(_reader(text)):
        out.append(m.group("word") if m.group("word") else _read(m).values)
    return out


def carries(output: str, fact: str) -> bool:
    """True when `fact` appears in the output as whole words and numbers, in order (case,
    accents, number formats and punctuation between them forgiven)."""
    want = _tokens(fact)
    if not want:  # a fact with no word or number (a symbol): plain folded text
        return bool(_reader(fact)) and _reader(fact) in _reader(output)
    have = _tokens(output)
    for start in range(len(have) - len(want) + 1):
        if all(_same_token(have[start + i], w) for i, w in enumerate(want)):
            return True
    return False


def _same_token(a: str | frozenset[str], b: str | frozenset[str]) -> bool:
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return bool(a & b)
    return a == b


def _alternatives(fact: Any) -> list[str]:
    return [str(a) for a in as_list(fact) if str(a).strip()]


def _check_facts(args: dict[str, Any]) -> None:
    facts = args.get("facts")
    if not isinstance(facts, list) or not facts:
        raise ValueError('facts must be a list, e.g. facts = ["refund", ["12.50", "12,50"]]')
    for fact in facts:
        if not _alternatives(fact):
            raise ValueError("every fact must be a non-empty text or a list of alternative texts")


@criterion("facts_carried", label=("Carries the case's key facts", "Reprend les faits clés du cas"), validate=_check_facts)
def facts_carried(output: str, case: Any, spec: Any, *, facts: list[str | int | float | list[str | int | float]]) -> Score:
    """The share of the case's key facts the output mentions, so an answer that sounds right
    but drops the order number or the amount loses exactly those points. A fact may list
    alternatives (any one counts): ["refund", "remboursement"], ["12.50", "12,50"]."""
    usable = [alts for alts in (_alternatives(f) for f in as_list(facts)) if alts]
    if not usable:
        return Score(None, "no fact to look for", "aucun fait à chercher")
    missing = [alts[0] for alts in usable if not any(carries(output, a) for a in alts)]
    n, total = len(usable) - len(missing), len(usable)
    if not missing:
        return Score(1.0, f"carries all {plural(total, 'key fact', 'key facts')}" if total > 1 else "carries the key fact",
                     f"reprend les {total} faits clés" if total > 1 else "reprend le fait clé")
    return Score(n / total, f"carries {n} of {plural(total, 'key fact', 'key facts')}; missing {short(missing[0])!r}",
                 f"reprend {n} fait{'s' if n > 1 else ''} clé{'s' if n > 1 else ''} sur {total}{NB}; il manque {quote_fr(missing[0])}")


# ---------------------------------------------------------------- invented numbers


def _check_numbers(args: dict[str, Any]) -> None:
    for extra in as_list(args.get("allow")):
        if isinstance(extra, bool) or not find_numbers(str(extra)):
            raise ValueError(f"allow lists numbers; {extra!r} holds none")


@criterion("no_invented_numbers", label=("Invents no number", "N'invente aucun nombre"), validate=_check_numbers)
def no_invented_numbers(output: str, case: Any, spec: Any, *, allow: list[str | int | float] | None = None,
                        ignore_list_numbers: bool = True, from_prompt: bool = True) -> Score:
    """Every number in the output (price, quantity, date, id) appears in the case's inputs or in
    the prompt the model received: a made-up figure is the hallucination clients pay to avoid.
    Scores 1 or 0: one invented number is enough to mislead a customer."""
    sources = [str(v) for v in case.vars.values()] + ([case.prompt] if from_prompt and getattr(case, "prompt", "") else [])
    known = _grounding(sources, as_list(allow))
    numbers = find_numbers(output, ignore_list_numbers=ignore_list_numbers)
    invented = [n for n in numbers if not _grounded(n, known)]
    if not numbers:
        return Score(1.0, "states no number, so invents none", "n'écrit aucun nombre, donc n'en invente aucun")
    where = "the input or the prompt" if from_prompt else "the input"
    if not invented:
        return Score(1.0, f"every number comes from {where} ({plural(len(numbers), 'number', 'numbers')})",
                     f"chaque nombre vient de l'entrée{' ou du prompt' if from_prompt else ''} "
                     f"({plural(len(numbers), 'nombre', 'nombres', 'fr')})")
    first = invented[0].text
    where_fr = "l'entrée ni dans le prompt" if from_prompt else "l'entrée"
    more_en = f" ({plural(len(invented), 'invented number', 'invented numbers')})" if len(invented) > 1 else ""
    more_fr = f" ({len(invented)} nombres inventés)" if len(invented) > 1 else ""
    return Score(0.0, f"states {first!r}, which is nowhere in {where}: an invented number{more_en}",
                 f"écrit {quote_fr(first)}, qui n'est pas dans {where_fr}{NB}: un nombre inventé{more_fr}")


# ---------------------------------------------------------------- verbatim quotes

_QUOTED = re.compile(r"“([^”]+)”|«([^»]+)»|„([^“”]+)[“”]|\"([^\"]+)\"")
_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|\(\s*(?:…|\.\.\.)\s*\)|…|\.\.\.)\s*")
_QUOTE_STYLES = str.maketrans({"’": "'", "‘": "'", "‛": "'", "ʼ": "'", "`": "'", "´": "'",
                               "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"'})
_EDGES = " \t\n.,;:!?\"'"


def _verbatim_form(text: str) -> str:
    """Text compared for a quote: quote and apostrophe styles and whitespace unified, nothing
    else (case, words and punctuation stay)."""
    text = drop_invisible(unicodedata.normalize("NFC", text)).translate(_QUOTE_STYLES)
    return re.sub(r"\s+", " ", text).strip()


def find_quotes(output: str, marker: str | None = None) -> list[str]:
    """The quotes an output gives: text between “ ”, « », „ “ or straight double quotes, and
    with a marker (e.g. "QUOTE:") the rest of each line after it."""
    quotes = []
    rest = []
    for line in output.splitlines():
        found = re.search(re.escape(marker), line, re.IGNORECASE) if marker else None
        if found:
            quotes.append(line[found.end():].strip().strip("\"“”«»„ "))
        else:
            rest.append(line)
    for m in _QUOTED.finditer("\n".join(rest)):
        quotes.append(next(g for g in m.groups() if g is not None))
    return quotes


def _is_span(quote: str, sources: list[str]) -> bool:
    pieces = [p.strip(_EDGES) for p in _ELLIPSIS.split(_verbatim_form(quote))]
    pieces = [p for p in pieces if p]
    for source in sources:
        at = 0
        for piece in pieces:
            found = source.find(piece, at)
            if found < 0:
                break
            at = found + len(piece)
        else:
            return bool(pieces)
    return False


def _check_quote(args: dict[str, Any]) -> None:
    if args.get("min_chars", 8) < 1:
        raise ValueError("min_chars must be at least 1")
    if args.get("marker") is not None and not str(args["marker"]).strip():
        raise ValueError('marker must be a text such as "QUOTE:"')


@criterion("verbatim_quote", label=("Quotes the source word for word", "Cite la source mot pour mot"), validate=_check_quote)
def verbatim_quote(output: str, case: Any, spec: Any, *, source: str | None = None, required: bool = True,
                   min_chars: int = 8, marker: str | None = None) -> Score:
    """The share of the output's quotes that are word-for-word spans of the case's input (the
    var `source`, default any var): a quote given as evidence must not be reworded or made up.
    Only whitespace and quote/apostrophe styles are forgiven; ellipses (… [...]) may skip text."""
    if source is not None and source not in case.vars:
        return Score(None, f"the case has no input called {source!r}", f"le cas n'a pas d'entrée {quote_fr(source)}")
    texts = [case.vars[source]] if source is not None else [str(v) for v in case.vars.values()]
    sources = [_verbatim_form(t) for t in texts if str(t).strip()]
    if not sources:
        return Score(None, "the case has no input text to quote from", "le cas n'a aucun texte d'entrée à citer")
    quotes = [q for q in find_quotes(output, marker) if len(_verbatim_form(q).strip(_EDGES)) >= min_chars]
    if not quotes:
        if required:
            return Score(0.0, "gives no quote from the input (between “ ”, « » or \" \")",
                         f"ne cite pas l'entrée (aucune citation entre «{NB}» ou “ ”)")
        return Score(1.0, "gives no quote, and none is required", "ne cite rien, et aucune citation n'est exigée")
    wrong = [q.strip() for q in quotes if not _is_span(q, sources)]
    right = len(quotes) - len(wrong)
    if not wrong:
        return Score(1.0, "every quote is word for word from the input" if len(quotes) > 1 else "the quote is word for word from the input",
                     "chaque citation reprend l'entrée mot pour mot" if len(quotes) > 1 else "la citation reprend l'entrée mot pour mot")
    return Score(right / len(quotes), f"{right} of {plural(len(quotes), 'quote', 'quotes')} word for word; "
                 f"{short(wrong[0])!r} is not in the input as written",
                 f"{right} citation{'s' if right > 1 else ''} exacte{'s' if right > 1 else ''} sur {len(quotes)}{NB}; "
                 f"{quote_fr(wrong[0])} ne figure pas tel quel dans l'entrée")


# ---------------------------------------------------------------- degenerate outputs

_RULE_LINE = re.compile(r"^[\s\-=_*~#|:+.]*$")
_DECORATION = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")
_WORD_CHAR = re.compile(r"[^\W_]")
_LOOP_WORD = re.compile(r"[^\W_]+")
FLOOD_RUN = 10  # one character this many times in a row (spaces aside) is a flood
LOOP_REPEATS = 4  # a word sequence this many times back to back is a loop
SENTENCE_REPEATS = 3  # a sentence or line (of 3+ words) this many times anywhere is a loop
_MAX_LOOP_WORDS = 30


def _flood(text: str) -> tuple[str, str] | None:
    body = "".join(line for line in text.splitlines() if not _RULE_LINE.match(line))
    skeleton = re.sub(r"\s+", "", _DECORATION.sub("", body))
    if not skeleton:
        return None
    char, run = max(((c, sum(1 for _ in g)) for c, g in groupby(skeleton)), key=lambda cr: cr[1])
    if run >= FLOOD_RUN:
        return (f"the output is a flood of one character: {char!r} repeated {run} times",
                f"la sortie déborde d'un seul caractère{NB}: {quote_fr(char)} répété {run} fois")
    symbols = Counter(c for c in skeleton if not c.isascii() and not c.isalnum())  # emoji, symbols
    if len(skeleton) >= FLOOD_RUN and symbols:
        char, n = symbols.most_common(1)[0]
        if n * 2 > len(skeleton):
            return (f"the output is mostly one symbol: {char!r} makes up {n} of its {len(skeleton)} characters",
                    f"la sortie n'est presque qu'un symbole{NB}: {quote_fr(char)} forme {n} de ses {len(skeleton)} caractères")
    return None


def _loop(text: str) -> tuple[str, str] | None:
    """A word sequence repeated back to back (the the the the; a sentence four times)."""
    lines = "\n".join(line for line in text.splitlines() if line.count("|") < 2)  # table rows repeat cells by design
    words = list(_LOOP_WORD.finditer(lines))
    tokens = [fold(w.group(0)) for w in words]
    best: tuple[int, int, int] | None = None  # (repeats, n, start)
    for n in range(1, min(_MAX_LOOP_WORDS, len(tokens) // LOOP_REPEATS) + 1):
        run = 0
        for i in range(len(tokens) - n):
            run = run + 1 if tokens[i] == tokens[i + n] else 0
            repeats = run // n + 1
            if repeats >= LOOP_REPEATS and (best is None or repeats * n > best[0] * best[1]):
                best = (repeats, n, i - run + 1)
    if best is None:
        return None
    repeats, n, start = best
    phrase = " ".join(lines[words[start].start():words[start + n - 1].end()].split())
    return (f"the output loops: {short(phrase, 50)!r} {repeats} times in a row (the model got stuck repeating itself)",
            f"la sortie tourne en boucle{NB}: {quote_fr(phrase, 50)} {repeats} fois de suite (le modèle se répète sans fin)")


def _is_json(text: str) -> bool:
    try:
        json.loads(unfence(text.strip()))
    except ValueError:
        return False
    return True


def _repeated_unit(text: str) -> tuple[str, str] | None:
    """One sentence or line (of 3 words or more) said 3 times or more, anywhere in the text."""
    if _is_json(text):
        return None
    worst: tuple[int, str] | None = None
    for pieces in (sentences(text), [line.strip() for line in text.splitlines() if line.count("|") < 2]):
        units = [normalise(p) for p in pieces]
        counts = Counter(units)
        for piece, unit in zip(pieces, units):
            n = counts[unit]
            if len(unit.split()) >= 3 and n >= SENTENCE_REPEATS and (worst is None or n > worst[0]):
                worst = (n, piece)
    if worst is None:
        return None
    n, piece = worst
    piece = piece.strip(" \"'“”«»")
    return (f"the output says the same sentence {n} times: {short(piece, 50)!r} (the model is stuck in a loop)",
            f"la sortie répète {n} fois la même phrase{NB}: {quote_fr(piece, 50)} (le modèle tourne en boucle)")


def _runaway(text: str) -> tuple[str, str] | None:
    """The same paragraph (12 words or more) written again: text that runs on past its end."""
    paragraphs = [normalise(p) for p in re.split(r"\n\s*\n", text)]
    seen = Counter(p for p in paragraphs if len(p.split()) >= 12)
    again = [p for p, n in seen.items() if n >= 2]
    if not again:
        return None
    return (f"the output writes the same paragraph again: {short(again[0], 50)!r}",
            f"la sortie réécrit le même paragraphe{NB}: {quote_fr(again[0], 50)}")


@lru_cache(maxsize=4096)
def degenerate_reason(text: str) -> tuple[str, str] | None:
    """Why an output is not real text, as (English, French), or None when it reads as text:
    empty, no word at all, a flood of one character or emoji (markdown rules and table
    separators aside), a loop (words repeated back to back 4 times, a sentence or line said
    3 times), or a paragraph written twice. Cached: grading asks it of each output twice (the
    criterion and the gate)."""
    text = drop_invisible(unicodedata.normalize("NFC", text or ""))
    if not text.strip():
        return ("the output is empty", "la sortie est vide")
    if not _WORD_CHAR.search(text):
        flood = _flood(text)
        if flood is not None:
            return flood
        return (f"the output has no word at all, only symbols: {short(text.strip(), 30)!r}",
                f"la sortie ne contient aucun mot, seulement des symboles{NB}: {quote_fr(text.strip(), 30)}")
    return _flood(text) or _loop(text) or _repeated_unit(text) or _runaway(text)


@criterion("not_degenerate", label=("Reads as real text (no loop, flood or empty output)",
                                    "Est un vrai texte (ni boucle, ni flot de caractères, ni sortie vide)"))
def not_degenerate(output: str, case: Any, spec: Any) -> Score:
    """A small model can loop or flood instead of answering; such an output must not earn
    points from criteria that happen to match it (a loop that repeats the right word)."""
    reason = degenerate_reason(output)
    if reason is not None:
        return Score(0.0, *reason)
    return Score(1.0, "reads as text: not empty, no flood, no loop", f"se lit comme un texte{NB}: non vide, sans flot ni boucle")


# ---------------------------------------------------------------- constant outputs


def _key(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return normalise(json.dumps(value, sort_keys=True, ensure_ascii=False))
    return normalise(value)


@criterion("not_constant", family="cases",
           label=("Answers change with the input", "La réponse change avec l'entrée"))
def not_constant(outputs: list[tuple[Any, str | None]], spec: Any) -> Score:
    """Cases with different expected answers (or, when a case has none, different inputs) must
    get different outputs: a prompt that answers the same whatever the input has not used it,
    even if its one answer happens to fit some cases. Score: the share of such pairs of cases
    whose outputs differ (case, accents, punctuation and spacing aside)."""
    pairs = [(c, o) for c, o in outputs if o is not None]
    by_expected = bool(pairs) and all(c.expected is not None for c, _ in pairs)
    keyed = [(_key(c.expected) if by_expected else _key(dict(sorted(c.vars.items()))), normalise(o)) for c, o in pairs]
    differing = [(a, b) for a, b in combinations(keyed, 2) if a[0] != b[0]]
    if not differing:
        return Score(None, "fewer than two cases differ in their input, so there is nothing to compare",
                     f"moins de deux cas ont des entrées différentes{NB}: rien à comparer")
    changed = sum(1 for a, b in differing if a[1] != b[1])
    if changed == len(differing):
        return Score(1.0, f"the answer changes with the input ({plural(len(keyed), 'case', 'cases')})",
                     f"la réponse change avec l'entrée ({len(keyed)} cas)")
    groups: dict[str, set[str]] = {}
    for key, out in keyed:
        groups.setdefault(out, set()).add(key)
    same = max(len(keys) for keys in groups.values())
    return Score(changed / len(differing),
                 f"the same answer for {same} different inputs: the prompt does not use its input",
                 f"la même réponse pour {same} entrées différentes{NB}: le prompt n'utilise pas son entrée")
