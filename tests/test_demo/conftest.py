"""The web demo runs the deployment tests' tiny model and graph."""
from ..test_deployment.conftest import deploy_env  # noqa: F401  (fixture)
