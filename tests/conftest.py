import os

pytest_plugins = ["testsupport.plugin", "pytester"]

# Schemathesis and Hypothesis install pytest plugins that cost ~1 s of imports (more under load) at
# every pytest start; pyproject.toml's addopts turns them off for this suite, which drives both
# through their Python API. The pytest runs the tests start themselves (pytester, in folders without
# this pyproject) get the same through the environment.
_OFF = "-p no:schemathesis -p no:hypothesispytest"
if _OFF not in os.environ.get("PYTEST_ADDOPTS", ""):
    os.environ["PYTEST_ADDOPTS"] = f"{os.environ.get('PYTEST_ADDOPTS', '')} {_OFF}".strip()
