"""The course on The Littlest JupyterHub: copy to /opt/tljh/config/jupyterhub_config.d/atelier.py.

TLJH keeps its own authenticator and spawner (SystemdSpawner, one unix account `jupyter-<name>`
per user); this adds the course: allowed users, groups, the exchange check, and the grading key
for instructors' servers only. Put the settings of deploy/atelier_hub.py in the hub's environment
with a systemd drop-in (course/README.md, "Running the course on JupyterHub"), and copy
deploy/atelier_hub.py to /opt/tljh/config/atelier/ (not next to this file: TLJH runs every file of
jupyterhub_config.d as configuration).
"""

import sys
from pathlib import Path

sys.path[:0] = ["/opt/tljh/config/atelier", str(Path(__file__).resolve().parent)]
from atelier_hub import CourseHub  # noqa: E402

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

CourseHub.from_environ().configure(c)
