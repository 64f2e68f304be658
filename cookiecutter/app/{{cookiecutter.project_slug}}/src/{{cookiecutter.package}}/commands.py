"""The commands the page may call: every ``@command`` defined in this module.

Each argument is checked against its type hint before the function runs; the page gets
``invalid_args`` for anything else, never a traceback.
"""

from __future__ import annotations

from ramparts import InvalidArgs, command


@command
def greet(name: str) -> str:
    """Say hello to ``name`` (1 to 100 characters)."""
    if not 1 <= len(name.strip()) <= 100:
        raise InvalidArgs("name: 1 to 100 characters", data={"path": "name"})
    return f"Hello, {name.strip()}!"
