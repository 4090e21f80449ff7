from __future__ import annotations

from promptatelier.models.mock import MockBackend
from promptatelier.widgets import Chat


def say(chat: Chat, text: str) -> None:
    chat.message.value = text
    chat.send_button.click()
    assert chat.wait(20)


def test_each_turn_sends_the_whole_conversation(mock: MockBackend) -> None:
    mock.script(lambda r: f"reply {len(r.messages)}")
    chat = Chat("You are a patient tutor.", model="mock")
    say(chat, "My name is Ada.")
    say(chat, "What is my name?")
    request = mock.calls[-1]
    assert request.system == "You are a patient tutor."
    assert [(m.role, m.content) for m in request.messages] == [
        ("user", "My name is Ada."), ("assistant", "reply 1"), ("user", "What is my name?")]
    assert "reply 3" in chat.transcript.value and "My name is Ada." in chat.transcript.value
    assert chat.message.value == ""


def test_context_size_grows_and_reset_forgets(mock: MockBackend) -> None:
    chat = Chat(model="mock")
    assert "empty" in chat.context.value
    say(chat, "one two three")
    first = chat.context_tokens
    assert first == 6 and "6 tokens" in chat.context.value
    say(chat, "four five")
    assert chat.context_tokens > first
    chat.reset_button.click()
    assert chat.messages == [] and chat.transcript.value == "" and "empty" in chat.context.value
    say(chat, "again")
    assert len(mock.calls[-1].messages) == 1


def test_a_failed_turn_gives_the_message_back(mock: MockBackend) -> None:
    mock.script(replies=["hello", MockBackend.outage()])
    chat = Chat(model="mock")
    say(chat, "hi")
    say(chat, "are you there?")
    assert "The model could not be reached." in chat.status.value
    assert chat.message.value == "are you there?"
    assert [m.content for m in chat.messages] == ["hi", "hello"]
    assert "The model could not be reached." in repr(chat)


def test_empty_message_is_refused(mock: MockBackend) -> None:
    chat = Chat(model="mock")
    chat.send_button.click()
    assert "The prompt is empty" in chat.status.value and mock.calls == []


def test_stop_puts_the_message_back(gate) -> None:  # noqa: ANN001
    chat = Chat(model="mock")
    chat.message.value = "slow question"
    chat.send_button.click()
    assert gate.started.wait(5)
    chat.stop_button.click()
    assert chat.messages == [] and chat.message.value == "slow question" and not chat.send_button.disabled
    gate.set()
    assert chat.wait(5)
    assert chat.messages == []


def test_plain_text_transcript_in_french(mock: MockBackend) -> None:
    chat = Chat("Sois bref.", model="mock", lang="fr")
    say(chat, "Bonjour")
    # French typography: a no-break space before the colon
    assert repr(chat).splitlines() == ["Chat (mock)", "Prompt système\u00a0: Sois bref.", "Vous\u00a0: Bonjour",
                                       "Assistant\u00a0: Bonjour"]
    assert chat.send_button.description == "Envoyer"
