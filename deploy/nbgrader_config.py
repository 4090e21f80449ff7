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
import pwd

from nbgrader.exchange.default import ExchangeCollect, ExchangeReleaseAssignment, ExchangeReleaseFeedback

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = os.environ.get("ATELIER_COURSE_ID") or "prompt-atelier"
# one folder shared by every server, created by root with mode 1777 (see course/README.md)
c.Exchange.root = os.environ.get("ATELIER_EXCHANGE") or "/srv/nbgrader/exchange"
# learners fetch into ~/<assignment>/ (one course per hub)
c.Exchange.path_includes_course = False


class _HubCourse:
    """The instructor's commands refuse a course id other than the hub's: learners would see
    nothing of what they release, and collect would find nothing."""

    def start(self):
        hub = os.environ.get("ATELIER_COURSE_ID")
        mine = self.coursedir.course_id
        if hub and mine != hub:
            self.fail(f"This course's id is {mine!r} but the hub's course is {hub!r} (ATELIER_COURSE_ID), so learners "
                      f"would not see it. Fix: set c.CourseDirectory.course_id = {hub!r} in the course's "
                      f"nbgrader_config.py, or ATELIER_COURSE_ID={mine} in the hub's environment.")
        return super().start()


class CourseCheckedRelease(_HubCourse, ExchangeReleaseAssignment):
    """nbgrader's release_assignment, on the hub's course only."""


class CourseCheckedReleaseFeedback(_HubCourse, ExchangeReleaseFeedback):
    """nbgrader's release_feedback, on the hub's course only."""


class OwnerCheckedCollect(_HubCourse, ExchangeCollect):
    """nbgrader's collect, leaving out a submission whose folder belongs to another account than
    the learner it names. Every learner can write into the exchange's inbound folder, so without
    this one learner could hand in work under another's name (nbgrader itself only warns)."""

    def init_src(self):
        super().init_src()
        own, foreign = {}, {}
        for rec in self._all_records():
            owner = self._owner(os.path.join(self.inbound_path, rec["filename"]))
            if owner is None or owner == rec["username"]:
                own.setdefault(rec["username"], []).append(rec)
            else:
                foreign[rec["filename"]] = owner
        for filename, owner in sorted(foreign.items()):
            named = filename.split("+", 1)[0]
            self.log.error(
                "Left out %s: it names %s but its folder belongs to %s, a submission under another learner's "
                "name; %s's own latest submission is collected instead. Look into it with %s, then delete "
                "that folder from %s.", filename, named, owner, named, owner, self.inbound_path)
        if foreign:
            self.src_records = [self._pick(records) for records in own.values()]

    def _all_records(self):
        import glob

        student = self.coursedir.student_id or "*"
        pattern = os.path.join(self.inbound_path, f"{student}+{self.coursedir.assignment_id}+*")
        return [self._path_to_record(path) for path in glob.glob(pattern)]

    @staticmethod
    def _owner(path):
        try:
            return pwd.getpwuid(os.stat(path).st_uid).pw_name
        except KeyError:  # a uid with no name here (a Kubernetes pod): nothing to compare with
            return None

    def _pick(self, records):
        """The submission nbgrader would pick among one learner's own (its latest, or its latest
        before the due date when collecting with --before-duedate)."""
        records = self._sort_by_timestamp(records)
        if self.duedate is not None and self.before_duedate:
            before = [r for r in records if r["timestamp"] <= self.duedate]
            return (before or records)[0]
        return records[0]


c.ExchangeFactory.collect = OwnerCheckedCollect
c.ExchangeFactory.release_assignment = CourseCheckedRelease
c.ExchangeFactory.release_feedback = CourseCheckedReleaseFeedback
