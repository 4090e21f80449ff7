"""The course's gateway for real: LiteLLM's proxy started by deploy/gateway/run-gateway, with the
custom auth and token budget of deploy/gateway/atelier_gateway.py, in front of llama.cpp's server
on the embedded model, all on 127.0.0.1; learners reach it through the kit (the official openai
SDK) with the key the hub puts in their environment."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptatelier import complete
from promptatelier.config import reload_settings
from promptatelier.errors import BudgetExceededError, MissingKeyError, ModelUnavailableError
from tests.support import RunningServer, gateway_server
from tests.support.fixtures import llama_openai_server  # noqa: F401

from . import learner_keys, token_ledger

pytestmark = [pytest.mark.server, pytest.mark.local_model, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
USERS = {"bob": {}, "cy": {"rpm": 2}, "dee": {"budget_tokens": 1}, "eve": {}}


class Gateway:
    def __init__(self, server: RunningServer, keys_file: Path, ledger: Path) -> None:
        self.server, self.keys_file, self.ledger = server, keys_file, ledger
        self.keys = learner_keys.load(keys_file).keys_by_user()

    @property
    def model(self) -> str:
        return self.server.model_string


@pytest.fixture(scope="module")
def gateway(llama_openai_server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:  # noqa: F811
    folder = tmp_path_factory.mktemp("gateway")
    keys_file, ledger = folder / "learner-keys.json", folder / "ledger.sqlite"
    learner_keys.issue(keys_file, USERS, {"rpm": 60, "budget_tokens": 100_000})
    data = learner_keys.json.loads(keys_file.read_text(encoding="utf-8"))
    for name, limits in USERS.items():
        data["users"][name].update(limits)
    learner_keys._write(keys_file, data)
    with gateway_server(keys_file, ledger, llama_openai_server) as server:
        yield Gateway(server, keys_file, ledger)


@pytest.fixture
def as_learner(monkeypatch: pytest.MonkeyPatch, gateway: Gateway):  # type: ignore[no-untyped-def]
    """Ask the gateway as `user`, with their key where the hub puts it and no retries."""
    monkeypatch.setenv("ATELIER_MAX_RETRIES", "0")
    monkeypatch.setenv("ATELIER_TIMEOUT", "120")
    reload_settings()

    def ask(user: str, prompt: str = "Say hello.", key: str | None = None):  # type: ignore[no-untyped-def]
        monkeypatch.setenv("ATELIER_COMPATIBLE_API_KEY", key or gateway.keys[user])
        return complete(prompt, model=gateway.model, temperature=0, max_tokens=8, cache=False)

    return ask


def _used(gateway: Gateway, user: str, at_least: int = 1, timeout_s: float = 10.0) -> int:
    """The ledger's count for `user`, once LiteLLM's success callback (run after the reply) wrote it."""
    ledger = token_ledger.TokenLedger(gateway.ledger)
    deadline = time.monotonic() + timeout_s
    while (used := ledger.used(user)) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    ledger.close()
    return used


def test_a_learners_key_gets_the_model_and_their_tokens_are_counted(gateway: Gateway, as_learner) -> None:  # type: ignore[no-untyped-def]
    reply = as_learner("bob")
    assert reply.text.strip() and reply.usage.output_tokens > 0
    assert _used(gateway, "bob") == reply.usage.input_tokens + reply.usage.output_tokens


def test_a_wrong_key_is_refused_with_the_fix(gateway: Gateway, as_learner) -> None:  # type: ignore[no-untyped-def]
    for wrong in ("sk-atelier-not-a-key-0123456789", gateway.keys["bob"][:-1] + "x"):
        with pytest.raises(MissingKeyError) as caught:
            as_learner("bob", key=wrong)
        assert "HTTP 401" in caught.value.problem and "not one of the course's learner keys" in caught.value.problem
        assert "ATELIER_COMPATIBLE_API_KEY" in caught.value.fix


def test_a_learner_over_the_rate_gets_the_rate_message_and_others_are_unaffected(gateway: Gateway, as_learner) -> None:  # type: ignore[no-untyped-def]
    as_learner("cy")
    as_learner("cy", "Say goodbye.")
    with pytest.raises(ModelUnavailableError) as caught:
        as_learner("cy", "Say thanks.")
    assert not isinstance(caught.value, BudgetExceededError)
    assert "Too many requests with your key just now" in caught.value.problem
    assert "Trop de requêtes" in caught.value.localised("fr")[0]
    assert as_learner("eve").text.strip()


def test_a_learner_over_the_budget_gets_the_budget_message_and_others_are_unaffected(gateway: Gateway, as_learner) -> None:  # type: ignore[no-untyped-def]
    as_learner("dee")  # within budget when sent: 0 of 1 token used
    _used(gateway, "dee")
    with pytest.raises(BudgetExceededError) as caught:
        as_learner("dee", "Say goodbye.")
    assert "Your token budget for this course is used up" in caught.value.problem
    assert "budget de jetons pour ce cours est épuisé" in caught.value.localised("fr")[0]
    assert as_learner("eve", "Say goodbye.").text.strip()


def test_a_revoked_key_is_refused_without_a_restart_and_keys_stay_out_of_the_log(gateway: Gateway, as_learner) -> None:  # type: ignore[no-untyped-def]
    as_learner("eve", "Name a colour.")
    learner_keys.revoke(gateway.keys_file, ["eve"])
    with pytest.raises(MissingKeyError):
        as_learner("eve", "Name a fruit.")
    log = gateway.server.log()
    assert "not one of the course's learner keys" in log  # the gateway logged the refusal, without the key
    assert not [user for user, key in gateway.keys.items() if key in log]


def test_only_the_model_routes_are_open_to_learner_keys(gateway: Gateway) -> None:
    import httpx
    import openai

    client = openai.OpenAI(base_url=gateway.server.url, api_key=gateway.keys["bob"], max_retries=0)
    assert [m.id for m in client.models.list().data] == ["smollm2"]
    root = gateway.server.url.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {gateway.keys['bob']}"}
    for method, route in (("POST", "/key/generate"), ("GET", "/user/list"), ("GET", "/config/yaml")):
        answer = httpx.request(method, root + route, headers=headers, json={} if method == "POST" else None, timeout=30)
        assert answer.status_code == 403 and "not open to course keys" in answer.json()["error"]["message"]



def test_a_streamed_reply_through_the_sdk_is_counted_too(gateway: Gateway) -> None:
    """A learner bypassing the kit cannot escape the budget by streaming."""
    import openai

    client = openai.OpenAI(base_url=gateway.server.url, api_key=gateway.keys["bob"], max_retries=0)
    before = _used(gateway, "bob", at_least=0)
    stream = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Count to three."}],
                                            max_tokens=8, temperature=0, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.strip()
    assert _used(gateway, "bob", at_least=before + 1) > before
