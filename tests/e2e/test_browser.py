"""Real-browser end-to-end test: Debian Chromium driven by playwright-core (tests/e2e/grounding.mjs).

The app runs in-process on a free port; the Node script uploads a generated video, runs grounding, clicks the
top segment bar and checks the <video> seeked to its start (±0.1 s), checks the ranked list seeks, plays and
checks the playhead follows, and saves a full-page screenshot to artifacts/e2e-grounding.png.

Needs /usr/bin/chromium, node and tests/e2e/node_modules/playwright-core: `bash scripts/install-browser.sh`.
Skipped (with the reason) when one is missing, except under CI, where a missing piece is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

import app as app_module
from videoexpert import Predictor
from tests.media import write_video

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCRIPT = HERE / "grounding.mjs"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = ROOT / "artifacts" / "e2e-grounding.png"
REPORT = SCREENSHOT.with_suffix(".json")      # the measurements, for CI logs (`cat artifacts/e2e-grounding.json`)


def missing_tools() -> list[str]:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").is_file():
        missing.append("tests/e2e/node_modules/playwright-core (npm install)")
    return missing


@pytest.fixture(scope="module")
def tools():
    missing = missing_tools()
    if missing:
        reason = f"browser test needs {', '.join(missing)}: run `bash scripts/install-browser.sh`"
        if os.environ.get("CI"):
            pytest.fail(reason)                      # never silently skipped in CI
        pytest.skip(reason)


def scene_video(path: Path) -> Path:
    """8 s at 10 fps, 160x96: a red square from 3 s to 5 s, a blue dot crossing the frame the whole time."""
    frames = np.full((80, 96, 160, 3), 28, dtype=np.uint8)
    for i in range(80):
        x = 8 + int(i * 1.7)
        frames[i, 76:86, x:x + 10] = (40, 90, 230)
    frames[30:50, 20:68, 56:104] = (230, 40, 40)
    return write_video(path, frames, extra=["-movflags", "+faststart"])


@pytest.fixture(scope="module")
def served(tiny_model, tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["--model", "tiny", "--host", "127.0.0.1", "--port", str(port),
            "--examples", str(tmp_path_factory.mktemp("no-examples"))]
    demo, launch = app_module.create_app(argv, predictor=Predictor(tiny_model))
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **launch)
    try:
        yield url
    finally:
        demo.close()


def test_grounding_timeline_seeks_and_follows_the_player(tools, served, tmp_path):
    video = scene_video(tmp_path / "scene.mp4")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["node", str(SCRIPT), served, str(video), str(SCREENSHOT)], cwd=HERE,
                          capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no report from the browser script (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(lines[-1])
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print("browser report:", json.dumps(report))        # shown with -s / -rA, and on failure
    assert proc.returncode == 0 and "error" not in report, report.get("error", proc.stderr)
    start = report["segment"]["start"]
    assert abs(report["seeked_to"] - start) <= 0.1
    before, after = report["playback"]["before"], report["playback"]["after"]
    assert after["t"] > before["t"] and after["playhead"] > before["playhead"]
    assert not [e for e in report["page_errors"] if "plotly" in e.lower() or "TypeError" in e]
    assert SCREENSHOT.is_file() and SCREENSHOT.stat().st_size > 20_000
