"""Refuse option values that would generate a broken plugin (runs before any file is written)."""

import re
import sys

RESERVED = {"invoke", "events", "stats", "error", "window"}  # taken by the JS API or the core

problems = []
capability = {{ cookiecutter.capability | tojson }}
distribution = {{ cookiecutter.distribution | tojson }}
package = {{ cookiecutter.package | tojson }}
if not re.fullmatch(r"[a-z][a-z0-9_]*", capability) or capability in RESERVED:
    problems.append(
        f"capability {capability!r}: lower-case letters, digits and '_', from a letter,"
        f" and not one of {', '.join(sorted(RESERVED))}"
    )
if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", distribution):
    problems.append(f"distribution {distribution!r}: a valid package name")
if not re.fullmatch(r"[a-z_][a-z0-9_]*", package):
    problems.append(f"package {package!r}: a Python module name (lower-case, digits, '_')")
if problems:
    print("error: " + "\nerror: ".join(problems), file=sys.stderr)
    sys.exit(1)
