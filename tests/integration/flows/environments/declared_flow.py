"""One step in a @pypi environment declared from the test's variables.

HW_PACKAGES (JSON: name -> version spec), HW_PYTHON (a version, or unset), HW_IMPORT (modules
the step imports, comma-separated; their versions become the ``versions`` artifact), HW_FAIL
(the step fails after importing, so the run can be resumed) and HW_TOP_IMPORT (a module the flow
file imports at its top, as many flow files do).
"""

import importlib
import json
import os
import sys

from headwater import FlowSpec, pypi, step

if os.environ.get("HW_TOP_IMPORT"):
    importlib.import_module(os.environ["HW_TOP_IMPORT"])

PACKAGES = json.loads(os.environ.get("HW_PACKAGES", '{"tabulate": "0.9.0"}'))
PYTHON = os.environ.get("HW_PYTHON") or None


class DeclaredFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.use)

    @pypi(packages=PACKAGES, python=PYTHON)
    @step
    def use(self):
        self.versions = {}
        for name in filter(None, os.environ.get("HW_IMPORT", "").split(",")):
            module = importlib.import_module(name)
            self.versions[name] = getattr(module, "__version__", "?")
        print("VERSIONS", json.dumps(self.versions, sort_keys=True))
        if os.environ.get("HW_FAIL") == "1":
            raise RuntimeError("use fails on purpose")
        self.python = ".".join(map(str, sys.version_info[:3]))
        self.prefix = sys.prefix
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeclaredFlow()
