#!/usr/bin/env bash
# The wheel as a user meets it (`make wheel-check`, CI):
#   1. build it from a copy of this checkout's files (tracked and not ignored: no stale build/ folder or egg-info
#      of the working tree gets in), with pip wheel; setup.py bundles the demo model and the example videos;
#   2. its size (under MAX_MB, default 20) and contents: the package, the bundled demo model and examples, and
#      nothing of the checkout's tests/, demo/ recipe, ui/, bench/ or a virtual environment;
#   3. install it into a clean venv: torch as the Makefile pins it (TORCH), every other dependency at
#      requirements.lock's version;
#   4. from a folder outside the checkout: `videoexpert --help`, then `videoexpert predict` on a bundled example
#      video with no --model and no VIDEOEXPERT_MODEL (the default model: the bundled demo); its JSON must name
#      the demo model and hold a segment.
# WHEEL_CHECK_DIR keeps the venv and the outputs there (default: a temporary folder, removed at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON="${PYTHON:-python3}"
TORCH="${TORCH:-torch==2.14.1 torchvision==0.29.1}"
LOCK="$ROOT/${LOCK:-requirements.lock}"
MAX_MB="${MAX_MB:-20}"
QUERY="the blue triangle goes out of view"   # an event of assets/world-test-500000.mp4
if [ -n "${WHEEL_CHECK_DIR:-}" ]; then
    WORK="$WHEEL_CHECK_DIR"; mkdir -p "$WORK"
else
    WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
fi
unset VIDEOEXPERT_MODEL

echo "== wheel-check in $WORK"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --upgrade pip
rm -rf "$WORK/src" "$WORK/dist"
git ls-files -z --cached --others --exclude-standard | "$VPY" -c '
import shutil, sys
from pathlib import Path
dst = Path(sys.argv[1])
for name in sys.stdin.read().split("\0"):
    if name and Path(name).is_file():   # a tracked file deleted in the working tree is listed but absent
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(name, dst / name)
' "$WORK/src"
"$VPY" -m pip wheel -q --no-deps -w "$WORK/dist" "$WORK/src"
WHEEL="$(ls "$WORK"/dist/videoexpert-*.whl)"

"$VPY" - "$WHEEL" "$MAX_MB" <<'EOF'
import sys, zipfile
from pathlib import Path

wheel, max_mb = Path(sys.argv[1]), float(sys.argv[2])
size_mb = wheel.stat().st_size / 2**20
names = zipfile.ZipFile(wheel).namelist()
print(f"{wheel.name}: {size_mb:.1f} MB, {len(names)} files")
demo = "videoexpert/_bundled/checkpoints/videoexpert-demo/"
problems = [f"{name}: not for a wheel" for name in names
            if name.split("/")[0] in ("tests", "demo", "ui", "bench", "assets", "checkpoints", "scripts")
            or name.startswith("videoexpert/demo/") or "/.venv" in "/" + name]
problems += [f"missing {name}" for name in (demo + "config.json", demo + "model.safetensors", demo + "llm/config.json",
                                            "videoexpert/bundled.py") if name not in names]
if not any(n.startswith("videoexpert/_bundled/assets/") and n.endswith(".mp4") for n in names):
    problems.append("missing: no example video under videoexpert/_bundled/assets/")
if size_mb > max_mb:
    problems.append(f"{size_mb:.1f} MB is over the {max_mb:g} MB budget")
if problems:
    sys.exit("wheel-check: " + "; ".join(problems))
EOF

"$VPY" -m pip install -q -c "$LOCK" $TORCH
"$VPY" -m pip uninstall -q -y videoexpert 2>/dev/null || true   # a kept WHEEL_CHECK_DIR has the last build
"$VPY" -m pip install -q -c "$LOCK" "$WHEEL"

# outside the checkout: nothing of it on sys.path, and relative paths cannot find its folders
mkdir -p "$WORK/outside" && cd "$WORK/outside"
"$WORK/venv/bin/videoexpert" --help > help.txt
grep -q "predict" help.txt || { echo "wheel-check: 'videoexpert --help' does not list predict" >&2; exit 1; }
read -r MODEL VIDEO < <("$VPY" -c 'from videoexpert.bundled import demo_model_dir as m, examples_dir as e
print(m(), e() / "world-test-500000.mp4")')
case "$MODEL $VIDEO" in *"$ROOT"/*) echo "wheel-check: $MODEL $VIDEO: read from the checkout" >&2; exit 1;; esac
echo "bundled: $MODEL"
"$WORK/venv/bin/videoexpert" predict "$VIDEO" --task grounding --query "$QUERY" --out prediction.json > /dev/null
"$VPY" - prediction.json <<'EOF'
import json, sys

pred = json.load(open(sys.argv[1]))
segments = pred.get("segments") or []
print(f"prediction by {pred.get('model')!r}: {pred.get('text')!r}, {len(segments)} segment(s)")
if pred.get("model") != "videoexpert-demo":
    sys.exit(f"wheel-check: the default model is {pred.get('model')!r}, not the bundled videoexpert-demo")
if not segments or not 0 <= segments[0]["start"] < segments[0]["end"] <= pred["duration"]:
    sys.exit(f"wheel-check: no valid segment in {segments}")
EOF
echo "== wheel-check passed: $(basename "$WHEEL")"
