"""Fail early with a clear message when the interpreter is older than the project needs."""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - runs under whatever python3 the machine has
    sys.exit(f"Shaobing needs Python 3.11 or newer; {sys.executable} is {sys.version.split()[0]}")
