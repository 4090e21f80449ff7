"""Language of an output, by stopword profiles: deterministic, explainable, offline.

Each language has a list of its most frequent short words; the detected language is the one
whose words make up the largest share of the text. The explanation gives the counts.
"""

from __future__ import annotations

import re
from typing import Any

from ..base import Score
from . import criterion
from ._util import NB, quote_fr

_PROFILES: dict[str, frozenset[str]] = {
    "en": frozenset("""the a an and or but of to in on at for with from by is are was were be been being
        this that these those it its it's i you he she we they them his her their our your my me not no
        do does did have has had will would can could should there here what which who when where why how
        as if then than so very just about into over also all any some more most only own same such too
        up out because while after before yes thank thanks please""".split()),
    "fr": frozenset("""le la les un une des du de d l et ou mais donc car ni or à au aux en dans sur sous pour
        par avec sans chez est sont était étaient être été a ont avait ce cet cette ces c il elle ils
        elles on nous vous je j tu me te se s lui leur leurs son sa ses mon ma mes ton ta tes notre votre
        nos vos qui que qu quoi dont où ne n pas plus très aussi bien tout tous toute toutes comme si
        y peut fait faire avez êtes sommes suis merci oui non voici cela ça lorsque quand parce""".split()),
    "es": frozenset("""el la los las un una unos unas y o pero de del al en con por para sin sobre es son
        era fue ser estar está están este esta estos estas ese esa que qué quien cual cuando donde como
        muy más también pero no sí su sus mi mis tu tus nuestro se lo le les me te nos hay gracias""".split()),
    "de": frozenset("""der die das den dem des ein eine einer eines einem einen und oder aber von zu in im
        auf an am für mit aus bei nach über unter ist sind war waren sein wird werden hat haben ich du er
        sie es wir ihr nicht kein keine auch sehr noch nur schon wie was wer wo wenn dass danke bitte""".split()),
    "it": frozenset("""il lo la i gli le un uno una e o ma di del della dei degli delle a al alla da dal in
        nel nella con su per tra fra è sono era erano essere stato che chi cui non più molto anche come
        se questo questa quello quella mio tuo suo nostro vostro loro grazie""".split()),
}
NAMES = {
    "en": ("English", "anglais"),
    "fr": ("French", "français"),
    "es": ("Spanish", "espagnol"),
    "de": ("German", "allemand"),
    "it": ("Italian", "italien"),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# words so short or shared that they prove nothing on their own
_AMBIGUOUS = frozenset({"a", "i", "de", "la", "le", "en", "in", "a", "e", "o", "y", "un", "me", "se", "no", "si", "con", "per", "es", "die", "des", "son", "on"})


def language_counts(text: str) -> dict[str, int]:
    """Stopword hits per language (apostrophes split French elisions: l'eau -> l, eau)."""
    words = [w.lower() for w in _WORD.findall(text.replace("’", "'"))]
    return {lang: sum(1 for w in words if w in profile) for lang, profile in _PROFILES.items()}


def detect_language(text: str, min_hits: int = 2) -> tuple[str | None, dict[str, int]]:
    """(language code or None when unsure, the counts that decided it)."""
    counts = language_counts(text)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    best, hits = ranked[0]
    runner_up = ranked[1][1]
    words = [w.lower() for w in _WORD.findall(text)]
    distinctive = sum(1 for w in words if w in _PROFILES[best] and w not in _AMBIGUOUS)
    if hits < min_hits or hits == runner_up or (distinctive == 0 and len(words) > 2):
        return None, counts
    return best, counts


def _check(args: dict[str, Any]) -> None:
    lang = args.get("lang", "case")
    if lang != "case" and lang not in _PROFILES:
        raise ValueError(f"lang must be one of {sorted(_PROFILES)} or 'case' (the case's expected answer)")


@criterion("language", label=("Written in the asked language ({lang})", "Écrit dans la langue demandée ({lang})"), validate=_check)
def language(output: str, case: Any, spec: Any, *, lang: str = "en", min_hits: int = 2) -> Score:
    """The output is in `lang` ('case': the case's `expected` names the language)."""
    wanted = str(case.expected) if lang == "case" else lang
    if wanted not in _PROFILES:
        return Score(None, f"unknown language {wanted!r}", f"langue inconnue {quote_fr(wanted)}")
    found, counts = detect_language(output, min_hits)
    name_en, name_fr = NAMES[wanted]
    evidence = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]) if v)[:60] or "none"
    if found == wanted:
        return Score(1.0, f"written in {name_en} (stopwords: {evidence})", f"écrit en {name_fr} (mots-outils{NB}: {evidence})")
    if found is None:
        return Score(0.0, f"language unclear, not recognisably {name_en} (stopwords: {evidence})",
                     f"langue incertaine, pas reconnaissable comme {name_fr} (mots-outils{NB}: {evidence})")
    return Score(0.0, f"written in {NAMES[found][0]}, not {name_en} (stopwords: {evidence})",
                 f"écrit en {NAMES[found][1]}, pas en {name_fr} (mots-outils{NB}: {evidence})")
