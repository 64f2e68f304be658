"""Keep only the chosen front end (runs in the new project folder, after rendering).

The template holds both, ``ui/`` (vanilla) and ``frontend/`` (Vite + TypeScript), because
cookiecutter renders every file; the one not chosen would be dead code in the new app.
"""

import shutil
from pathlib import Path

UNCHOSEN = {"vanilla": "frontend", "vite-ts": "ui"}

shutil.rmtree(Path.cwd() / UNCHOSEN[{{ cookiecutter.frontend | tojson }}])
