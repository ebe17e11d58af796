"""Spatial Compress against a plain per-sample, per-GOP, per-centre reference written from DESIGN.md's rule."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from videoexpert.compress import spatial_compress
from videoexpert.config import CompressConfig


def reference_compress(cls, patches, u=4, gop_len=3, w=64, k=28, drop_static=True):
    """The official rule, step by step with Python loops (slow, obvious)."""
    b, n, p, d = patches.shape
    out = []
    for s in range(b):
        tokens = []
        for g in range(u):
            idr = int(round(np.linspace(0, n - 1, u)[g]))
            length = min(gop_len, n)
            start = min(idr, n - length)
            frames = list(range(start, start + length))
            idr_p = patches[s, frames[0]]
            sim = [F.cosine_similarity(idr_p[j], cls[s, idr], dim=0).item() for j in range(p)]
            keys = sorted(sorted(range(p), key=lambda j: -sim[j])[:k])
            rest = [j for j in range(p) if j not in keys]
            pos = []
            for x in np.linspace(0, len(rest) - 1, w - k) if w > k else []:
                r = int(torch.tensor(x).round())
                if r not in pos:
                    pos.append(r)
            centres = keys + [rest[i] for i in pos]
            cfeat = idr_p[centres]
            label = {}
            for fi, f in enumerate(frames):
                for j in range(p):
                    cos = [F.cosine_similarity(patches[s, f, j], cfeat[c], dim=0).item() for c in range(w)]
                    label[fi, j] = int(np.argmax(cos))
            for c in range(w):
                members = [patches[s, frames[0], j] for j in range(p) if label[0, j] == c]
                for fi in range(1, len(frames)):
                    for j in range(p):
                        static = drop_static and label[fi, j] == label[0, j]
                        if label[fi, j] == c and not static:
                            members.append(patches[s, frames[fi], j])
                tokens.append(torch.stack(members).mean(0) if members else cfeat[c])
        out.append(torch.stack(tokens))
    return torch.stack(out)


@pytest.mark.parametrize("b,n,p,d,u,w,k", [(2, 12, 16, 8, 4, 8, 3), (1, 7, 25, 6, 3, 10, 4), (2, 100, 16, 4, 4, 8, 4),
                                             (1, 2, 9, 5, 2, 9, 0), (1, 5, 12, 3, 1, 6, 6)])
def test_matches_reference(b, n, p, d, u, w, k):
    g = torch.Generator().manual_seed(n * 100 + p)
    cls, patches = torch.randn(b, n, d, generator=g), torch.randn(b, n, p, d, generator=g)
    cfg = CompressConfig(num_gops=u, gop_length=3, num_centers=w, num_key_tokens=k)
    got = spatial_compress(cls, patches, cfg)
    assert got.shape == (b, u * w, d)
    torch.testing.assert_close(got, reference_compress(cls, patches, u, 3, w, k), rtol=1e-5, atol=1e-5)


def test_static_patches_are_removed():
    """P-frames identical to their IDR frame add nothing: S-tokens equal the IDR-only cluster means."""
    g = torch.Generator().manual_seed(0)
    n, p, d = 9, 16, 8
    cls, patches = torch.randn(1, n, d, generator=g), torch.randn(1, n, p, d, generator=g)
    cfg = CompressConfig(num_gops=3, gop_length=3, num_centers=8, num_key_tokens=3)
    # IDR frames 0, 4, 8; GOPs are frames 0-2, 4-6 and (shifted to fit) 6-8. Make every P-frame a copy of its
    # GOP's first frame; frames 4-8 are one picture so the shifted GOP and the length-1 GOP at 8 see the same.
    patches[0, 1:3] = patches[0, 0]
    patches[0, 5:9] = patches[0, 4]
    cls[0, 5:9] = cls[0, 4]
    with_p = spatial_compress(cls, patches, cfg)
    idr_only = spatial_compress(cls, patches, CompressConfig(num_gops=3, gop_length=1, num_centers=8, num_key_tokens=3))
    torch.testing.assert_close(with_p, idr_only)
    # without static removal the duplicates are merged too; the means are the same but the rule must not crash
    kept = spatial_compress(cls, patches, CompressConfig(num_gops=3, gop_length=3, num_centers=8, num_key_tokens=3,
                                                         drop_static=False))
    torch.testing.assert_close(kept, idr_only)


def test_dynamic_patch_changes_its_token():
    """A P-frame patch that moves to another cluster is kept and shifts that cluster's mean."""
    g = torch.Generator().manual_seed(1)
    n, p, d = 3, 16, 8
    cls, patches = torch.randn(1, n, d, generator=g), torch.randn(1, n, p, d, generator=g)
    patches[0, 1] = patches[0, 0]
    patches[0, 2] = patches[0, 0]
    cfg = CompressConfig(num_gops=1, gop_length=3, num_centers=4, num_key_tokens=2)
    before = spatial_compress(cls, patches, cfg)
    patches[0, 1, 5] = patches[0, 0, 9] * 1.5   # position 5 now looks like patch 9: a different cluster (in general)
    after = spatial_compress(cls, patches, cfg)
    assert not torch.allclose(before, after)


def test_dtype_and_batch_independence():
    g = torch.Generator().manual_seed(2)
    cls, patches = torch.randn(3, 20, 8, generator=g), torch.randn(3, 20, 16, 8, generator=g)
    cfg = CompressConfig(num_gops=4, num_centers=8, num_key_tokens=4)
    full = spatial_compress(cls, patches, cfg)
    torch.testing.assert_close(full[1:2], spatial_compress(cls[1:2], patches[1:2], cfg))
    assert spatial_compress(cls.half(), patches.half(), cfg).dtype == torch.float16
