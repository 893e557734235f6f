"""Every user's server on the course's hubs: nbgrader's instructor tools for instructors only.

The hub sets VAECOURSE_ROLE (one machine: deploy/hub/jupyterhub_config.py's pre-spawn hook; Kubernetes:
deploy/z2jh/config.yaml, hub.extraConfig, and the image's copy of this file, deploy/z2jh/Dockerfile): students
keep the assignment list (fetch, submit, feedback) and lose the formgrader and the create-assignment toolbar.
"""

import os

c = get_config()  # noqa: F821

if os.environ.get("VAECOURSE_ROLE") != "instructor":
    c.ServerApp.jpserver_extensions = {"nbgrader.server_extensions.formgrader": False,
                                       "nbgrader.server_extensions.course_list": False}
    c.LabApp.page_config_data = {"disabledExtensions": {"@jupyter/nbgrader:formgrader": True,
                                                        "@jupyter/nbgrader:create-assignment": True,
                                                        "@jupyter/nbgrader:course-list": True}}
