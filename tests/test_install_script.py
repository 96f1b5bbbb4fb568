"""scripts/install-system-deps is idempotent: once everything is there it changes nothing."""

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "scripts" / "install-system-deps"


def test_second_run_installs_nothing():
    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "all present" in proc.stdout and "installing" not in proc.stdout


def test_without_apt_it_says_what_to_install(tmp_path):
    # a PATH with bash and dpkg-query's absence: every package counts as missing and apt-get is not found
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "grep", "id", "cat"):
        (bindir / tool).symlink_to(subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip())
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60, env={"PATH": str(bindir)})
    assert proc.returncode == 1
    assert "apt-get not found" in proc.stderr and "abcmidi" in proc.stderr
