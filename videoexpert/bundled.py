"""Where the shipped demo model and the example videos are, in a checkout or inside an installed wheel.

git holds one copy, at the top of the checkout: `checkpoints/videoexpert-demo/` and `assets/`. Building a wheel
copies both into the package as `videoexpert/_bundled/{checkpoints/videoexpert-demo,assets}/` (setup.py), so a
wheel user gets the same files. A checkout's own copy wins, so an editable install never reads a stale bundle.
Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path

DEMO_MODEL_NAME = "videoexpert-demo"
PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent            # the repository root when running from a checkout (else site-packages)
BUNDLED_DIR = PACKAGE_DIR / "_bundled"       # exists only in a built wheel (or its build/ folder)
DEMO_MODEL_PATH = Path("checkpoints") / DEMO_MODEL_NAME
EXAMPLES_PATH = Path("assets")


def _roots() -> list[Path]:
    """The checkout first (only when the package sits in one: site-packages has no pyproject.toml), then the bundle."""
    in_checkout = (CHECKOUT_DIR / "pyproject.toml").is_file()
    return [CHECKOUT_DIR, BUNDLED_DIR] if in_checkout else [BUNDLED_DIR]


def demo_model_dir() -> Path | None:
    """The shipped demo model's folder: the checkout's checkpoints/videoexpert-demo, else the copy bundled in the
    installed package, else None. A folder counts only with its config.json inside."""
    for root in _roots():
        if (root / DEMO_MODEL_PATH / "config.json").is_file():
            return root / DEMO_MODEL_PATH
    return None


def examples_dir() -> Path | None:
    """The example videos' folder (`*.mp4`, each with its ground-truth `*.json`): the checkout's assets/, else the
    copy bundled in the installed package, else None."""
    for root in _roots():
        if any((root / EXAMPLES_PATH).glob("*.mp4")):
            return root / EXAMPLES_PATH
    return None
