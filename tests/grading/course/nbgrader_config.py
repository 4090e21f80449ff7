# The test course's nbgrader configuration (the course root is the folder holding this file).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "atelier-test"
c.ClearSolutions.code_stub = {"python": "# YOUR PROMPT HERE"}
c.Execute.timeout = 120
# a loaded CI machine can delay a kernel's output by more than nbclient's 4 s default
c.Execute.iopub_timeout = 120
