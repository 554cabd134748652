"""Build step that ships the demo data and the example config inside the wheel.

The metadata lives in pyproject.toml. ``fixtures/`` and ``config/`` stay where the
repository, its tests and its README use them; at build time (not in an editable
install, which reads them from the checkout) they are copied into the package as
``sf_stripe_sync/bundled/``, so ``pip install`` then ``sf-stripe-sync demo`` works from
any directory. ``sf_stripe_sync.bundled_files`` finds them in either place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = (
    "fixtures/demo-org.json",
    "fixtures/demo-stripe-catalog.json",
    "config/sf-stripe-sync.example.toml",
)


class BuildPyWithBundledFiles(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "sf_stripe_sync" / "bundled"
        target.mkdir(parents=True, exist_ok=True)
        root = Path(__file__).resolve().parent
        for relative in BUNDLED:
            shutil.copyfile(root / relative, target / Path(relative).name)


setup(cmdclass={"build_py": BuildPyWithBundledFiles})
