"""Where the non-Python parts live, in an editable checkout and in an installed wheel.

The wheel carries ``templates/`` and ``migrations/`` inside the package (see
pyproject's force-include); a checkout has them beside the package. The package
copy wins when present.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def _first_existing(name: str) -> Path:
    for candidate in (PACKAGE_DIR / name, REPO_DIR / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the {name}/ folder beside or inside the starlevel package")


def templates_dir() -> Path:
    return _first_existing("templates")


def migrations_dir() -> Path:
    return _first_existing("migrations")


def static_dir() -> Path:
    return PACKAGE_DIR / "static"


def locale_dir() -> Path:
    return PACKAGE_DIR / "locale"
