"""Temporal span arithmetic (videoexpert.spans): hand cases, the tensor forms against the float ones, and the
benchmark protocols' named variants against the shared IoU."""

import random
import subprocess
import sys

import pytest
import torch

from videoexpert.eval.captioning import caption_iou
from videoexpert.eval.nextgqa import iou_iop
from videoexpert.eval.qvhighlights import true_iou
from videoexpert.spans import (frame_seconds, frame_times, generalized_iou, hull, intersection, overlap, pad_windows,
                               pairwise_iou, temporal_iou)


def test_temporal_iou_hand_cases():
    assert temporal_iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert temporal_iou((0, 2), (3, 5)) == 0.0                 # disjoint
    assert temporal_iou((3, 3), (0, 10)) == 0.0                # point prediction
    assert temporal_iou((-5, 5), (0, 10)) == pytest.approx(5 / 15)   # outside the video: not clipped
    assert temporal_iou((0, 10), (0, 10)) == 1.0
    assert temporal_iou((4, 4), (4, 4)) == 0.0                 # zero union


def test_overlap_intersection_and_hull():
    assert overlap((0, 10), (5, 15)) == 5 and intersection((0, 10), (5, 15)) == 5 and hull((0, 10), (5, 15)) == 15
    assert overlap((0, 2), (5, 7)) == -3 and intersection((0, 2), (5, 7)) == 0.0      # the gap, then nothing
    assert hull((0, 2), (5, 7)) == 7


def test_frame_times_follow_the_official_formula():
    torch.testing.assert_close(frame_times(4), torch.tensor([0.25, 0.5, 0.75, 1.0]))
    assert frame_times(3, dtype=torch.float64).dtype == torch.float64


def test_frame_seconds_are_the_frame_times_scaled():
    assert frame_seconds(4, 8.0) == (2.0, 4.0, 6.0, 8.0)
    n, duration = 100, 37.3
    assert frame_seconds(n, duration) == tuple((i + 1) / n * duration for i in range(n))
    assert list(frame_seconds(n, 1.0)) == frame_times(n, dtype=torch.float64).tolist()


def test_pairwise_iou_matches_the_float_iou():
    rng = random.Random(0)
    spans = [tuple(sorted((rng.uniform(0, 1), rng.uniform(0, 1)))) for _ in range(40)]
    t = torch.tensor(spans, dtype=torch.float64)
    iou = pairwise_iou(t, t)                                                          # (40, 40)
    assert iou.shape == (40, 40)
    want = torch.tensor([[temporal_iou(a, b) for b in spans] for a in spans], dtype=torch.float64)
    torch.testing.assert_close(iou, want, rtol=1e-12, atol=1e-12)


def test_giou_hand_values():
    pred = torch.tensor([[0.0, 0.2], [0.1, 0.3], [0.0, 0.4]])
    gt = torch.tensor([[0.0, 0.2], [0.2, 0.4], [0.1, 0.3]])
    torch.testing.assert_close(generalized_iou(pred, gt), torch.tensor([1.0, 1 / 3, 0.5]))
    disjoint = generalized_iou(torch.tensor([[0.0, 0.1]]), torch.tensor([[0.3, 0.4]]))
    torch.testing.assert_close(disjoint, torch.tensor([-0.5]))                      # 0 - (0.4 - 0.2) / 0.4


def test_pad_windows_pads_with_nan_rows():
    one = torch.tensor([[0.1, 0.2]])                                 # 1 [LOC], 1 window
    two = torch.tensor([[[0.3, 0.4], [0.5, 0.6]]])                  # 1 [LOC], 2 windows
    none = torch.zeros(0, 2)                                         # a sample without [LOC]
    padded = pad_windows([one, none, two])
    assert padded.shape == (2, 2, 2)
    torch.testing.assert_close(padded[1], two[0])
    assert padded[0, 0].tolist() == pytest.approx([0.1, 0.2]) and torch.isnan(padded[0, 1]).all()


@pytest.mark.parametrize("seed", range(3))
def test_protocol_variants_agree_with_the_shared_iou_where_they_should(seed):
    """The named wrappers differ from `temporal_iou` only where their reference does: rounding of the union,
    densevid's 1e-8, NExT-GQA's unclamped intersection."""
    rng = random.Random(seed)
    for _ in range(500):
        a, b = ((s, s + rng.uniform(0.5, 50)) for s in (rng.uniform(0, 100), rng.uniform(0, 100)))
        shared = temporal_iou(a, b)
        assert true_iou(a, b) == pytest.approx(shared, rel=1e-12, abs=1e-15)
        assert caption_iou(a, b) == pytest.approx(shared, rel=1e-7, abs=1e-15) and caption_iou(a, b) <= shared
        assert max(0.0, iou_iop(b, a)[0]) == shared                                    # (gt, pred) order


def test_span_arithmetic_and_the_metrics_import_without_torch():
    code = ("import sys; import videoexpert.spans, videoexpert.data.annotations, videoexpert.eval; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
