"""Hooks the dialog capability adds: answer dialogs without showing them."""

from __future__ import annotations

from typing import Any

from ramparts import hookspec


@hookspec(firstresult=True)
def ramparts_dialog_answer(window: str, kind: str, options: dict[str, Any]) -> Any:
    """Answer a dialog instead of showing it (tests, kiosk apps, scripted runs).

    :param window: the label of the window that asked.
    :param kind: ``open``, ``save``, ``message``, ``ask`` or ``confirm``.
    :param options: the call's arguments (``title``, ``multiple``, ``directory``, ...).
    :return: ``None`` to show the real dialog; otherwise the answer as the page would
        get it: a list of paths for ``open``, a path for ``save``, a bool for ``ask`` and
        ``confirm``, anything for ``message``. Use :data:`CANCEL` to answer "cancelled".
        Paths answered this way are granted exactly like picked ones.
    """
