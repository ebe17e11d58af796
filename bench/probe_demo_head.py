"""Where does the demo model's grounding fall short? Train a fresh temporal head on a saved model's frozen head inputs.

The model runs once over every grounding query of the demo world (teacher-forced "During [LOC]."), and the head
inputs are kept: the final hidden states at the 100 T-tokens and at the position that predicts [LOC]. A fresh head
(the model's own class and config) then trains on them alone, in minutes instead of the hours a stage-2 run takes,
so three questions get a number each:

    head as saved       the model's own head on the cached test states: equals `python -m demo evaluate`
                        (R1@0.5, mIoU, HIT@1), which checks that the cache is what the model sees
    more training data  --num-train: the same probe with more generated training videos (first ones identical)
    the query           --query-oracle plus: h_loc gets a learned bag-of-words embedding of the query added, an upper
                        bound on what a better query representation in the LLM's [LOC] state could give

    python bench/probe_demo_head.py --model checkpoints/videoexpert-demo --num-train 1000 --steps 3000
    python bench/probe_demo_head.py --model checkpoints/videoexpert-demo --num-train 5000 --query-oracle plus

Grounding metrics as in `demo.evaluate` (the top-scored frame's span; HIT@1 of the saliency peak), on the
held-out test split (unseen colour-shape pairs) and on 500 training queries.
"""

from __future__ import annotations

import argparse
import sys
import logging
import time
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # demo/ lives beside the package

from videoexpert.cli import setup_logging
from videoexpert.config import LossConfig
from videoexpert.data.collate import collate, make_example
from videoexpert.data.features import load_features
from demo.world import generate_videos
from demo.evaluate import world_features
from videoexpert.head import TemporalHead
from videoexpert.loss import grounding_losses, total_loss
from videoexpert.model import VideoExpert
from videoexpert.spans import frame_times
from videoexpert import load_model

logger = logging.getLogger("probe_demo_head")


@torch.inference_mode()
def head_inputs(model: VideoExpert, videos, answer: str, features_dir: Path | None = None,
                batch_size: int = 32) -> dict:
    """Head inputs of every grounding query: T states (q, n, d) in fp16, [LOC] states (q, d), windows, queries."""
    captured = {}
    hook = model.head.register_forward_pre_hook(lambda module, args: captured.update(t=args[0], loc=args[1]))
    t_states, loc_states, windows, queries, batch = [], [], [], [], []

    def run_batch():
        inputs = collate(batch, model.tokenizer.pad_token_id)
        model(inputs["input_ids"], inputs["cls_tokens"], inputs["patch_tokens"], inputs["attention_mask"])
        t_states.append(captured["t"].half())
        loc_states.append(captured["loc"].float())
        batch.clear()

    for video in tqdm(videos, desc="caching head inputs", unit="video"):
        saved = features_dir / f"{video.name}.safetensors" if features_dir is not None else None
        features = load_features(saved) if saved is not None and saved.exists() else world_features(model, video)
        for item in video.grounding_queries():
            window = (item.start / video.duration, item.end / video.duration)
            batch.append(make_example(model, features.cls_tokens, features.patch_tokens,
                                      model.templates.question("grounding", item.query),
                                      answer.format(query=item.query), [window]))
            windows.append(window)
            queries.append(item.query)
            if len(batch) == batch_size:
                run_batch()
    if batch:
        run_batch()
    hook.remove()
    return {"t": torch.cat(t_states), "loc": torch.cat(loc_states), "windows": torch.tensor(windows),
            "queries": queries}


class BagOfWords(nn.Module):
    """A learned embedding of the query's words, added to the [LOC] state (the oracle query representation)."""

    def __init__(self, vocabulary: list[str], width: int) -> None:
        super().__init__()
        self.index = {w: i for i, w in enumerate(vocabulary)}
        self.embed = nn.Linear(len(vocabulary), width)

    def forward(self, queries: list[str]) -> torch.Tensor:
        counts = torch.zeros(len(queries), len(self.index))
        for i, query in enumerate(queries):
            for word in query.split():
                counts[i, self.index[word]] += 1
        return self.embed(counts)


def scores(head: TemporalHead, split: dict, oracle: BagOfWords | None, limit: int | None = None) -> dict:
    t, loc, windows = split["t"][:limit].float(), split["loc"][:limit], split["windows"][:limit]
    with torch.no_grad():
        if oracle is not None:
            loc = loc + oracle(split["queries"][:limit])
        out = head(t, loc)
    top = out.foreground.argmax(dim=1)
    spans = out.spans[torch.arange(len(top)), top].clamp(0, 1)
    inter = (torch.minimum(spans[:, 1], windows[:, 1]) - torch.maximum(spans[:, 0], windows[:, 0])).clamp(min=0)
    hull = torch.maximum(spans[:, 1], windows[:, 1]) - torch.minimum(spans[:, 0], windows[:, 0])
    iou = inter / hull.clamp(min=1e-8)  # the intersection lies inside both, so union = hull here
    peak = frame_times(t.shape[1])[top]
    hit = (peak >= windows[:, 0]) & (peak <= windows[:, 1])
    return {"R1@0.5": float((iou >= 0.5).float().mean()), "mIoU": float(iou.mean()), "HIT@1": float(hit.float().mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="checkpoints/videoexpert-demo")
    parser.add_argument("--num-train", type=int, default=1000, help="generated training videos (seeds 0, 1, ...)")
    parser.add_argument("--num-test", type=int, default=120, help="held-out test videos (the demo's test split)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--query-oracle", choices=["none", "plus"], default="none",
                        help="plus: add a learned bag-of-words embedding of the query to the [LOC] state")
    parser.add_argument("--answer", help="the teacher-forced answer (default: the model's templates' grounding answer), "
                             "{query} standing for the query, e.g. "
                             "'{query} happens during [LOC].' (the [LOC] state then follows the query's words)")
    parser.add_argument("--features-dir", type=Path,
                        help="the demo build's features of the training videos (e.g. runs/demo/data/features), "
                             "read instead of rendering and encoding the videos again")
    parser.add_argument("--cache", type=Path, help="save/load the head inputs here (a .pt file of tensors)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    setup_logging()
    torch.manual_seed(args.seed)
    model = load_model(args.model, profile="cpu")
    args.answer = args.answer or model.templates.grounding_answer()
    if args.cache is not None and args.cache.exists():
        data = torch.load(args.cache, weights_only=True)
        if data["sizes"] != [args.num_train, args.num_test, args.seed] or data.get("answer", args.answer) != args.answer:
            parser.error(f"{args.cache} holds {data['sizes']} (train videos, test videos, seed) and answer "
                         f"{data.get('answer')!r}, not what was asked")
    else:
        videos = {"train": generate_videos("train", args.num_train, start_seed=args.seed * 1_000_000),
                  "test": generate_videos("test", args.num_test, start_seed=args.seed * 1_000_000 + 500_000)}
        data = {split: head_inputs(model, v, args.answer, args.features_dir if split == "train" else None)
                for split, v in videos.items()}
        data.update(sizes=[args.num_train, args.num_test, args.seed], answer=args.answer)
        if args.cache is not None:
            torch.save(data, args.cache)
    train_split, test_split = data["train"], data["test"]
    rows = [("head as saved", 0, scores(model.head.float(), train_split, None, 500),
             scores(model.head.float(), test_split, None))]

    head = TemporalHead(train_split["loc"].shape[-1], model.config.head)
    oracle = None
    if args.query_oracle == "plus":
        vocabulary = sorted({w for q in train_split["queries"] + test_split["queries"] for w in q.split()})
        oracle = BagOfWords(vocabulary, train_split["loc"].shape[-1])
    params = list(head.parameters()) + (list(oracle.parameters()) if oracle is not None else [])
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=args.steps, pct_start=0.03)
    generator = torch.Generator().manual_seed(args.seed)
    loss_config = LossConfig()
    label = f"fresh head, {args.num_train} videos" + (", + bag-of-words query" if oracle is not None else "")
    started = time.perf_counter()
    for step in tqdm(range(1, args.steps + 1), desc="training the probe head", unit="step"):
        index = torch.randint(0, len(train_split["windows"]), (args.batch_size,), generator=generator)
        loc = train_split["loc"][index]
        if oracle is not None:
            loc = loc + oracle([train_split["queries"][i] for i in index.tolist()])
        out = head(train_split["t"][index].float(), loc)
        loss = total_loss(grounding_losses(out, train_split["windows"][index], loss_config), loss_config)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % max(args.steps // 5, 1) == 0 or step == args.steps:
            rows.append((label, step, scores(head, train_split, oracle, 500), scores(head, test_split, oracle)))
    logger.info("probe trained in %.0f s", time.perf_counter() - started)

    print(f"\n{len(train_split['windows'])} training queries, {len(test_split['windows'])} held-out test queries, "
          f"answer {data.get('answer', args.answer)!r}")
    print("| probe | steps | train R1@0.5 | train mIoU | train HIT@1 | test R1@0.5 | test mIoU | test HIT@1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, step, train_scores, test_scores in rows:
        values = [train_scores[k] for k in ("R1@0.5", "mIoU", "HIT@1")] + \
                 [test_scores[k] for k in ("R1@0.5", "mIoU", "HIT@1")]
        print(f"| {name} | {step} | " + " | ".join(f"{v:.3f}" for v in values) + " |")


if __name__ == "__main__":
    main()
