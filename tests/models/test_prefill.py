"""A reply started for the model (prefill): the embedded model continues it; the OpenAI API
cannot, and says so before any request is sent."""

from __future__ import annotations

import pytest

from promptatelier import complete
from promptatelier.errors import UnsupportedFeatureError
from promptatelier.models import ChatRequest, Message


def _request(start: str) -> ChatRequest:
    return ChatRequest(messages=(Message("user", "Give the name and city in 'I am Anna from Lyon.' as JSON."),
                                 Message("assistant", start)), max_tokens=30, temperature=0)


@pytest.mark.local_model
def test_the_local_model_continues_the_reply_it_was_given() -> None:
    started = complete(_request('{"name": "'), model="local", cache=False).text
    plain = complete(_request("").with_(messages=_request("").messages[:1]), model="local", cache=False).text
    # the continuation only: it goes on from inside the JSON string it was handed
    assert not started.startswith("{") and "Anna" in started.split('"')[0]
    assert '"city"' in started and started != plain


def test_openai_refuses_a_prefill_with_a_fix() -> None:
    with pytest.raises(UnsupportedFeatureError) as err:
        complete(_request("{"), model="openai-compatible:http://127.0.0.1:9/v1#m", cache=False)
    assert "prefill" in str(err.value) and "local" in err.value.fix


def test_a_request_knows_its_prefill() -> None:
    assert _request("{").prefill == "{"
    assert ChatRequest.from_prompt("hi").prefill is None
