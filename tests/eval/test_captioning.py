"""Dense captioning: hand-computed localisation, pairing and DP cases without Java; METEOR / CIDEr /
SODA_c through Java against pycocoevalcap itself; the real YouCook2 and ActivityNet files."""

from __future__ import annotations

import shutil

import pytest

from videoexpert.data.annotations import CaptionedVideo
from videoexpert.errors import InputError
from videoexpert.eval import evaluate, read_dense_captions
from videoexpert.eval.captioning import (GARBAGE, caption_iou, caption_pairs, detection_scores,
                                         evaluate_dense_captions, order_preserving_max, soda_c_video)
from videoexpert.eval.predictions import PredictionFile, Submission

needs_java = pytest.mark.skipif(shutil.which("java") is None,
                                reason="METEOR / PTB tokenizer need Java (apt-get install default-jre-headless)")

VIDEO = CaptionedVideo("v_a", 40.0, ((0.0, 10.0), (10.0, 20.0)), ("a man cuts an onion", "he fries it"))


def test_caption_iou_matches_densevid():
    assert caption_iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert caption_iou((0, 2), (5, 7)) == 0.0
    assert caption_iou((0, 10), (0, 10)) == pytest.approx(1.0) and caption_iou((0, 10), (0, 10)) < 1.0
    assert caption_iou((0, 10), (0, 20)) < 0.5            # the 1e-8 keeps an exact 0.5 below 0.5
    assert caption_iou((3, 3), (0, 10)) == 0.0            # point prediction


def test_detection_precision_recall_by_hand():
    events = [(0.0, 10.0, "x"), (30.0, 40.0, "y")]
    assert detection_scores(VIDEO, events, 0.5) == (0.5, 0.5)
    assert detection_scores(VIDEO, events, 0.9) == (0.5, 0.5)
    assert detection_scores(VIDEO, [(0.0, 20.0, "x")], 0.3) == (1.0, 1.0)     # IoU 0.5 with both
    assert detection_scores(VIDEO, [(0.0, 20.0, "x")], 0.5) == (0.0, 0.0)     # strict > and the 1e-8
    assert detection_scores(VIDEO, [], 0.5) == (0.0, 0.0)
    assert detection_scores(VIDEO, [(-10.0, 10.0, "x")], 0.3) == (1.0, 0.5)   # outside the video: as given


def test_caption_pairs_and_garbage():
    events = [(0.0, 10.0, "p1"), (0.0, 20.0, "p2"), (30.0, 40.0, "p3")]
    # p2 has IoU 10 / (20 + 1e-8) < 0.5 with both events, so it gets the garbage reference
    assert caption_pairs(VIDEO, events, 0.5) == [("p1", "a man cuts an onion"), ("p2", GARBAGE), ("p3", GARBAGE)]
    assert caption_pairs(VIDEO, events, 0.3) == [("p1", "a man cuts an onion"), ("p2", "a man cuts an onion"),
                                                  ("p2", "he fries it"), ("p3", GARBAGE)]


def test_order_preserving_max_by_hand():
    assert order_preserving_max(__import__("numpy").array([[1.0, 0.0], [0.0, 1.0]])) == 2.0
    assert order_preserving_max(__import__("numpy").array([[0.0, 1.0], [1.0, 0.0]])) == 1.0   # no crossing
    assert order_preserving_max(__import__("numpy").array([[0.5, 0.4, 0.0], [0.6, 0.0, 0.3]])) == \
        pytest.approx(0.8)          # 0.5 + 0.3 beats 0.6 alone and 0.4 + 0.3
    assert order_preserving_max(__import__("numpy").zeros((0, 3))) == 0.0


def test_localisation_only_policies_and_f1():
    other = CaptionedVideo("v_b", 40.0, ((0.0, 10.0),), ("someone waves",))
    preds = {"v_a": [(0.0, 10.0, "x"), (10.0, 20.0, "y")]}           # v_b missing
    ref = evaluate_dense_captions([VIDEO, other], preds, None, "reference")
    assert ref.precision[0.5] == ref.recall[0.5] == 50.0             # the missing video counts 0
    assert ref.f1[0.5] == pytest.approx(50.0)
    skip = evaluate_dense_captions([VIDEO, other], preds, None, "skip")
    assert skip.precision[0.5] == skip.recall[0.5] == 100.0
    # F1 from the averaged P and R: P = (1 + 0) / 2, R = (0.5 + 0) / 2 -> 2 * .5 * .25 / .75
    half = evaluate_dense_captions([VIDEO, other], {"v_a": [(0.0, 10.0, "x")], "v_b": []}, None)
    assert half.f1[0.5] == pytest.approx(100 / 3)
    assert half.to_dict()["F1"] == pytest.approx(100 / 3)
    assert half.meteor is None and half.soda_c is None
    with pytest.raises(InputError):
        evaluate_dense_captions([VIDEO], preds, None, "drop")


@pytest.mark.parametrize("path,videos,events", [("youcook2/yc2_val.json", 457, 3492),
                                                ("youcook2/yc2_train.json", 1333, 10337),
                                                ("activitynet_captions/val_1.json", 4917, 17505),
                                                ("activitynet_captions/val_2.json", 4885, 17031)])
def test_real_readers(bench, path, videos, events):
    data = read_dense_captions(bench / path)
    assert len(data) == videos and sum(len(v.events) for v in data) == events
    assert all(len(v.events) == len(v.sentences) for v in data)


@pytest.mark.parametrize("path", ["youcook2/yc2_val.json", "activitynet_captions/val_2.json"])
def test_real_perfect_and_shifted_localisation(bench, path):
    videos = read_dense_captions(bench / path)
    benchmark = "youcook2" if "yc2" in path else "activitynet"

    def run(shift: float) -> dict:
        items = {v.id: Submission(tuple((s + shift * (e - s), e + shift * (e - s), 1.0) for s, e in v.events),
                                  sentences=v.sentences) for v in videos}
        return evaluate(benchmark, videos, PredictionFile(items), language=False).metrics

    perfect = run(0.0)
    assert perfect["Precision"] == perfect["Recall"] == perfect["F1"] == 100.0
    shifted = run(0.25)      # IoU 0.6 with its own event: covered at 0.3 and 0.5, not at 0.7 and 0.9
    assert shifted["Recall@0.3"] == shifted["Recall@0.5"] == 100.0
    assert shifted["Precision@0.5"] == 100.0
    if benchmark == "youcook2":   # disjoint steps: nothing else overlaps a shifted step by more than 0.6
        assert shifted["Recall@0.7"] == shifted["Recall@0.9"] == shifted["Precision@0.7"] == 0.0
    else:                         # ActivityNet has near-duplicate events, which a shifted copy can still hit
        assert 0.0 < shifted["Recall@0.9"] < 1.0 and shifted["Recall@0.7"] < 5.0


@needs_java
def test_language_scorer_equals_pycocoevalcap(scorer):
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    pairs = [("A man cuts an onion.", "a man is cutting onions"), ("he fries it", "he fries the onion"),
             ("", "someone waves"), ("Un café très chaud", "a hot coffee"), ("x ||| y", "x y")]
    tok = PTBTokenizer()
    res = tok.tokenize({i: [{"caption": "".join(c if ord(c) < 128 else " " for c in h)}]
                        for i, (h, _) in enumerate(pairs)})
    gts = tok.tokenize({i: [{"caption": r}] for i, (_, r) in enumerate(pairs)})
    meteor = Meteor()
    expected, expected_segments = meteor.compute_score(gts, res)
    assert scorer.meteor(pairs) == expected
    assert scorer.meteor_segments(pairs) == expected_segments
    assert scorer.cider(pairs) == Cider().compute_score(gts, res)[0]


@needs_java
def test_soda_c_by_hand_and_argument_order(scorer):
    video = CaptionedVideo("v", 30.0, ((0.0, 10.0),), ("a man",))
    long = "a man cuts an onion on a wooden board"
    gt_as_hyp = scorer.meteor_segments([("a man", long)])[0]
    pred_as_hyp = scorer.meteor_segments([(long, "a man")])[0]
    assert gt_as_hyp != pytest.approx(pred_as_hyp)          # METEOR is asymmetric
    score = soda_c_video(video, [(0.0, 10.0, long), (20.0, 30.0, "noise")], scorer)
    iou = caption_iou((0.0, 10.0), (0.0, 10.0))
    s = iou * gt_as_hyp                                    # P = s / 2, R = s / 1
    assert score == pytest.approx(2 * (s / 2) * s / (s / 2 + s))
    assert soda_c_video(video, [], scorer) == 0.0


@needs_java
def test_real_yc2_sample_perfect_and_missing(bench, scorer):
    videos = read_dense_captions(bench / "youcook2" / "yc2_val.json")[:30]
    items = {v.id: Submission(tuple((s, e, 1.0) for s, e in v.events), sentences=v.sentences) for v in videos}
    perfect = evaluate("youcook2", videos, PredictionFile(items), language=scorer).metrics
    assert perfect["SODA_c"] == pytest.approx(100.0, abs=1e-4)   # 1e-8 in the IoU keeps it a hair below
    assert perfect["Precision"] == perfect["Recall"] == 100.0
    assert 95.0 < perfect["METEOR"] < 100.0          # METEOR's fragmentation penalty: identical != 1
    del items[videos[0].id]
    ref = evaluate("youcook2", videos, PredictionFile(items), language=scorer)
    assert ref.metrics["Recall"] == pytest.approx(100 * 29 / 30)           # densevid: missing = 0
    assert ref.metrics["SODA_c"] == pytest.approx(100.0, abs=1e-4)         # SODA: missing dropped
    assert ref.report.missing == [videos[0].id]
    zero = evaluate("youcook2", videos, PredictionFile(items), missing="zero", language=scorer).metrics
    assert zero["SODA_c"] == pytest.approx(100 * 29 / 30, abs=1e-4)
