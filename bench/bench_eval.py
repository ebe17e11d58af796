"""CPU runtime of every evaluation metric on the full real annotation files, plus the metrics of
ground-truth-derived ("gt") and perturbed ("perturbed") predictions on each file.

    python bench/bench_eval.py [--data DIR] [--only charades,qvhighlights,...] [--no-language]

Perturbation (deterministic, so the numbers can be checked by hand): every window is shifted right by a
quarter of its length (IoU 0.6 with its own GT window); QVHighlights saliency is the per-clip best label
rolled by one clip; captions keep every other word; NExT-GQA picks a wrong option for odd questions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from videoexpert.eval import (evaluate_dense_captions, evaluate_grounding, evaluate_highlights,  # noqa: E402
                              evaluate_moments, evaluate_nextgqa, read_charades, read_dense_captions,
                              read_nextgqa, read_qvhighlights)
from videoexpert.eval.captioning import GARBAGE, caption_pairs, soda_c_video  # noqa: E402
from videoexpert.eval.language import LanguageScorer, java_available  # noqa: E402
from videoexpert.eval.nextgqa import GQAPrediction  # noqa: E402
from videoexpert.eval.qvhighlights import MomentPrediction, brief, clip_labels  # noqa: E402

ROWS: list[tuple[str, str, int, str, float]] = []   # (file, metric, items, variant, seconds)


def timed(file: str, metric: str, items: int, variant: str, fn: Callable):
    start = time.perf_counter()
    out = fn()
    ROWS.append((file, metric, items, variant, time.perf_counter() - start))
    return out


def shift(s: float, e: float, k: float) -> tuple[float, float]:
    return s + k * (e - s), e + k * (e - s)


def show(file: str, variant: str, metrics: dict) -> None:
    values = ", ".join(f"{k}={v:.2f}" for k, v in metrics.items() if isinstance(v, float))
    print(f"[{file}] {variant}: {values}", flush=True)


def bench_charades(root: Path) -> None:
    for name in ("charades_sta_test.txt", "charades_test_release.jsonl"):
        queries = read_charades(root / "charades_sta" / name)
        for variant, k in (("gt", 0.0), ("perturbed", 0.25)):
            preds = {q.id: shift(q.start, q.end, k) for q in queries}
            for protocol in ("seconds", "vtimellm"):
                m = timed(name, f"R1/mIoU ({protocol})", len(queries), variant,
                          lambda: evaluate_grounding(queries, preds, protocol=protocol))
                show(name, f"{variant} {protocol}", m.to_dict())


def bench_qvhighlights(root: Path) -> None:
    for name in ("highlight_val_release.jsonl", "highlight_test_with_gt.jsonl"):
        queries = read_qvhighlights(root / "qvhighlights" / name)
        for variant, k in (("gt", 0.0), ("perturbed", 0.25)):
            preds = {}
            for q in queries:
                best = clip_labels(q).max(1)
                saliency = np.roll(best, 1) if k else best
                preds[q.id] = MomentPrediction(tuple((*shift(s, e, k), 1.0) for s, e in q.windows), tuple(saliency))
            mr = timed(name, "MR R1 + mAP (4 length ranges)", len(queries), variant,
                       lambda: evaluate_moments(queries, preds))
            hl = timed(name, "HL mAP + HIT@1 (3 levels)", len(queries), variant,
                       lambda: evaluate_highlights(queries, preds))
            show(name, variant, brief(mr, hl))


def halve(sentence: str) -> str:
    return " ".join(sentence.split()[::2])


def bench_captions(root: Path, language: bool) -> None:
    for folder, name in (("youcook2", "yc2_val.json"), ("activitynet_captions", "val_1.json"),
                         ("activitynet_captions", "val_2.json")):
        videos = read_dense_captions(root / folder / name)
        for variant, k in (("gt", 0.0), ("perturbed", 0.25)):
            preds = {v.id: [(*shift(s, e, k), halve(t) if k else t) for (s, e), t in zip(v.events, v.sentences)]
                     for v in videos}
            m = timed(name, "P/R/F1 (localisation)", len(videos), variant,
                      lambda: evaluate_dense_captions(videos, preds, None)).to_dict()
            if language:
                m.update(language_metrics(name, videos, preds, variant))
            show(name, variant, m)


def language_metrics(name: str, videos, preds, variant: str) -> dict:
    """METEOR/CIDEr and SODA_c timed apart (each on a fresh METEOR process, JVM start included)."""
    out = {}
    sentences = [s for v in videos for s in v.sentences] + [e[2] for evs in preds.values() for e in evs]
    with LanguageScorer() as scorer:
        timed(name, "PTB tokenisation (all sentences)", len(videos), variant,
              lambda: scorer.tokenize(sentences + [GARBAGE]))

        def densevid():
            for t in (0.3, 0.5, 0.7, 0.9):
                pairs = [caption_pairs(v, preds[v.id], t) for v in videos]
                out[f"METEOR@{t}"] = 100 * float(np.mean([scorer.meteor(p) for p in pairs]))
                out[f"CIDEr@{t}"] = 100 * float(np.mean([scorer.cider(p) for p in pairs]))
        timed(name, "METEOR + CIDEr (4 tIoUs)", len(videos), variant, densevid)
    with LanguageScorer() as scorer:
        scorer.tokenize(sentences)
        out["SODA_c"] = timed(name, "SODA_c", len(videos), variant, lambda: 100 * float(np.mean(
            [soda_c_video(v, preds[v.id], scorer) for v in videos])))
    out["METEOR"] = float(np.mean([out[f"METEOR@{t}"] for t in (0.3, 0.5, 0.7, 0.9)]))
    out["CIDEr"] = float(np.mean([out[f"CIDEr@{t}"] for t in (0.3, 0.5, 0.7, 0.9)]))
    return out


def bench_nextgqa(root: Path) -> None:
    for name in ("gsub_val.json", "gsub_test.json"):
        questions = read_nextgqa(root / "nextgqa" / name)
        for variant, k in (("gt", 0.0), ("perturbed", 0.25)):
            preds = {}
            for i, q in enumerate(questions):
                right = q.options.index(q.answer)
                choice = (right + 1) % 5 if k and i % 2 else right
                preds[q.id] = GQAPrediction(shift(*q.spans[0], k), choice)
            m = timed(name, "Acc@QA/GQA, IoP, IoU", len(questions), variant,
                      lambda: evaluate_nextgqa(questions, preds))
            show(name, variant, m.to_dict())


def main() -> int:
    default = Path(os.environ.get("VIDEOEXPERT_BENCHMARKS",
                                  Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "benchmarks"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--only", default="charades,qvhighlights,captions,nextgqa")
    parser.add_argument("--no-language", action="store_true", help="skip METEOR/CIDEr/SODA_c (Java)")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"benchmark annotations not found at {args.data}", file=sys.stderr)
        return 2
    only = set(args.only.split(","))
    language = not args.no_language and java_available()
    if "charades" in only:
        bench_charades(args.data)
    if "qvhighlights" in only:
        bench_qvhighlights(args.data)
    if "captions" in only:
        bench_captions(args.data, language)
    if "nextgqa" in only:
        bench_nextgqa(args.data)
    print(f"\nCPU runtime ({os.cpu_count()} cores, single process)")
    print(f"{'file':<30} {'metric':<34} {'items':>6} {'gt s':>8} {'perturbed s':>12}")
    seen = {}
    for file, metric, items, variant, seconds in ROWS:
        seen.setdefault((file, metric, items), {})[variant] = seconds
    for (file, metric, items), t in seen.items():
        print(f"{file:<30} {metric:<34} {items:>6} {t.get('gt', float('nan')):>8.3f} "
              f"{t.get('perturbed', float('nan')):>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
