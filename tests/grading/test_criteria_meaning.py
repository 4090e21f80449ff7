"""Criteria for meaning on a small model: facts carried, no invented number or quote, not
degenerate, not constant; on real-looking texts in English and French, and on the attacks
(a copied example, look-alike Unicode, zero-width spaces, full-width digits, code for a value)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from promptatelier.grading import Case, load_spec, score_outputs
from promptatelier.grading.criteria import get_criterion
from promptatelier.grading.criteria.meaning import carries, degenerate_reason, find_numbers, find_quotes

pytestmark = pytest.mark.usefixtures("test_graders")

DATA = Path(__file__).resolve().parent / "data"

ORDER = "Bonjour, ma commande A-4821 (2 mugs à 12,50 € pièce) est arrivée le 3 mai 2024 avec une anse cassée."
PROMPT = (
    "Réponds au client en une phrase. Exemple : « Commande B-1077 : remboursement de 9,99 €. »\n"
    f"<message>{ORDER}</message>"
)
CASE = Case("mugs", {"message": ORDER}, {"facts": ["A-4821", ["refund", "remboursement", "rembourser"], ["25", "25.00"]]},
            prompt=PROMPT)
FACTS = CASE.expected["facts"]


def score(name, output, case=CASE, **args):
    get_criterion(name).check_args(args)
    return get_criterion(name).fn(output, case, load_spec("t01.extract"), **args)


def typeset(french: str) -> bool:
    """French typography outside quoted text: a no-break space before : ; ! ? » and after «."""
    bare = re.sub(r"«\u00a0.*?\u00a0»", "", french)
    return re.search(r"(?<!\u00a0)[:;!?»]|«", bare) is None


# ---------------------------------------------------------------- facts_carried


@pytest.mark.parametrize(
    "output",
    [
        "Nous allons rembourser les 25 € de la commande A-4821.",
        "We will refund the 25.00 EUR of order A-4821.",
        "Order a 4821: refund of €25",  # case, punctuation and currency aside
        "Commande A-4821 : remboursement de 25,00\u00a0€.",
        "Order A-\u200b4821: we will re\u200bfund 25 EUR.",  # zero-width spaces inside the facts
        "Order Ａ-４８２１: refund of ２５ EUR.",  # full-width letters and digits read as what they show
    ],
)
def test_facts_carried_in_either_language_and_any_number_format(output):
    assert score("facts_carried", output, facts=FACTS).value == 1.0


@pytest.mark.parametrize(
    "output, missing",
    [
        ("Commande B-1077 : remboursement de 9,99 €.", "A-4821"),  # copies the prompt's example
        ("We will refund {price} for order {order_id}.", "A-4821"),  # a template, not the values
        ("Order A-4821: refund = price * quantity", "25"),  # code instead of the literal amount
        ("Order A-48210: refunded 250 EUR.", "A-4821"),  # whole numbers and words only
    ],
)
def test_facts_missing_are_named(output, missing):
    result = score("facts_carried", output, facts=FACTS)
    assert result.value < 1.0
    assert repr(missing) in result.explanation and f"«\u00a0{missing}\u00a0»" in result.text("fr")
    assert typeset(result.text("fr"))


def test_facts_score_is_the_share_carried():
    result = score("facts_carried", "Nous vous remboursons la commande A-4821.", facts=FACTS)
    assert result.value == pytest.approx(1 / 3)
    assert result.explanation == "carries 1 of 3 key facts; missing 'refund'"
    assert result.text("fr") == "reprend 1 fait clé sur 3\u00a0; il manque «\u00a0refund\u00a0»"


def test_number_formats_match_each_other():
    for written in ("12.50", "12,50", "12.5", "12,5", "012.50"):
        assert carries(f"Total: {written} EUR", "12.50"), written
    assert carries("1 000 mugs", "1000") and carries("1,000 mugs", "1000") and carries("1.000 mugs", "1000")
    assert not carries("Total: 12.05 EUR", "12.5")
    assert not carries("Total: 125 EUR", "12.5")


def test_facts_are_checked_when_the_spec_loads():
    get_criterion("facts_carried").check_args({"facts": ["A-4821", 12.5, [25, "25,00"]]})  # TOML numbers are facts too
    assert score("facts_carried", "25,00 € pour A-4821, soit 12,50 € par mug", facts=[12.5, [25, "vingt-cinq"]]).value == 1.0
    with pytest.raises(ValueError, match="facts"):
        get_criterion("facts_carried").check_args({"facts": []})
    with pytest.raises(ValueError, match="non-empty"):
        get_criterion("facts_carried").check_args({"facts": ["ok", [" "]]})
    # from a case whose facts are blank: unscored
    assert get_criterion("facts_carried").fn("x", CASE, None, facts=[[], " "]).value is None


# ---------------------------------------------------------------- no_invented_numbers


@pytest.mark.parametrize(
    "output",
    [
        "Your 2 mugs (12.5 EUR each) arrived on 03/05/2024; we refund them.",  # 3 May -> 03/05: month names ground
        "Vos deux mugs à 12,50\u00a0€ de la commande A-4821 seront remboursés.",
        "1. Commande A-4821\n2. Deux mugs\n3. Remboursement",  # list numbers are not claims
        "Nous remboursons votre commande.",  # no number at all
        "Order A-4821, ２ mugs.",  # full-width digits are read as digits
    ],
)
def test_numbers_from_the_input_are_grounded(output):
    assert score("no_invented_numbers", output).value == 1.0


@pytest.mark.parametrize(
    "output, invented",
    [
        ("We refund 25 EUR for your 2 mugs.", "25"),  # a total the input never gives
        ("Order A-4812: refund of 12.50 EUR.", "4812"),  # a wrong id
        ("Arrived on 4 May 2024.", "4"),
        ("Refund of １９ EUR.", "１９"),  # full-width digits are numbers too
        ("Refund of 1\u200b9 EUR.", "19"),  # a zero-width space does not hide a number
    ],
)
def test_an_invented_number_is_named(output, invented):
    result = score("no_invented_numbers", output)
    assert result.value == 0.0
    assert repr(invented) in result.explanation and f"«\u00a0{invented}\u00a0»" in result.text("fr")
    assert typeset(result.text("fr"))


def test_the_prompt_grounds_numbers_unless_from_prompt_is_false():
    copied = "Commande B-1077 : remboursement de 9,99 €."  # the prompt's example, copied
    assert score("no_invented_numbers", copied).value == 1.0
    strict = score("no_invented_numbers", copied, from_prompt=False)
    assert strict.value == 0.0 and "'1077'" in strict.explanation


def test_allow_and_list_numbers_options():
    assert score("no_invented_numbers", "Total: 25 EUR", allow=[25]).value == 1.0
    assert score("no_invented_numbers", "Total: 25,00 EUR", allow=["25"]).value == 1.0
    listed = "7. Mugs: 2"
    assert score("no_invented_numbers", listed).value == 1.0
    assert score("no_invented_numbers", listed, ignore_list_numbers=False).value == 0.0
    with pytest.raises(ValueError, match="allow"):
        get_criterion("no_invented_numbers").check_args({"allow": ["none"]})


def test_numbers_are_read_in_every_format():
    read = {n.text: sorted(n.values) for n in find_numbers("1,000.50 | 1.000,50 | 12,500 | 29,9 | 007 | 2 500 | x² | ½")}
    assert read == {"1,000.50": ["1000.5"], "1.000,50": ["1000.5"], "12,500": ["12.5", "12500"], "29,9": ["29.9"],
                    "007": ["7"], "2 500": ["2500"]}
    assert carries("29.90", "29,9")
    case = Case("c", {"note": "Prix : 29,90 €, lot de 1 000"})
    assert score("no_invented_numbers", "29.9 EUR, 1000 units, €29.90", case=case).value == 1.0


# ---------------------------------------------------------------- verbatim_quote

REVIEW = "The lid doesn't close and the handle broke after two days. I'd like a refund."


def quote(output, **args):
    return score("verbatim_quote", output, case=Case("r", {"review": REVIEW, "product": "Teapot"}), **args)


@pytest.mark.parametrize(
    "output",
    [
        "The customer writes: “The lid doesn’t close and the handle broke after two days.”",  # curly apostrophe
        "Le client écrit : « the handle broke after two days » et veut un remboursement.",
        'Evidence: "The lid doesn\'t   close" … "I\'d like a refund."',
        "Evidence: “The lid doesn't close […] after two days”",  # an ellipsis skips words, in order
        "QUOTE: The lid doesn't close and the handle broke\nSummary: broken teapot.",
    ],
)
def test_verbatim_quotes_pass(output):
    marker = "QUOTE:" if "QUOTE:" in output else None
    assert quote(output, marker=marker).value == 1.0


@pytest.mark.parametrize(
    "output",
    [
        "The customer writes: “The lid does not close and the handle broke.”",  # reworded
        "Le client écrit : « Le couvercle ne ferme pas. »",  # translated is not quoted
        "The customer writes: “the lid doesn't close and the handle broke after two days.”",  # case changed
        "Evidence: “after two days […] The lid doesn't close”",  # pieces out of order
    ],
)
def test_reworded_or_invented_quotes_fail(output):
    result = quote(output)
    assert result.value == 0.0
    assert "not in the input" in result.explanation and typeset(result.text("fr"))


def test_quote_score_is_the_share_and_short_quotes_are_ignored():
    output = "“The lid doesn't close” but “the teapot exploded”, said “Teapot”."
    result = quote(output)
    assert result.value == 0.5 and "'the teapot exploded'" in result.explanation
    assert quote("It says “refund”.").value == 0.0  # shorter than min_chars (8): no quote given
    assert quote("It says “refund”.", min_chars=3).value == 1.0
    assert quote("No quote at all.").value == 0.0
    assert quote("No quote at all.", required=False).value == 1.0


def test_quote_source_and_markers():
    assert quote("“The lid doesn't close”", source="product").value == 0.0
    assert quote("“The lid doesn't close”", source="review").value == 1.0
    assert quote("“x”", source="nope").value is None
    assert find_quotes('QUOTE: "a b c"\n“d e”', marker="quote:") == ["a b c", "d e"]
    assert score("verbatim_quote", "“anything here”", case=Case("empty", {})).value is None


# ---------------------------------------------------------------- not_degenerate

KNOWN_DEGENERATE = [
    "🍃" * 256,
    "La phrase est uniquement par la phrase. " * 4,
    "Sure! Sure! Sure! Sure! Sure! Sure!",
    "the the the the",
    "",
    "   \n\t",
    "... --- !!!",
    "Great!!!!!!!!!!!!!!!",
    "👍🏽" * 12,  # skin-tone modifiers do not break a flood
    "🌱🌱🌱\n\n🌱🌱🌱\n\n🌱🌱🌱\n\n🌱🌱",
    "Merci pour votre message. " + "Je vous remercie de votre patience. Nous reviendrons vers vous. " * 3,
    "1. Le client veut un remboursement.\n2. Le client veut un remboursement.\n3. Le client veut un remboursement.",
    "Maison Luma, 30 cm, 30 cm, 30 cm, 30 cm, 30 cm,",
    ("Our candles are poured by hand in Lyon from soy wax and scented with fig and cedar oils.\n\n" * 2).strip(),
    "Go\u200b go\u200b go\u200b go",
]

FINE = [
    "Positive.",
    "42",
    "Title\n=====\n\nText under a heading.\n\n---\n\n***",
    "| Item | In stock | Gift wrap | Engraving | Express |\n|---|---|---|---|---|\n| Mug | yes | yes | yes | yes |",
    json.dumps([{"sku": "MUG-1", "in_stock": True}, {"sku": "MUG-2", "in_stock": True}, {"sku": "MUG-3", "in_stock": True}], indent=2),
    "🎉 Soldes ! 🎉 Tout à -20 % 🎉 #MaisonLuma",
    "C'est très, très bien. Merci, merci !",
    "Bonjour Marie,\n\nMerci pour votre message. Nous sommes désolés.\n\nCordialement,\nL'équipe Maison Luma",
    "Step 1: read. Step 2: check. Step 3: decide. Step 4: reply.",
]


@pytest.mark.parametrize("text", KNOWN_DEGENERATE)
def test_known_degenerate_outputs_are_caught_and_explained(text):
    reason = degenerate_reason(text)
    assert reason is not None, text
    en, fr = reason
    assert en.startswith("the output") and fr.startswith("la sortie") and typeset(fr)
    result = score("not_degenerate", text)
    assert result.value == 0.0 and result.explanation == en and result.text("fr") == fr


@pytest.mark.parametrize("text", FINE)
def test_real_text_is_not_degenerate(text):
    assert degenerate_reason(text) is None
    assert score("not_degenerate", text).value == 1.0


def test_explanations_say_what_repeats():
    assert degenerate_reason("🍃" * 256)[0] == "the output is a flood of one character: '🍃' repeated 256 times"
    en, fr = degenerate_reason("La phrase est uniquement par la phrase. " * 4)
    assert "'La phrase est uniquement par la phrase' 4 times in a row" in en
    assert "«\u00a0La phrase est uniquement par la phrase\u00a0» 4 fois de suite" in fr
    assert degenerate_reason("") == ("the output is empty", "la sortie est vide")


# Outputs of the embedded model on the course's exercises (tests/grading/data/make_reference_outputs.py).
# These, read one by one, are loops or floods; every other output there must pass.
REAL_DEGENERATE = {
    ("m02.complaint_points", "reference", "jacket"),  # one list item said three times
    ("m02.translate_fr", "reference", "refund"),  # "Je suis désolé" five times
    ("m02.review_summary", "baseline", "teapot"),
    ("m03.social_post", "baseline", "fig"),
    ("m03.social_post", "baseline", "linen"),
    ("m04.product_intro", "baseline", "apron"),
    ("m06.brand_post", "baseline", "candle"),
    ("m07.refund_steps", "baseline", "mugs"),
    ("m07.support_plan", "baseline", "teapot"),
}


def test_calibrated_on_the_embedded_models_real_outputs():
    samples = json.loads((DATA / "reference_outputs.json").read_text(encoding="utf-8"))
    assert len(samples) >= 80
    flagged = {(s["exercise"], s["kind"], s["case"]) for s in samples if degenerate_reason(s["output"])}
    assert flagged == REAL_DEGENERATE


# ---------------------------------------------------------------- not_constant


def cases(*rows, expected=True):
    return [Case(f"c{i}", {"review": r}, e if expected else None) for i, (r, e) in enumerate(rows)]


SENTIMENT = cases(("Love it", "positive"), ("Broken on arrival", "negative"), ("It is a mug", "neutral"),
                  ("Great gift", "positive"))


def constant(outputs, cases_=SENTIMENT):
    get_criterion("not_constant").check_args({})
    return get_criterion("not_constant").fn(list(zip(cases_, outputs)), load_spec("t01.extract"))


def test_a_constant_answer_scores_zero():
    result = constant(["Positive."] * 4)
    assert result.value == 0.0
    assert result.explanation == "the same answer for 3 different inputs: the prompt does not use its input"
    assert result.text("fr") == "la même réponse pour 3 entrées différentes\u00a0: le prompt n'utilise pas son entrée"


def test_answers_that_follow_the_input_score_one():
    # same expected answer, same output: allowed; spacing, case and punctuation aside
    assert constant(["positive", "Negative", "neutral", "POSITIVE!"]).value == 1.0


def test_the_score_is_the_share_of_differing_pairs():
    # 5 pairs have different expected answers; negative/neutral share an output: 4 of 5 differ
    assert constant(["positive", "negative", "Négative", "positive"]).value == pytest.approx(0.8)


def test_without_expected_answers_inputs_are_compared():
    rows = cases(("Mug", None), ("Teapot", None), ("Mug", None), expected=False)
    assert constant(["A mug.", "A mug.", "A mug."], rows).value == 0.0
    assert constant(["A mug.", "A teapot.", "A mug."], rows).value == 1.0


def test_unscored_when_fewer_than_two_cases_differ():
    same = cases(("a", "positive"), ("b", "positive"))
    result = constant(["x", "x"], same)
    assert result.value is None and typeset(result.text("fr"))
    assert constant(["x"], SENTIMENT[:1]).value is None
    assert get_criterion("not_constant").family == "cases"


# ---------------------------------------------------------------- in a spec, with facts from the case

SPEC = """
id = "t10.reply"
points = 4
kind = "template"
placeholders = ["message"]
title = "Reply with the facts"
instructions = "Answer the customer."
reference = "Answer the customer in one sentence, quoting the order number and the amount.\\n<m>{message}</m>"
baseline = "Answer: {message}"

[[cases]]
name = "mugs"
vars = { message = "Order A-4821: 2 mugs, 12.50 EUR each, one arrived broken." }
expected = { facts = ["A-4821", ["refund", "remboursement"], ["12.50", "12,50"]] }

[[cases]]
name = "lamp"
vars = { message = "Commande LMP-7781 : la lampe à 39,99 € clignote." }
expected = { facts = ["LMP-7781", ["refund", "remboursement"], "39.99"] }

[[criteria]]
use = "facts_carried"
facts = { case = "expected.facts" }
weight = 2

[[criteria]]
use = "no_invented_numbers"

[[criteria]]
use = "contains"
text = [{ text = "refund", ignore_case = false }, "rembours"]
mode = "any"
"""


def test_a_spec_takes_the_facts_from_each_case(tmp_path):
    folder = tmp_path / "t10"
    folder.mkdir()
    path = folder / "reply.toml"
    path.write_text(SPEC, encoding="utf-8")
    good = score_outputs(load_spec(path), {
        "mugs": "We will refund the 12,50 EUR of order A-4821.",
        "lamp": "Nous vous accordons un remboursement de 39,99 € pour la commande LMP-7781.",
    })
    assert good.points == 4.0, good.criteria
    bad = score_outputs(load_spec(path), {
        "mugs": "We will refund 25 EUR for order A-4821.",
        "lamp": "Nous vous remboursons 25 EUR pour la commande LMP-7781.",
    })
    by_name = {r.name: r for r in bad.criteria}
    assert by_name["facts_carried"].score == pytest.approx((2 / 3 + 1 / 3) / 2)  # "remboursons" is not "remboursement"
    assert by_name["no_invented_numbers"].score == 0.0
    assert "'25'" in by_name["no_invented_numbers"].explanation
    assert by_name["contains"].score == 1.0 and bad.points == pytest.approx(4 * (2 * 0.5 + 0 + 1) / 4)


def test_json_escapes_are_characters_not_numbers():
    from promptatelier.grading.criteria.meaning import find_numbers

    assert [n.text for n in find_numbers('{"name": "Caf\\u00e9 mug", "price": 12}')] == ["12"]
