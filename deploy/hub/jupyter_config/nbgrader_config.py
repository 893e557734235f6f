"""nbgrader settings of every user's server on the course's hub (deploy/hub/jupyterhub_config.py puts this folder on
JUPYTER_CONFIG_PATH and sets the variables read here).

Everyone: the course id and nbgrader's exchange, so that the assignment list fetches, submits and fetches
feedback. Instructors (VAECOURSE_ROLE=instructor): also the course's own nbgrader_config.py (its root,
release and solution folders, the grading sandbox, the gradebook's db_url), the file their terminal
commands read too.
"""

import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "vaecourse"  # the course's nbgrader_config.py has the same id
c.Exchange.root = os.environ.get("VAECOURSE_EXCHANGE", "/srv/nbgrader/exchange")

if os.environ.get("VAECOURSE_ROLE") == "instructor" and os.environ.get("VAECOURSE_COURSE_ROOT"):
    load_subconfig(os.path.join(os.environ["VAECOURSE_COURSE_ROOT"], "nbgrader_config.py"))  # noqa: F821
