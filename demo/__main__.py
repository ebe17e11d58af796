"""python -m demo {build,evaluate} ... (`--help` on each)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from videoexpert.cli import setup_logging
from videoexpert import load_model


def recipe_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set stage2_steps=3000; the extend runs are a JSON list of "
                        "[videos, steps] (--set 'extend=[]' stops after the refine run); the ablation needs the build's")
    p.add_argument("--workers", type=int, default=1,
                   help="processes that extract the features and load training data (e.g. the machine's cores)")
    p.add_argument("--train-only", action="store_true",
                   help="stop after training; the same command without it scores and saves what was trained")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo",
                                     description="Build or score the demo model trained on the generated world.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="run the whole recipe from a seed (world, backbones, stages 1-2, scores)")
    p.add_argument("--out", default="checkpoints/videoexpert-demo", help="where the final model is saved")
    p.add_argument("--work-dir", default="runs/demo", help="intermediate files (features, stage checkpoints)")
    p.add_argument("--assets", help="also write example test videos and their ground truth here (e.g. assets)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reduced", action="store_true", help="toy scale, minutes on a CPU (smoke test of the recipe)")
    recipe_options(p)
    p = sub.add_parser("ablation", help="train and score the 'w/o temporal head' variant (times as text) with the "
                                        "same data and budget, from a finished build's work dir")
    p.add_argument("--out", default="checkpoints/videoexpert-demo", help="the built model (its scores get the row)")
    p.add_argument("--work-dir", default="runs/demo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reduced", action="store_true")
    recipe_options(p)
    p = sub.add_parser("evaluate", help="score a saved model on the held-out test split of the world (each metric "
                                        "also over the items about seen and about held-out colour-shape pairs)")
    p.add_argument("--model", required=True, help="saved model directory")
    p.add_argument("--num-test", type=int, default=120, help="test videos (seeds after the build's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", nargs="+", default=["grounding", "highlight", "captioning", "qa"])
    p.add_argument("--report", help="also store the scores in this model folder's demo_scores.json")
    p.add_argument("--key", default="test", help="entry of demo_scores.json to write (with --report)")
    args = parser.parse_args(argv)
    setup_logging()

    from .backbones import LanguageRecipe, VisionRecipe
    from .build import DemoRecipe, build
    if args.command in ("build", "ablation"):
        recipe = DemoRecipe.reduced() if args.reduced else DemoRecipe()
        recipe.seed = args.seed
        for item in args.set:
            key, _, value = item.partition("=")
            if not hasattr(recipe, key) or isinstance(getattr(recipe, key), (dict, VisionRecipe, LanguageRecipe)):
                parser.error(f"unknown or not settable recipe field {key!r}")
            if isinstance(getattr(recipe, key), list):  # the extend phases: --set 'extend=[[5000,2000]]'
                try:
                    setattr(recipe, key, [tuple(phase) for phase in json.loads(value)])
                except (ValueError, TypeError) as e:
                    parser.error(f"--set {key}: expected a JSON list of [videos, steps] pairs ({e})")
            else:
                setattr(recipe, key, type(getattr(recipe, key))(value))
    if args.command == "build":
        report = build(recipe, Path(args.out), Path(args.work_dir), Path(args.assets) if args.assets else None,
                       workers=args.workers, train_only=args.train_only)
        if report is not None:
            print(json.dumps(report["test"], indent=2))
        return 0
    if args.command == "ablation":
        from .build import build_text_times_ablation
        report = build_text_times_ablation(recipe, Path(args.out), Path(args.work_dir), workers=args.workers,
                                           train_only=args.train_only)
        if report is not None:
            print(report["test_without_temporal_head"]["table"])
        return 0
    from .world import generate_videos
    from .evaluate import evaluate_world
    videos = generate_videos("test", args.num_test, start_seed=args.seed * 1_000_000 + 500_000)
    scores = evaluate_world(load_model(args.model, profile="cpu").eval(), videos, tuple(args.tasks))
    print(scores.table())
    if args.report:
        from .build import write_report
        recipe = DemoRecipe()
        recipe.seed, recipe.num_test = args.seed, args.num_test
        write_report(recipe, videos, scores, Path(args.report), key=args.key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
