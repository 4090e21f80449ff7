"""Live cohort progress: a JupyterHub service that learners' `check()` reports to and that shows
the course's instructors, live, who is stuck on which exercise and which criterion fails most.

- `payload`: what one check sends (built from an Evaluation; never a key, the prompt only when
  the course shares prompts) and how the service validates it;
- `store`: the checks, kept in SQLite in a folder only the service's user can read;
- `cohort`: the instructor's view model (learner × exercise, who is stuck, failing criteria);
- `app`: the tornado app behind the hub (HubOAuth for the view, hub tokens for posts);
- `service`: settings from the environment the hub gives the service, and the checks that refuse
  a misconfiguration with its fix; `python -m promptatelier.progress` runs it;
- `client`: the learner side, called by `check()`: one short POST, never an exception.
"""

from __future__ import annotations

__all__: list[str] = []
