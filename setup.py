"""Build hook only (the metadata is in pyproject.toml): the wheel carries the shipped demo model and the example
videos as package data without a second copy in git.

build_py copies checkpoints/videoexpert-demo/ and assets/ into videoexpert/_bundled/ of the build folder, never
into the source tree; videoexpert.bundled finds them there once installed. An editable install skips the copy:
it reads the checkout's own folders. The sdist carries both folders, so a wheel built from it (`python -m build`)
bundles them too.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
BUNDLED = ["checkpoints/videoexpert-demo", "assets"]   # relative to the repository root, kept as-is under _bundled/


def bundled_files() -> list[Path]:
    missing = [rel for rel in BUNDLED if not (ROOT / rel).is_dir()]
    if missing:
        raise RuntimeError(f"cannot bundle {', '.join(missing)}: not found beside setup.py")
    return [p for rel in BUNDLED for p in sorted((ROOT / rel).rglob("*")) if p.is_file()]


class BuildPyWithBundle(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "videoexpert" / "_bundled"
        shutil.rmtree(target, ignore_errors=True)   # a reused build/ folder must not keep files deleted since
        for src in bundled_files():
            dst = target / src.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


class SdistWithBundle(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, [*files, *(str(p.relative_to(ROOT)) for p in bundled_files())])


setup(cmdclass={"build_py": BuildPyWithBundle, "sdist": SdistWithBundle})
