"""Spatial Compress speed: the vectorized implementation vs a per-GOP, per-centre Python loop (the official
code's structure), at the paper's sizes. Prints a Markdown table.

    python bench/bench_compress.py [--batch 1 4] [--device cpu] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.nn.functional as F

from videoexpert.compress import context_positions, gop_frames, spatial_compress
from videoexpert.config import CompressConfig


def looped_compress(cls: torch.Tensor, patches: torch.Tensor, cfg: CompressConfig) -> torch.Tensor:
    """Same rule, written the way the official code is: loops over samples, GOPs and centres."""
    b, n, p, d = patches.shape
    idr, frames = gop_frames(n, cfg.num_gops, cfg.gop_length)
    out = torch.empty(b, cfg.num_tokens, d, dtype=patches.dtype, device=patches.device)
    for s in range(b):
        for g in range(cfg.num_gops):
            gop = patches[s, frames[g]]                                     # (L, p, d)
            sim = F.cosine_similarity(gop[0], cls[s, idr[g]][None], dim=-1)
            keys = sim.topk(cfg.num_key_tokens).indices.sort().values
            rest = torch.tensor([j for j in range(p) if j not in set(keys.tolist())], device=patches.device)
            centres_idx = torch.cat([keys, rest[context_positions(len(rest), cfg.num_centers - cfg.num_key_tokens)]])
            centres = gop[0, centres_idx]
            labels = (F.normalize(gop, dim=-1) @ F.normalize(centres, dim=-1).T).argmax(-1)  # (L, p)
            keep = torch.ones_like(labels, dtype=torch.bool)
            keep[1:] = labels[1:] != labels[:1]
            for c in range(cfg.num_centers):
                members = gop[(labels == c) & keep]
                out[s, g * cfg.num_centers + c] = members.mean(0) if len(members) else centres[c]
    return out


def timed(fn, repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = CompressConfig()  # paper: u=4, w=64, 28 key tokens
    print(f"Spatial Compress, n=100 frames, p=256 patches, d=768, u=4, w=64 on {args.device} "
          f"({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__})\n")
    print("| batch | vectorized (ms) | per-centre loop (ms) | speed-up | max abs diff |")
    print("|---:|---:|---:|---:|---:|")
    for b in args.batch:
        g = torch.Generator().manual_seed(b)
        cls = torch.randn(b, 100, 768, generator=g).to(args.device)
        patches = torch.randn(b, 100, 256, 768, generator=g).to(args.device)
        fast = timed(lambda: spatial_compress(cls, patches, cfg), args.repeats)
        slow = timed(lambda: looped_compress(cls, patches, cfg), max(1, args.repeats // 3))
        diff = (spatial_compress(cls, patches, cfg) - looped_compress(cls, patches, cfg)).abs().max().item()
        print(f"| {b} | {fast * 1e3:.1f} | {slow * 1e3:.1f} | {slow / fast:.1f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
