"""Every criterion on a passing and a failing output."""

from __future__ import annotations

import re

import pytest

from promptatelier.grading import Case, load_spec
from promptatelier.grading.criteria import get_criterion, registry
from promptatelier.grading.criteria.language import detect_language
from promptatelier.grading.criteria.structure import count, sentences
from promptatelier.grading.submission import normalise

pytestmark = pytest.mark.usefixtures("test_graders")


def run(name: str, output: str, expected=None, **args):
    spec = load_spec("t01.extract")
    case = Case("c", {}, expected)
    return get_criterion(name).fn(output, case, spec, **args).value


@pytest.mark.parametrize(
    "name, args, expected, good, bad",
    [
        ("contains", {"text": "Élève"}, None, "un eleve sérieux", "un professeur"),
        ("contains", {"text": ["a", "zz"], "mode": "any"}, None, "a b", "b c"),
        ("not_contains", {"text": "as an AI"}, None, "Sure, here it is.", "As an AI, I cannot"),
        ("regex", {"pattern": r"^\d{4}-\d{2}-\d{2}$", "full": True}, None, "2024-05-01", "May 1st"),
        ("regex", {"pattern": "sorry", "flags": "i", "negate": True}, None, "Here you go", "SORRY"),
        ("exact_match", {}, "Paris", " Paris\n", "paris!"),
        ("normalised_match", {}, "Île-de-France", "ile de france.", "Normandie"),
        ("normalised_match", {"contains": True}, "Paris", "The capital is Paris.", "The capital is Lyon."),
        ("label_accuracy", {"labels": ["positive", "negative", "neutral"]}, "positive", "Positive.", "negative"),
        ("label_only", {"labels": ["positive", "negative"]}, None, "negative", "The review is negative."),
        ("starts_with", {"prefix": "Dear"}, None, "dear Sam,", "Hello Sam"),
        ("ends_with", {"suffix": "Best regards"}, None, "Thanks.\nBest regards", "Best regards, Ann"),
        ("valid_json", {}, None, '{"a": 1}', "{a: 1}"),
        ("json_schema", {"schema": {"type": "object", "required": ["a"]}}, None, '{"a": 1}', '{"b": 1}'),
        ("json_schema", {}, None, '{"name": "A", "city": "B"}', '{"name": "A"}'),
        ("json_fields", {}, {"name": "Anna", "city": "Lyon"}, '{"name": "anna", "city": "Lyon"}', '{"name": "Anna", "city": "Paris"}'),
        ("json_fields", {"fields": ["who.name"]}, {"who": {"name": "Bo"}}, '{"who": {"name": "Bo"}}', '{"who": {}}'),
        ("length", {"unit": "words", "max": 5}, None, "one two three", "one two three four five six"),
        ("length", {"unit": "sentences", "min": 2, "max": 2}, None, "Hi there. How are you?", "Hi there."),
        ("length", {"unit": "characters", "max": 10}, None, "short", "much too long a text"),
        ("length", {"unit": "lines", "min": 3}, None, "a\nb\nc", "a\nb"),
        ("list_format", {"min_items": 3}, None, "- a\n- b\n1. c", "a, b and c"),
        ("bullet_list", {"min_items": 2, "only": True}, None, "- a\n* b", "Here:\n- a\n- b"),
        ("numbered_list", {"min_items": 2, "max_items": 3}, None, "1. a\n2) b", "1. a\n2. b\n3. c\n4. d"),
        ("markdown_table", {"columns": ["Name", "Price"]}, None, "| Name | Price |\n|---|---|\n| Tea | 3 |", "Name: Tea, Price: 3"),
        ("language", {"lang": "fr"}, None, "Je pense que le produit est très bien et que la livraison était rapide.", "I think the product is very good and the delivery was fast."),
        ("language", {"lang": "en"}, None, "The weather is nice and we are going to the beach.", "Il fait beau et nous allons à la plage."),
        ("language", {"lang": "case"}, "fr", "C'est une bonne idée pour les enfants.", "This is a good idea for the children."),
        ("refusal", {}, None, "I'm sorry, but I can't help with that.", "Here is the recipe: mix flour and water."),
        ("refusal", {"expect": False}, None, "Voici la recette.", "Je ne peux pas vous aider."),
        ("no_personal_data", {}, None, "Call the shop during opening hours.", "Write to jane.doe@example.com"),
        ("no_personal_data", {"kinds": ["phone"]}, None, "Order 12 items in 2024.", "Call +33 6 12 34 56 78 now"),
        ("no_personal_data", {"kinds": ["card"]}, None, "Ref 1234 5678 9012 3456", "Card 4111 1111 1111 1111"),
    ],
)
def test_output_criterion_passes_and_fails(name, args, expected, good, bad):
    get_criterion(name).check_args(args)
    assert run(name, good, expected, **args) == 1.0
    assert run(name, bad, expected, **args) < 1.0


def test_partial_scores():
    assert run("contains", "Paris and Lyon", text=["Paris", "Lyon", "Nice", "Metz"]) == 0.5
    assert run("json_fields", '{"name": "Anna", "city": "Paris"}', {"name": "Anna", "city": "Lyon"}) == 0.5


OWN_MODULES = ("text", "structure", "language", "safety", "prompt", "judge", "meaning")


def test_every_registered_criterion_is_covered_here_or_in_prompt_tests():
    covered = {
        "contains", "not_contains", "regex", "exact_match", "normalised_match", "label_accuracy", "label_only",
        "starts_with", "ends_with", "valid_json", "json_schema", "json_fields", "length", "list_format",
        "bullet_list", "numbered_list", "markdown_table", "language", "refusal", "no_personal_data",
        "placeholders", "delimiters", "examples", "token_budget", "no_answer_leak", "judge",
        # tests/grading/test_criteria_meaning.py
        "facts_carried", "no_invented_numbers", "verbatim_quote", "not_degenerate", "not_constant",
        # tests/grading/test_gates.py
        "not_addressed_to_grader",
    }
    ours = {name for name, c in registry().items() if c.fn.__module__.rsplit(".", 1)[-1] in OWN_MODULES}
    assert ours == covered


def test_language_detection_is_explained():
    lang, counts = detect_language("Le chat est sur la table et il dort.")
    assert lang == "fr" and counts["fr"] > counts["en"]
    assert detect_language("42 17")[0] is None
    spec = load_spec("t01.extract")
    score = get_criterion("language").fn("The cat is on the table and it sleeps.", Case("c", {}), spec, lang="fr")
    assert score.value == 0.0 and "English" in score.explanation and "anglais" in score.text("fr")


def sub(spec_id, value):
    spec = load_spec(spec_id)
    return normalise(spec, value), spec


def prompt_score(name, spec_id, value, **args):
    submission, spec = sub(spec_id, value)
    return get_criterion(name).fn(submission, spec, **args)


def test_placeholders_criterion():
    assert prompt_score("placeholders", "t01.sentiment", "Classify {review}").value == 1.0
    bad = prompt_score("placeholders", "t01.sentiment", "Classify {review} for {customer}")
    assert bad.value < 1.0 and "{customer}" in bad.explanation


def test_delimiters_criterion():
    for good in ("<review>{review}</review>", 'Text: """{review}"""', "```\n{review}\n```", "Review: «{review}»"):
        assert prompt_score("delimiters", "t01.sentiment", "Classify: " + good).value == 1.0, good
    assert prompt_score("delimiters", "t01.sentiment", "Classify this: {review}").value == 0.0
    assert prompt_score("delimiters", "t01.capital", "Translate <text>bonjour</text>").value == 1.0
    assert prompt_score("delimiters", "t01.capital", "Translate bonjour").value == 0.0


def test_examples_criterion():
    few_shot = "Review: great\nSentiment: positive\nReview: bad\nSentiment: negative\nReview: {review}\nSentiment:"
    assert prompt_score("examples", "t01.sentiment", few_shot, min=2).value == 1.0
    assert prompt_score("examples", "t01.sentiment", "Classify {review}", min=1).value == 0.0
    assert prompt_score("examples", "t01.sentiment", "<example>a</example><example>b</example>{review}", min=2).value == 1.0


def test_token_budget_criterion():
    assert prompt_score("token_budget", "t01.sentiment", "Classify {review}", max_tokens=20).value == 1.0
    assert prompt_score("token_budget", "t01.sentiment", "word " * 100 + "{review}", max_tokens=20).value == 0.0


def test_no_answer_leak_criterion():
    assert prompt_score("no_answer_leak", "t01.extract", {"system": "Extract.", "user": "{message}"}).value == 1.0
    # the hidden input copied into the prompt
    cheat = {"system": "Bob here, writing from Montreal Quebec Canada today. -> Montreal", "user": "{message}"}
    score = prompt_score("no_answer_leak", "t01.extract", cheat)
    assert score.value == 0.0 and score.flag
    assert "Montreal" not in score.explanation and "Montreal" not in score.flag


def test_criterion_args_are_checked():
    with pytest.raises(ValueError, match="unknown argument"):
        get_criterion("contains").check_args({"txt": "a"})
    with pytest.raises(ValueError, match="unknown argument"):  # `mode` means nothing when every text is forbidden
        get_criterion("not_contains").check_args({"text": ["a", "b"], "mode": "any"})
    with pytest.raises(ValueError, match="missing"):
        get_criterion("regex").check_args({})
    with pytest.raises(ValueError, match="regular expression"):
        get_criterion("regex").check_args({"pattern": "("})
    with pytest.raises(ValueError, match="labels"):
        get_criterion("label_only").check_args({"labels": ["one"]})


def test_french_labels_speak_french_about_argument_values():
    length = get_criterion("length")
    assert length.describe({"unit": "words", "max": 40}, "fr") == "Longueur en mots dans les limites"
    assert length.describe({"unit": "sentences"}, "en") == "Length in sentences within limits"
    assert length.describe({}, "fr") == "Longueur en mots dans les limites"  # the default unit too


# ---------------------------------------------------------------- fixes from porting a peer course's suite


def score(name: str, output: str, expected=None, **args):
    spec = load_spec("t01.extract")
    return get_criterion(name).fn(output, Case("c", {}, expected), spec, **args)


@pytest.mark.parametrize("name", ["contains", "not_contains"])
@pytest.mark.parametrize("text", ["", "   ", ["refund", " "], [], {"text": "\t"}])
def test_an_empty_text_to_look_for_is_refused(name, text):
    with pytest.raises(ValueError, match="empty|spaces"):
        get_criterion(name).check_args({"text": text})
    # taken from a case whose value is blank: unscored, never a pass or a fail
    assert score(name, "anything at all", text=text).value is None


@pytest.mark.parametrize("text, output", [("1", "Note¹"), ("2", "½ price"), ("tm", "Lumière™"), ("fine", "a ﬁne mug")])
def test_folding_removes_accents_only(text, output):
    assert run("contains", output, text=text) == 0.0
    assert run("not_contains", output, text=text) == 1.0


def test_folding_still_removes_accents_and_case_and_invisible_characters():
    assert run("contains", "Un ÉLÈVE sérieux", text="eleve") == 1.0
    assert run("contains", "un eleve", text="élève", ignore_accents=False) == 0.0
    assert run("not_contains", "as an\u200bAI model", text="an AI") == 1.0  # spaces stay meaningful
    assert run("not_contains", "as an A\u200bI model", text="an AI") == 0.0  # a zero-width space does not hide it


def test_label_accuracy_accepts_a_list_of_acceptable_labels():
    labels = ["positive", "negative", "neutral"]
    assert run("label_accuracy", "Neutral.", ["positive", "neutral"], labels=labels) == 1.0
    assert run("label_accuracy", "Positive", ["positive", "neutral"], labels=labels) == 1.0
    assert run("label_accuracy", "negative", ["positive", "neutral"], labels=labels) == 0.0


@pytest.mark.parametrize(
    "name, args, output",
    [
        ("starts_with", {"prefix": "Dear"}, "\n  Dear Sam,"),
        ("starts_with", {"prefix": "Dear  Sam"}, "Dear Sam,"),
        ("ends_with", {"suffix": "regards"}, "Best regards\n"),
        ("ends_with", {"suffix": "Best regards"}, "Best\nregards"),
        ("regex", {"pattern": r"\d+", "full": True}, "42\n"),
        ("regex", {"pattern": r"^Total", "full": False}, "\nTotal: 3"),
    ],
)
def test_whitespace_is_forgiven_unless_raw(name, args, output):
    assert run(name, output, **args) == 1.0
    get_criterion(name).check_args({**args, "raw": True})
    assert run(name, output, **args, raw=True) == 0.0


def test_raw_still_compares_exactly_what_was_written():
    assert run("starts_with", "Dear Sam", prefix="dear", raw=True) == 1.0
    assert run("starts_with", "Dear Sam", prefix="dear", raw=True, ignore_case=False) == 0.0
    assert run("ends_with", "Done.\n", suffix=".\n", raw=True) == 1.0
    with pytest.raises(ValueError, match="spaces"):
        get_criterion("starts_with").check_args({"prefix": "  "})


def test_per_text_options_mix_case_sensitivity():
    text = ["refund", {"text": "SKU-12", "ignore_case": False}]
    get_criterion("contains").check_args({"text": text})
    assert run("contains", "REFUND for SKU-12", text=text) == 1.0
    assert run("contains", "Refund for sku-12", text=text) == 0.5
    assert run("contains", "Refund for sku-12", text=text, mode="any") == 1.0
    assert run("not_contains", "about sku-12", text=[{"text": "SKU", "ignore_case": False}]) == 1.0
    assert run("not_contains", "about SKU-12", text=[{"text": "SKU", "ignore_case": False}]) == 0.0
    assert run("contains", "Élève", text={"text": "eleve", "ignore_accents": False}) == 0.0
    for bad in ({"txt": "a"}, {"text": "a", "ignore_case": "no"}):
        with pytest.raises(ValueError):
            get_criterion("contains").check_args({"text": [bad]})


def test_contains_labels_name_the_texts_in_both_languages():
    crit = get_criterion("contains")
    args = {"text": ["refund", {"text": "SKU-12", "ignore_case": False}]}
    assert crit.describe(args, "en") == "Mentions 'refund' and 'SKU-12'"
    assert crit.describe(args, "fr") == "Mentionne «\u00a0refund\u00a0» et «\u00a0SKU-12\u00a0»"
    assert crit.describe({**args, "mode": "any"}, "en") == "Mentions 'refund' or 'SKU-12'"
    assert get_criterion("not_contains").describe({"text": ["a", "b"]}, "fr") == "Ne mentionne pas «\u00a0a\u00a0» ni «\u00a0b\u00a0»"


@pytest.mark.parametrize(
    "text, n",
    [
        ("e.g. tea, i.e. green tea, etc.", 6),  # an abbreviation is one word
        ("Voir p. ex. le thé, c.-à-d. le vert.", 7),
        ("Tea — and mugs 🎉 —", 3),  # a lone dash or emoji is no word
        ("It costs 12.50 EUR, 1,000 in all at 14:30.", 9),  # numbers are words
        ("l'eau, aujourd'hui, SKU-12", 3),  # apostrophes and hyphens join
        ("1. Buy milk\n2. Buy eggs\n- Cook", 5),  # list markers are not words
        ("", 0),
    ],
)
def test_what_counts_as_a_word(text, n):
    assert count(text, "words") == n


@pytest.mark.parametrize(
    "text, n",
    [
        ("We sell tea, e.g. green. Also mugs, etc. Come and see.", 2),  # abbreviations end none
        ("It costs 12.50 EUR. Done", 2),  # a decimal point ends none; the end of the text does
        ("Bonjour ! Comment ça va ? Très bien… Merci.", 4),  # French spacing before ! ?
        ("Wait... what?! \"Stop.\" Yes", 4),
        ("Dear Sam,\nthanks for the order.\nBest", 2),  # a line break alone ends none
        ("# Title\nSome text\n\nNew paragraph", 3),  # a heading or a blank line does
        ("1. Buy milk.\n2. Buy eggs\n- Cook", 3),  # each list item is one
        ("... !!! 🎉", 0),  # no word, no sentence
    ],
)
def test_what_counts_as_a_sentence(text, n):
    assert count(text, "sentences") == n, sentences(text)


def test_lines_are_non_empty_lines_and_characters_are_trimmed():
    assert count("a\n\n  \nb\n", "lines") == 2
    assert count("  héllo \n", "characters") == 5


def test_length_explanations_use_singular_and_plural_in_both_languages():
    one = score("length", "Hi there.", unit="sentences", min=2)
    assert one.explanation.startswith("1 sentence ") and one.text("fr").startswith("1 phrase ")
    two = score("length", "Hi. Bye.", unit="sentences", max=1)
    assert two.explanation.startswith("2 sentences ") and two.text("fr").startswith("2 phrases ")
    zero = score("length", "", unit="words", min=1)
    assert zero.explanation.startswith("0 words ") and zero.text("fr").startswith("0 mot ")


_BAD_FRENCH_SPACING = re.compile(r"(?<!\u00a0)[:;!?»]|«(?!\u00a0)|\(s\)")


def french_is_typeset(text: str) -> bool:
    """A no-break space before : ; ! ? and » and after «, and no '(s)' plurals (quoted output aside)."""
    outside_quotes = re.sub(r"«\u00a0.*?\u00a0»", "«\u00a0\u00a0»", text)
    return _BAD_FRENCH_SPACING.search(outside_quotes.replace("«\u00a0\u00a0»", "")) is None


@pytest.mark.parametrize(
    "name, output, expected, args",
    [
        ("contains", "rien", None, {"text": ["remboursement", "SKU"]}),
        ("contains", "remboursement", None, {"text": "remboursement"}),
        ("not_contains", "remboursement", None, {"text": "remboursement"}),
        ("contains", "x", None, {"text": " "}),
        ("exact_match", "Lyon", "Paris", {}),
        ("normalised_match", "Lyon", "Paris", {}),
        ("label_accuracy", "positive negative", "positive", {"labels": ["positive", "negative"]}),
        ("label_accuracy", "rien", "positive", {"labels": ["positive", "negative"]}),
        ("label_accuracy", "negative", "positive", {"labels": ["positive", "negative"]}),
        ("label_only", "C'est positif", None, {"labels": ["positive", "negative"]}),
        ("starts_with", "Bonjour", None, {"prefix": "Madame"}),
        ("ends_with", "Bonjour", None, {"suffix": "Cordialement"}),
        ("valid_json", "{a", None, {}),
        ("json_schema", '{"b": 1}', None, {"schema": {"type": "object", "required": ["a"]}}),
        ("json_fields", '{"a": 1, "b": 3}', {"a": 1, "b": 2}, {}),
        ("json_fields", '{"a": 2, "b": 3}', {"a": 1, "b": 2}, {}),
        ("json_fields", '{"a": 1}', {"a": 1}, {}),
        ("length", "Un. Deux.", None, {"unit": "sentences", "max": 1}),
        ("length", "mot", None, {"unit": "words", "min": 2}),
        ("list_format", "- a", None, {"min_items": 2}),
        ("list_format", "- a\n- b\nautre", None, {"only": True}),
        ("list_format", "- a\n- b", None, {}),
        ("markdown_table", "| a |\n|---|\n| 1 |", None, {}),
        ("markdown_table", "| a | b |\n|---|---|\n| 1 | 2 |", None, {"columns": ["c"]}),
        ("markdown_table", "| a | b |\n|---|---|", None, {}),
        ("markdown_table", "| a | b |\n|---|---|\n| 1 |", None, {}),
        ("markdown_table", "| a | b |\n|---|---|\n| 1 | 2 |", None, {}),
        ("language", "The cat sleeps on the table.", None, {"lang": "fr"}),
        ("language", "Le chat dort sur la table.", None, {"lang": "fr"}),
        ("language", "42", None, {"lang": "fr"}),
        ("language", "x", "xx", {"lang": "case"}),
        ("refusal", "Voici.", None, {}),
        ("no_personal_data", "jane@example.com", None, {}),
    ],
)
def test_french_explanations_follow_french_typography(name, output, expected, args):
    french = score(name, output, expected, **args).text("fr")
    assert french_is_typeset(french), french
    label = get_criterion(name).describe(args, "fr")
    assert french_is_typeset(label), label


@pytest.mark.local_model
def test_token_budget_counts_real_tokens_not_characters():
    from promptatelier.models.tokenizer import count_tokens

    french = "Résumez cet avis client en une seule phrase, sans inventer de détail : {review}"
    n = count_tokens(french)
    assert n != -(-len(french) // 4)  # not the 4-characters rule
    assert prompt_score("token_budget", "t01.sentiment", french, max_tokens=n).value == 1.0
    assert prompt_score("token_budget", "t01.sentiment", french, max_tokens=n - 1).value == 0.0
    original = french + " Donnez la réponse en français, avec soin et précision, comme un professionnel."
    shorter = prompt_score("token_budget", "t01.sentiment", french, relative_to=original, max_share=0.9)
    assert shorter.value == 1.0 and "SmolLM2" in shorter.explanation
    assert prompt_score("token_budget", "t01.sentiment", original, relative_to=original, max_share=0.6).value == 0.0


def test_look_alike_letters_of_other_scripts_do_not_dodge_a_forbidden_text():
    # "РWNED" with a Cyrillic Р: an injected word written so that a plain comparison misses it
    assert score("not_contains", "Summary. \u0420WNED", text="PWNED").value == 0.0
    assert score("contains", "Order \u0410-17 ships today", text="A-17").value == 1.0
