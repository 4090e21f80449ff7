"""What a learner reads when the course's gateway refuses them, through the real openai SDK against
a scripted server answering as LiteLLM's proxy does: a used-up budget (never retried), a rate
refusal (retried, then explained), a refused key; each in English and French, and none a 0."""

from __future__ import annotations

import pytest

from promptatelier import complete
from promptatelier.config import reload_settings, set_key
from promptatelier.errors import BudgetExceededError, MissingKeyError, ModelUnavailableError
from promptatelier.grading import evaluate
from promptatelier.models import get_backend
from tests.grading.conftest import mock_backend, test_graders  # noqa: F401
from tests.support.fixtures import scripted_server  # noqa: F401
from tests.support.scripted import ScriptedServer, error, reply

LEARNER_KEY = "sk-atelier-learner-0123456789abcdef"
# LiteLLM's answers (deploy/gateway/atelier_gateway.py and LiteLLM's own limiter)
BUDGET = error(422, "The token budget of bob for this course is used up (301 of 300 tokens).", kind="budget_exceeded")
RATE = "Rate limit exceeded for api_key: 4fe668f6. Limit type: requests. Current limit: 3, Remaining: 0."


@pytest.fixture
def gateway(scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    """The scripted server as the course's gateway, the learner's key in the environment as the hub
    sets it, and 2 retries."""
    monkeypatch.setenv("ATELIER_COMPATIBLE_API_KEY", LEARNER_KEY)
    monkeypatch.setenv("ATELIER_MAX_RETRIES", "2")
    monkeypatch.setenv("ATELIER_TIMEOUT", "10")
    reload_settings()
    return scripted_server


def model_of(server: ScriptedServer) -> str:
    return f"openai-compatible:{server.url}/v1#smollm2"


@pytest.mark.server
def test_the_learners_key_comes_from_the_environment_the_hub_sets(gateway: ScriptedServer) -> None:
    assert complete("hello", model=model_of(gateway), cache=False).text == "echo: hello"
    assert gateway.calls("/chat/completions")[0].headers["authorization"] == f"Bearer {LEARNER_KEY}"


@pytest.mark.server
def test_a_used_up_budget_is_explained_plainly_and_never_retried(gateway: ScriptedServer) -> None:
    gateway.queue(BUDGET, reply("never sent"))
    with pytest.raises(BudgetExceededError) as caught:
        complete("hello", model=model_of(gateway), cache=False)
    assert len(gateway.calls("/chat/completions")) == 1  # no retry: only the instructor can lift it
    err = caught.value
    assert isinstance(err, ModelUnavailableError)  # an outage for grading: never a 0
    assert "Your token budget for this course is used up" in err.problem and "ask your instructor" in err.fix.lower()
    problem_fr, fix_fr = err.localised("fr")
    assert "budget de jetons pour ce cours est épuisé" in problem_fr and "enseignant" in fix_fr
    assert LEARNER_KEY not in str(err) + problem_fr + fix_fr


@pytest.mark.server
def test_a_rate_refusal_is_retried_then_explained(gateway: ScriptedServer) -> None:
    gateway.queue(error(429, RATE, retry_after=0.05), reply("after one retry"))
    assert complete("hello", model=model_of(gateway), cache=False).text == "after one retry"
    gateway.reset()
    gateway.queue(*[error(429, RATE, retry_after=0.05)] * 3)
    with pytest.raises(ModelUnavailableError) as caught:
        complete("hello again", model=model_of(gateway), cache=False)
    assert len(gateway.calls("/chat/completions")) == 3  # the first try and 2 retries
    err = caught.value
    assert not isinstance(err, BudgetExceededError)
    assert "Too many requests with your key just now" in err.problem and "2 retries taken" in err.problem
    assert err.fix == "Wait a minute, then run it again."
    problem_fr, fix_fr = err.localised("fr")
    assert "Trop de requêtes avec votre clé" in problem_fr and "2 nouvelles tentatives faites" in problem_fr
    assert fix_fr.startswith("Attendez une minute")


@pytest.mark.server
def test_a_refused_key_says_where_the_key_comes_from(gateway: ScriptedServer) -> None:
    gateway.queue(error(401, "This key is not one of the course's learner keys."))
    with pytest.raises(MissingKeyError) as caught:
        complete("hello", model=model_of(gateway), cache=False)
    err = caught.value
    assert "refused the API key (HTTP 401)" in err.problem and "not one of the course's learner keys" in err.problem
    assert "ATELIER_COMPATIBLE_API_KEY" in err.fix and "hub's control panel" in err.fix
    assert "panneau de contrôle du hub" in err.localised("fr")[1]
    assert LEARNER_KEY not in str(err)


@pytest.mark.server
def test_hosted_openai_keeps_its_own_rate_message(scripted_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", scripted_server.url + "/v1")
    monkeypatch.setenv("ATELIER_MAX_RETRIES", "0")
    reload_settings()
    set_key("openai", "sk-test-0123456789abcdef")
    scripted_server.queue(error(429, "quota"))
    with pytest.raises(ModelUnavailableError) as caught:
        complete("hello", model="openai:gpt-4.1-mini", cache=False)
    assert "rate-limited" in caught.value.problem and "account's quota" in caught.value.fix


def _refusals() -> list[Exception]:
    backend = get_backend("openai-compatible:http://127.0.0.1:9/v1#smollm2")
    return [backend._budget_exceeded(0), backend._rate_limited("", "", 0)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("which", [0, 1], ids=["budget", "rate"])
def test_a_refusal_while_grading_is_not_graded_and_explained_in_french(test_graders, mock_backend, which: int) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    refusal = _refusals()[which]
    mock_backend.script(lambda request: refusal)
    graded = evaluate("t01.sentiment", "Classify <review>{review}</review>.", model="mock")
    assert graded.status == "not_graded" and graded.points is None
    en, fr = graded.feedback_text("en"), graded.feedback_text("fr")
    assert "not a score of 0" in en and "pas une note de 0" in fr
    expected_fr = ("budget de jetons pour ce cours est épuisé", "Trop de requêtes avec votre clé")[which]
    learner_part = fr.split("À revoir par le formateur")[0]  # the review flag is for the instructor
    assert expected_fr in learner_part and "Too many" not in learner_part and "used up" not in learner_part
    practice = evaluate("t01.sentiment", "Classify <review>{review}</review>.", model="mock", cases="visible")
    assert practice.status == "not_graded" and expected_fr in practice.feedback_text("fr")
