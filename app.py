"""VideoExpert Studio: the Gradio app (also the Hugging Face Space entry point).

    python app.py                                  the shipped demo model, or the untrained tiny preset
    python app.py --model checkpoints/my-model --profile cuda --port 7860
    python app.py --max-duration 3600 --single-pass   at most an hour, one pass of 100 frames over any video
    VIDEOEXPERT_MODEL=... VIDEOEXPERT_PROFILE=cpu python app.py     (Spaces: set these as Space variables)

Every flag has an environment variable (shown in --help); flags win. The app only uses the package's public API.

Long videos (longer than the model's window, `config.windows.seconds`: 60 s for the demo model) are answered
window by window, with answers shown as windows finish; videos up to 3 hours are accepted by default. Under
ZeroGPU (Spaces' SPACES_ZERO_GPU) the app keeps the single pass, as with --single-pass (ui/handlers.py says why).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys


from videoexpert import (PROFILE_NAMES, CheckpointError, ConfigError, Predictor, default_model_source, examples_dir,
                         list_presets, select_profile, setup_logging)

logger = logging.getLogger("videoexpert.app")

FALLBACK_PRESET = "tiny"
MAX_DURATION_S = 3 * 3600     # long mode answers videos of hours; single pass samples 100 frames over any of them


def parse_size(text: str | int | None) -> int | None:
    """'500mb', '2 GB', '1048576' -> bytes; '0', 'none' or '' -> no limit."""
    if text is None or str(text).strip().lower() in ("", "0", "none"):
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*", str(text).lower())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 500mb, 2gb or a number of bytes)")
    unit = (match.group(2) or "b").rstrip("ib") or "b"
    return int(float(match.group(1)) * 1024 ** "bkmgt".index(unit))


def parse_duration(text: str | float | None) -> float | None:
    """Seconds; '0' or 'none' -> no limit."""
    if text is None or str(text).strip().lower() in ("", "0", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the duration limit must be positive, got {text!r}")
    return value


def parse_flag(text: str | None) -> bool:
    """An environment switch: 1, true, yes, on -> True."""
    return str(text or "").strip().lower() in ("1", "true", "yes", "on")


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="app.py", description="VideoExpert Studio: ask a video when something happens.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=None,
                   help="saved model directory or preset name (env VIDEOEXPERT_MODEL; default: "
                        f"checkpoints/videoexpert-demo, else the untrained '{FALLBACK_PRESET}' preset)")
    p.add_argument("--profile", default=env("VIDEOEXPERT_PROFILE", "auto"), choices=PROFILE_NAMES,
                   help="runtime profile (env VIDEOEXPERT_PROFILE); auto = cuda when a GPU is visible, else cpu")
    p.add_argument("--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to listen on (env GRADIO_SERVER_NAME; 0.0.0.0 to serve the network)")
    p.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")),
                   help="port (env GRADIO_SERVER_PORT)")
    p.add_argument("--max-duration", type=parse_duration,
                   default=env("VIDEOEXPERT_MAX_DURATION", str(MAX_DURATION_S)),
                   help="longest accepted video in seconds, 0 = no limit (env VIDEOEXPERT_MAX_DURATION)")
    p.add_argument("--single-pass", action="store_true", default=parse_flag(env("VIDEOEXPERT_SINGLE_PASS")),
                   help="answer every video in one pass of the model's frames, however long (env "
                        "VIDEOEXPERT_SINGLE_PASS=1); default: a video longer than the model's window is answered "
                        "window by window, the answer growing as windows finish")
    p.add_argument("--max-file-size", type=parse_size, default=env("VIDEOEXPERT_MAX_FILE_SIZE", "500mb"),
                   help="largest accepted upload, e.g. 500mb, 0 = no limit (env VIDEOEXPERT_MAX_FILE_SIZE)")
    p.add_argument("--cache-size", type=int, default=int(env("VIDEOEXPERT_CACHE_SIZE", "8")),
                   help="encoded videos kept in memory, LRU (env VIDEOEXPERT_CACHE_SIZE)")
    p.add_argument("--queue-size", type=int, default=int(env("VIDEOEXPERT_QUEUE_SIZE", "16")),
                   help="requests allowed to wait for the model (env VIDEOEXPERT_QUEUE_SIZE)")
    p.add_argument("--examples", default=env("VIDEOEXPERT_EXAMPLES", None),
                   help="folder of example videos shown under the player (env VIDEOEXPERT_EXAMPLES; default: the "
                        "shipped examples, assets/)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    p.add_argument("--log-level", default=env("VIDEOEXPERT_LOG_LEVEL", "INFO"), help="DEBUG, INFO, WARNING")
    return p


def resolve_profile(profile: str) -> str:
    try:
        return select_profile(profile).name
    except ConfigError as e:
        raise SystemExit(f"--profile {profile}: {e}") from None


def load(source: str | None, profile: str):
    """(predictor, source, untrained): the given model, else the default one, else the untrained tiny preset."""
    if source is None:
        try:
            source = default_model_source()
        except CheckpointError:
            logger.warning("no trained model found (checkpoints/videoexpert-demo, $VIDEOEXPERT_MODEL): "
                           "falling back to the untrained %r preset", FALLBACK_PRESET)
            source = FALLBACK_PRESET
    untrained = source in list_presets()
    return Predictor.from_pretrained(source, profile=profile), source, untrained


def create_app(argv: list[str] | None = None, predictor: Predictor | None = None):
    """(demo, launch kwargs) from command-line arguments; `predictor` skips loading (tests pass a loaded one)."""
    from ui import Limits, ModelInfo, Studio, build_demo, launch_options
    from videoexpert import FeatureCache

    args = build_parser().parse_args(argv)
    profile = resolve_profile(args.profile)
    if predictor is None:
        predictor, source, untrained = load(args.model, profile)
    else:
        source, untrained = args.model or predictor.name, (args.model or "") in list_presets()
    model = predictor.model
    examples = args.examples or str(examples_dir() or "assets")
    info = ModelInfo(name=model.name, description=model.config.description, device=str(model.device),
                     profile=profile, num_frames=model.config.num_frames, source=source, untrained=untrained)
    studio = Studio(predictor, info, limits=Limits(args.max_duration, args.max_file_size),
                    cache=FeatureCache(args.cache_size), extra_roots=[examples], windowed=not args.single_pass)
    demo = build_demo(studio, examples_dir=examples, queue_size=args.queue_size)
    launch = dict(server_name=args.host, server_port=args.port, share=args.share or None,
                  max_file_size=args.max_file_size, **launch_options())
    logger.info("model %s on %s (%s profile)%s; %s", model.name, model.device, profile,
                " UNTRAINED" if untrained else "",
                f"videos over {model.config.windows.seconds:g} s answered in windows" if studio.windowed
                else "one pass per video" + (" (ZeroGPU)" if not args.single_pass else ""))
    return demo, launch


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    demo, launch = create_app(argv)
    demo.launch(**launch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
