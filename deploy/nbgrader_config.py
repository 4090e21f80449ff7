"""nbgrader's exchange for every user of the course hub, learners and instructors alike.

Install it where every user's nbgrader reads it (readable by everyone; it holds no secret):
- one server: /etc/jupyter/nbgrader_config.py
- The Littlest JupyterHub: /opt/tljh/user/etc/jupyter/nbgrader_config.py
- Zero to JupyterHub: /etc/jupyter/nbgrader_config.py in the single-user image
- or any folder named by the hub's ATELIER_HUB_NBGRADER_CONFIG (the hub puts it on every server's
  JUPYTER_CONFIG_PATH).
The hub sets ATELIER_COURSE_ID and ATELIER_EXCHANGE in every server (deploy/atelier_hub.py), so
this file and the hub never disagree. The instructor's course root keeps its own
nbgrader_config.py (course/nbgrader_config.py), whose course id must be the same.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = os.environ.get("ATELIER_COURSE_ID") or "prompt-atelier"
# one folder shared by every server, created by root with mode 1777 (see course/README.md)
c.Exchange.root = os.environ.get("ATELIER_EXCHANGE") or "/srv/nbgrader/exchange"
# learners fetch into ~/<assignment>/ (one course per hub)
c.Exchange.path_includes_course = False
