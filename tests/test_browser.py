"""The course in a real browser: JupyterLab as `make lab` starts it, the built site and a slide deck.

Playwright for Python drives Debian's ``chromium`` (``executable_path``; Playwright's own browser download
is not needed). Without a Chromium the test skips, saying how to install one, except under CI
(``CI=true``), where a missing browser is a failure. Screenshots go to ``build/screenshots/`` (git-ignored).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p), None)


def _need_browser():
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing = "Playwright for Python (pip install playwright)"
    else:
        missing = None if CHROMIUM else "a Chromium (apt-get install chromium, or set CHROMIUM=/path/to/chrome)"
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser test needs {missing}; .ci/run installs it")
        pytest.skip(f"the browser test needs {missing}")


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab as `make lab` runs it, in fast mode, on a loopback port, on a copy of the notebooks folder:
    JupyterLab saves the notebooks it runs, and the course stores them without outputs."""
    _need_browser()
    notebooks = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    port, token = _free_port(), "course-browser-test"
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    settings = tmp_path_factory.mktemp("lab-settings")  # render every cell (no windowing), no news pop-up
    for plugin, text in (("notebook-extension/tracker", '{"windowingMode": "none"}'),
                         ("apputils-extension/notification", '{"fetchNews": "false", "checkForUpdates": false}')):
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = dict(os.environ, LECTURES_MODE="fast", JUPYTER_RUNTIME_DIR=str(runtime))
    env.pop("LECTURES_FAST", None)
    jupyter = Path(sys.executable).with_name("jupyter")
    proc = subprocess.Popen([str(jupyter), "lab", str(notebooks), "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                             f"--IdentityProvider.token={token}", f"--LabApp.user_settings_dir={settings}"]
                            + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _browser_image(page) -> str:
    """The src of the digit browser's figure (the PNG inside the widget's Output area)."""
    return page.locator(".jp-OutputArea-output .widget-output img, .jupyter-widgets-output-area img").last.get_attribute("src")


def test_lesson_01_runs_in_jupyterlab_and_the_digit_browser_responds(browser, lab):
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/01_lenet_mnist.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector("#jp-main-statusbar :text('Idle')", timeout=120_000)   # the kernel has started
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function("""() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
        return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }""", timeout=300_000)
    page.locator(".widget-slider").last.wait_for(timeout=60_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
    assert errors.count() == 0, errors.first.inner_text()
    page.screenshot(path=str(SHOTS / "lab-01-after-run-all.png"))
    before = _browser_image(page)
    readout = page.locator(".widget-slider .widget-readout").last
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("7")
    page.keyboard.press("Enter")
    page.wait_for_function("(before) => { const imgs = document.querySelectorAll('.widget-output img'); "
                           "return imgs.length && imgs[imgs.length - 1].src !== before; }", arg=before, timeout=30_000)
    assert _browser_image(page) != before
    page.screenshot(path=str(SHOTS / "lab-01-after-slider.png"))
    page.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    _need_browser()
    from lectures_lib import publish

    out = tmp_path_factory.mktemp("published")
    notebook = [ROOT / "notebooks" / "01_lenet_mnist.ipynb"]
    index = publish.build_site(notebook, out / "site", mode="fast")
    slides = publish.build_slides(notebook, out / "slides")
    return index, slides[0]


def test_the_site_index_and_a_lesson_page_show_their_figures(browser, built):
    index, _ = built
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(index.as_uri())
    link = page.locator("a[href='01_lenet_mnist.html']")
    assert "LeNet-5" in link.inner_text()
    page.screenshot(path=str(SHOTS / "site-index.png"))
    link.click()
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)
    figures = page.evaluate("""[...document.querySelectorAll('.jp-OutputArea-output img')]
        .map(i => ({w: i.naturalWidth, src: i.src.slice(0, 30)}))""")
    assert len(figures) >= 4 and all(f["w"] > 0 for f in figures), figures
    page.screenshot(path=str(SHOTS / "site-lesson-01.png"), full_page=False)
    page.close()


def test_a_slide_deck_opens_as_reveal_js(browser, built):
    _, deck = built
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(deck.as_uri())
    page.wait_for_function("document.querySelector('.reveal') && document.querySelector('.reveal').classList.contains('ready')",
                           timeout=30_000)
    assert page.locator(".reveal .slides > section").count() >= 1
    page.screenshot(path=str(SHOTS / "slides-01.png"))
    page.close()
