"""The languages of a module must teach the same course: same exercises, same ids, same points,
same code. Only what a learner reads (prose, strings, comments) may differ."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from .sources import LANGUAGES, Module, SourceError, discover, read_module

__all__ = ["lint", "lint_modules", "code_shape"]


class _Blank(ast.NodeTransformer):
    """Blanks every string, so two cells compare equal when only their strings differ."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant("") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.Constant("")


def code_shape(source: str) -> str:
    """The code of a cell with its strings blanked and comments dropped (raises SyntaxError when unparsable)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    return ast.dump(_Blank().visit(tree), annotate_fields=False)


def _sets_language(module: Module) -> bool:
    for cell in module.notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and node.value.value == module.lang
                    and any(isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant)
                            and t.slice.value == "ATELIER_LANG" for t in node.targets)):
                return True
    return False


def lint_modules(modules: list[Module]) -> list[str]:
    """Every disagreement between the languages, one sentence each (empty: all agree)."""
    problems: list[str] = []
    by_key: dict[str, dict[str, Module]] = defaultdict(dict)
    for module in modules:
        by_key[module.key][module.lang] = module
        if not _sets_language(module):
            problems.append(
                f"{module.path}: no code cell sets os.environ[\"ATELIER_LANG\"] = \"{module.lang}\", "
                "so the kit would not speak the notebook's language; add it to the first code cell."
            )
        for cell in module.notebook.cells:
            if cell.cell_type == "code":
                try:
                    code_shape(cell.source)
                except SyntaxError as exc:
                    problems.append(f"{module.path}: a code cell is not valid Python ({exc.msg}): "
                                    f"{cell.source.splitlines()[0] if cell.source else ''!r}.")
    for key, langs in sorted(by_key.items()):
        missing = [lang for lang in LANGUAGES if lang not in langs]
        if missing:
            have = next(iter(langs.values())).path
            problems.append(f"{have} has no counterpart in {', '.join(missing)}: write course/{missing[0]}/{have.name}.")
            continue
        en, fr = langs["en"], langs["fr"]
        if en.exercises != fr.exercises:
            problems.append(
                f"{key}: the exercises differ between languages (ids, order, answer variable or points): "
                f"en {[(e.id, e.variable, e.points) for e in en.exercises]} vs "
                f"fr {[(e.id, e.variable, e.points) for e in fr.exercises]}."
            )
        problems.extend(_compare_code(en, fr))
    return problems


def _compare_code(en: Module, fr: Module) -> list[str]:
    def shapes(module: Module) -> list[tuple[str, str]]:
        out = []
        for cell in module.notebook.cells:
            if cell.cell_type != "code":
                continue
            try:
                out.append((code_shape(cell.source), cell.source.splitlines()[0] if cell.source else ""))
            except SyntaxError:
                out.append(("<invalid>", cell.source))
        return out

    a, b = shapes(en), shapes(fr)
    if len(a) != len(b):
        return [f"{en.key}: {len(a)} code cells in English, {len(b)} in French; "
                "both languages must run the same code (only strings and comments differ)."]
    return [
        f"{en.key}: code cell {i} differs beyond strings and comments: en {x[1]!r} vs fr {y[1]!r}."
        for i, (x, y) in enumerate(zip(a, b), start=1) if x[0] != y[0]
    ]


def lint(course_dir: Path, graders_dir: Path) -> list[str]:
    """Read every source and return the problems found (a broken source is one problem)."""
    modules: list[Module] = []
    problems: list[str] = []
    for path in discover(course_dir):
        try:
            modules.append(read_module(path, graders_dir))
        except SourceError as exc:
            problems.append(str(exc))
    return problems + lint_modules(modules)
