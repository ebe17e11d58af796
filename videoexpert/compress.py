"""Spatial Compress (paper §III-C, eq. 3, Fig. 4): patch tokens of n frames -> u*w S-tokens.

The default reproduces the official "compress_class_pool" rule the released weights were trained on:

1. u IDR frames at round(linspace(0, n-1, u)); each GOP is the IDR frame and the next L-1 frames, shifted
   back to fit inside the video. (Official quirk kept on purpose: the CLS token used to rank key tokens is
   the one of the unshifted IDR frame, while the "IDR" patches are those of the GOP's first frame. The two
   differ only for a GOP that had to be shifted, i.e. the last one.)
2. (a) key tokens: the `k` IDR patches most cosine-similar to the CLS token, in index order; context tokens:
   `w-k` of the remaining patches at round(linspace(0, R-1, w-k)). Together: w cluster centres.
3. (b) every patch of the GOP is assigned to its most cosine-similar centre (first maximum on ties).
4. (c) a P-frame patch whose centre equals the IDR patch's centre at the same spatial position is static
   and dropped.
5. (d) S-token c = mean of the IDR patches and surviving P-frame patches assigned to c (the centre itself
   when none is).

Everything is batched tensor algebra: no Python loop over samples, GOPs or centres.

Precision follows the official code: similarities and cluster assignments are computed in the features' own dtype
(fp16 from the CLIP tower on a GPU), since near-ties flip assignments between fp16 and fp32 and the released weights
saw the fp16 ones; only the merge's sums are accumulated in fp32 and rounded once, as `Tensor.mean` does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .config import CompressConfig
from .errors import ConfigError


def gop_frames(num_frames: int, num_gops: int, gop_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """IDR frame index per GOP (u,) and the frames of each GOP (u, L), L = min(gop_length, n)."""
    idr = torch.from_numpy(np.round(np.linspace(0, num_frames - 1, num_gops)).astype(np.int64))
    length = min(gop_length, num_frames)
    start = idr.clamp(max=num_frames - length)
    return idr, start[:, None] + torch.arange(length)


def context_positions(num_remaining: int, num_context: int) -> torch.Tensor:
    """Positions among the non-key patches (ascending) that become context centres."""
    if num_context == 0:
        return torch.zeros(0, dtype=torch.long)
    pos = torch.linspace(0, num_remaining - 1, num_context).round().long()
    return torch.unique(pos)  # sorted; distinct whenever num_context <= num_remaining


def spatial_compress(cls_tokens: torch.Tensor, patch_tokens: torch.Tensor, config: CompressConfig) -> torch.Tensor:
    """Compress patch tokens into S-tokens.

    Args:
        cls_tokens: (b, n, d) CLS token of every frame.
        patch_tokens: (b, n, p, d) patch tokens of every frame.
    Returns:
        (b, u*w, d) S-tokens, GOP by GOP, each GOP's w tokens ordered keys then context.
    """
    b, n, p, d = patch_tokens.shape
    u, w, k = config.num_gops, config.num_centers, config.num_key_tokens
    if w > p:
        raise ConfigError(f"compress.num_centers ({w}) exceeds the patches per frame ({p})")
    out_dtype = patch_tokens.dtype
    idr, frames = gop_frames(n, u, config.gop_length)
    idr, frames = idr.to(patch_tokens.device), frames.to(patch_tokens.device)
    gop = patch_tokens[:, frames]                               # (b, u, L, p, d)
    length = gop.shape[2]
    idr_patches = gop[:, :, 0]                                  # (b, u, p, d)
    cls = cls_tokens[:, idr].to(out_dtype)                      # (b, u, d)

    # (a) key tokens by cosine similarity to the CLS token, kept in patch-index order
    sim = F.cosine_similarity(idr_patches, cls[:, :, None], dim=-1)          # (b, u, p)
    keys = sim.topk(k, dim=-1).indices.sort(dim=-1).values                    # (b, u, k)
    is_key = torch.zeros_like(sim, dtype=torch.bool).scatter_(-1, keys, True)
    order = torch.arange(p, device=sim.device)
    remaining = torch.sort(is_key.long() * p + order, dim=-1).values[..., : p - k]  # non-keys, ascending
    context = remaining[..., context_positions(p - k, w - k).to(sim.device)]        # (b, u, w-k)
    centre_idx = torch.cat([keys, context], dim=-1)                                  # (b, u, w)
    if centre_idx.shape[-1] != w:
        raise ConfigError(f"could only pick {centre_idx.shape[-1]} of {w} centres from {p} patches")
    centres = idr_patches.gather(2, centre_idx[..., None].expand(-1, -1, -1, d))     # (b, u, w, d)

    # (b) assign every patch of the GOP to its most similar centre
    flat = gop.reshape(b, u, length * p, d)
    cos = F.normalize(flat, dim=-1) @ F.normalize(centres, dim=-1).transpose(-1, -2)  # (b, u, L*p, w)
    labels = cos.argmax(dim=-1).view(b, u, length, p)

    # (c) static P-frame patches: same centre as the IDR patch at the same position
    keep = torch.ones_like(labels, dtype=torch.bool)
    if config.drop_static:
        keep[:, :, 1:] = labels[:, :, 1:] != labels[:, :, :1]

    # (d) merge: mean of the kept members of each cluster, the centre itself if the cluster is empty
    members = F.one_hot(labels, w).float() * keep[..., None].float()                 # (b, u, L, p, w)
    members = members.view(b, u, length * p, w)
    sums = members.transpose(-1, -2) @ flat.float()                                   # (b, u, w, d), fp32
    counts = members.sum(dim=2)[..., None]                                            # (b, u, w, 1)
    tokens = torch.where(counts > 0, (sums / counts.clamp(min=1)).to(out_dtype), centres)
    return tokens.reshape(b, u * w, d)

