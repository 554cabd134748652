"""The wheel carries the example config and the demo data, and ``demo`` runs from any
directory; the deploy/ files keep the promises the README makes about them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sf_stripe_sync.cli import main
from tests.e2e.harness import ROOT

pytestmark = pytest.mark.integration

BUNDLED = ("sf_stripe_sync/bundled/demo-org.json",
           "sf_stripe_sync/bundled/demo-stripe-catalog.json",
           "sf_stripe_sync/bundled/sf-stripe-sync.example.toml")


SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", "fixtures", "config")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built as the Dockerfile builds it (from a copy of the sources, so the
    checkout gets no build/ directory), without network or build isolation."""
    tree = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, tree / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), str(tree)],
        check=True, cwd=tree, env={**os.environ, "PIP_NO_INPUT": "1"}, capture_output=True)
    (found,) = out.glob("sf_stripe_sync-*.whl")
    return found


def test_the_wheel_contains_the_example_config_and_the_demo_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert set(BUNDLED) <= names
        for name in BUNDLED:
            original = ROOT / ("config" if name.endswith(".toml") else "fixtures") / Path(
                name).name
            assert archive.read(name) == original.read_bytes(), name
        assert "sf_stripe_sync/py.typed" in names
        assert not any(n.startswith(("tests/", "fixtures/", "sfdx/")) for n in names)


def test_the_demo_runs_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("STRIPE_API_KEY", "SF_SESSION_ID", "SF_STRIPE_SYNC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    code = main(["demo", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1, "three demo orders are built to fail"
    assert (tmp_path / "sf-stripe-sync-demo" / "sandbox-stripe.json").exists()
    assert "create" in out


def test_the_image_runs_as_a_non_root_user_from_the_wheel_with_sync_by_default() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert "-slim" in dockerfile.splitlines()[next(
        i for i, line in enumerate(dockerfile.splitlines()) if line.startswith("FROM"))]
    assert "pip wheel" in dockerfile and "pip install --no-cache-dir /wheels/*.whl" in dockerfile
    user = [line for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("root", "0"))
    assert 'ENTRYPOINT ["sf-stripe-sync"]' in dockerfile
    assert 'CMD ["sync"' in dockerfile


def test_the_systemd_timer_and_the_kubernetes_manifests_run_the_commands() -> None:
    deploy = ROOT / "deploy"
    assert "OnCalendar=*:0/5" in (deploy / "systemd" / "sf-stripe-sync.timer").read_text()
    service = (deploy / "systemd" / "sf-stripe-sync.service").read_text()
    assert "Type=oneshot" in service and " sync " in service
    cron = (deploy / "kubernetes" / "cronjob-sync.yaml").read_text()
    serve = (deploy / "kubernetes" / "deployment-serve.yaml").read_text()
    assert "kind: CronJob" in cron and '"sync"' in cron
    assert "kind: Deployment" in serve and '"serve"' in serve and "/readyz" in serve


def test_the_kubernetes_manifests_are_well_formed() -> None:
    yaml = pytest.importorskip("yaml")
    deploy = ROOT / "deploy"
    for path in (deploy / "kubernetes").glob("*.yaml"):
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert all("kind" in d and "apiVersion" in d for d in documents), path
