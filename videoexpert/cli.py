"""Command line: `python -m videoexpert {predict,presets,create,eval,infer} ...` (`--help` on each)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .result import TASKS
from .runtime import PROFILE_NAMES

logger = logging.getLogger("videoexpert")



def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")

def cmd_predict(args: argparse.Namespace) -> int:
    from . import Predictor, VideoExpertError

    if Path(args.video).is_dir():
        return predict_folder(args)
    try:
        predictor = Predictor.from_pretrained(args.model, profile=args.profile, device=args.device)
        prediction = predictor.predict(args.video, args.task, args.query or "", args.options,
                                       max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                       seed=args.seed)
    except VideoExpertError as e:
        logger.error("%s", e)
        return 2
    text = json.dumps(prediction.to_dict(), indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n")
        logger.info("wrote %s", args.out)
    print(text)
    return 0


def predict_folder(args: argparse.Namespace) -> int:
    """Batch mode: predict every video of the folder `args.video`, appending one JSON line per video to `args.out`.

    A line is `{"video": <path relative to the folder>, **Prediction.to_dict()}`, written and flushed as each video
    finishes. A run skips the (video, task, query) triples already in `args.out`, so the same file can collect
    several queries over one folder and a killed run resumes where it stopped (a partial last line is cut off first).
    Failures go to `<out>.failures.jsonl` (`{"video", "task", "query", "error"}`), rewritten by every run: a video
    that failed is retried by the next run and leaves that file once it succeeds. 0: all done, 1: some failed,
    2: nothing could start (no --out, no videos, a bad query, a model that does not load)."""
    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from . import InputError, Predictor, VideoExpertError
    from .eval.infer import _repair_tail
    from .prompts import check_query
    from .tasks import get_task
    from .video import VIDEO_SUFFIXES

    if not args.out:
        logger.error("a folder needs --out FILE.jsonl: one line per video, and the record a rerun resumes from")
        return 2
    root, out = Path(args.video), Path(args.out)
    try:
        query = check_query(args.query or "", required=get_task(args.task).needs_query)
    except InputError as e:
        logger.error("%s", e)
        return 2
    videos = folder_videos(root, args.recursive)
    if not videos:
        logger.error("no videos (%s) in %s%s", ", ".join(VIDEO_SUFFIXES), root, " or below" if args.recursive else "")
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    _repair_tail(out)
    done = batch_keys(out)
    todo = [v for v in videos if (v.relative_to(root).as_posix(), args.task, query) not in done]
    failures_path = out.with_name(out.name + ".failures.jsonl")
    failures_path.unlink(missing_ok=True)
    failed = 0
    if todo:
        try:
            predictor = Predictor.from_pretrained(args.model, profile=args.profile, device=args.device)
        except VideoExpertError as e:
            logger.error("%s", e)
            return 2
        with open(out, "a", encoding="utf-8") as sink, logging_redirect_tqdm(), \
                tqdm(total=len(videos), initial=len(videos) - len(todo), desc=f"{args.task} {out.name}",
                     unit="video") as bar:
            for path in todo:
                name = path.relative_to(root).as_posix()
                bar.set_postfix_str(name)
                try:
                    prediction = predictor.predict(
                        path, args.task, query, args.options, max_new_tokens=args.max_new_tokens,
                        temperature=args.temperature, seed=args.seed,
                        progress=lambda stage: bar.set_postfix_str(f"{name}: {stage}"))
                except InputError as e:     # the same for every video: stop, not N failures
                    logger.error("%s", e)
                    return 2
                except Exception as e:      # noqa: BLE001 - one bad video must not stop the folder
                    failed += 1
                    error = scrub_error(e, path, root)
                    logger.warning("%s failed: %s", name, error)
                    with open(failures_path, "a", encoding="utf-8") as failures:
                        failures.write(json.dumps({"video": name, "task": args.task, "query": query,
                                                   "error": error}, ensure_ascii=False) + "\n")
                else:
                    sink.write(json.dumps({"video": name, **prediction.to_dict()}, ensure_ascii=False) + "\n")
                    sink.flush()
                bar.update(1)
    skipped = len(videos) - len(todo)
    print(f"done {len(todo) - failed}, skipped {skipped}, failed {failed}"
          + (f" (see {failures_path})" if failed else ""))
    return 1 if failed else 0


def folder_videos(root: Path, recursive: bool = False) -> list[Path]:
    """The video files (`VIDEO_SUFFIXES`, any case) in `root`, or below it, sorted by their path within it."""
    from .video import VIDEO_SUFFIXES

    found = root.rglob("*") if recursive else root.iterdir()
    return sorted((p for p in found if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES),
                  key=lambda p: p.relative_to(root).as_posix())


def batch_keys(out: Path) -> set[tuple[str, str, str]]:
    """The (video, task, query) of each readable line of a batch output file; other lines are ignored."""
    keys = set()
    if out.is_file():
        with open(out, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                    keys.add((row["video"], row["task"], row["query"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
    return keys


def scrub_error(error: Exception, path: Path, root: Path) -> str:
    """`error` in one line, with the video's path (as given or absolute) cut to its name within `root` and any
    other absolute path under `root` made relative to it: no server paths in a failures file."""
    message = " ".join(f"{type(error).__name__}: {error}".split())
    name = path.relative_to(root).as_posix()
    for form in sorted({str(path.resolve()), str(path.absolute()), str(path)}, key=len, reverse=True):
        message = message.replace(form, name)
    for form in {str(root.resolve()), str(root.absolute())}:
        message = message.replace(form.rstrip("/") + "/", "")
    return message


def cmd_presets(args: argparse.Namespace) -> int:
    from . import get_preset, list_presets

    for name in list_presets():
        cfg = get_preset(name)
        print(f"{name:8s} {cfg.name}: {cfg.num_frames} frames, {cfg.compress.num_tokens} S-tokens, "
              f"vision {cfg.vision.arch}, LLM {cfg.llm.name_or_path or 'random ' + cfg.llm.arch_config['model_type']}")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    from . import create_model, save_model

    save_model(create_model(args.preset, seed=args.seed), args.out)
    logger.info("saved a randomly initialised %r model to %s", args.preset, args.out)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig.from_json(args.config, args.set or [])
    final = train(cfg)
    logger.info("final model saved to %s", final)
    return 0


def cmd_extract_features(args: argparse.Namespace) -> int:
    from . import load_model
    from .data.features import extract_features
    from .video import VIDEO_SUFFIXES

    videos = sorted(p for p in Path(args.videos).rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        logger.error("no videos (%s) found under %s", ", ".join(VIDEO_SUFFIXES), args.videos)
        return 2
    counts = extract_features(load_model(args.model, profile=args.profile, device=args.device), videos, args.out, overwrite=args.overwrite)
    logger.info("features: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0 if counts["failed"] == 0 else 1


def cmd_convert_official(args: argparse.Namespace) -> int:
    from . import VideoExpertError
    from .convert import convert_official, resolve_release_layout

    defaults = resolve_release_layout(args.checkpoints) if args.checkpoints else {}
    llm = args.llm or defaults.get("llm")
    if not llm:
        logger.error("--llm is required (a local Vicuna-7B v1.5 folder or Hub id), or --checkpoints with "
                     "vicuna-7b-v1.5/ inside")
        return 2
    try:
        report = convert_official(args.stage2, args.projector, llm, args.out,
                                  vision=args.clip or defaults.get("vision", "openai"), template=args.preset)
    except VideoExpertError as e:   # a bad release, an unknown --preset: one line
        logger.error("%s", e)
        return 2
    print(report.table())
    for key in report.unmatched:
        logger.info("unused official tensor: %s", key)
    logger.info("wrote %s (%d tensors matched)", args.out, len(report.matched))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Fetch the Hub-hosted parts a model needs: its LLM (and tokenizer) and its open_clip weights."""
    from . import ModelConfig, get_preset, list_presets
    from .hub import LLM_PATTERNS, clip_repo, download_repo

    repos: list[tuple[str, list[str] | None]] = []
    for source in args.sources:
        if (Path(source) / "config.json").is_file() and (Path(source) / "model.safetensors").is_file():
            config = ModelConfig.from_json(Path(source) / "config.json")
        elif source in list_presets():
            config = get_preset(source)
        else:  # a plain Hub id: everything a model needs
            repos.append((source, None if args.all_files else LLM_PATTERNS))
            continue
        llm = config.llm.name_or_path
        if llm and not (Path(source) / llm).exists() and not Path(llm).exists():
            repos.append((llm, LLM_PATTERNS))
        tag = config.vision.pretrained
        if config.vision.arch_config is None and tag and not Path(tag).suffix:
            repo = clip_repo(config.vision.arch, tag)
            if repo:
                repos.append((repo, ["open_clip_*", "*.json", "*.txt"]))
    try:
        for repo, patterns in repos:
            print(f"{repo}: {download_repo(repo, patterns, cache_dir=args.cache_dir)}")
    except Exception as e:  # network and Hub errors: one line, not a trace
        logger.error("download failed: %s", e)
        return 2
    if not repos:
        logger.info("nothing to download: every part is local")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m videoexpert",
        description="VideoExpert: ask a video 'when does X happen?'. Temporal grounding, highlight detection, "
                    "dense captioning and grounded QA with one video LLM.")
    parser.add_argument("--log-level", default="INFO", help="logging level (DEBUG, INFO, WARNING)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "predict", help="answer one question about a video (or every video of a folder) and print the result JSON",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run one task on a video and print the result (DESIGN.md §5 schema) as JSON.\n\n"
                    "Batch mode: given a folder, run the same task and query on every video in it (sorted; "
                    "--recursive\nfor subfolders) with the model loaded once, appending one JSON line per video "
                    "to --out as it\nfinishes: the result plus \"video\", its path within the folder. Rerun the "
                    "same command to resume:\nvideos whose (video, task, query) is already in --out are skipped, so "
                    "one file can also collect\nseveral queries. Videos that fail are listed in "
                    "<out>.failures.jsonl and retried by the next run.\nExit 0 when every video succeeded, 1 when "
                    "some failed.\n\n"
                    "  python -m videoexpert predict clips/ --task grounding --query \"a goal is scored\" "
                    "--out goals.jsonl")
    p.add_argument("video", help="path of the video file, or a folder of videos (batch mode, needs --out)")
    p.add_argument("--task", choices=TASKS, default="grounding",
                   help="grounding: when does QUERY happen; highlight: saliency curve for QUERY; captioning: "
                        "dense captions with times; qa: answer QUERY (a question) with an evidence segment")
    p.add_argument("--query", help="what to look for, or the question for --task qa")
    p.add_argument("--options", nargs="+", help="answer options for multiple-choice QA")
    p.add_argument("--model", help="saved model directory or preset name (default: $VIDEOEXPERT_MODEL, "
                                   "then checkpoints/videoexpert-demo)")
    p.add_argument("--profile", default="auto", choices=PROFILE_NAMES,
                   help="runtime profile: cuda = 4-bit LLM (bitsandbytes), cuda-bf16, cpu; auto picks by hardware")
    p.add_argument("--device", help="pin a GPU, e.g. cuda:1 (default: the profile's)")
    p.add_argument("--max-new-tokens", type=int, default=128, help="generation budget for captions and answers")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy decoding")
    p.add_argument("--seed", type=int, help="sampling seed (with --temperature > 0)")
    p.add_argument("--out", help="also write the JSON to this file; for a folder, the JSONL file results are "
                                 "appended to (required)")
    p.add_argument("--recursive", action="store_true", help="batch mode: also the videos in subfolders")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("presets", help="list the named architectures")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("create", help="save a randomly initialised model of a preset (for tests and experiments)")
    p.add_argument("--preset", default="tiny", help="preset name (see `presets`)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("train", help="train stage 1 (projector) or stage 2 (experts, head) with accelerate",
                       description="Train VideoExpert. Run under `accelerate launch -m videoexpert train ...` for "
                                   "several GPUs or DeepSpeed; resumes from the latest checkpoint in output_dir.")
    p.add_argument("--config", help="training config JSON (see configs/train/); fields: stage, model, data[], "
                                    "output_dir, max_steps, batch_size, grad_accum, lr, mixed_precision, ...")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config field, e.g. --set lr=2e-5 --set stage=1 (repeatable)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("extract-features", help="encode every video of a folder once for training",
                       description="Write <video_id>.safetensors (CLS + patch tokens, fp16, duration) per video; "
                                   "skips files already written.")
    p.add_argument("--videos", required=True, help="folder searched recursively for videos")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", help="model whose vision tower encodes (dir or preset; default as for predict)")
    p.add_argument("--profile", default="auto", choices=PROFILE_NAMES, help="runtime profile")
    p.add_argument("--device", help="pin a GPU, e.g. cuda:1")
    p.add_argument("--overwrite", action="store_true", help="re-encode videos that already have features")
    p.set_defaults(func=cmd_extract_features)

    p = sub.add_parser("convert-official", help="import the authors' released weights into our format",
                       description="Read non_lora_trainables.bin, pytorch_model.bin and mm_projector.bin with "
                                   "torch.load(weights_only=True), map the V_Expertlora (temporal) / L_Expertlora "
                                   "(spatial) adapters, projector and head, print a report, and write our "
                                   "safetensors format. Refuses to write when a required tensor is missing.")
    p.add_argument("--stage2", required=True, help="folder with non_lora_trainables.bin and pytorch_model*.bin")
    p.add_argument("--projector", required=True, help="mm_projector.bin of stage 1")
    p.add_argument("--llm", help="Vicuna-7B v1.5: local folder or Hub id (its config.json gives the shapes)")
    p.add_argument("--clip", help="CLIP weights: 'openai' (open_clip tag) or a local ViT-L-14.pt")
    p.add_argument("--checkpoints", help="the authors' layout: checkpoints/clip/ViT-L-14.pt, checkpoints/vicuna-7b-v1.5")
    p.add_argument("--preset", default="paper", help="architecture template (default: paper)")
    p.add_argument("--out", required=True, help="output folder (our format)")
    p.set_defaults(func=cmd_convert_official)

    p = sub.add_parser("download", help="download the Hub-hosted parts of a model (LLM, CLIP) with progress bars",
                       description="For each source (a saved model folder, a preset such as `paper`, or a Hub id), "
                                   "fetch what it loads from the Hugging Face Hub into the local cache, so that the "
                                   "model then loads offline. Needs the Hub to be reachable.")
    p.add_argument("sources", nargs="+", help="model folder, preset name or Hub id (owner/name)")
    p.add_argument("--cache-dir", help="Hugging Face cache folder (default: HF_HOME)")
    p.add_argument("--all-files", action="store_true", help="for a plain Hub id, fetch every file, not only weights")
    p.set_defaults(func=cmd_download)

    from .eval.cli import add_subcommands  # `eval` and `infer`
    add_subcommands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    return int(args.func(args) or 0)
