"""`atelier release`: the learners' copy of the course, safe to publish (a Binder repository, a
zip, a shared drive).

It holds the learner notebooks, the kit and its set-up, and the exercise specs stripped of what
learners must not see: hidden cases, reference solutions and naive baselines. Nothing is copied
from solutions/, course/ (whose sources hold the solutions), tests/ or bench/. A learner's
`check` works as in the course repository; `grade` counts the visible cases only and says so.
Before it finishes, the release searches every file it wrote for the hidden cases' inputs and
answers, the reference solutions and nbgrader's solution markers, and fails naming the file if
one is there.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AtelierError
from .sources import LANGUAGES

__all__ = ["ReleaseError", "release", "find_leaks", "texts_of"]

# what learners get besides notebooks/ and graders/: the kit and how to start it
KIT_FILES = ("pyproject.toml", "atelier.toml", ".gitignore", "LICENSE", "scripts/setup", "scripts/start")
KIT_DIRS = ("src", "binder", "scripts/jupyter")  # scripts/jupyter: the learner view scripts/start sets up
# texts shorter than these are too common to call a leak (a label, a number), as in no_answer_leak
MIN_INPUT_CHARS = 24
MIN_ANSWER_CHARS = 20  # and at least two words: "out for delivery" is a phrase, not an answer
MIN_REFERENCE_CHARS = 40
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")
MARKER = ".atelier-release"  # marks a folder as a learners' copy, which --force may replace


class ReleaseError(AtelierError):
    """The learners' copy could not be made, or would reveal what learners must not see."""


@dataclass(frozen=True)
class Secret:
    """Texts that together reveal something: found when at least `need` of them are in a file."""

    texts: tuple[str, ...]
    what: str  # e.g. "a hidden input of m01.review_label" (never the text itself)
    need: int = 1

    def found_in(self, text: str) -> bool:
        return sum(t in text for t in self.texts) >= self.need


def texts_of(value: Any) -> list[str]:
    """Every string inside a spec value (a text, a dict of texts, a list of messages...)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in texts_of(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in texts_of(v)]
    return []


def _secrets(graders: Path) -> list[Secret]:
    """What must not reach learners, from the full specs."""
    from ..grading.spec import list_exercises, load_spec

    secrets: list[Secret] = []
    for exercise in list_exercises(graders):
        spec = load_spec(exercise, graders)
        public = " ".join(texts_of([spec.instructions, spec.hints, [c.vars for c in spec.cases],
                                    [c.expected for c in spec.cases]]))
        # a faulty prompt shares most of its messages with the correct one learners see: only
        # what it adds is secret
        shown = " ".join(texts_of([spec.task.reference if spec.task else None, [m.prompt for m in spec.mutants]]))
        for mutant in spec.hidden_mutants():
            secrets += [Secret((v,), f"a hidden faulty prompt of {spec.id}") for v in texts_of(mutant.prompt)
                        if len(v.strip()) >= MIN_INPUT_CHARS and v.strip() not in shown]
        task_hidden = [c for c in (spec.task.cases if spec.task else ()) if c.hidden]
        for case in (*spec.hidden_cases(), *task_hidden):
            secrets += [Secret((v,), f"a hidden input of {spec.id}") for v in texts_of(case.vars) if len(v.strip()) >= MIN_INPUT_CHARS]
            # an answer the case's own input holds is that input's to guard (a quote to find in it)
            own_input = " ".join(texts_of(case.vars))
            secrets += [Secret((v,), f"a hidden answer of {spec.id}") for v in texts_of(case.expected)
                        if len(v.strip()) >= MIN_ANSWER_CHARS and len(v.split()) >= 2
                        and v.strip() not in public and v.strip() not in own_input]
        # the reference line by line (a notebook may split it over several string literals): most
        # of its long lines together give it away; a line the instructions show (a format
        # example) is not a solution, and one shared phrase alone is a technique, not the answer
        lines = tuple(dict.fromkeys(
            line.strip() for part in texts_of([spec.reference, spec.reference_fr]) for line in part.splitlines()
            if len(line.strip()) >= MIN_REFERENCE_CHARS and line.strip() not in public
        ))
        if lines:
            secrets.append(Secret(lines, f"the reference solution of {spec.id}", need=len(lines) // 2 + 1))
    return secrets


def find_leaks(folder: Path, secrets: list[Secret]) -> list[str]:
    """One line per file of `folder` that holds a secret or a solution marker."""
    import json

    problems: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.suffix == ".ipynb":  # notebooks store strings JSON-escaped: search the cells' text
            text += "\n".join("".join(c.get("source", "")) for c in json.loads(text).get("cells", []))
        rel = path.relative_to(folder)
        for marker in SOLUTION_MARKERS if path.suffix in (".ipynb", ".toml", ".md") else ():  # the kit's code names them
            if marker in text:
                problems.append(f"{rel}: holds nbgrader's marker {marker!r}")
        seen: set[str] = set()
        for secret in secrets:
            if secret.what not in seen and secret.found_in(text):
                seen.add(secret.what)
                problems.append(f"{rel}: holds {secret.what}")
    return problems


def _released_spec(path: Path) -> str:
    """The spec's TOML without hidden cases, reference and baseline, marked released."""
    import tomlkit

    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    for key in ("hidden", "reference", "baseline", "reference_fr", "baseline_fr", "hidden_mutants"):
        doc.pop(key, None)
    if "task" in doc:  # an evaluation exercise's hidden task cases
        doc["task"].pop("hidden", None)
    body = tomlkit.dumps(doc).lstrip("\n")
    header = ("# A learners' copy made by `atelier release`: hidden cases, reference and baseline removed.\n"
              "released = true\n")
    return header + body


def _copy_graders(graders: Path, dest: Path) -> None:
    for path in sorted(graders.rglob("*")):
        rel = path.relative_to(graders)
        if path.is_dir() or "__pycache__" in rel.parts or path.name == "README.md":
            continue
        if path.name.endswith(".hidden.toml"):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".toml":
            target.write_text(_released_spec(path), encoding="utf-8")
        else:  # JSON schemas and other data a spec points to
            shutil.copy2(path, target)


def _readme(languages: tuple[str, ...]) -> str:
    lang = languages[0]
    return "\n".join([
        "# Prompt Atelier: the learners' copy",
        "",
        "A course in prompt engineering in Jupyter notebooks, in English and French. It runs with no API",
        "key and no network on a small embedded model.",
        "",
        "**Start the course** (Python 3.11; the first run installs the kit, about 5 minutes):",
        "",
        "```bash",
        f"scripts/start {lang}",
        "```",
        "",
        f"Then open `notebooks/{lang}/00_welcome.ipynb` if JupyterLab did not. On Binder, open",
        f"`https://mybinder.org/v2/gh/<owner>/<repo>/HEAD?urlpath=lab/tree/notebooks/{lang}/00_welcome.ipynb`.",
        "",
        "Each exercise has a `check(...)` cell: it runs your prompt on the visible cases and explains",
        "every criterion. The `grade(...)` cell in this copy counts the visible cases only; your",
        "instructor grades on hidden cases too.",
        "",
        "---",
        "",
        "# Prompt Atelier : la copie des apprenants",
        "",
        "Un cours de prompt engineering en notebooks Jupyter, en anglais et en français. Il fonctionne",
        "sans clé d'API ni réseau, avec un petit modèle embarqué.",
        "",
        "**Lancer le cours** (Python 3.11 ; le premier lancement installe le kit, environ 5 minutes) :",
        "",
        "```bash",
        "scripts/start fr",
        "```",
        "",
        "Chaque exercice a une cellule `check(...)` : elle exécute votre prompt sur les cas visibles et",
        "explique chaque critère. Dans cette copie, la cellule `grade(...)` ne compte que les cas",
        "visibles ; votre formateur corrige aussi sur des cas cachés.",
        "",
    ])


def release(root: Path, dest: Path, languages: tuple[str, ...] = LANGUAGES, *, force: bool = False) -> list[Path]:
    """Write the learners' copy of the course at `root` into `dest`; the files written."""
    root, dest = root.resolve(), dest.resolve()
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown or not languages:
        raise ReleaseError(f"Unknown language(s): {unknown or 'none given'}.", f"Choose among {', '.join(LANGUAGES)}.")
    if dest == root or root in dest.parents:
        raise ReleaseError(f"{dest} is inside the course repository.", "Release into a folder outside it, e.g. ../course-release.")
    if dest.exists() and any(dest.iterdir()):
        if not force:
            raise ReleaseError(f"{dest} exists and is not empty.", "Choose an empty folder, or pass --force to replace it.")
        if not (dest / MARKER).is_file():
            raise ReleaseError(f"{dest} is not a learners' copy made by `atelier release`, so --force will not delete it.",
                               "Choose an empty folder or a previous release.")
        shutil.rmtree(dest)
    missing = [f"notebooks/{lang}" for lang in languages if not (root / "notebooks" / lang).is_dir()]
    if missing or not (root / "graders").is_dir():
        raise ReleaseError(f"{root} has no {', '.join(missing) or 'graders/'}.", "Run `atelier build` first, from the project root.")
    secrets = _secrets(root / "graders")

    dest.mkdir(parents=True, exist_ok=True)
    for lang in languages:
        shutil.copytree(root / "notebooks" / lang, dest / "notebooks" / lang,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _copy_graders(root / "graders", dest / "graders")
    for name in KIT_FILES:
        if (root / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, dest / name)
    for name in KIT_DIRS:
        if (root / name).is_dir():
            shutil.copytree(root / name, dest / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    (dest / "README.md").write_text(_readme(languages), encoding="utf-8")
    (dest / MARKER).write_text("made by `atelier release`; `atelier release --force` may replace this folder\n", encoding="utf-8")

    leaks = find_leaks(dest, secrets)
    if leaks:
        shutil.rmtree(dest)
        raise ReleaseError(
            "The learners' copy would reveal what learners must not see:\n  " + "\n  ".join(leaks),
            "Remove it from the course sources (or the spec's visible parts), rebuild, and release again.",
        )
    return sorted(p for p in dest.rglob("*") if p.is_file())
