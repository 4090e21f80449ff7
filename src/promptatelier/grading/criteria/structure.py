"""Criteria on the shape of an output: JSON, schemas, fields, length, lists, tables."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from ..base import Score
from . import criterion
from ._util import NB, normalise, plural, quote_fr, short, unfence

_UNITS = ("words", "sentences", "characters", "lines")
_BULLET = re.compile(r"^\s*[-*•+]\s+\S")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+\S")


def parse_json(output: str, allow_fences: bool = True) -> tuple[Any, str | None]:
    """(value, None) or (None, why it is not JSON)."""
    text = unfence(output.strip()) if allow_fences else output.strip()
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"not valid JSON ({exc.args[0].split(':')[0]})"


@criterion("valid_json", label=("Is valid JSON", "Est du JSON valide"))
def valid_json(output: str, case: Any, spec: Any, *, allow_fences: bool = False) -> Score:
    """The whole output parses as JSON (inside one ``` block with allow_fences = true)."""
    _, error = parse_json(output, allow_fences)
    if error:
        return Score(0.0, error, "n'est pas du JSON valide")
    return Score(1.0, "is valid JSON", "est du JSON valide")


def _check_schema(args: dict[str, Any]) -> None:
    schema = args.get("schema")
    if schema is None:
        return
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except (jsonschema.SchemaError, TypeError, AttributeError) as exc:
        raise ValueError(f"schema is not a valid JSON Schema ({getattr(exc, 'message', exc)})") from None


@criterion("json_schema", label=("JSON matching the schema", "JSON conforme au schéma"), validate=_check_schema)
def json_schema(output: str, case: Any, spec: Any, *, schema: dict[str, Any] | None = None,
                allow_fences: bool = False) -> Score:
    """The output is JSON valid against `schema` (default: the spec's [model] json_schema)."""
    import jsonschema

    schema = schema if schema is not None else spec.model.json_schema
    if schema is None:
        return Score(None, "no schema to check against", "aucun schéma à vérifier")
    value, error = parse_json(output, allow_fences)
    if error:
        return Score(0.0, error, "n'est pas du JSON valide")
    problem = next(iter(jsonschema.validators.validator_for(schema)(schema).iter_errors(value)), None)
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "top level"
        return Score(0.0, f"does not match the schema at {where}: {short(problem.message, 80)}",
                     f"ne suit pas le schéma en {where}{NB}: {short(problem.message, 80)}")
    return Score(1.0, "matches the schema", "suit le schéma")


def _get(value: Any, path: str) -> tuple[bool, Any]:
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return False, None
    return True, value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(a - b) < 1e-9
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or (
            isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b)))
    return normalise(a) == normalise(b)


@criterion("json_fields", label=("JSON fields hold the expected values", "Les champs JSON ont les valeurs attendues"), needs_expected=True)
def json_fields(output: str, case: Any, spec: Any, *, fields: list[str] | None = None, allow_fences: bool = False) -> Score:
    """Field equality: the listed fields (dotted paths; default every key of the expected
    object) equal the expected answer's, strings compared case and accent insensitively.
    The score is the share of fields right."""
    value, error = parse_json(output, allow_fences)
    if error:
        return Score(0.0, error, "n'est pas du JSON valide")
    expected = case.expected
    if isinstance(expected, str):
        expected, _ = parse_json(expected)
    if not isinstance(expected, dict):
        return Score(None, "the expected answer is not an object", "la réponse attendue n'est pas un objet")
    names = fields or list(expected)
    right = []
    for name in names:
        has_e, want = _get(expected, name)
        has_o, got = _get(value, name)
        right.append(has_e and has_o and _same(got, want))
    wrong = [n for n, ok in zip(names, right) if not ok]
    value_ = sum(right) / len(names) if names else 0.0
    if wrong:
        bad_fr = "faux ou absent" if len(wrong) < 2 else "faux ou absents"
        return Score(value_, f"{len(wrong)} of {plural(len(names), 'field', 'fields')} wrong or missing, e.g. '{wrong[0]}'",
                     f"{plural(len(wrong), 'champ', 'champs', 'fr')} sur {len(names)} {bad_fr}, par ex. {quote_fr(wrong[0])}")
    if len(names) == 1:
        return Score(1.0, "the field is right", "le champ est juste")
    return Score(1.0, f"all {len(names)} fields right", f"les {len(names)} champs sont justes")


# Abbreviations that are one word and never end a sentence (matched case-insensitively).
_ABBREVIATIONS = (
    "e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "a.k.a.", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.",
    "p. ex.", "c.-à-d.", "c.à.d.", "env.", "Mme.", "Mlle.", "M.",
)
_ABBREVIATION = "|".join(re.escape(a).replace(r"\ ", r"\s?") for a in sorted(_ABBREVIATIONS, key=len, reverse=True))
# a word: an abbreviation, or letters / digits joined by apostrophes, hyphens or underscores,
# and digits joined by . , : / (12.50, 14:30, 01/05/2024); dashes, emoji and punctuation are not words
_WORD = re.compile(
    rf"(?<![^\W_])(?:{_ABBREVIATION})(?=\s|$)|[^\W_]+(?:(?:['’_\-]|(?<=\d)[.,:/](?=\d))[^\W_]+)*",
    re.IGNORECASE,
)
_ABBREVIATION_RE = re.compile(rf"(?<![^\W_])(?:{_ABBREVIATION})(?=\s|$)", re.IGNORECASE)
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*•+]|\d{1,3}[.)])[ \t]+", re.MULTILINE)
# a sentence ends at . ! ? … (repeated or not, maybe followed by a closing quote or bracket)
# before a space or the end of the text
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s|$)")
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]")
_ITEM_OR_HEADING = re.compile(r"^[ \t]*(?:[-*•+]|\d{1,3}[.)]|#{1,6})[ \t]")


def words(text: str) -> list[str]:
    """The words of a text, as `length` counts them (see graders/README.md, "length")."""
    return _WORD.findall(_LIST_MARKER.sub("", text))


def _blocks(text: str) -> list[str]:
    """Runs of lines a sentence cannot cross: a blank line ends one, and each list item or
    heading starts one (a heading also ends at its line's end)."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        heading = bool(_HEADING.match(line))
        if not line.strip() or _ITEM_OR_HEADING.match(line):
            blocks.append([])
        if line.strip():
            blocks[-1].append(line)
        if heading:
            blocks.append([])
    return ["\n".join(b) for b in blocks if b]


def sentences(text: str) -> list[str]:
    """The sentences of a text, as `length` counts them: split at . ! ? … before a space or the
    end, at blank lines, and at each list item or heading; abbreviations and decimal points do
    not end a sentence, and a piece with no word is none."""
    masked = _ABBREVIATION_RE.sub(lambda m: m.group(0).replace(".", "\x00"), text)
    found = []
    for block in _blocks(masked):
        block = _LIST_MARKER.sub("", block)
        start = 0
        for end in [m.end() for m in _SENTENCE_END.finditer(block)] + [len(block)]:
            piece = block[start:end].strip()
            start = end
            if _WORD.search(piece):
                found.append(piece.replace("\x00", "."))
    return found


def count(text: str, unit: str) -> int:
    """The length of `text` in `unit`: words, sentences, non-empty lines, or characters (Unicode
    code points of the trimmed text)."""
    text = unicodedata.normalize("NFC", text).strip()
    if unit == "words":
        return len(words(text))
    if unit == "characters":
        return len(text)
    if unit == "lines":
        return len([line for line in text.splitlines() if line.strip()])
    return len(sentences(text))


def _check_length(args: dict[str, Any]) -> None:
    if args.get("unit", "words") not in _UNITS:
        raise ValueError(f"unit must be one of {_UNITS}")
    if args.get("min") is None and args.get("max") is None:
        raise ValueError("give min, max or both")
    for key in ("min", "max"):
        if args.get(key) is not None and (not isinstance(args[key], int) or args[key] < 0):
            raise ValueError(f"{key} must be a whole number ≥ 0")
    if args.get("min") is not None and args.get("max") is not None and args["min"] > args["max"]:
        raise ValueError("min must not be above max")


_UNIT_FR = {"words": "mots", "sentences": "phrases", "characters": "caractères", "lines": "lignes"}
_UNIT_ONE = {"words": ("word", "mot"), "sentences": ("sentence", "phrase"), "characters": ("character", "caractère"),
             "lines": ("line", "ligne")}


@criterion("length", label=("Length in {unit} within limits", "Longueur en {unit} dans les limites"), validate=_check_length,
           fr_values={"unit": _UNIT_FR})
def length(output: str, case: Any, spec: Any, *, unit: str = "words", min: int | None = None, max: int | None = None) -> Score:  # noqa: A002
    """The output's length is within bounds; what counts as a word, a sentence or a line is
    defined once (`words`, `sentences`, `count`) and documented for learners."""
    n = count(output, unit)
    low = min if min is not None else 0
    high = max if max is not None else float("inf")
    bounds = f"{low}–{max}" if max is not None else f"≥{NB}{low}"
    ok = low <= n <= high
    one_en, one_fr = _UNIT_ONE[unit]
    return Score(1.0 if ok else 0.0, f"{plural(n, one_en, unit)} ({'within' if ok else 'outside'} {bounds})",
                 f"{plural(n, one_fr, _UNIT_FR[unit], 'fr')} ({'dans' if ok else 'hors de'} {bounds})")


def list_items(output: str, style: str) -> tuple[int, int]:
    """(list items of `style`, other non-empty lines)."""
    items = other = 0
    for line in output.splitlines():
        if not line.strip():
            continue
        bullet, numbered = bool(_BULLET.match(line)), bool(_NUMBERED.match(line))
        if (style == "bullet" and bullet) or (style == "numbered" and numbered) or (style == "any" and (bullet or numbered)):
            items += 1
        else:
            other += 1
    return items, other


def _check_list(args: dict[str, Any]) -> None:
    if args.get("style", "any") not in ("bullet", "numbered", "any"):
        raise ValueError("style must be 'bullet', 'numbered' or 'any'")


def _list_score(output: str, style: str, min_items: int, max_items: int | None, only: bool) -> Score:
    items, other = list_items(output, style)
    kind = {"bullet": "bulleted", "numbered": "numbered", "any": "list"}[style]
    if items < min_items or (max_items is not None and items > max_items):
        span = f"{min_items}–{max_items}" if max_items is not None else f"≥{NB}{min_items}"
        return Score(0.0, f"{plural(items, kind + ' item', kind + ' items')}, expected {span}",
                     f"{plural(items, 'élément', 'éléments', 'fr')} de liste, {span} attendus")
    if only and other:
        return Score(0.0, f"{plural(items, 'item', 'items')} but also {plural(other, 'line', 'lines')} of other text",
                     f"{plural(items, 'élément', 'éléments', 'fr')} mais aussi {plural(other, 'ligne', 'lignes', 'fr')} d'autre texte")
    return Score(1.0, f"a {kind} list of {plural(items, 'item', 'items')}", f"une liste de {plural(items, 'élément', 'éléments', 'fr')}")


@criterion("list_format", label=("Is a list", "Est une liste"), validate=_check_list)
def list_format(output: str, case: Any, spec: Any, *, style: str = "any", min_items: int = 2,
                max_items: int | None = None, only: bool = False) -> Score:
    """A bulleted or numbered list of min_items..max_items items (only = true: nothing else)."""
    return _list_score(output, style, min_items, max_items, only)


@criterion("bullet_list", label=("Is a bulleted list", "Est une liste à puces"))
def bullet_list(output: str, case: Any, spec: Any, *, min_items: int = 2, max_items: int | None = None, only: bool = False) -> Score:
    return _list_score(output, "bullet", min_items, max_items, only)


@criterion("numbered_list", label=("Is a numbered list", "Est une liste numérotée"))
def numbered_list(output: str, case: Any, spec: Any, *, min_items: int = 2, max_items: int | None = None, only: bool = False) -> Score:
    return _list_score(output, "numbered", min_items, max_items, only)


def parse_table(output: str) -> tuple[list[str], list[list[str]]] | None:
    """(header, rows) of the first markdown table in the output, or None."""
    lines = [line.strip() for line in output.splitlines()]
    for i in range(len(lines) - 1):
        head, sep = lines[i], lines[i + 1]
        if "|" in head and re.fullmatch(r"\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?", sep):
            cells = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]  # noqa: E731
            header = cells(head)
            rows = []
            for line in lines[i + 2:]:
                if "|" not in line:
                    break
                rows.append(cells(line))
            return header, rows
    return None


@criterion("markdown_table", label=("Is a markdown table", "Est un tableau markdown"))
def markdown_table(output: str, case: Any, spec: Any, *, columns: list[str] | None = None, min_rows: int = 1,
                   min_columns: int = 2) -> Score:
    """A markdown table with a header row, a separator, min_rows rows, and the named columns."""
    table = parse_table(output)
    if table is None:
        return Score(0.0, "has no markdown table (header | separator | rows)", "ne contient pas de tableau markdown")
    header, rows = table
    if len(header) < min_columns:
        return Score(0.0, f"the table has {plural(len(header), 'column', 'columns')}, expected ≥ {min_columns}",
                     f"le tableau a {plural(len(header), 'colonne', 'colonnes', 'fr')}, ≥{NB}{min_columns} attendues")
    if columns:
        have = {normalise(h) for h in header}
        missing = [c for c in columns if normalise(c) not in have]
        if missing:
            return Score(0.0, f"the table lacks the column {missing[0]!r}", f"il manque la colonne {quote_fr(missing[0])}")
    if len(rows) < min_rows:
        return Score(0.0, f"the table has {plural(len(rows), 'row', 'rows')}, expected ≥ {min_rows}",
                     f"le tableau a {plural(len(rows), 'ligne', 'lignes', 'fr')}, ≥{NB}{min_rows} attendues")
    uneven = [r for r in rows if len(r) != len(header)]
    if uneven:
        verb_en, verb_fr = ("does", "n'a") if len(uneven) == 1 else ("do", "n'ont")
        return Score(0.5, f"{plural(len(uneven), 'row', 'rows')} {verb_en} not have {len(header)} cells",
                     f"{plural(len(uneven), 'ligne', 'lignes', 'fr')} {verb_fr} pas {len(header)} cellules")
    return Score(1.0, f"a table of {plural(len(rows), 'row', 'rows')} × {plural(len(header), 'column', 'columns')}",
                 f"un tableau de {plural(len(rows), 'ligne', 'lignes', 'fr')} × {plural(len(header), 'colonne', 'colonnes', 'fr')}")
