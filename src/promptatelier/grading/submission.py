"""A learner's submission, normalised: checked against the exercise's kind, stripped of the
notebook's code stub, and rendered into chat requests case by case."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import SubmissionError
from ..models import ChatRequest, Message
from .spec import Case, ExerciseSpec

__all__ = ["Submission", "normalise", "find_placeholders", "STUB_LINES", "GRADING_SEED", "render_request"]

GRADING_SEED = 0
# nbgrader's default code stubs and the kit's own: a line made only of one of these is the
# untouched answer cell (or a solution marker), never part of a prompt (compared case-insensitively, trimmed)
STUB_LINES = (
    "# your code here",
    "your code here",
    "# your answer here",
    "your answer here",
    "raise notimplementederror()",
    "raise notimplementederror",
    "your prompt here",
    "# your prompt here",
    "votre prompt ici",
    "# votre prompt ici",
    "votre réponse ici",
    "# votre réponse ici",
    "...",
    # nbgrader's solution markers: in a solution notebook they sit inside the prompt's string
    "### begin solution",
    "### end solution",
)
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def find_placeholders(text: str) -> list[str]:
    """The `{name}` placeholders in a template, in order, without repeats (`{{x}}` is literal)."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(text)))


def fill(template: str, values: dict[str, str]) -> str:
    """Replace the known `{name}` placeholders; anything else (JSON braces...) stays as written."""
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _PLACEHOLDER.sub(sub, template)


def _strip_stub(text: str) -> str:
    kept = [line for line in text.splitlines() if line.strip().lower() not in STUB_LINES]
    return "\n".join(kept).strip()


@dataclass(frozen=True)
class Submission:
    """What the learner wrote, in a canonical form: `parts` holds (role, text) pairs; for the
    `prompt` and `template` kinds a single ("user", text)."""

    kind: str
    parts: tuple[tuple[str, str], ...]

    def texts(self) -> list[str]:
        return [text for _, text in self.parts]

    @property
    def full_text(self) -> str:
        return "\n\n".join(self.texts())

    def placeholders(self) -> list[str]:
        return list(dict.fromkeys(p for t in self.texts() for p in find_placeholders(t)))

    def render(self, case: Case) -> tuple[str | None, list[Message]]:
        """The system prompt (or None) and the messages for one case."""
        system: str | None = None
        messages: list[Message] = []
        for role, text in self.parts:
            content = fill(text, case.vars) if self.kind != "prompt" else text
            if role == "system" and not messages and system is None:
                system = content
            else:
                messages.append(Message(role, content))  # type: ignore[arg-type]
        return system, messages

    def to_value(self) -> Any:
        if self.kind in ("prompt", "template"):
            return self.parts[0][1]
        if self.kind == "system_template":
            return {"system": self.parts[0][1], "user": self.parts[1][1]}
        return [{"role": r, "content": t} for r, t in self.parts]


def _invalid(problem: str, fix: str, problem_fr: str, fix_fr: str) -> SubmissionError:
    return SubmissionError(problem, fix, fr=(problem_fr, fix_fr))


def normalise(spec: ExerciseSpec, value: Any) -> Submission:
    """A Submission from what the notebook variable holds, or SubmissionError saying why not."""
    if isinstance(value, Submission):
        return value
    kind = spec.kind
    if kind in ("prompt", "template"):
        if not isinstance(value, str):
            raise _invalid(
                f"The answer must be a text (a Python string), not {type(value).__name__}.",
                f'Write your prompt between triple quotes: {spec.variable} = """..."""',
                f"La réponse doit être un texte (une chaîne Python), pas {type(value).__name__}.",
                f'Écrivez votre prompt entre triples guillemets : {spec.variable} = """..."""',
            )
        parts = [("user", _strip_stub(value))]
    elif kind == "system_template":
        if not isinstance(value, dict) or set(value) != {"system", "user"} or not all(isinstance(v, str) for v in value.values()):
            raise _invalid(
                "The answer must be a dict with two texts, 'system' and 'user'.",
                f'Write {spec.variable} = {{"system": """...""", "user": """... {{placeholder}} ..."""}}',
                "La réponse doit être un dictionnaire de deux textes, 'system' et 'user'.",
                f'Écrivez {spec.variable} = {{"system": """...""", "user": """... {{champ}} ..."""}}',
            )
        parts = [("system", _strip_stub(value["system"])), ("user", _strip_stub(value["user"]))]
    else:
        if not isinstance(value, (list, tuple)) or not value or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
        ):
            raise _invalid(
                "The answer must be a list of messages, each a dict with 'role' and 'content' texts.",
                f'Write {spec.variable} = [{{"role": "system", "content": "..."}}, {{"role": "user", "content": "..."}}]',
                "La réponse doit être une liste de messages, chacun un dictionnaire avec les textes 'role' et 'content'.",
                f'Écrivez {spec.variable} = [{{"role": "system", "content": "..."}}, {{"role": "user", "content": "..."}}]',
            )
        roles = [m["role"] for m in value]
        bad = [r for r in roles if r not in ("system", "user", "assistant")]
        if bad:
            raise _invalid(f"Unknown message role(s): {bad}.", "Use only 'system', 'user' and 'assistant'.",
                           f"Rôle(s) de message inconnu(s) : {bad}.", "N'utilisez que 'system', 'user' et 'assistant'.")
        if "system" in roles[1:]:
            raise _invalid("A system message may only come first.", "Move the system message to the start of the list.",
                           "Un message system ne peut venir qu'en premier.", "Placez le message system en tête de la liste.")
        if roles[-1] != "user":
            raise _invalid("The last message must be the user's.", "End the list with a {'role': 'user', ...} message.",
                           "Le dernier message doit être celui de l'utilisateur.",
                           "Terminez la liste par un message {'role': 'user', ...}.")
        parts = [(m["role"], _strip_stub(m["content"])) for m in value]
    if not any(text for _, text in parts):
        raise _invalid(
            "Not answered yet: the answer is empty or still the notebook's placeholder.",
            "Replace the placeholder in the answer cell with your prompt, run the cell, then run the check cell.",
            "Pas encore de réponse : la réponse est vide, ou c'est encore le texte à remplacer du notebook.",
            "Remplacez ce texte par votre prompt dans la cellule de réponse, exécutez-la, puis la cellule de vérification.",
        )
    empty = [role for role, text in parts if not text]
    if empty:
        raise _invalid(f"A part of the answer is empty ({', '.join(empty)}).", "Write every part of the answer.",
                       f"Une partie de la réponse est vide ({', '.join(empty)}).", "Remplissez chaque partie de la réponse.")
    sub = Submission(kind, tuple(parts))
    length = sum(len(t) for t in sub.texts())
    if length > spec.max_chars:
        raise _invalid(
            f"The answer is too long: {length} characters, the limit is {spec.max_chars}.",
            "Shorten the prompt: say what matters once, clearly.",
            f"La réponse est trop longue : {length} caractères, la limite est {spec.max_chars}.",
            "Raccourcissez le prompt : dites une fois, clairement, ce qui compte.",
        )
    if kind in ("template", "system_template", "messages") and spec.placeholders:
        used = set(sub.placeholders())
        missing = [p for p in spec.placeholders if p not in used]
        if missing:
            raise _invalid(
                f"The template never uses {', '.join('{' + p + '}' for p in missing)}, so the model never sees the data.",
                "Put each placeholder where the data should go, e.g. <review>{review}</review>.",
                f"Le modèle de prompt n'utilise jamais {', '.join('{' + p + '}' for p in missing)} : le modèle ne voit donc pas les données.",
                "Placez chaque champ là où doivent aller les données, par ex. <avis>{review}</avis>.",
            )
    return sub


def render_request(spec: ExerciseSpec, submission: Submission, case: Case, *, temperature: float | None = None) -> ChatRequest:
    """The chat request one case makes (grading passes temperature=0)."""
    system, messages = submission.render(case)
    m = spec.model
    return ChatRequest(
        messages=tuple(messages),
        system=system,
        temperature=m.temperature if temperature is None else temperature,
        max_tokens=m.max_tokens,
        seed=m.seed if temperature is None else GRADING_SEED,
        stop=m.stop,
        json_schema=m.json_schema,
    )
