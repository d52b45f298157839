#!/usr/bin/env python3
"""Fetch the pinned CumulusCI wheel once, verify it, unpack it, print where it is.

CumulusCI 4.10.1 ships VCR cassettes (YAML) recorded against real Salesforce orgs; forcebridge's
compatibility tests replay them against the emulator. Only the wheel's contents are needed (none
of its dependencies, none of its code is run), so it is fetched with `pip download --no-deps`.

Usage: python3 compat/fetch_cumulusci.py
Prints one line on stdout: the absolute path of the unpacked wheel (it contains `cumulusci/`).
Everything lives in compat/.cache/ (git-ignored). Safe to run concurrently: a lock file serialises
runs, and the unpacked directory appears atomically (unpacked beside it, then renamed), so a
directory that exists is always complete.

Exit status: 0 on success; 1 with a message on stderr when the download fails or the wheel's
sha256 differs from the pinned one (the wheel is then deleted, never unpacked).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSION = "4.10.1"
WHEEL = f"cumulusci-{VERSION}-py3-none-any.whl"
# The sha256 of the wheel PyPI serves for cumulusci 4.10.1 (observed 2026-11-21). A different
# value means the file is not the one the cassette counts in docs/emulator.md were taken from.
SHA256 = "e1f77096f79b7c283c9b7b979a9814a198d1583f94cff2dda01885e7a57be0db"

CACHE = Path(__file__).resolve().parent / ".cache"
UNPACKED = CACHE / f"cumulusci-{VERSION}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(wheel: Path) -> None:
    """Download the wheel into the cache with pip (no dependencies, binary only)."""
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-q",
        "-d", str(CACHE), f"cumulusci=={VERSION}",
    ]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0 or not wheel.is_file():
        raise SystemExit(
            f"fetch_cumulusci: `{' '.join(cmd)}` failed (exit {result.returncode}); "
            f"check network access to PyPI or an index set in PIP_INDEX_URL\n{result.stderr.strip()}"
        )


def ensure() -> Path:
    """Make sure the verified wheel is unpacked in the cache; return the unpacked directory.

    Raises SystemExit with a message when the download fails or the checksum differs.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".fetch_cumulusci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (UNPACKED / "cumulusci").is_dir():
            wheel = CACHE / WHEEL
            if not wheel.is_file():
                download(wheel)
            actual = sha256_of(wheel)
            if actual != SHA256:
                wheel.unlink(missing_ok=True)
                raise SystemExit(
                    f"fetch_cumulusci: {WHEEL} has sha256 {actual}, expected {SHA256}; "
                    "the file was deleted, run again to download it afresh"
                )
            staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=CACHE))
            try:
                with zipfile.ZipFile(wheel) as z:
                    z.extractall(staging)
                if UNPACKED.exists():
                    shutil.rmtree(UNPACKED)
                os.replace(staging, UNPACKED)
            finally:
                if staging.exists():
                    shutil.rmtree(staging, ignore_errors=True)
    return UNPACKED


def main() -> int:
    print(ensure())
    return 0


if __name__ == "__main__":
    sys.exit(main())
