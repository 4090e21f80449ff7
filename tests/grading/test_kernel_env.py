"""Kernels nbgrader starts get no key (kernel_env.py), and `atelier grade` imports nbgrader
without its slow parts (course_dir.fast_nbgrader_imports). The real `nbgrader autograde` on a
notebook printing its environment is in test_cohort_nbgrader.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from promptatelier.grading.kernel_env import ScrubbedExecute, ScrubbedKernelManager, scrub_kernels, scrubbed_env
from promptatelier.grading.redact import is_secret_name


@pytest.mark.parametrize("name, secret", [
    ("OPENAI_API_KEY", True), ("ANTHROPIC_API_KEY", True), ("ATELIER_COMPATIBLE_API_KEY", True),
    ("ATELIER_JUDGE_KEY", True), ("HF_TOKEN", True), ("AWS_SECRET_ACCESS_KEY", True), ("DB_PASSWORD", True),
    ("ATELIER_GRADING_MODEL", False), ("PATH", False), ("KEYBOARD_LAYOUT", False), ("MONKEY", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_a_scrubbed_environment_keeps_everything_but_credentials() -> None:
    env = {"OPENAI_API_KEY": "sk-canary-0123456789", "COPY": "sk-canary-0123456789", "PATH": "/bin",
           "ATELIER_GRADING_MODEL": "local", "HF_TOKEN": "hf_abcdefghijk"}
    assert scrubbed_env(env) == {"PATH": "/bin", "ATELIER_GRADING_MODEL": "local"}


def test_every_nbgrader_command_that_executes_uses_scrubbed_kernels() -> None:
    from nbgrader.converters import Autograde, GenerateSolution
    from nbgrader.preprocessors import Execute
    from nbgrader.validator import Validator
    from traitlets.config import Config

    c = Config()
    scrub_kernels(c)
    for cls, trait, configured in ((Autograde, "autograde_preprocessors", c.Autograde.autograde_preprocessors),
                                   (GenerateSolution, "preprocessors", c.GenerateSolution.preprocessors),
                                   (Validator, "preprocessors", c.Validator.preprocessors)):
        default = cls.class_traits()[trait].default()
        assert Execute in default and Execute not in configured
        assert configured == [ScrubbedExecute if step is Execute else step for step in default]
    # nbgrader's Execute passes its kernel manager as a constructor default: ours must win
    step = ScrubbedExecute(config=Config({"Execute": {"timeout": 77}}))
    assert step.kernel_manager_class is ScrubbedKernelManager and step.timeout == 77


def test_reading_the_course_config_in_atelier_grade_imports_no_kernel_machinery(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from promptatelier.grading.course_dir import fast_nbgrader_imports\n"
        "fast_nbgrader_imports()\n"
        "from traitlets.config import Config\n"
        "from promptatelier.grading.kernel_env import scrub_kernels\n"
        "c = Config()\n"
        "scrub_kernels(c)\n"
        "print(len(c), 'jupyter_client' in sys.modules, 'nbconvert' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "False", "False"]


def test_grading_imports_nbgrader_without_the_server_extensions() -> None:
    code = (
        "import sys\n"
        "from promptatelier.grading.course_dir import fast_nbgrader_imports\n"
        "fast_nbgrader_imports()\n"
        "import nbgrader.api, nbgrader.coursedir, nbgrader.utils, nbgrader.preprocessors, nbformat\n"
        "from nbgrader.api import Gradebook\n"
        "import nbgrader\n"
        "print(nbgrader.__version__, 'nbgrader.server_extensions' in sys.modules, 'rfc3987_syntax' in sys.modules"
        " and sys.modules['rfc3987_syntax'] is None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0].count(".") >= 2 and out[1:] == ["False", "True"]
