"""The deployment bundle as ``sam build`` makes it: ``functions/requirements.txt`` for the Lambda platform plus
``functions/cmk_guard``, zipped; its size, its largest parts, and a check that no test or emulation code is in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
PLATFORM = ("--platform", "manylinux2014_aarch64", "--only-binary=:all:", "--python-version", "3.13",
            "--implementation", "cp")
FORBIDDEN = ("cmk_guard_local", "moto", "pytest", "tests", "hypothesis", "selenium")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def findings(root: Path) -> list[str]:
    """Paths in the bundle that are test or emulation code (an empty list is the pass)."""
    bad = [p.name for p in root.iterdir() if p.name.split("-")[0] in FORBIDDEN]
    bad += [str(p.relative_to(root)) for p in (root / "cmk_guard").rglob("*")
            if p.name.startswith(("test_", "conftest")) or p.name in {"tests", "emulator"}]
    return sorted(bad)


def build() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cmk-guard-bundle-") as tmp:
        target = Path(tmp) / "bundle"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PLATFORM,
                   "--target", str(target), "-r", str(ROOT / "functions" / "requirements.txt")]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return {"built": False, "error": done.stderr.strip().splitlines()[-1:] or ["pip failed"]}
        shutil.copytree(ROOT / "functions" / "cmk_guard", target / "cmk_guard",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        archive = Path(tmp) / "bundle.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(target.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(target))
        parts = sorted(((p.name, _size(p)) for p in target.iterdir() if p.is_dir() and not p.name.endswith("-info")),
                       key=lambda item: -item[1])
        return {
            "built": True,
            "how": "pip install " + " ".join(PLATFORM) + " -r functions/requirements.txt, plus functions/cmk_guard",
            "unzippedBytes": _size(target),
            "zippedBytes": archive.stat().st_size,
            "cmkGuardBytes": _size(target / "cmk_guard"),
            "largestParts": [{"name": n, "bytes": b} for n, b in parts[:6]],
            "testOrEmulationCode": findings(target),
        }


if __name__ == "__main__":
    import json

    print(json.dumps(build(), indent=1))
