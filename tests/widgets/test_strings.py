"""The kit's own words in French: the glossary's terms (course/GLOSSARY.md), French typography (a
no-break space before : ; ! ? and inside « »), plurals that agree, and no key missing in one
language."""

from __future__ import annotations

import re

from promptatelier._ipython import WORDS
from promptatelier.grading.feedback import STRINGS
from promptatelier.grading.notebook import PREVIEW_NOTE
from promptatelier.widgets._i18n import _strings, t, tn

NBSP = ("\u00a0", "\u202f")
# the glossary's "not in French" forms that a UI string could slip in (whole words)
FORBIDDEN = ["token", "tokens", "template", "templates", "placeholder", "feedback", "endpoint", "score", "scores",
             "clé API", "modèle local", "élève", "étudiant", "barème", "invite", "préremplissage", "le test"]


def french_strings() -> dict[str, str]:
    found = {f"strings.toml:{k}": v for k, v in _strings()["fr"].items()}
    for k, v in STRINGS["fr"].items():
        for i, text in enumerate(v if isinstance(v, tuple) else (v,)):
            found[f"feedback.STRINGS:{k}:{i}"] = text
    found.update({f"_ipython.WORDS:{i}": w for i, w in enumerate(WORDS["fr"])})
    found["notebook.PREVIEW_NOTE"] = PREVIEW_NOTE[1]
    return found


def typography_faults(text: str) -> list[str]:
    """Signs of French prose without the no-break space they need. A colon in code (`"role": `,
    `http:`) is not prose and is left alone."""
    faults = []
    for i, ch in enumerate(text):
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if ch in ":;!?":
            if after and not after.isspace() and after not in "»)":
                continue  # 'http://', 'a:b', '?x': not punctuation of a sentence
            if before in "\"'{}[]":
                continue  # JSON or a {field}
            if before not in NBSP:
                faults.append(f"{ch!r} after {before!r} in {text!r}")
        elif ch == "«" and after not in NBSP:
            faults.append(f"no no-break space after « in {text!r}")
        elif ch == "»" and before not in NBSP:
            faults.append(f"no no-break space before » in {text!r}")
    return faults


def test_the_checker_finds_what_it_should() -> None:
    assert typography_faults("Note : 3") and typography_faults("Note: 3") and typography_faults("« oui »")
    assert typography_faults("Prêt ?") and typography_faults("voici ; et")
    assert not typography_faults("Note\u00a0: 3") and not typography_faults("«\u00a0oui\u00a0»")
    assert not typography_faults('liste JSON de {{"role": ...}}') and not typography_faults("http://x")


def test_french_typography() -> None:
    faults = {where: found for where, text in french_strings().items() if (found := typography_faults(text))}
    assert faults == {}


def test_french_uses_the_glossarys_words() -> None:
    found = {}
    for where, text in french_strings().items():
        prose = re.sub(r"\{[^{}]*\}", "", text)  # {names} the widget fills in are not words
        words = [w for w in FORBIDDEN if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", prose, re.IGNORECASE)]
        if words:
            found[where] = words
    assert found == {}


def test_both_languages_have_the_same_keys() -> None:
    assert set(_strings()["en"]) == set(_strings()["fr"])
    assert set(STRINGS["en"]) == set(STRINGS["fr"])


def test_plurals_agree() -> None:
    assert [tn("tokens", n, "fr") for n in (0, 1, 2)] == ["0 jeton", "1 jeton", "2 jetons"]
    assert [tn("tokens", n, "en") for n in (0, 1, 2)] == ["0 tokens", "1 token", "2 tokens"]
    assert [tn("cases", n, "fr") for n in (1, 3)] == ["1 cas", "3 cas"]
    assert t("context_tokens", "fr", tokens=tn("tokens", 1, "fr"), turns=tn("turns", 1, "fr")) == \
        "Contexte du dernier tour\u00a0: 1 jeton (1 tour)."


def test_feedback_counts_cases_with_agreeing_plurals() -> None:
    from promptatelier.grading.feedback import feedback_text
    from promptatelier.grading.result import Evaluation

    ev = Evaluation("m01.x", "graded", 1.0, 2.0, cases_run={"visible": 1, "hidden": 3}, title={"fr": "X"})
    assert "cas\u00a0: 1 visible, 3 cachés" in feedback_text(ev, "fr")
    assert "Note\u00a0: 1 / 2" in feedback_text(ev, "fr")
    ev = Evaluation("m01.x", "graded", 1.5, 2.0, cases_run={"visible": 2, "hidden": 0}, title={"fr": "X"})
    assert "cas\u00a0: 2 visibles, 0 caché" in feedback_text(ev, "fr") and "1,5 / 2" in feedback_text(ev, "fr")
    assert "cases: 2 visible, 0 hidden" in feedback_text(ev, "en") and "1.5 / 2" in feedback_text(ev, "en")
