"""QVHighlights MR and HL: hand-computed AP / R1 / HIT@1 cases (ties, truncation, empty, padding) and
the real val / test files with ground-truth-derived and shifted predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from videoexpert.data.annotations import HighlightQuery
from videoexpert.eval import evaluate, read_qvhighlights
from videoexpert.eval.predictions import PredictionFile, Submission
from videoexpert.eval.qvhighlights import (MR_THRESHOLDS, MomentPrediction, evaluate_highlights,
                                           evaluate_moments, highlight_ap, moment_ap, r1_iou, voc_ap)


def test_thresholds_match_the_reference_formatting():
    assert MR_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_voc_ap_by_hand():
    # one false positive then one true positive out of two GT windows
    assert voc_ap(np.array([0.0, 0.5]), np.array([0.0, 0.5])) == pytest.approx(0.25)
    assert voc_ap(np.array([1.0, 0.5]), np.array([0.5, 0.5])) == pytest.approx(0.5)


def test_moment_ap_sorting_ties_and_truncation():
    gts = [(0.0, 10.0), (20.0, 30.0)]
    assert moment_ap([(20, 30, 0.5), (50, 60, 0.9)], gts)[0] == pytest.approx(0.25)   # sorted by score
    assert moment_ap([(50, 60, 0.5), (20, 30, 0.5)], gts)[0] == pytest.approx(0.25)   # tie: file order
    assert moment_ap([(20, 30, 0.5), (50, 60, 0.5)], gts)[0] == pytest.approx(0.5)
    assert moment_ap([(0, 10, 1.0), (20, 30, 1.0)], gts).tolist() == [1.0] * 10
    # only the first 10 windows count, even when the 11th is the best-scored correct one
    windows = [(100 + i, 101 + i, 0.1) for i in range(10)] + [(0, 10, 0.99)]
    assert moment_ap(windows, [(0.0, 10.0)]).tolist() == [0.0] * 10
    # a window matching an already-locked GT is a false positive
    assert moment_ap([(0, 10, 0.9), (0, 10, 0.8)], [(0.0, 10.0)])[0] == pytest.approx(1.0)
    assert moment_ap([(0, 10, 0.9), (0, 10, 0.8)], gts)[0] == pytest.approx(0.5)
    assert moment_ap([], gts).tolist() == [0.0] * 10
    # IoU 0.6: a TP at t <= 0.6, a FP above
    ap = dict(zip(MR_THRESHOLDS, moment_ap([(2.5, 12.5, 1.0)], [(0.0, 10.0)])))
    assert ap[0.55] == 1.0 and ap[0.65] == 0.0


def test_r1_uses_the_first_window_and_the_best_gt():
    gts = [(0.0, 10.0), (8.0, 20.0)]
    assert r1_iou((9.0, 19.0), gts) == pytest.approx(10 / 12)
    hq = HighlightQuery("1", "v", "q", 150, ((0.0, 10.0),))
    first_is_wrong = MomentPrediction(((50, 60, 0.1), (0, 10, 0.9)))
    out = evaluate_moments([hq], {"1": first_is_wrong})["full"]
    assert out["MR-R1"]["0.5"] == 0.0          # no sort for R1
    assert out["MR-mAP"]["0.5"] == 100.0       # mAP sorts by score


def test_missing_and_empty_queries_score_zero_and_buckets_filter_gt():
    queries = [HighlightQuery("1", "v", "q", 150, ((0.0, 4.0), (10.0, 40.0))),
               HighlightQuery("2", "v", "q", 150, ((0.0, 20.0),)),
               HighlightQuery("3", "v", "q", 150, ((0.0, 40.0),))]
    preds = {"1": MomentPrediction(((0, 4, 1.0),)), "2": MomentPrediction(())}   # 3 missing
    out = evaluate_moments(queries, preds)
    assert out["full"]["MR-R1"]["0.5"] == pytest.approx(33.33)
    assert out["full"]["MR-mAP"]["0.5"] == pytest.approx(16.67)        # AP(1) = 0.5: one of two GT found
    assert out["short"]["num_queries"] == 1 and out["short"]["MR-mAP"]["average"] == 100.0
    assert out["middle"]["num_queries"] == 2 and out["middle"]["MR-R1"]["0.5"] == 0.0
    assert out["long"]["num_queries"] == 1 and out["long"]["MR-R1"]["0.5"] == 0.0   # (10, 40) is middle


def test_highlight_ap_by_hand_including_ties():
    assert highlight_ap(np.array([1., 0, 1, 0]), np.array([.9, .8, .7, .1])) == pytest.approx((1 + 2 / 3) / 2)
    assert highlight_ap(np.array([1., 1, 0, 0]), np.array([.5, .5, .5, .1])) == pytest.approx(2 / 3)
    # a tie holding two positives counts as one recall step: 0.875, where step-wise AP gives 0.8333
    assert highlight_ap(np.array([1., 0, 1, 1]), np.array([.9, .5, .5, .5])) == pytest.approx(0.875)
    assert highlight_ap(np.zeros(4), np.arange(4.0)) == 0.0
    assert highlight_ap(np.ones(4), np.arange(4.0)) == 1.0


def test_hit1_ties_padding_and_clips_past_the_end():
    # duration 8 s -> 4 clips; clip 1 labelled (0, 0, 4), clip 2 labelled (2, 2, 2)
    hq = HighlightQuery("1", "v", "q", 8.0, ((2.0, 6.0),), (1, 2), ((0, 0, 4), (2, 2, 2)))

    def run(scores):
        return evaluate_highlights([hq], {"1": MomentPrediction((), tuple(scores))})

    assert run([0.5, 0.5, 0.1, 0.1])["HL-min-VeryGood"]["HL-Hit1"] == 0.0     # first index wins the tie
    assert run([0.1, 0.5, 0.5, 0.1])["HL-min-VeryGood"]["HL-Hit1"] == 100.0   # any annotator >= 4
    assert run([0.1, 0.5, 0.9, 0.1])["HL-min-Fair"]["HL-Hit1"] == 100.0
    assert run([0.1, 0.5, 0.9, 0.1])["HL-min-Good"]["HL-Hit1"] == 0.0
    assert run([0, 0, 0, 0, 1.0])["HL-min-Fair"]["HL-Hit1"] == 0.0          # argmax past the last clip
    # truncated to 4 clips -> all zeros -> one tie: AP = precision 1/4 for annotator 3 at VeryGood;
    # annotators 1 and 2 have no positive clip -> AP 0
    assert run([0, 0, 0, 0, 1.0])["HL-min-VeryGood"]["HL-mAP"] == pytest.approx(100 * 0.25 / 3, abs=0.01)
    # too short -> zero-padded: [0.0, 1.0, 0, 0]: annotator 3 ranks its positive first
    assert run([0.0, 1.0])["HL-min-VeryGood"]["HL-mAP"] == pytest.approx(100 / 3, abs=0.01)
    none = evaluate_highlights([hq], {"1": MomentPrediction(((2, 6, 1.0),), None)})
    assert none["HL-min-Fair"] == {"HL-mAP": 0.0, "HL-Hit1": 0.0}


@pytest.mark.parametrize("name,count", [("highlight_val_release.jsonl", 1550),
                                        ("highlight_test_with_gt.jsonl", 1542)])
def test_real_files_perfect_predictions(bench, name, count):
    path = bench / "qvhighlights" / name
    queries = read_qvhighlights(path)
    assert len(queries) == count and len({x.id for x in queries}) == count
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    items = {}
    for row in raw:
        best = np.zeros(int(row["duration"] / 2))
        best[row["relevant_clip_ids"]] = np.max(row["saliency_scores"], axis=1)
        items[str(row["qid"])] = Submission(tuple((s, e, 1.0) for s, e in row["relevant_windows"]), tuple(best))
    m = evaluate("qvhighlights", queries, PredictionFile(items)).metrics
    assert m["MR-full-R1@0.5"] == m["MR-full-R1@0.7"] == 100.0
    # every GT window is predicted, but only 10 are read: AP = min(10, n) / n per query
    expected = 100 * np.mean([min(10, len(r["relevant_windows"])) / len(r["relevant_windows"]) for r in raw])
    assert m["MR-full-mAP"] == m["MR-full-mAP@0.5"] == m["MR-full-mAP@0.75"] == pytest.approx(expected, abs=0.006)
    # HIT@1 of the per-clip best label: a hit whenever some annotator gave some clip >= the level
    for level, k in (("Fair", 2), ("Good", 3), ("VeryGood", 4)):
        share = 100 * np.mean([np.max(r["saliency_scores"]) >= k for r in raw])
        assert m[f"HL-min-{level}-Hit1"] == pytest.approx(share, abs=0.006)


def test_real_val_shifted_windows(bench):
    queries = read_qvhighlights(bench / "qvhighlights" / "highlight_val_release.jsonl")
    items = {x.id: Submission(tuple((s + (e - s) / 4, e + (e - s) / 4, 1.0) for s, e in x.windows))
             for x in queries}
    result = evaluate("qvhighlights", queries, PredictionFile(items))
    full = result.details["moment_retrieval"]["full"]
    assert result.details["highlight"] is None      # no saliency submitted: HL not computed
    assert full["MR-R1"]["0.5"] == full["MR-R1"]["0.55"] == 100.0   # IoU 0.6 with its own GT window
    assert all(full["MR-R1"][str(t)] == 0.0 for t in MR_THRESHOLDS if t > 0.6)
    assert all(full["MR-mAP"][str(t)] == 0.0 for t in MR_THRESHOLDS if t > 0.6)
