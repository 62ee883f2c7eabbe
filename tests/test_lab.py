"""JupyterLab, the course's front door, in a real browser.

`make lab` must start as root too (readers in containers often are). The browser test starts
JupyterLab the way `make lab` does, on a free local port, over a copy of chapter 00 (so the
chapter in the repository is never touched), opens the notebook in headless Chromium, runs its
cells from the top down to the first one that prints, sees that output, and shuts the server down.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser_tools import PageLog, launched_chromium

from tools.slides import annotate_notebook

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_00 = ROOT / "chapters" / "00_getting_started.ipynb"
SCREENSHOTS = Path(os.environ.get("COURSE_SCREENSHOTS", ROOT / "_build" / "screenshots"))
TOKEN = "course-browser-test"


def _make_lab_command(extra: str = "") -> list[str]:
    """The command `make lab` runs (make -n: printed, not run), as an argument list."""
    proc = subprocess.run(["make", "-n", "-s", "lab", f"LAB_ARGS={extra}"], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    line = [cmd for cmd in proc.stdout.splitlines() if " lab " in f" {cmd} " and "jupyter" in cmd][-1]
    return shlex.split(line)


def test_make_lab_starts_as_root_too():
    command = _make_lab_command()
    assert command[-1] == "chapters/", command
    if os.geteuid() == 0:
        assert "--allow-root" in command, "as root, Jupyter refuses to start without --allow-root"
    else:
        assert "--allow-root" not in command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {seconds} s")


def _wait_for_kernel(base: str, seconds: float = 90) -> None:
    """Wait until the server has an idle kernel for the notebook (the page asked for one)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={TOKEN}", timeout=5) as response:
            sessions = json.loads(response.read())
        if any(s.get("kernel", {}).get("execution_state") == "idle" for s in sessions):
            return
        time.sleep(0.5)
    raise TimeoutError(f"no idle kernel after {seconds} s")


def _first_printing_cell(nb) -> tuple[int, str]:
    """Index (among all cells) of the first code cell with printed output, and a line of it."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stdout":
                line = next((t.strip() for t in out.text.splitlines() if sum(c.isalpha() for c in t) > 5), None)
                if line:
                    return i, line
    raise AssertionError("chapter 00 has no code cell that prints")


@pytest.fixture
def lab_server(tmp_path):
    """JupyterLab started as `make lab` starts it, over a copy of chapter 00; always shut down.

    The copy has its outputs and execution counts cleared, so what the browser shows was computed
    in this run, not stored in the file.
    """
    nb = nbformat.read(CHAPTER_00, as_version=4)
    if not any("slideshow" in c.metadata for c in nb.cells):
        annotate_notebook(nb)  # as `make slides` does for a chapter not annotated yet
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / CHAPTER_00.name)
    port = _free_port()
    flags = (f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={TOKEN} "
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    command = _make_lab_command(flags)
    command[-1] = str(tmp_path / "notebooks")  # the copy, not chapters/
    command[0] = str(ROOT / command[0]) if not os.path.isabs(command[0]) else command[0]
    state = tmp_path / ".jupyter-state"
    # as a reader who ticked "Always start the preferred kernel" in the Select Kernel dialog (which
    # otherwise appears when the kernel specs arrive late); no autosave of the copy
    user_settings = {"notebook-extension/tracker": {"autoStartDefaultKernel": True},
                     "docmanager-extension/plugin": {"autosave": False}}
    for name, values in user_settings.items():
        path = state / "settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
           "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"), "OMP_NUM_THREADS": "1"}
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", proc)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
    assert proc.returncode is not None, "JupyterLab is still running"


def test_chapter_00_runs_in_jupyterlab_in_chromium(lab_server):
    base, proc = lab_server
    index, expected = _first_printing_cell(nbformat.read(CHAPTER_00, as_version=4))
    start = time.perf_counter()
    with launched_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        log = PageLog().attach(page)
        page.set_default_timeout(60_000)
        page.goto(f"{base}/lab/tree/{CHAPTER_00.name}?token={TOKEN}", wait_until="domcontentloaded")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        _wait_for_kernel(base)
        page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
        page.wait_for_timeout(1000)  # the page's own connection to the kernel
        try:
            cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
            cells.first.click()
            page.keyboard.press("Escape")  # command mode: Shift+Enter runs the cell and selects the next
            for i in range(index + 1):
                page.keyboard.press("Shift+Enter")
                if "jp-CodeCell" in (cells.nth(i).get_attribute("class") or ""):  # queued or run: [*] or [n]
                    page.wait_for_function(
                        "i => /\\[[*0-9]+\\]/.test(document.querySelectorAll("
                        "'.jp-NotebookPanel .jp-Notebook .jp-Cell')[i].querySelector('.jp-InputPrompt').innerText)",
                        arg=i, timeout=15_000)
            target = cells.nth(index)
            target.locator(".jp-OutputArea-output").first.wait_for(timeout=120_000)
            page.wait_for_function(
                "([i, text]) => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')[i]"
                ".querySelector('.jp-OutputArea').innerText.includes(text)", arg=[index, expected])
            prompts = page.evaluate("""() => Array.from(document.querySelectorAll(
                '.jp-NotebookPanel .jp-Notebook .jp-CodeCell .jp-InputPrompt')).map(p => p.innerText.trim())""")
            errors = page.locator(".jp-NotebookPanel [data-mime-type='application/vnd.jupyter.stderr']").count()
            traceback = page.locator(".jp-NotebookPanel .jp-OutputArea-output:has-text('Traceback')").count()
        except Exception:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "lab_failure.png"))
            raise
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / "lab_00_getting_started.png"))
        # live slides (RISE, from the 'site' extra): Alt+R opens the notebook as a reveal.js deck
        page.keyboard.press("Escape")
        page.keyboard.press("Alt+r")
        frame = page.frame_locator("iframe[src*='rise']")
        frame.locator(".reveal .slides section").first.wait_for(timeout=60_000)
        rise_slides = frame.locator(".reveal .slides section").count()
        rise_markdown = frame.locator(".reveal .jp-MarkdownCell").count()
        rise_title = frame.locator(".reveal h1").first.inner_text(timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "lab_rise_00_getting_started.png"))
        page.close()
    code_before = sum(1 for c in nbformat.read(CHAPTER_00, as_version=4).cells[: index + 1] if c.cell_type == "code")
    assert prompts[:code_before] == [f"[{n}]:" for n in range(1, code_before + 1)], prompts[: code_before + 1]
    assert traceback == 0 and errors == 0, "a cell failed in JupyterLab"
    outside = [u for u in log.requests if not u.startswith((base, "data:", "blob:"))]
    assert not outside, f"JupyterLab requested something outside the local server: {outside[:5]}"
    assert not log.page_errors, f"uncaught exceptions in JupyterLab: {log.page_errors[:3]}"
    assert rise_slides > 3 and rise_markdown > 3, f"RISE shows {rise_slides} slides, {rise_markdown} markdown cells"
    assert "getting started" in rise_title.lower(), f"the RISE deck's first heading is {rise_title!r}"
    print(f"\nJupyterLab in Chromium: ran {code_before} code cells of chapter 00, saw {expected!r}; "
          f"RISE preview with {rise_slides} slide sections, {rise_markdown} markdown cells; "
          f"{len(log.requests)} requests, all to the local server; {len(log.console_errors)} console errors "
          f"(JupyterLab's and RISE's own, listed below, not asserted); {time.perf_counter() - start:.1f} s")
    for error in sorted({e.split(' @ ')[0][:120] for e in log.console_errors})[:5]:
        print("  console:", error[:200])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-s", "-q"]))
