"""JupyterHub configuration for a Prompt Atelier course on one server (a plain JupyterHub).

    jupyterhub -f deploy/jupyterhub_config.py      # as root, with the settings below in its environment

Choices, and why:
- Authenticator: PAM (JupyterHub's default), so learners and instructors log in with the unix
  accounts the machine already has; only the course's people are allowed in.
- Spawner: LocalProcessSpawner, so every server runs as its user's own unix account and file
  permissions keep learners apart: a learner cannot read another's home, the instructor's course
  (graders/, hidden cases, gradebook) or the hub's secrets file. Homes must be mode 700.
- The grading key is a hub-managed secret: it is read by the hub (ATELIER_HUB_SECRETS, a mode-600
  file, or the hub's own environment) and added to the environment of instructors' servers only.
  JupyterHub passes a server nothing else of its own environment but `c.Spawner.env_keep`.
The course's settings (ATELIER_HUB_INSTRUCTORS, ATELIER_HUB_LEARNERS, ATELIER_EXCHANGE...) are
listed in deploy/atelier_hub.py; a setting that would leak the key or break the exchange stops the
hub with the fix. On The Littlest JupyterHub use deploy/tljh_atelier.py instead (TLJH chooses its
own authenticator and spawner); on Kubernetes, deploy/z2jh-values.yaml.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from atelier_hub import CourseHub  # noqa: E402

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

c.JupyterHub.authenticator_class = "pam"
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.default_url = "/lab"
# a server's first start imports JupyterLab, nbgrader and the kit: give a busy machine time
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180

CourseHub.from_environ().configure(c)
