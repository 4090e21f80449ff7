"""Grading: exercise specs (data in graders/), criteria, the rubric, the judge, and the calls
a notebook makes. See graders/README.md for the spec format.

    from promptatelier.grading import load_spec, evaluate, check, grade
"""

from __future__ import annotations

from .base import Score
from .criteria import Criterion, criterion, get_criterion, registry
from .notebook import CheckReport, NotGradedError, check, grade
from .result import CaseOutput, CaseVerdict, CriterionResult, Evaluation
from .runner import evaluate, evaluate_many, score_outputs
from .spec import Case, CriterionSpec, ExerciseSpec, ModelSettings, list_exercises, load_spec
from .submission import Submission, normalise

__all__ = [
    "Case",
    "CaseOutput",
    "CaseVerdict",
    "CheckReport",
    "Criterion",
    "CriterionResult",
    "CriterionSpec",
    "Evaluation",
    "ExerciseSpec",
    "ModelSettings",
    "NotGradedError",
    "Score",
    "Submission",
    "check",
    "criterion",
    "evaluate",
    "evaluate_many",
    "get_criterion",
    "grade",
    "list_exercises",
    "load_spec",
    "normalise",
    "registry",
    "score_outputs",
]
