"""Real-browser end-to-end tests: Debian Chromium driven by playwright-core (tests/e2e/*.mjs).

The app runs in-process on a free port. grounding.mjs uploads a generated 8-s video, runs grounding, clicks the
top segment bar and checks the <video> seeked to its start (±0.1 s), checks the ranked list seeks, plays and
checks the playhead follows, and saves a full-page screenshot to artifacts/e2e-grounding.png. long_video.mjs runs
the shipped demo model on a 20-minute video (a demo-world clip at its end): the progress bar moves window by
window, partial answers are drawn, the timeline zooms into the last two minutes and a click on the moment found in
the last window seeks the player to that global time (artifacts/e2e-long.png).

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
from videoexpert import Predictor, demo_model_dir, examples_dir
from tests.media import ffmpeg_exe, write_video

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCRIPT = HERE / "grounding.mjs"
LONG_SCRIPT = HERE / "long_video.mjs"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = ROOT / "artifacts" / "e2e-grounding.png"
REPORT = SCREENSHOT.with_suffix(".json")      # the measurements, for CI logs (`cat artifacts/e2e-grounding.json`)
LONG_SCREENSHOT = ROOT / "artifacts" / "e2e-long.png"
WORLD_CLIP = "world-test-500000"              # a held-out demo-world clip, put at the end of the long video
LONG_QUERY = "a green diamond appears"        # one of its events (10.9-15.9 s into the clip)


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


def long_video(path: Path, clip: Path, lead_s: float) -> Path:
    """`lead_s` seconds of the clip's first frame, held still, then the clip: 64x64 at 10 fps, a few seconds to
    encode. The clip's events happen `lead_s` seconds later in the long video."""
    first = path.with_name("first.png")
    ffmpeg = [ffmpeg_exe(), "-y", "-loglevel", "error"]
    subprocess.run([*ffmpeg, "-i", str(clip), "-frames:v", "1", "-vf", "scale=64:64:flags=area", str(first)],
                   check=True)
    graph = ("[0:v]format=yuv420p,setsar=1[still];[1:v]scale=64:64:flags=area,format=yuv420p,setsar=1,fps=10[clip];"
             "[still][clip]concat=n=2:v=1:a=0[v]")
    subprocess.run([*ffmpeg, "-loop", "1", "-framerate", "10", "-t", f"{lead_s}", "-i", str(first), "-i", str(clip),
                    "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)], check=True)
    return path


def serve(predictor: Predictor, model: str, tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["--model", model, "--host", "127.0.0.1", "--port", str(port),
            "--examples", str(tmp_path_factory.mktemp("no-examples"))]
    demo, launch = app_module.create_app(argv, predictor=predictor)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **launch)
    return demo, url


@pytest.fixture(scope="module")
def served(tiny_model, tmp_path_factory):
    demo, url = serve(Predictor(tiny_model), "tiny", tmp_path_factory)
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def served_demo(tmp_path_factory):
    """The app with the shipped demo model (60-s windows), as `python app.py` starts it."""
    model = str(demo_model_dir())
    demo, url = serve(Predictor.from_pretrained(model, profile="cpu"), model, tmp_path_factory)
    try:
        yield url
    finally:
        demo.close()


def run_script(script: Path, *args: str, timeout: float) -> dict:
    proc = subprocess.run(["node", str(script), *args], cwd=HERE, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no report from {script.name} (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(lines[-1])
    print(f"{script.name} report:", json.dumps(report))        # shown with -s / -rA, and on failure
    assert proc.returncode == 0 and "error" not in report, report.get("error", proc.stderr)
    return report


def test_grounding_timeline_seeks_and_follows_the_player(tools, served, tmp_path):
    video = scene_video(tmp_path / "scene.mp4")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    report = run_script(SCRIPT, served, str(video), str(SCREENSHOT), timeout=240)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    start = report["segment"]["start"]
    assert abs(report["seeked_to"] - start) <= 0.1
    before, after = report["playback"]["before"], report["playback"]["after"]
    assert after["t"] > before["t"] and after["playhead"] > before["playhead"]
    assert not [e for e in report["page_errors"] if "plotly" in e.lower() or "TypeError" in e]
    assert SCREENSHOT.is_file() and SCREENSHOT.stat().st_size > 20_000


def test_a_long_video_streams_window_by_window_zooms_and_seeks_in_global_time(tools, served_demo, tmp_path):
    clip = Path(examples_dir()) / f"{WORLD_CLIP}.mp4"
    event = next(e for e in json.loads(clip.with_suffix(".json").read_text())["grounding"] if e["query"] == LONG_QUERY)
    lead = 20 * 60 - 30.0                                       # 19.5 min of stillness, then the 30.3-s clip
    video = long_video(tmp_path / "long.mp4", clip, lead)
    LONG_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    report = run_script(LONG_SCRIPT, served_demo, str(video), str(LONG_SCREENSHOT), LONG_QUERY, timeout=400)
    LONG_SCREENSHOT.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    duration = report["video_duration"]
    assert duration == pytest.approx(lead + 30.3, abs=0.2)
    windows = report["progress_windows"]
    assert len({w["k"] for w in windows}) >= 2 and windows[0]["n"] == 27      # 60-s windows over 20 min
    assert any(d["pending"] for d in report["timeline_draws"])               # partial answers were drawn
    assert report["range_before"] == [0, pytest.approx(duration, abs=0.2)]
    assert report["range_after"][1] - report["range_after"][0] < 130         # zoomed into the last 2 minutes
    start, end = report["segment"]["start"], report["segment"]["end"]
    assert start >= duration - 60                                            # in the last window
    assert start < lead + event["end"] and end > lead + event["start"]       # on the clip's event, in global time
    assert abs(report["seeked_to"] - start) <= 0.1 and abs(report["current_time"] - start) <= 0.1
    assert report["range_after_click"] == report["range_after"]                # seeking keeps the zoom
    assert not [e for e in report["page_errors"] if "plotly" in e.lower() or "TypeError" in e]
    assert LONG_SCREENSHOT.is_file()
