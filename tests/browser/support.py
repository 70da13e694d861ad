"""Shared by the browser tests: where things are, how to render a report and start Chromium."""
import os
import pathlib
import subprocess
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPO = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "target" / "browser"
# The dev build, wherever cargo puts it (CARGO_TARGET_DIR), unless RDSGUARD_BINARY says otherwise.
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
BINARY = pathlib.Path(os.environ.get("RDSGUARD_BINARY") or TARGET / "debug" / "rdsguard")
CHROMIUM = os.environ.get("RDSGUARD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RDSGUARD_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
]

HOSTILE = "<script>alert(1)</script>"


def render(findings: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """`rdsguard report --from FINDINGS --out OUT`; returns OUT/report.html."""
    subprocess.run([str(BINARY), "-q", "report", "--from", str(findings), "--out", str(out)], check=True)
    return out / "report.html"


def chromium(javascript=True):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="rdsguard-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(120)
    return driver, profile
