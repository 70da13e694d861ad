"""report.html in a real browser (Debian's headless Chromium): every source row renders, filtering and
sorting work, hostile text stays text, the page works with JavaScript off, printing expands the
evidence, and the console stays free of errors (a blocked inline script or resource would log one)."""
import collections
import json
import os
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from support import ARTIFACTS, HOSTILE, render

STATUSES = ["ERROR", "NON_COMPLIANT", "COMPLIANT", "EXEMPT", "UNGOVERNED"]


def load(driver, path):
    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def visible_rows(driver):
    """Identifiers of the source rows the reader sees, in page order (hidden tbodies excluded)."""
    return driver.execute_script(
        "return Array.prototype.filter.call(document.querySelectorAll('#sources-table tbody.src'),"
        " function (b) { return b.checkVisibility(); })"
        ".map(function (b) { return b.rows[0].cells[2].firstChild.textContent.trim(); });")


def shown_text(driver):
    return driver.find_element(By.ID, "shown").text


def set_filters(driver, status="*", account="*", rule="*", text=""):
    """Sets the filters as a reader does: a select applies when it changes; the text box applies
    when the reader pauses typing, or at once on Enter (used here to keep these tests quick)."""
    form = driver.find_element(By.ID, "filters")
    Select(form.find_element(By.NAME, "status")).select_by_value(status)
    Select(form.find_element(By.NAME, "account")).select_by_value(account)
    Select(form.find_element(By.NAME, "rule")).select_by_value(rule)
    box = form.find_element(By.NAME, "q")
    if box.get_attribute("value") or text:
        box.clear()
        box.send_keys(text + Keys.ENTER)


@pytest.fixture
def page(browser, demo):
    load(browser, demo["html"])
    browser.get_log("browser")  # start each test with an empty console
    return browser


def test_every_source_row_renders_with_no_console_error(browser, demo):
    load(browser, demo["html"])
    sources = demo["findings"]["sources"]
    assert len(sources) >= 10, "the demo has a dozen databases"
    assert sorted(visible_rows(browser)) == sorted(s["identifier"] for s in sources)
    assert shown_text(browser) == f"Showing all {len(sources)} sources."
    assert browser.find_element(By.ID, "filters").is_displayed(), "JS shows the filters"
    browser.save_screenshot(str(ARTIFACTS / "report.png"))
    assert console_errors(browser) == []


def test_filters_by_status_account_rule_and_text(page, demo):
    sources = demo["findings"]["sources"]
    by_status = collections.Counter(s["status"] for s in sources)
    for status in STATUSES:
        set_filters(page, status=status)
        assert len(visible_rows(page)) == by_status[status], status
    assert by_status["NON_COMPLIANT"] > 0

    account = sources[0]["account_id"]
    set_filters(page, account=account)
    assert sorted(visible_rows(page)) == sorted(s["identifier"] for s in sources if s["account_id"] == account)

    set_filters(page, rule="")
    assert sorted(visible_rows(page)) == sorted(s["identifier"] for s in sources if s["rule"] is None)
    set_filters(page, rule="production", status="COMPLIANT")
    expected = [s for s in sources if s["rule"] == "production" and s["status"] == "COMPLIANT"]
    assert len(visible_rows(page)) == len(expected) > 0
    assert shown_text(page) == f"Showing {len(expected)} of {len(sources)} sources (filtered)."

    # Free text matches identifiers, and tags and ARNs from the evidence.
    set_filters(page, text="ORDERS")
    assert sorted(visible_rows(page)) == ["orders", "orders"], "identifiers repeat across accounts"
    set_filters(page, text="team")  # a tag key every tagged database has
    assert len(visible_rows(page)) == sum(1 for s in sources if "team" in s["tags"])
    set_filters(page, text="no such database")
    assert visible_rows(page) == []

    # Typing alone filters too, once the reader pauses.
    set_filters(page)
    page.find_element(By.NAME, "q").send_keys("payments-d")
    WebDriverWait(page, 5).until(lambda d: visible_rows(d) == ["payments-db"])

    page.find_element(By.CSS_SELECTOR, "#filters button[type=reset]").click()
    WebDriverWait(page, 5).until(lambda d: len(visible_rows(d)) == len(sources))
    assert console_errors(page) == []


def test_sorting_by_age_and_identifier(page, demo):
    sources = demo["findings"]["sources"]
    age = {}
    for s in sources:
        replica = s["latest_replica"]
        age.setdefault(s["identifier"], []).append(replica["age_seconds"] if replica else float("inf"))

    def header(label):
        return page.find_element(By.CSS_SELECTOR, f'#sources-table th[data-label="{label}"]')

    header("Newest replica age").find_element(By.TAG_NAME, "button").click()
    assert header("Newest replica age").get_attribute("aria-sort") == "ascending"
    ages = page.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#sources-table tbody.src'),"
        " function (b) { return Number(b.rows[0].cells[6].getAttribute('data-s')); });")
    assert ages == sorted(ages) and ages[0] < ages[-1]
    header("Newest replica age").find_element(By.TAG_NAME, "button").click()
    assert header("Newest replica age").get_attribute("aria-sort") == "descending"
    ages = page.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#sources-table tbody.src'),"
        " function (b) { return Number(b.rows[0].cells[6].getAttribute('data-s')); });")
    assert ages == sorted(ages, reverse=True)

    header("Identifier").find_element(By.TAG_NAME, "button").click()
    assert visible_rows(page) == sorted(s["identifier"] for s in sources)
    assert header("Newest replica age").get_attribute("aria-sort") is None

    # Sorting keeps each evidence row with its source row, and filters still apply after a sort.
    set_filters(page, status="NON_COMPLIANT")
    rows = visible_rows(page)
    assert rows == sorted(rows) and len(rows) == sum(1 for s in sources if s["status"] == "NON_COMPLIANT")
    first = page.find_element(By.CSS_SELECTOR, "#sources-table tbody.src:not([hidden])")
    assert first.find_element(By.CSS_SELECTOR, "tr.ev summary").text.startswith(f"Evidence for {rows[0]}")
    assert console_errors(page) == []


def test_evidence_opens_and_printing_expands_it(page, demo):
    evidence = page.find_elements(By.CSS_SELECTOR, "tr.ev details")
    assert len(evidence) == len(demo["findings"]["sources"])
    assert not evidence[0].find_element(By.CSS_SELECTOR, ".evidence").is_displayed()
    evidence[0].find_element(By.TAG_NAME, "summary").click()
    assert evidence[0].find_element(By.CSS_SELECTOR, ".evidence").is_displayed()
    assert "Newest replica in the vault" in evidence[0].text
    # As printed (auditors print to PDF): every evidence block is laid out, the filters are not.
    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        heights = page.execute_script(
            "return Array.prototype.map.call(document.querySelectorAll('.evidence'),"
            " function (e) { return e.getBoundingClientRect().height; });")
        assert all(h > 0 for h in heights), heights
        assert not page.find_element(By.ID, "filters").is_displayed()
    finally:
        page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_hostile_text_renders_as_text_and_runs_nothing(browser, hostile):
    load(browser, hostile["html"])
    html = hostile["html"].read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    body = browser.find_element(By.TAG_NAME, "body").text
    assert HOSTILE in body, "the account name and the warning are shown as text"
    assert browser.execute_script("return document.scripts.length") == 1
    assert browser.execute_script("return document.images.length") == 0
    identifiers = visible_rows(browser)
    assert "<img src=x onerror=alert(3)>" in identifiers
    # Open the hostile source's evidence: its tags and message are text too.
    row = next(b for b in browser.find_elements(By.CSS_SELECTOR, "#sources-table tbody.src")
               if b.find_element(By.CSS_SELECTOR, "th[scope=row]").text == "<img src=x onerror=alert(3)>")
    row.find_element(By.CSS_SELECTOR, "summary").click()
    evidence = row.find_element(By.CSS_SELECTOR, ".evidence").text
    assert HOSTILE in evidence and '" onmouseover="alert(2)' in evidence
    assert len(row.find_elements(By.CSS_SELECTOR, ".evidence table")) == 1
    assert console_errors(browser) == [], "nothing was blocked: nothing tried to run"


def test_last_drill_in_the_evidence_and_the_drill_coverage(browser, demo, artifacts):
    """The demo's findings with one source drilled (`sources[].last_drill`, a restore-tested check),
    rendered again: its evidence ends with the last drill, the summary counts the coverage."""
    findings = json.loads(json.dumps(demo["findings"]))
    source = next(s for s in findings["sources"] if s["checks"] and s["kind"] == "db-instance")
    source["checks"].append({"id": "restore-tested", "status": "FAIL", "severity": "high",
                             "observed": "last drill 1d ago, 3h2m", "expected": "<= 30d, <= 2h",
                             "message": "took longer than drill.rto (2h)"})
    source["last_drill"] = {"replica_arn": "arn:aws:rds:us-east-1:222222222222:snapshot:drilled",
                            "at": "2026-11-23T06:00:00Z", "age_seconds": 86400, "result": "passed",
                            "restore_seconds": 10920, "rto_seconds": 7200, "every_seconds": 2592000}
    out = artifacts / "drilled"
    out.mkdir(parents=True, exist_ok=True)
    (out / "findings.json").write_text(json.dumps(findings))
    load(browser, render(out / "findings.json", out))
    browser.get_log("browser")
    coverage = browser.find_element(By.ID, "drills")
    assert coverage.is_displayed()
    assert "1 governed database(s) with a drill rule, 1 drilled within drill.every" in coverage.text
    assert "over the RTO 1 100%" in coverage.text
    row = next(b for b in browser.find_elements(By.CSS_SELECTOR, "#sources-table tbody.src")
               if b.find_element(By.CSS_SELECTOR, "th[scope=row]").text.split()[0] == source["identifier"])
    drill = row.find_element(By.CSS_SELECTOR, "li.drill")
    assert not drill.is_displayed()
    row.find_element(By.CSS_SELECTOR, "summary").click()
    assert drill.is_displayed()
    assert drill.text.startswith("Last restore drill: 2026-11-23T06:00:00Z (1d ago; drill.every 30d)")
    assert "restore took 3h2m against an RTO of 2h (over the RTO) over the RTO" in drill.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "li.drill")) == 1
    assert console_errors(browser) == []


def test_readable_with_javascript_off(browser_without_js, demo):
    load(browser_without_js, demo["html"])
    assert browser_without_js.execute_script("return 1") == 1  # WebDriver still runs its own scripts
    assert len(browser_without_js.find_elements(By.CSS_SELECTOR, "#sources-table tbody.src")) == len(
        demo["findings"]["sources"])
    assert all(b.is_displayed() for b in browser_without_js.find_elements(By.CSS_SELECTOR, "tbody.src"))
    assert not browser_without_js.find_element(By.ID, "filters").is_displayed(), "no dead controls"
    assert "Showing all" in browser_without_js.find_element(By.ID, "shown").text


@pytest.mark.skipif(not os.environ.get("RDSGUARD_SCALE"), reason="set RDSGUARD_SCALE=10000 (make bench-html)")
def test_scale(browser, demo, artifacts):
    """The figures in docs/html-report.md: a report of RDSGUARD_SCALE sources (the demo's sources
    repeated under new identifiers), its size, the time to render it and to load, filter and sort it."""
    n = int(os.environ["RDSGUARD_SCALE"])
    base = demo["findings"]
    findings = json.loads(json.dumps(base))
    findings["sources"] = []
    for i in range(n):
        source = json.loads(json.dumps(base["sources"][i % len(base["sources"])]))
        source["identifier"] = f"{source['identifier']}-{i:05d}"
        source["arn"] = f"{source['arn']}-{i:05d}"
        findings["sources"].append(source)
    for key in findings["summary"]:
        if key != "sources":
            findings["summary"][key] = sum(1 for s in findings["sources"] if s["status"].lower() == key)
    findings["summary"]["sources"] = n
    out = artifacts / f"scale-{n}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "findings.json").write_text(json.dumps(findings))

    started = time.monotonic()
    html = render(out / "findings.json", out)
    render_s = time.monotonic() - started

    started = time.monotonic()
    load(browser, html)
    load_s = time.monotonic() - started
    timing = browser.execute_script(
        "var n = performance.getEntriesByType('navigation')[0];"
        "var p = performance.getEntriesByType('paint').filter(function (e) { return e.name === 'first-contentful-paint'; })[0];"
        "return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, fcp: p ? p.startTime : null,"
        " nodes: document.getElementsByTagName('*').length};")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sources-table tbody.src")) == n

    started = time.monotonic()
    set_filters(browser, status="NON_COMPLIANT")
    filter_s = time.monotonic() - started
    assert len(visible_rows(browser)) == sum(1 for s in findings["sources"] if s["status"] == "NON_COMPLIANT")
    started = time.monotonic()
    set_filters(browser, text="billing-00")
    text_s = time.monotonic() - started
    started = time.monotonic()
    set_filters(browser, text="payments-db-01")
    text_again_s = time.monotonic() - started
    assert len(visible_rows(browser)) == sum(
        1 for s in findings["sources"] if "payments-db-01" in s["identifier"])
    set_filters(browser)
    started = time.monotonic()
    browser.find_element(By.CSS_SELECTOR, '#sources-table th[data-label="Newest replica age"] button').click()
    browser.execute_script("return document.body.offsetHeight")
    sort_s = time.monotonic() - started
    assert console_errors(browser) == []

    started = time.monotonic()
    load(browser, demo["html"])
    demo_load_s = time.monotonic() - started

    figures = {
        "demo_sources": len(base["sources"]),
        "demo_report_html_bytes": demo["html"].stat().st_size,
        "demo_load_seconds": round(demo_load_s, 2),
        "sources": n,
        "findings_json_bytes": (out / "findings.json").stat().st_size,
        "report_html_bytes": html.stat().st_size,
        "render_seconds": round(render_s, 2),
        "load_seconds": round(load_s, 2),
        "dom_content_loaded_ms": round(timing["dcl"]),
        "load_event_ms": round(timing["load"]),
        "first_contentful_paint_ms": timing["fcp"] and round(timing["fcp"]),
        "dom_elements": timing["nodes"],
        "filter_by_status_seconds": round(filter_s, 2),
        "first_text_search_seconds": round(text_s, 2),
        "next_text_search_seconds": round(text_again_s, 2),
        "sort_seconds": round(sort_s, 2),
    }
    (out / "figures.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
