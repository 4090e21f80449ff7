"""One small hierarchy of errors. Every message says what went wrong and how to fix it."""

from __future__ import annotations

__all__ = [
    "AtelierError",
    "ConfigError",
    "MissingKeyError",
    "UnknownModelError",
    "BackendError",
    "ModelUnavailableError",
    "BudgetExceededError",
    "UnsupportedFeatureError",
    "SpecError",
    "SubmissionError",
]


class AtelierError(Exception):
    """Base of every error the kit raises on purpose.

    `problem` says what went wrong, `fix` how to put it right; str() joins them so that a
    traceback, a CLI message and a widget all show the same two sentences. Errors a learner
    meets may carry the French of both (`fr`), which `localised` returns in a French course.
    """

    def __init__(self, problem: str, fix: str = "", *, fr: tuple[str, str] | None = None) -> None:
        self.problem = problem
        self.fix = fix
        self.fr = fr
        super().__init__(f"{problem}\n  Fix: {fix}" if fix else problem)

    def localised(self, lang: str | None) -> tuple[str, str]:
        """(problem, fix) in the language asked for, English when there is no translation."""
        if lang == "fr" and self.fr:
            return self.fr
        return self.problem, self.fix


class ConfigError(AtelierError):
    """The course configuration (atelier.toml, environment, .env) is wrong."""


class MissingKeyError(ConfigError):
    """A hosted backend was chosen but no API key is available for it."""


class UnknownModelError(ConfigError):
    """A model string names no registered backend or is malformed."""


class BackendError(AtelierError):
    """A backend failed to produce a completion for a reason that is not an outage."""


class ModelUnavailableError(BackendError):
    """The model could not be reached (server down, timeouts, rate limits after all retries).

    Grading treats this as 'not graded yet', never as a score of 0.
    """


class BudgetExceededError(ModelUnavailableError):
    """The course's gateway refuses the learner's key: their token budget for the course is used up.

    Never retried (only the instructor can lift it), and like any outage never a score of 0.
    """


class UnsupportedFeatureError(BackendError):
    """The backend cannot do what the request asks (structured output, logprobs...)."""


class SpecError(AtelierError):
    """An instructor's exercise spec is broken: fails loudly."""


class SubmissionError(AtelierError):
    """A learner's submission is unusable: scores 0 with this explanation."""
