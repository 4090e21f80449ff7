"""A learner's submission, normalised: checked against the exercise's kind, stripped of the
notebook's code stub, and rendered into chat requests case by case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import SubmissionError
from ..models import ChatRequest, Message
from .template import fill, find_placeholders


class Case(Protocol):
    """What rendering needs of a case (spec.Case has it); spec.py loads specs with this module's
    rules, so this module does not import it."""

    vars: dict[str, str]


class ExerciseSpec(Protocol):
    """What normalising and rendering need of an exercise spec (spec.ExerciseSpec has it)."""

    kind: str
    variable: str
    max_chars: int
    placeholders: tuple[str, ...]
    user_turn: str
    model: Any
    steps: tuple[Any, ...]

__all__ = ["Submission", "normalise", "find_placeholders", "STUB_LINES", "GRADING_SEED", "render_request",
           "UnreadableSubmission"]

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


class UnreadableSubmission(SubmissionError):
    """The answer holds text that cannot be sent to a model (a lone surrogate): not a prompt the
    learner could have meant, so it goes to manual grading rather than to a 0."""


def _strip_stub(text: str, keep_spaces: bool = False) -> str:
    """The text without the notebook's stub and solution-marker lines; a prefill keeps its spaces
    ("Dear " is not "Dear"), only the line breaks around it go."""
    kept = [line for line in text.splitlines() if line.strip().lower() not in STUB_LINES]
    joined = "\n".join(kept)
    return joined.strip("\n") if keep_spaces else joined.strip()


@dataclass(frozen=True)
class Submission:
    """What the learner wrote, in a canonical form: `parts` holds (role, text) pairs; for the
    `prompt` and `template` kinds a single ("user", text). A `prefill` submission ends with an
    ("assistant", text) part: the start of the model's reply, which the model continues. A
    `system` submission is the system prompt alone; each case's user turn comes from
    `user_turn`, filled with the case's vars."""

    kind: str
    parts: tuple[tuple[str, str], ...]
    user_turn: str = "{user}"
    # an evaluation the learner wrote (eval kinds): the test cases or the rubric, as given
    data: Any = None

    def texts(self) -> list[str]:
        return [text for _, text in self.parts]

    @property
    def full_text(self) -> str:
        return "\n\n".join(self.texts())

    @property
    def prefill(self) -> str:
        """The text the reply must start with ('' unless the kind is prefill)."""
        return self.parts[-1][1] if self.kind == "prefill" else ""

    def placeholders(self) -> list[str]:
        return list(dict.fromkeys(p for t in self.texts() for p in find_placeholders(t)))

    def render(self, case: Case) -> tuple[str | None, list[Message]]:
        """The system prompt (or None) and the messages for one case (for a conversation, with
        every user turn; for a chain, each step's template filled with the case's vars)."""
        system: str | None = None
        messages: list[Message] = []
        if self.kind == "chain":
            return None, [Message("user", fill(text, case.vars)) for _, text in self.parts]
        if self.kind == "conversation":
            return fill(self.parts[0][1], case.vars), [Message("user", t) for t in getattr(case, "turns", ())]
        for role, text in self.parts:
            content = fill(text, case.vars) if self.kind != "prompt" else text
            if role == "system" and not messages and system is None:
                system = content
            else:
                messages.append(Message(role, content))  # type: ignore[arg-type]
        if self.kind == "system":
            messages.append(Message("user", fill(self.user_turn, case.vars)))
        return system, messages

    def to_value(self) -> Any:
        if self.kind in ("prompt", "template", "system", "conversation"):
            return self.parts[0][1]
        if self.kind == "chain":
            return dict(self.parts)
        if self.kind == "system_template":
            return {"system": self.parts[0][1], "user": self.parts[1][1]}
        if self.kind == "prefill":
            return {role if role != "assistant" else "prefill": text for role, text in self.parts}
        return [{"role": r, "content": t} for r, t in self.parts]


def _invalid(problem: str, fix: str, problem_fr: str, fix_fr: str) -> SubmissionError:
    return SubmissionError(problem, fix, fr=(problem_fr, fix_fr))


def _check_encodable(parts: list[tuple[str, str]]) -> None:
    """Text a model cannot receive (lone surrogates, e.g. a '\\ud800' escape) is named, not crashed on."""
    for role, text in parts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = text[exc.start]
            where = f"character {exc.start + 1} of the {role} text"
            raise UnreadableSubmission(
                f"The answer holds a character that is not valid text ({ascii(bad)}, {where}); it cannot be sent to a model.",
                "Remove that character (a '\\ud800'-style escape makes one) and run the cell again.",
                fr=(f"La réponse contient un caractère qui n'est pas du texte valide ({ascii(bad)}, caractère "
                    f"{exc.start + 1} du texte {role}) : impossible de l'envoyer à un modèle.",
                    "Supprimez ce caractère (un échappement du type '\\ud800' en crée un) et exécutez de nouveau la cellule."),
            ) from None


def normalise(spec: ExerciseSpec, value: Any) -> Submission:
    """A Submission from what the notebook variable holds, or SubmissionError saying why not."""
    if isinstance(value, Submission):
        return value
    kind = spec.kind
    if kind in ("eval_cases", "eval_rubric"):
        return _evaluation(spec, value)
    if kind in ("prompt", "template", "system", "conversation"):
        if not isinstance(value, str):
            raise _invalid(
                f"The answer must be a text (a Python string), not {type(value).__name__}.",
                f'Write your prompt between triple quotes: {spec.variable} = """..."""',
                f"La réponse doit être un texte (une chaîne Python), pas {type(value).__name__}.",
                f'Écrivez votre prompt entre triples guillemets : {spec.variable} = """..."""',
            )
        parts = [("system" if kind in ("system", "conversation") else "user", _strip_stub(value))]
    elif kind == "chain":
        names = [step.name for step in spec.steps]
        if not isinstance(value, dict) or set(value) != set(names) or not all(isinstance(v, str) for v in value.values()):
            shape = ", ".join(f'"{n}": """..."""' for n in names)
            raise _invalid(
                f"The answer must be a dict with one template per step of the chain: {', '.join(names)}.",
                f"Write {spec.variable} = {{{shape}}}",
                f"La réponse doit être un dictionnaire avec un gabarit par étape de la chaîne\u00a0: {', '.join(names)}.",
                f"Écrivez {spec.variable} = {{{shape}}}",
            )
        parts = [(name, _strip_stub(value[name])) for name in names]
    elif kind == "prefill":
        if (not isinstance(value, dict) or not {"user", "prefill"} <= set(value) <= {"system", "user", "prefill"}
                or not all(isinstance(v, str) for v in value.values())):
            raise _invalid(
                "The answer must be a dict of texts: 'user' (the request) and 'prefill' (how the reply starts), "
                "and optionally 'system'.",
                f'Write {spec.variable} = {{"user": """... {{placeholder}} ...""", "prefill": "{{"}}',
                "La réponse doit être un dictionnaire de textes : 'user' (la demande) et 'prefill' (le début de la "
                "réponse), et éventuellement 'system'.",
                f'Écrivez {spec.variable} = {{"user": """... {{champ}} ...""", "prefill": "{{"}}',
            )
        parts = [(role, _strip_stub(value[role]) if role != "prefill" else _strip_stub(value[role], keep_spaces=True))
                 for role in ("system", "user", "prefill") if role in value]
        parts = [("assistant" if role == "prefill" else role, text) for role, text in parts]
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
    # the prefill a notebook supplies (such as "{") is not something the learner wrote
    written = [text for role, text in parts if not (kind == "prefill" and role == "assistant")]
    if not any(written):
        raise _invalid(
            "Not answered yet: the answer is empty or still the notebook's placeholder.",
            "Replace the placeholder in the answer cell with your prompt, run the cell, then run the check cell.",
            "Pas encore de réponse : la réponse est vide, ou c'est encore le texte à remplacer du notebook.",
            "Remplacez ce texte par votre prompt dans la cellule de réponse, exécutez-la, puis la cellule de vérification.",
        )
    _check_encodable(parts)
    empty = [role for role, text in parts if not text]
    if empty:
        raise _invalid(f"A part of the answer is empty ({', '.join(empty)}).", "Write every part of the answer.",
                       f"Une partie de la réponse est vide ({', '.join(empty)}).", "Remplissez chaque partie de la réponse.")
    sub = Submission(kind, tuple(parts), getattr(spec, "user_turn", "{user}"))
    length = sum(len(t) for t in sub.texts())
    if length > spec.max_chars:
        raise _invalid(
            f"The answer is too long: {length} characters, the limit is {spec.max_chars}.",
            "Shorten the prompt: say what matters once, clearly.",
            f"La réponse est trop longue : {length} caractères, la limite est {spec.max_chars}.",
            "Raccourcissez le prompt : dites une fois, clairement, ce qui compte.",
        )
    if kind == "chain":
        for step, (_, text) in zip(spec.steps, parts):
            missing = [p for p in step.placeholders if p not in find_placeholders(text)]
            if missing:
                raise _invalid(
                    f"The step '{step.name}' never uses {', '.join('{' + p + '}' for p in missing)}, so it never sees that data.",
                    f"Put each of {', '.join('{' + p + '}' for p in step.placeholders)} in the '{step.name}' template.",
                    f"L'étape « {step.name} » n'utilise jamais {', '.join('{' + p + '}' for p in missing)}\u00a0: elle ne voit pas ces données.",
                    f"Placez {', '.join('{' + p + '}' for p in step.placeholders)} dans le gabarit « {step.name} ».",
                )
    elif kind in ("template", "system_template", "messages", "prefill", "system", "conversation") and spec.placeholders:
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


_EVAL_SHAPES = {
    "eval_cases": ("test cases", 'CASES = [{{"{field}": "...", "expected": ...}}, ...]',
                   "cas de test", 'CASES = [{{"{field}": "...", "expected": ...}}, ...]'),
    "eval_rubric": ("criteria", 'RUBRIC = [{{"use": "contains", "text": "..."}}, {{"use": "length", "max": 40}}]',
                    "critères", 'RUBRIC = [{{"use": "contains", "text": "..."}}, {{"use": "length", "max": 40}}]'),
}


def _evaluation(spec: ExerciseSpec, value: Any) -> Submission:
    """An evaluation the learner wrote (test cases or a rubric), checked for shape here and for
    content where it runs (grading/mutation.py)."""
    import json

    what, shape, what_fr, shape_fr = _EVAL_SHAPES[spec.kind]
    field = (getattr(getattr(spec, "task", None), "placeholders", None) or ("input",))[0]
    shape, shape_fr = shape.format(field=field), shape_fr.format(field=field)
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        # in a notebook the solution region sits in strings between the items, where nbgrader
        # leaves its stub: those strings are the cell's scaffolding, not part of the answer
        value = [v for v in value if not (isinstance(v, str) and not _strip_stub(v))]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _invalid(f"The answer must be a list of {what}, each a dict.", f"Write {shape}",
                       f"La réponse doit être une liste de {what_fr}, chacun un dictionnaire.", f"Écrivez {shape_fr}")
    if not value:
        raise _invalid(
            "Not answered yet: the list is empty.", f"Write your {what} in the list: {shape}",
            "Pas encore de réponse\u00a0: la liste est vide.", f"Écrivez vos {what_fr} dans la liste\u00a0: {shape_fr}")
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    _check_encodable([("answer", text)])
    if len(text) > spec.max_chars:
        raise _invalid(f"The answer is too long: {len(text)} characters, the limit is {spec.max_chars}.",
                       f"Keep the {what} short and to the point.",
                       f"La réponse est trop longue\u00a0: {len(text)} caractères, la limite est {spec.max_chars}.",
                       f"Gardez des {what_fr} courts et précis.")
    return Submission(spec.kind, (("answer", text),), data=value)


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
