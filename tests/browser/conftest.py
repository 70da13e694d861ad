"""Fixtures for the browser tests of report.html: a real audit of the demo organization, rendered by
the real binary, loaded in Debian's headless Chromium through chromedriver.

    make test-browser          # installs chromium + chromium-driver and selenium when missing, runs these
    make bench-html            # the 10,000-source figures of docs/html-report.md

Artifacts (reports, screenshots) go under target/browser/, which git ignores.
"""
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from support import ARTIFACTS, BINARY, CHROMEDRIVER, CHROMIUM, HOSTILE, REPO, chromium, render


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def demo(artifacts):
    """The demo organization (tests/emulator/demo.json) seeded in a fresh emulator and audited for real."""
    if not BINARY.exists():
        pytest.fail(f"{BINARY} not found: run `cargo build` (or set RDSGUARD_BINARY)")
    out = artifacts / "demo"
    shutil.rmtree(out, ignore_errors=True)
    result = subprocess.run(
        [sys.executable, str(REPO / "tests" / "emulator" / "demo.py"), "--binary", str(BINARY), "--out", str(out)],
        capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "report.html").exists(), result.stdout
    return {"dir": out, "html": out / "report.html",
            "findings": json.loads((out / "findings.json").read_text())}


@pytest.fixture(scope="session")
def hostile(demo, artifacts):
    """The demo's findings with attacker-controlled text in a tag value, an account name, an identifier
    and a check message, rendered again with `rdsguard report --from`."""
    findings = json.loads(json.dumps(demo["findings"]))
    source = next(s for s in findings["sources"] if s["checks"] and s["kind"] == "db-instance")
    source["tags"]["team"] = HOSTILE
    source["tags"][HOSTILE] = '" onmouseover="alert(2)'
    source["identifier"] = "<img src=x onerror=alert(3)>"
    source["checks"][0]["message"] = "</td></tr></table>" + HOSTILE
    next(a for a in findings["accounts"] if a["id"] == source["account_id"])["name"] = HOSTILE
    findings["warnings"].append(HOSTILE)
    out = artifacts / "hostile"
    out.mkdir(parents=True, exist_ok=True)
    (out / "findings.json").write_text(json.dumps(findings))
    return {"html": render(out / "findings.json", out), "findings": findings}


@pytest.fixture(scope="session")
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not pathlib.Path(path).exists():
            pytest.fail(f"{path} not found: `apt-get install chromium chromium-driver` (make test-browser does it)")
    driver, profile = chromium()
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def browser_without_js():
    driver, profile = chromium(javascript=False)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
