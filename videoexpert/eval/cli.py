"""The `eval` and `infer` subcommands; `videoexpert/cli.py` registers them with `add_subcommands`.

    python -m videoexpert eval --benchmark qvhighlights --annotations highlight_val_release.jsonl \
        --predictions preds.jsonl --out metrics.json
    python -m videoexpert infer --benchmark charades --annotations charades_sta_test.txt \
        --videos Charades_v1/ --model checkpoints/ve-7b --out preds.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..errors import VideoExpertError
from .benchmarks import BENCHMARKS, evaluate, format_table
from .captioning import MISSING_POLICIES
from .grounding import PROTOCOLS

logger = logging.getLogger(__name__)


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register `eval` and `infer` on an argparse subparsers object."""
    p = subparsers.add_parser("eval", help="score a prediction file against a benchmark's annotations",
                              description="Score predictions with the benchmark's standard metrics; prints "
                                          "a table and a report of missing/duplicate/malformed items.")
    p.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    p.add_argument("--annotations", required=True, type=Path, help="annotation file as distributed")
    p.add_argument("--predictions", required=True, type=Path,
                   help="our JSONL schema, a QVHighlights submission or a densevid_eval results json")
    p.add_argument("--out", type=Path, default=None, help="write metrics and the item report as JSON")
    p.add_argument("--protocol", choices=PROTOCOLS, default="seconds",
                   help="Charades-STA IoU protocol (default: seconds; vtimellm rounds IoU to 2 decimals)")
    p.add_argument("--missing", choices=MISSING_POLICIES, default="reference",
                   help="dense captioning: how unpredicted videos count (default: as each reference)")
    p.add_argument("--no-language", action="store_true",
                   help="dense captioning: skip METEOR/CIDEr/SODA_c (no Java needed)")
    p.set_defaults(func=run_eval)

    p = subparsers.add_parser("infer", help="run the model over a benchmark (resumable, sharded)",
                              description="Batch inference; skips ids already in --out, records failures in "
                                          "<out>.errors.jsonl, shards under `accelerate launch`.")
    p.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    p.add_argument("--annotations", required=True, type=Path)
    p.add_argument("--videos", required=True, type=Path, help="folder holding the benchmark's videos")
    p.add_argument("--model", required=True, help="checkpoint directory or preset name")
    p.add_argument("--out", required=True, type=Path, help="predictions JSONL (appended to when resuming)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run_infer)


def run_eval(args: argparse.Namespace) -> int:
    try:
        result = evaluate(args.benchmark, args.annotations, args.predictions, protocol=args.protocol,
                          missing=args.missing, language=False if args.no_language else None)
    except (VideoExpertError, OSError) as e:
        logger.error("eval failed: %s", e)
        return 2
    print(format_table(result))
    print(result.report.format())
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        logger.info("wrote %s", args.out)
    return 0


def run_infer(args: argparse.Namespace) -> int:
    from .infer import infer_benchmark

    if not args.videos.is_dir():
        logger.error("--videos %s is not a folder", args.videos)
        return 2
    try:
        summary = infer_benchmark(args.benchmark, args.annotations, args.videos, args.model, args.out,
                                  progress=not args.no_progress)
    except (VideoExpertError, OSError) as e:
        logger.error("infer failed: %s", e)
        return 2
    logger.info("%d items: %d already done, %d written, %d failed", summary.total, summary.skipped,
                summary.written, len(summary.failures))
    if summary.failures:
        logger.warning("failed items are listed in %s.errors.jsonl; rerun the same command to retry them",
                       args.out)
        return 1
    return 0


__all__ = ["add_subcommands", "run_eval", "run_infer"]
