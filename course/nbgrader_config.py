"""nbgrader configuration for the Prompt Atelier course (this folder is the course root).

`atelier build` generates source/<assignment>/<notebook>.ipynb from course/<lang>/*.md and runs
`nbgrader generate_assignment` with this file; instructors run the other nbgrader commands here
(see README.md in this folder). One assignment per module and language: m01_en, m01_fr...
"""

import sys

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "prompt-atelier"

# An exercise's answer is a prompt inside a string literal; ClearSolutions puts this line where the
# reference solution was. The grading core (promptatelier.grading.submission.STUB_LINES) reads an
# answer made only of this line as "not answered yet" (0 points, with that explanation).
# French assignments (m01_fr...) get the French line.
_STUBS = {"en": "YOUR PROMPT HERE", "fr": "VOTRE PROMPT ICI"}
_lang = "fr" if any(arg.rstrip("/").endswith("_fr") for arg in sys.argv[1:]) else "en"
c.ClearSolutions.code_stub = {"python": _STUBS[_lang]}

# Each test cell runs the learner's prompt on the visible and hidden cases; on the embedded model
# that takes seconds, on a busy shared endpoint it can take longer than nbgrader's 30 s default.
c.Execute.timeout = 300

# Kernels nbgrader starts (autograde, validate, generate_solution) run learner code: they get no
# API key (the kit's ScrubbedExecute removes *_API_KEY, *_TOKEN, ATELIER_*KEY* and the keys the
# kit reads from .env from their environment). Prefer `atelier grade`, which runs no learner code.
from promptatelier.grading.kernel_env import scrub_kernels  # noqa: E402

scrub_kernels(c)

# `nbgrader generate_feedback` reads every notebook's grades through one gradebook connection
# instead of opening one per notebook (a third of its time per notebook); same feedback.
from promptatelier.grading.feedback_export import fast_feedback  # noqa: E402

fast_feedback(c)
