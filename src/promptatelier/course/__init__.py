"""The course build: sources in course/<lang>/ -> nbgrader -> notebooks/ and solutions/.

Nothing here is imported by `import promptatelier`; the CLI (`atelier build`) and the tests use it.
"""

from __future__ import annotations

from .build import BuildError, Layout, build, check, render
from .lint import lint
from .sources import Exercise, Module, SourceError, discover, read_module

__all__ = [
    "BuildError",
    "Exercise",
    "Layout",
    "Module",
    "SourceError",
    "build",
    "check",
    "discover",
    "lint",
    "read_module",
    "render",
]
