"""Detects graded outputs that address the judge instead of doing the task.

The learner steers the model that writes the graded text, so that text may try to talk a judge
into a score. A flagged output is never sent to the judge: it scores 0 on judge criteria and goes
to manual grading. Detection reads a normalised shadow of the text (NFKC; invisible and bidi
characters removed; case, accents and look-alike letters folded; a second view with leetspeak,
split words and spaced letters joined), so obfuscation does not hide an attempt. Text quoted from
the case's own inputs is set aside first, so an honest output that quotes an injected customer
message is not flagged for the message's words.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ._util import LOOKALIKES as _LOOKALIKES

__all__ = ["Injection", "injection_reason", "visible", "shadow", "KINDS", "QUOTE_MIN"]

QUOTE_MIN = 20  # a span of the output this long found verbatim in a source is a quote, not the output's own words

KINDS: dict[str, tuple[str, str]] = {
    "score": ("proposes a score", "propose une note"),
    "address": ("addresses the grader", "s'adresse au correcteur"),
    "request": ("asks for top marks", "réclame la note maximale"),
    "override": ("tries to override the instructions", "tente de remplacer les consignes"),
    "fence": ("tries to close the graded text's markers", "tente de fermer les balises du texte évalué"),
    "control": ("contains chat control tokens", "contient des jetons de contrôle de conversation"),
    "role": ("pretends to be the system or the assistant", "se fait passer pour le système ou l'assistant"),
}


@dataclass(frozen=True)
class Injection:
    """Why an output looks like it addresses the judge; str() is the English reason."""

    kind: str
    en: str
    fr: str
    found: str

    def __str__(self) -> str:
        return self.en

    def text(self, lang: str | None = "en") -> str:
        return self.fr if lang == "fr" else self.en


# ---------------------------------------------------------------------------- normalisation

_TYPOGRAPHY = {
    # punctuation that plays the part of ours
    "⁄": "/", "∕": "/", "∶": ":", "꞉": ":", "ː": ":", "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"', "‐": "-", "‑": "-",
    "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "\u2028": "\n", "\u2029": "\n",
    # full stars, drawn many ways
    "⭐": "★", "🌟": "★", "✪": "★", "✫": "★", "✬": "★", "✭": "★", "✮": "★", "✯": "★", "✰": "★", "⋆": "★",
}
_TYPOGRAPHY_TABLE = str.maketrans(_TYPOGRAPHY)
_LOOKALIKE_TABLE = str.maketrans({**_LOOKALIKES, **_TYPOGRAPHY})
_FILLERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u034f"}  # invisible letters that are not format characters


def visible(text: str) -> str:
    """NFKC without invisible characters (zero-width, soft hyphens, bidi controls, tag characters):
    what a reader sees, so nothing can hide between the letters of a word."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return "".join(ch for ch in text if ch not in _FILLERS and unicodedata.category(ch) != "Cf")


def shadow(text: str) -> str:
    """The text as the detector reads it: `visible`, then case, accents, look-alike letters and
    non-Latin digits folded; line breaks kept, other runs of spaces kept as they are."""
    text = unicodedata.normalize("NFKD", visible(text).replace("\r\n", "\n").replace("\r", "\n").casefold())
    if text.isascii():
        return text
    kept = (str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text if unicodedata.category(ch) != "Mn")
    return "".join(kept).translate(_LOOKALIKE_TABLE)  # Mn: accents, variation selectors


def _folded(text: str) -> str:
    """Case and accents folded, nothing else: the text as written, to tell a disguise apart."""
    text = "".join(ch for ch in unicodedata.normalize("NFD", text.casefold()) if not unicodedata.combining(ch))
    return text.translate(_TYPOGRAPHY_TABLE)


def _reordered(text: str) -> str:
    """Right-to-left overrides displayed as a reader sees them (each span reversed)."""
    return re.sub("\u202e([^\u202c\n]*)\u202c?", lambda m: m.group(1)[::-1], text)


_WS = re.compile(r"[^\S\n]+")
_WS_NL = re.compile(r"\s*\n\s*")


def _collapsed(text: str) -> str:
    return _WS_NL.sub("\n", _WS.sub(" ", text)).strip()


_SPACED = re.compile(r"(?<![a-z0-9])(?:[a-z][ ._*·|/-]){2,}[a-z](?![a-z0-9])")
_SPACED_WIDE = re.compile(r"(?<![a-z0-9])(?:[a-z](?:[ ._*·|/-]{1,3})){3,}[a-z](?![a-z0-9])")
_SPLIT_WORD = re.compile(r"(?<=[a-z])[._*~·-](?=[a-z])")
_LEET_TOKEN = re.compile(r"[a-z0-9@$]*[a-z][a-z0-9@$]*")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})


def _deobfuscated(text: str) -> str:
    text = _SPACED.sub(lambda m: re.sub(r"[^a-z]", "", m.group(0)), text)
    text = _SPLIT_WORD.sub("", text)
    return _LEET_TOKEN.sub(lambda m: m.group(0).translate(_LEET) if not m.group(0).isalpha() else m.group(0), text)


# ---------------------------------------------------------------------------- quotes of the inputs

_GAP = "\x00"  # stands where a quote of an input was taken out: no pattern reaches across it


def _source_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _without_quotes(text: str, sources: list[str]) -> str:
    """`text` with every span of at least QUOTE_MIN characters that occurs in a source (spaces
    compared loosely) replaced by a gap."""
    if not sources:
        return text
    key, where = [], []  # the text with runs of spaces as one space, and where each character came from
    for i, ch in enumerate(text):
        if ch.isspace():
            if key and key[-1] == " ":
                continue
            ch = " "
        key.append(ch)
        where.append(i)
    flat = "".join(key)
    grams: set[str] = set()
    for source in sources:
        s = _WS.sub(" ", source.replace("\n", " "))
        grams.update(s[i:i + QUOTE_MIN] for i in range(len(s) - QUOTE_MIN + 1))
    covered = bytearray(len(text))
    for j in range(len(flat) - QUOTE_MIN + 1):
        if flat[j:j + QUOTE_MIN] in grams:
            for i in range(where[j], where[j + QUOTE_MIN - 1] + 1):
                covered[i] = 1
    if not any(covered):
        return text
    out, previous = [], 0
    for i, ch in enumerate(text):
        if covered[i]:
            if not previous:
                out.append(_GAP)
        else:
            out.append(ch)
        previous = covered[i]
    return "".join(out)


# ---------------------------------------------------------------------------- the rules

_ANY = r"[^\n\x00]"      # any character within a line and outside a quote
_PHRASE = r"[^.!?\n\x00]"  # any character within a sentence
_GRADER_EN = (r"(?:(?:ai|llm|automated|automatic|human|model)\s+)?(?:grader|marker|evaluator|assessor|examiner|judge|rater|"
              r"corrector|(?<=ai )reviewer|(?<=llm )reviewer|(?<=automated )reviewer|(?<=model )reviewer)s?")
_GRADER_FR = (r"(?:correct(?:eur|rice)(?!\s+(?:orthographique|automatique|grammatical))|evaluat(?:eur|rice)|"
              r"examinat(?:eur|rice)|juge|notat(?:eur|rice)|(?:ia|modele)\s+(?:correct(?:eur|rice)|evaluat(?:eur|rice)|"
              r"juge))s?")
_GRADER = rf"(?:{_GRADER_EN}|{_GRADER_FR}|ai reviewer|llm)"
_SCORE_LEAD = (r"(?:^|(?<=[{,\"'(\[*>|\-])|(?<=[{,\"'(\[*>|\-] )|(?<=[.!?;:] )|\b(?:my|your|the|this|final|overall|total|global|"
               r"deserved|suggested|recommended|proposed|correct|expected|fair|judge's|grader's|ma|votre|ta|la|cette|finale|"
               r"totale|globale|proposee|meritee)\s)")
_NUMBER = r"(?:100|\d{1,2})(?:[.,]\d+)?"
_FRACTION = rf"{_NUMBER}\s*(?:/|out of|sur)\s*(?:100|\d{{1,2}})\b"
_TOP = r"(?:full|maximum|max|perfect|top|highest|maximal|best possible|best)"
_MARKS = r"(?:score|marks?|points?|grade|rating|credit|note)s?"
_STRUCT_TAGS = {
    "graded", "graded_text", "gradedtext", "text", "output", "answer", "response", "reply", "submission", "input", "data",
    "document", "untrusted", "student", "student_answer", "essay", "user", "user_input", "system", "instructions",
    "instruction", "rubric", "context", "transcript", "verdict", "message", "query", "content", "candidate", "s",
}
_SPEAKERS = (r"(?:user|customer|client|human|visitor|agent|utilisateur|utilisatrice|me|moi|support|conseiller|conseillere|"
             r"vendeur|vendeuse|q|question)")
_SPACED_WORDS = {  # words spelt out letter by letter ("s c o r e"), and what they are part of
    "score": "score", "points": "score", "rating": "score", "grader": "address", "marker": "address", "evaluat": "address",
    "correcteur": "address", "correctrice": "address", "fullmarks": "request", "topmarks": "request",
    "notemaximale": "request", "rubric": "override", "ignore": "override", "disregard": "override",
    "instruction": "override", "consigne": "override", "bareme": "override", "system": "role",
}

_Check = Callable[[re.Match[str], str], bool]
_Rule = tuple[str, re.Pattern[str], _Check | None]


def _counter(m: re.Match[str], text: str) -> bool:
    """A perfect fraction that counts steps or posts ("Tweet 5/5", a thread of k/5) is not a score."""
    before = text[max(0, m.start() - 16):m.start()]
    if re.search(r"(?:step|tweet|part|post|page|thread|slide|question|etape|partie|episode|chapter|chapitre|photo|image|item|"
                 r"day|jour|no\.?|n°|#|story|lesson|lecon|module|video|recu)\s*\(?\s*$", before):
        return False
    total = m.group("n")
    return not re.search(rf"(?<![\d/.,])(?!{total}\b)\d{{1,3}}\s*/\s*{total}(?![\d/])", text)


def _within_total(m: re.Match[str], text: str) -> bool:
    """A score is at most its scale ("Grade: 18/8" names a steel, not a mark)."""
    numbers = [float(n.replace(",", ".")) for n in re.findall(r"\d+(?:[.,]\d+)?", m.group("core") or "")]
    return len(numbers) < 2 or numbers[0] <= numbers[-1]


def _not_transcript(m: re.Match[str], text: str) -> bool:
    """"Assistant:" opens a turn in a dialogue the task asked for when another speaker has lines too."""
    return not re.search(rf"^\W{{0,4}}{_SPEAKERS}\s*:", text, re.MULTILINE)


def _addresses_someone(m: re.Match[str], text: str) -> bool:
    """"System: Windows 11" describes a computer; "System: you must..." talks to the judge."""
    return bool(re.search(r"\b(?:you|your|tu|vous|votre|ton|grade|grader|score|rubric|note|bareme|judge|juge|evaluat\w*|"
                          r"ignore\w*|"
                          r"must|doit|devez|assistant|model|modele|ai|ia|instructions?|consignes?|points?|override|previous|"
                          r"grad\w*|scor\w*|answers?|reponses?)\b",
                          m.group("rest")))


def _rules() -> list[_Rule]:
    raw: list[tuple[str, str, _Check | None]] = [
        # --- score-like text
        ("score", rf"{_SCORE_LEAD}[\"']?(?:score|points|pts|grade|marks?|notation|verdict)[\"']?(?:\s+(?:awarded|given|earned|"
                  rf"deserved|attribuee?s?|obtenue?s?|accordee?s?))?\s*[:=]\s*[\"']?\s*"
                  rf"(?P<core>(?!0[.,]\d){_NUMBER}(?:\s*(?:/|out of|sur)\s*\d{{1,3}}|\s*%)?)(?![\d:-]|[.,]\d)", None),
        ("score", rf"\b(?:rating|note|notation|evaluation|eval|assessment|appreciation|result|"
                  rf"resultat)[\"']?\s*[:=]\s*[\"']?\s*(?P<core>{_FRACTION})", _within_total),
        ("score", rf"(?<!average )(?<!avg )(?<!mean )\b(?:score|grade|mark|rating|note)\s*(?:of|de|:)?\s*(?P<core>{_FRACTION})"
                  r"(?!\s*(?:on|from|by|at|in|across|among|sur|par|chez|selon|aupres|d'apres|avec)\b)", _within_total),
        ("score", r"\b(?:grade|mark|note|score)\s*[:=]\s*[\"']?(?P<core>a\+?)(?=[\"'\s.,;!)}]|$)", None),
        ("score", r"(?<![\d/.,])(?P<core>(?P<n>3|4|5|10|20|100)\s*/\s*(?P=n))(?![\d/]|[.,]\d)", _counter),
        ("score", r"(?<!recu )(?<![\d/.,])(?P<core>(?P<n>5|10|20|100|five|ten|twenty|cinq|dix|vingt) (?:out of|sur) (?P=n))\b"
                  r"(?!\s+(?!for\b|pour\b|stars?\b|etoiles?\b)[a-z])", _counter),
        ("score", r"(?P<core>(?:★ ?){4}★)", None),
        ("score", rf"\b(?:score|rate|grade|mark)\s+(?:this|it|me|the (?:answer|response|reply|text|output)|my (?:answer|"
                  rf"response|work))(?:\s+(?:answer|response|reply|text|output))?\s+(?:an?\s+|as\s+|at\s+|"
                  rf"with\s+)?(?P<core>{_NUMBER})\b(?!\s*(?:stars?|etoiles?))", None),
        # --- addresses to the grader
        ("address", rf"\b(?:dear|hello|hi|hey|greetings|attention|note to|message to|message for|memo to|reminder to|"
                    rf"reminder for|instructions? (?:to|for)|p\.?s\.? (?:to|for))\s+(?:the\s+|my\s+|our\s+|any\s+|all\s+|"
                    rf"whichever\s+)?{_GRADER}\b", None),
        ("address", rf"\b(?:to|for)\s+(?:the|my|our|any|all|whichever)\s+{_GRADER}\b", None),
        ("address", rf"(?:^|(?<=[.!?:;\"] ))\W{{0,4}}(?:dear\s+)?(?:the\s+)?{_GRADER}\s*[:,]", None),
        ("address", rf"\b(?:cher|chere|madame|monsieur|mme|mlle|a l'attention d[eu]s?|a l'attention de l'|"
                    rf"a l'intention d[eu]s?|"
                    rf"a l'intention de l'|pour|au|aux|a la|a l'|note (?:pour|a|au|a la|a l')|message (?:pour|a|au|a la|a l')|"
                    rf"bonjour|salut)\s*(?:le |la |l'|les |mon |ma |notre |cher |chere )?{_GRADER_FR}\b", None),
        ("address", r"\b(?:if you are|you are|as|since you are|while you are|when you are) (?:an? |the )?(?:ai |llm |"
                    r"language model |model )?"
                    r"(?:grading|evaluating|assessing|judging|marking|scoring|reviewing|correcting) (?:this|these|the|my|"
                    r"our)\b", None),
        ("address", r"\b(?:to |for )?(?:whoever|anyone|the (?:person|model|ai|one)) (?:who is |that is |who's |who |that |is )?"
                    r"(?:grading|evaluating|marking|scoring|assessing|judging|grades|evaluates|marks|scores|assesses|"
                    r"judges) (?:this|these|my|the)\b", None),
        ("address", r"\b(?:vous|toi|celui|celle|l'ia|le modele|l'evaluateur|le correcteur|la correctrice) qui (?:corrigez|"
                    r"evaluez|notez|jugez|"
                    r"corriges|evalues|notes|juges|corrige|evalue|note|juge) (?:ce|cette|ma|mon|les|la|le)\b", None),
        ("address", r"\b(?:dear|hey|hi|hello|bonjour|salut|cher|chere)\s+(?:chatgpt|gpt(?:-?\d\w*)?|claude|gemini|llama|"
                    r"mistral|ai|ia|llm|model|modele)\b\s*[,:!]", None),
        ("address", rf"\byou,?\s+(?:the|our|my|dear)\s+{_GRADER}\b", None),
        # --- requests for marks
        ("request", rf"(?:^|(?<=[.!?:;,\"(] )|(?<=[.!?:;,\"(])|\b(?:please|pls|plz|kindly|just|simply)\s+|"
                    rf"\b(?:you|judge|grader|evaluator|marker|reviewer)\s+(?:should|must|will|can|could|need to|have to|"
                    rf"ought to|are to)\s+)"
                    rf"(?:give|award|assign|grant|rate|score|grade|mark)\b(?!\s*:){_PHRASE}{{0,40}}?\b(?:{_TOP}\s+{_MARKS}|"
                    rf"(?P<core>{_FRACTION})|"
                    rf"an?\s+[\"'(]?a\+?[\"')]?(?=[\s.,!;:]|$)|(?:a\s+)?(?:perfect\s+)?10\b)", _within_total),
        ("request", rf"\b{_TOP}\s+{_MARKS}\b\s*[,.!]?\s*(?:please|pls|plz|thanks|thank you|is deserved|are deserved|deserved|"
                    rf"merited|for (?:me|this (?:answer|response|reply|text)|my (?:answer|work))|!)", None),
        ("request", rf"\b(?:please|pls|plz|kindly)\b{_PHRASE}{{0,30}}?\b{_TOP}\s+{_MARKS}\b", None),
        ("request", rf"\b(?:deserves?|merits?|warrants?|is worth|should (?:get|receive|score|be (?:given|scored|rated|graded|"
                    rf"marked))|must (?:get|receive|score|be (?:given|scored|rated|graded|marked)))\s+(?:an?\s+|the\s+)?"
                    rf"(?:{_TOP}\s+{_MARKS}|{_FRACTION}|a\+|an a\b|(?:a\s+)?(?:perfect\s+)?10\b|(?:the\s+)?(?:maximum|"
                    rf"max))", None),
        ("request", rf"\b(?:give|award|grant|assign)\s+(?:me|us|this|it|the \w+|"
                    rf"my \w+)\s+an?\s+[\"'(]?a\+?[\"')]?(?=[\s.,!;:]|$)", None),
        ("request", rf"\b(?:request|ask for|want|demand|expect|hope for|would like|need)\w*\s+(?:an?\s+|"
                    rf"the\s+)?{_TOP}\s+{_MARKS}\b", None),
        ("request", rf"\b(?:note parfaite|note maximale|tous les points|meilleure note)\b{_PHRASE}{{0,20}}?\bmerit", None),
        ("request", r"\b(?:raise|increase|boost|bump|maximi[sz]e)\s+(?:my|this answer's|this text's|the) (?:score|grade|"
                    r"marks?)\b", None),
        ("request", rf"\b(?:donne[rsz]?|donnez-moi|donne-moi|mettez-moi|mets-moi|mettre|mettez|mets|accorde[rsz]?|accordez-moi|"
                    rf"attribue[rsz]?|attribuez-moi)\b{_PHRASE}{{0,40}}?\b(?:note|score|points?|notation|"
                    rf"evaluation)\b{_PHRASE}{{0,20}}?"
                    rf"(?:\b(?:maximale?|maximum|max|parfaite?|complete?|pleine|meilleure)\b|{_FRACTION})", None),
        ("request", rf"\b(?:donne[rsz]?|donnez-moi|donne-moi|mettez-moi|mets-moi|mettez|mets|accordez-moi|attribuez-moi)\s+"
                    rf"(?:moi\s+)?(?:un |une |la |le )?(?P<core>{_FRACTION}|20|10|tous les points|la note maximale)", None),
        ("request", rf"\bmerit(?:e[snrz]?|ee?s?|er|ez|ait|erait)\b{_PHRASE}{{0,20}}?(?:la note maximale|\b{_FRACTION}|"
                    rf"\bun (?:20|10)\b|tous les points|"
                    rf"la meilleure note|la note parfaite|une note parfaite|note maximale)", None),
        ("request", rf"(?:tous les points|note maximale|note parfaite|meilleure note|pleine note|20\s*/\s*20|"
                    rf"10\s*/\s*10)\s*[,.!]?\s*(?:svp|s'il vous plait|s'il te plait|merci|!)", None),
        # --- attempts to override the instructions
        ("override", rf"\bignor(?:e|ez|er|es|ing|ons|e-moi)\b{_ANY}{{0,40}}?\b(?:instructions?|rubrics?|criteri\w*|grading|"
                     rf"guidelines?|"
                     rf"consignes?|baremes?|grilles?|regles?|rules|(?:system )?prompt|directives?|scoring)\b", None),
        ("override", rf"\b(?:ignor(?:e|ez|er|es|ing)|disregard(?:ing)?|neglig(?:e|ez))\s+(?:all\s+|tout\s+|"
                     rf"toutes?\s+)?(?:of\s+)?"
                     rf"(?:the\s+|my\s+|your\s+|any\s+|les\s+|ce\s+qui\s+)?(?:previous|prior|above|earlier|preceding|"
                     rf"foregoing|everything|"
                     rf"precede|precedentes?|ci-dessus)\b(?=\s*(?:[.,;:!)\n]|$|and\b|et\b|above\b|before\b|ci-dessus\b|"
                     rf"instructions?\b|directions?\b|"
                     rf"guidance\b|prompts?\b|rules\b|context\b|consignes?\b|text\b|texte\b|orders\b))", None),
        ("override", rf"\bdisregard\b{_ANY}{{0,40}}?\b(?:instructions?|rubrics?|criteri\w*|guidelines?|rules|prompt|"
                     rf"directives?|grading|scoring)\b", None),
        ("override", rf"(?<!n't )(?<!not )(?<!never )(?<!n')(?<!pas )\b(?:forget|oublie[zs]?|oublier)\b(?!\s+pas\b)(?!\s+to\b)"
                     rf"{_ANY}{{0,30}}?\b(?:instructions?|consignes?|rubrics?|baremes?|grilles?|rules|regles|previous|"
                     rf"precedent\w*|tout ce qui precede|criteri\w*|prompt|guidelines?|everything|above|ci-dessus)\b", None),
        ("override", r"\b(?:new|updated|revised|real|actual|overriding|corrected)\s+(?:instructions?|rubric|"
                     r"grading (?:criteria|rules)|"
                     r"system prompt|scoring rules)\b(?:\s*[:\-]|\s+(?:for (?:you|the (?:grader|judge|model|ai))|follow|apply|"
                     r"override))", None),
        ("override", r"\b(?:do not|don't|never|stop|no need to) (?:follow|apply|use|consult)\w* (?:the |your |any |this )?"
                     r"(?:rubric|grading|criteria|scoring|marking scheme)", None),
        ("override", r"\bne (?:suivez|suis|appliquez|applique|respectez|respecte|consultez) pas (?:la |le |les |ce |cette )?"
                     r"(?:grille|bareme|criteres|notation)", None),
        ("override", r"\byour\s+(?:new|real|actual|true)\s+(?:task|instructions?|role|job|goal|orders)\b", None),
        ("override", r"\b(?:nouvelles?|vraies?|veritables?|nouveau|vrai)\s+(?:consignes?|instructions?|regles|bareme|grille|"
                     r"mission)\s*[:\-]", None),
        ("override", r"\bvotre\s+(?:nouvelle|vraie|veritable)\s+(?:tache|mission|consigne)", None),
        ("override", r"\b(?:ne tenez pas compte|ne tiens pas compte|faites abstraction|fais abstraction)\s+(?:de |des |du |"
                     r"de la |d')"
                     rf"{_ANY}{{0,30}}?(?:consigne|instruction|bareme|grille|regle|critere|precede|ci-dessus)", None),
        ("override", r"\b(?:override|bypass|overrule)\s+(?:the\s+|your\s+|all\s+|any\s+)?(?:rubric|instructions?|grading|"
                     r"criteria|rules|system prompt|scoring)", None),
        # --- markers that try to close the graded text
        ("fence", r"<<<|\w\s*>>>", None),
        ("fence", r"\bgraded[\s_-]*text\b", None),
        ("fence", r"(?:^|[<\[{(#=*_~|-]\s*)\s*(?:end|fin|stop|close)[\s_]*"
                  r"(?:of[\s_]+|du\s+|de\s+la\s+|des\s+)?(?:the\s+|le\s+|la\s+)?"
                  r"(?:(?:graded|student|submitted|learner|candidate|user|evaluated)[\s_]+)?(?:text|output|answer|response|"
                  r"submission|input|data|document|texte|reponse|copie|sortie)\b\s*(?:$|[>\]})#=*_~|-])", None),
        # --- chat control tokens
        ("control", r"<\s*\|\s*[a-z_]{2,30}\s*\|\s*>|\[/?inst\]|<</?sys>>|<(?:start|end)_of_turn>|<(?:bos|eos|eot|pad|unk)>|"
                    r"^\W{0,3}###\s*(?:instruction|response|input|human|assistant)\s*:?\s*$", None),
        # --- role play
        ("role", r"(?:^|(?<=[.!?] )|(?<=[(\[]))\W{0,4}(?:#{1,6}\s*)?(?:system|sys|system message|system prompt|system note|"
                 r"system override|developer|developer message|admin|administrator|systeme|message systeme|note systeme|"
                 r"root)\s*[:>\]]\s*(?P<rest>[^\n]*)", _addresses_someone),
        ("role", r"^[#=*_~\[<|\s-]*(?:system|systeme)(?:\s+(?:prompt|message|instructions?|note|"
                 r"override))?\s*[\]>|:#=*_~\s-]*$", None),
        ("role", r"<\s*/?\s*(?:system|sys|admin|developer|instructions?)\s*>|\[\s*(?:system|sys|admin|developer)\s*\]", None),
        ("role", r"^\W{0,4}(?:assistant|gpt|chatgpt|claude|llm)\s*[\]>)]?\s*:", _not_transcript),
        ("role", r"^\W{0,4}(?:model|modele)\s*:(?P<rest>[^\n]*)", _addresses_someone),
        ("role", r"^\W{0,4}(?:human|h)\s*:\s*(?:give|score|grade|rate|ignore|please (?:give|score|grade|rate))", None),
    ]
    return [(kind, re.compile(pattern, re.MULTILINE), check) for kind, pattern, check in raw]


_RULES = _rules()
_TAG = re.compile(r"<\s*(/?)\s*([a-z_][\w-]*)\b[^<>]*>")
_FENCE = re.compile(r"```+|~~~+")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")


def _unopened_tag(text: str) -> str | None:
    """A closing tag of a prompt-like structure that no earlier tag opened."""
    depth: dict[str, int] = defaultdict(int)
    for m in _TAG.finditer(text):
        closing, name = m.group(1), m.group(2)
        if name not in _STRUCT_TAGS:
            continue
        if not closing:
            depth[name] += 1
        elif depth[name] == 0:
            return m.group(0)
        else:
            depth[name] -= 1
    return None


def _unopened_fence(text: str) -> str | None:
    """A code fence that closes a block it never opened: an odd number of fences, the first one
    bare and after other text."""
    fences = list(_FENCE.finditer(text))
    if len(fences) % 2 == 0:
        return None
    first = fences[0]
    tag = re.match(r"[a-z0-9_+-]+", text[first.end():])
    if tag or not text[:first.start()].strip(" \n\x00"):
        return None
    return first.group(0)


def _quoted(found: str, sources: list[str]) -> bool:
    found = found.strip()
    return bool(found) and any(found in s for s in sources)


def _first(view: str, sources: list[str]) -> tuple[str, str] | None:
    """(kind, what matched) for the first rule that fires on `view` on text not found in `sources`."""
    for kind, pattern, check in _RULES:
        for m in pattern.finditer(view):
            core = m.groupdict().get("core") or ""
            # a quoted core ("5/5", "★★★★★") excuses the match; a bare number ("10") is too common to excuse anything
            if _quoted(m.group(0), sources) or (len(core) >= 3 and not core.isdigit() and _quoted(core, sources)):
                continue
            if check is None or check(m, view):
                return kind, m.group(0).strip()
    for find in (_unopened_tag, _unopened_fence):
        found = find(view)
        if found and not _quoted(found, sources):
            return "fence", found
    return None


def _spaced_words(raw: str) -> tuple[str, str] | None:
    """(kind, the run) for a word of ours spelt out with more than one space between letters."""
    for m in _SPACED_WIDE.finditer(raw):
        joined = re.sub(r"[^a-z]", "", m.group(0))
        for word, kind in _SPACED_WORDS.items():
            if word in joined:
                return kind, m.group(0)
    return None


def _decoded(text: str) -> list[str]:
    """Readable texts hidden in base64 tokens."""
    found = []
    for m in _BASE64.finditer(text):
        token = m.group(0)
        try:
            data = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if all(ch.isprintable() or ch.isspace() for ch in data):
            found.append(data)
    return found


def _detect(text: str, sources: list[str], views: list[str]) -> Injection | None:
    """The first rule that fires on the text as written, then on its disguised forms."""
    variants = [text] + ([_reordered(text)] if "\u202e" in text else [])
    for variant in variants:
        raw = _without_quotes(shadow(variant), sources)
        disguised = variant is not text
        hit = _first(_collapsed(raw), views)
        if hit is not None and hit[1] not in _collapsed(_folded(variant)):
            disguised = True  # found only once invisible or look-alike characters were undone
        if hit is None:
            hit = _first(_collapsed(_deobfuscated(raw)), views)
            hit = hit or _spaced_words(raw)
            disguised = disguised or hit is not None
        if hit:
            kind, found = hit
            en, fr = KINDS[kind]
            if disguised:
                en, fr = f"{en} (disguised)", f"{fr} (déguisé)"
            return Injection(kind, en, fr, found.replace(_GAP, "…"))
    return None


def injection_reason(text: str, sources: Iterable[Any] = ()) -> Injection | None:
    """Why `text` looks like it addresses the judge, or None.

    `sources` are the case's inputs (its vars' values): spans the output quotes from them do not
    count, so a summary that quotes a customer's "ignore the rubric" is not the output's own attempt.
    """
    folded = [shadow(_source_text(s)) for s in sources if s is not None]
    views = [v for s in folded for v in (_collapsed(s), _collapsed(_deobfuscated(s)))]
    hit = _detect(text, folded, views)
    if hit is not None:
        return hit
    for hidden in _decoded(unicodedata.normalize("NFKC", text)):
        inner = _detect(hidden, folded, views)
        if inner is not None:
            en, fr = KINDS[inner.kind]
            return Injection(inner.kind, f"{en} (hidden in base64)", f"{fr} (caché en base64)", inner.found)
    return None
