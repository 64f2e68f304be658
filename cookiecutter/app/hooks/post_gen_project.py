"""Keep only the chosen front end (runs in the new project folder, after rendering).

The template holds both, ``ui/`` (vanilla) and ``frontend/`` (Vite + TypeScript), because
cookiecutter renders every file; the one not chosen would be dead code in the new app.
The page and its stylesheet are written once, in ``ui/``: a Vite project takes them.
"""

import shutil
from pathlib import Path

here = Path.cwd()
if {{ cookiecutter.frontend | tojson }} == "vite-ts":
    (here / "ui" / "index.html").replace(here / "frontend" / "index.html")
    (here / "ui" / "style.css").replace(here / "frontend" / "src" / "style.css")
    shutil.rmtree(here / "ui")
else:
    shutil.rmtree(here / "frontend")
