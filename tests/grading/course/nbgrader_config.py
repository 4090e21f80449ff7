# The test course's nbgrader configuration (the course root is the folder holding this file).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "atelier-test"
c.ClearSolutions.code_stub = {"python": "# YOUR PROMPT HERE"}
c.Execute.timeout = 120
# a loaded CI machine can delay a kernel's output by more than nbclient's 4 s default
c.Execute.iopub_timeout = 120
# as course/nbgrader_config.py: kernels nbgrader starts get no API key
from promptatelier.grading.kernel_env import scrub_kernels  # noqa: E402

scrub_kernels(c)
# as course/nbgrader_config.py: generate_feedback on one gradebook connection
from promptatelier.grading.feedback_export import fast_feedback  # noqa: E402

fast_feedback(c)
