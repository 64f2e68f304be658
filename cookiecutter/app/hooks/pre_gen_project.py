"""Refuse option values that would generate a broken app (runs before any file is written)."""

import re
import sys

CAPABILITIES = {"fs", "dialog", "store", "clipboard", "notification", "log"}  # the ones this template knows a narrow default for

problems = []
slug = {{ cookiecutter.project_slug | tojson }}
package = {{ cookiecutter.package | tojson }}
identifier = {{ cookiecutter.identifier | tojson }}
caps = {{ cookiecutter.__caps | tojson }}.split()
if not re.fullmatch(r"[a-z][a-z0-9-]*", slug):
    problems.append(f"project_slug {slug!r}: lower-case letters, digits and '-', from a letter")
if not re.fullmatch(r"[a-z_][a-z0-9_]*", package):
    problems.append(f"package {package!r}: a Python module name (lower-case, digits, '_')")
if not re.fullmatch(r"[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+", identifier):
    problems.append(f"identifier {identifier!r}: lower-case reverse-DNS like 'com.example.app'")
for cap in caps:
    if cap not in CAPABILITIES:
        problems.append(
            f"capability {cap!r}: this template sets up {', '.join(sorted(CAPABILITIES))};"
            f" add others afterwards with `ramparts add {cap}`"
        )
if problems:
    print("error: " + "\nerror: ".join(problems), file=sys.stderr)
    sys.exit(1)
