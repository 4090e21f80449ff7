"""Every criterion on a passing and a failing output."""

from __future__ import annotations

import pytest

from promptatelier.grading import Case, load_spec
from promptatelier.grading.criteria import get_criterion, registry
from promptatelier.grading.criteria.language import detect_language
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


def test_every_registered_criterion_is_covered_here_or_in_prompt_tests():
    covered = {
        "contains", "not_contains", "regex", "exact_match", "normalised_match", "label_accuracy", "label_only",
        "starts_with", "ends_with", "valid_json", "json_schema", "json_fields", "length", "list_format",
        "bullet_list", "numbered_list", "markdown_table", "language", "refusal", "no_personal_data",
        "placeholders", "delimiters", "examples", "token_budget", "no_answer_leak", "judge",
    }
    assert set(registry()) == covered


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
