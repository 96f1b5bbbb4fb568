"""Tests use only what the README's commands install: every absolute system path the tests (and the
code) name, and every program they run, comes from a package scripts/install-system-deps installs
(or from Debian's essential base system). A file that happens to be on one developer's machine would
otherwise pass CI there and fail on a fresh clone."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "install-system-deps"
# Paths the kernel provides (no package installs them) and scratch space.
KERNEL_OR_SCRATCH = ("/proc/", "/sys/", "/dev/", "/tmp/", "/run/")
_PATH = re.compile(r"""["'](/(?:usr|etc|opt|lib|lib64|bin|sbin|var)/[^"'{}\s]+)["']""")
_PROGRAM = re.compile(r"""(?:(?:run|Popen|check_output|check_call)\(|\bcmd\s*=)\s*\[\s*["']([A-Za-z0-9_.+-]+)["']""")

pytestmark = pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian system: no dpkg to ask")


def script_packages() -> set[str]:
    text = SCRIPT.read_text()
    found = re.search(r"^PACKAGES=\(([^)]*)\)", text, re.MULTILINE)
    assert found, "scripts/install-system-deps has no PACKAGES=(...) list"
    return set(found.group(1).split())


def python_files() -> list[Path]:
    return sorted([*(ROOT / "tests").glob("*.py"), *(ROOT / "bot").rglob("*.py")])


def system_paths() -> dict[str, str]:
    """Absolute system paths named in tests/ and in the code that tests need -> where."""
    found = {}
    for path in sorted((ROOT / "tests").glob("*.py")):
        for match in _PATH.finditer(path.read_text()):
            if not match.group(1).startswith(KERNEL_OR_SCRATCH):
                found.setdefault(match.group(1), path.name)
    return found


def programs() -> dict[str, str]:
    """Programs the tests and the code start with subprocess -> where."""
    found = {}
    for path in python_files():
        for match in _PROGRAM.finditer(path.read_text()):
            if match.group(1) not in ("sys.executable",):
                found.setdefault(match.group(1), str(path.relative_to(ROOT)))
    return found


def owner(path: str) -> str | None:
    """The Debian package that installs `path`, or None (with merged /usr, dpkg knows /bin/bash
    but not /usr/bin/bash; /usr/bin/which is a link through /etc/alternatives: all are tried)."""
    real = str(Path(path).resolve())
    for candidate in dict.fromkeys(p for x in (path, real) for p in (x, re.sub(r"^/usr/(bin|sbin|lib)/", r"/\1/", x))):
        proc = subprocess.run(["dpkg", "-S", candidate], check=False, capture_output=True, text=True)
        if proc.returncode == 0:
            return proc.stdout.split(":")[0].split(",")[0].strip()
    return None


def essential(package: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Essential} ${Priority}", package], check=False, capture_output=True, text=True
    )
    return proc.stdout.split()[:1] == ["yes"] or "required" in proc.stdout.split()


def provided(path: str, packages: set[str]) -> tuple[bool, str]:
    package = owner(path)
    if package is None:
        return False, "no installed package provides it"
    if package in packages or essential(package):
        return True, package
    return False, f"it comes from {package}, which scripts/install-system-deps does not install"


def test_the_scan_finds_what_it_should():
    """The scanners see the paths and programs in use (else the checks below would pass on nothing)."""
    assert "/usr/share/sounds/sf2/TimGM6mb.sf2" in system_paths()
    assert {"abc2midi", "ffmpeg"} <= set(programs())


def test_every_system_path_the_tests_use_is_installed_by_the_script():
    packages = script_packages()
    problems = []
    for path, where in system_paths().items():
        ok, why = provided(path, packages)
        if not ok:
            problems.append(f"{path} (used in tests/{where}): {why}")
    assert not problems, "add the package to PACKAGES in scripts/install-system-deps:\n" + "\n".join(problems)


def test_every_program_the_code_and_tests_run_is_installed_by_the_script():
    packages = script_packages()
    problems = []
    for program, where in programs().items():
        found = shutil.which(program)
        if found is None:
            problems.append(f"{program} (run in {where}): not on PATH")
            continue
        ok, why = provided(found, packages)
        if not ok:
            problems.append(f"{program} (run in {where}): {why}")
    assert not problems, "add the package to PACKAGES in scripts/install-system-deps:\n" + "\n".join(problems)
