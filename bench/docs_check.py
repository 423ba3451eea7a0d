"""Check ``kgnlu serve``'s ``/docs`` in headless Chromium with the network shut: the page renders
its operations, and "Try it out" -> "Execute" on ``POST /v1/infer`` gets a 200 from the server.

Chromium resolves every host but 127.0.0.1 to nothing (``--host-resolver-rules``), and every URL
the page requested is read from its performance log: all must be the server's own. Writes a
screenshot (``--shot``) and the findings into ``bench/results/serve.md`` (its "/docs" section).

Needs Debian's ``chromium`` and ``chromium-driver`` and ``pip install selenium``; not part of the
test run for that reason. Usage: ``python bench/docs_check.py [--kg DIR]`` (default: the demo
ontology ingested into a temporary KG).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import REPO, Server, ingest_demo, update_section  # noqa: E402


def browse(base: str, shot: Path) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--no-first-run",
                "--disable-background-networking", "--disable-component-update"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    found: dict = {}
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(base + "/docs")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
        found["title"] = driver.find_element(By.CSS_SELECTOR, ".info .title").text.splitlines()[0]
        found["operations"] = [f"{b.find_element(By.CSS_SELECTOR, '.opblock-summary-method').text} "
                               f"{b.find_element(By.CSS_SELECTOR, '.opblock-summary-path').text}"
                               for b in driver.find_elements(By.CSS_SELECTOR, ".opblock")]
        infer = next(b for b in driver.find_elements(By.CSS_SELECTOR, ".opblock")
                     if b.find_element(By.CSS_SELECTOR, ".opblock-summary-path").text.replace("\u200b", "") == "/v1/infer")
        infer.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
        wait.until(lambda d: infer.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
        infer.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
        body = wait.until(lambda d: infer.find_element(By.CSS_SELECTOR, "textarea.body-param__text"))
        found["example_body"] = json.loads(body.get_attribute("value"))
        infer.find_element(By.CSS_SELECTOR, ".execute").click()
        wait.until(lambda d: infer.find_elements(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status"))
        found["status"] = infer.find_element(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status").text.strip()
        text = infer.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
        found["label"] = json.loads(text).get("label")
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", infer)
        time.sleep(0.5)
        driver.save_screenshot(str(shot))
        urls = set()
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                urls.add(msg["params"]["request"]["url"])
        found["requests"] = sorted(urls)
        found["foreign_requests"] = sorted(u for u in urls if not u.startswith((base, "data:", "blob:")))
        found["console_errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kg", type=Path)
    ap.add_argument("--shot", type=Path, default=REPO / "bench" / "results" / "serve_docs.png")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve.md")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        kg = args.kg or ingest_demo(Path(tmp))
        server = Server(kg, argparse.Namespace(threads=1, batch_size=32, batch_wait_ms=10.0))
        try:
            found = browse(server.base, args.shot)
        finally:
            server.stop()
    ok = (found["status"] == "200" and not found["foreign_requests"] and not found["console_errors"]
          and {"POST /v1/infer", "POST /v1/link", "POST /v1/extract", "GET /v1/info"} <= {
              o.replace("\u200b", "") for o in found["operations"]})
    ops = ", ".join(f"`{o.replace(chr(0x200b), '')}`" for o in found["operations"])
    size_kb = args.shot.stat().st_size / 1024
    text = "\n".join([
        f"## /docs offline ({date.today().isoformat()}, `python bench/docs_check.py`): {'passed' if ok else 'FAILED'}", "",
        f"Headless Chromium {'rendered' if ok else 'did not render'} the page with every host but 127.0.0.1 unresolvable.",
        f"- Page: \"{found['title']}\"; operations: {ops}.",
        f"- `POST /v1/infer`, Try it out with the schema's example {json.dumps(found['example_body'])} -> Execute: "
        f"HTTP {found['status']}, label `{found['label']}`.",
        f"- Requests the page made: {len(found['requests'])}, all to the server itself"
        + ("." if not found["foreign_requests"] else f"; ELSEWHERE: {found['foreign_requests']}"),
        f"- Console errors: {found['console_errors'] or 'none'}.",
        f"- Screenshot: {args.shot.name} ({size_kb:.0f} KB{', not committed' if size_kb > 200 else ''}).", ""])
    update_section(args.out, "docs", text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
