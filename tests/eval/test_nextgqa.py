"""NExT-GQA: hand-computed IoU / IoP (points, negative overlaps, spans mixed), the skip policy for
missing spans, and the real val / test files."""

from __future__ import annotations

import pytest

from videoexpert.data.annotations import GroundedQuestion
from videoexpert.eval import evaluate, read_nextgqa
from videoexpert.eval.nextgqa import GQAPrediction, best_iou_iop, evaluate_nextgqa, iou_iop
from videoexpert.eval.predictions import PredictionFile
from videoexpert.result import Prediction, Segment


def test_iou_iop_by_hand():
    assert iou_iop((0, 10), (5, 20)) == pytest.approx((5 / 20, 5 / 15))
    assert iou_iop((0, 10), (4, 4)) == (0.0, 1.0)        # point inside
    assert iou_iop((0, 10), (10, 10)) == (0.0, 1.0)      # point on the boundary counts as inside
    assert iou_iop((0, 10), (11, 11)) == (0.0, 0.0)
    assert iou_iop((0, 10), (12, 20)) == pytest.approx((-2 / 20, -2 / 8))   # negative, as the reference
    assert best_iou_iop([(0, 10)], (12, 20)) == (0.0, 0.0)                   # ... and the max starts at 0
    # max IoU and max IoP come from different spans
    assert best_iou_iop([(0, 100), (10, 12)], (9, 13)) == pytest.approx((0.5, 1.0))


def make(i: int, spans, answer="yes") -> GroundedQuestion:
    return GroundedQuestion(f"v/{i}", "v", str(i), 100.0, tuple(spans), "q?", answer, ("no", "yes"), "CW")


def test_policies_and_acc_gqa_by_hand():
    questions = [make(1, [(0, 10)]), make(2, [(0, 10)]), make(3, [(0, 10)]), make(4, [(0, 10)])]
    preds = {"v/1": GQAPrediction((2.0, 8.0), choice=1),       # IoP 1, correct -> GQA hit
             "v/2": GQAPrediction((6.0, 16.0), choice=1),      # IoP 0.4, correct
             "v/3": GQAPrediction(None, answer="yes")}         # no span: skipped in grounding; v/4 missing
    m = evaluate_nextgqa(questions, preds)
    assert m.acc_qa == 75.0 and m.acc_gqa == 50.0 and m.num_grounded == 2
    assert m.miop == pytest.approx(70.0) and m.iop == {0.3: 100.0, 0.5: 50.0}
    assert m.miou == pytest.approx(100 * (0.6 + 4 / 16) / 2) and m.iou == {0.3: 50.0, 0.5: 50.0}
    assert m.acc_by_type == {"C": 75.0, "CW": 75.0}


def test_real_files_join_the_csv(bench):
    val = read_nextgqa(bench / "nextgqa" / "gsub_val.json")
    test = read_nextgqa(bench / "nextgqa" / "gsub_test.json")
    assert (len(val), len(test)) == (3358, 5553)
    assert all(q.question and q.answer in q.options and len(q.options) == 5 for q in val + test)
    assert all(q.video_path.endswith(q.video_id) for q in val)
    first = next(q for q in val if q.id == "10001787725/1")
    assert first.spans == ((1.2, 5.8),) and first.duration == 34
    assert {q.qtype for q in val} == {"CW", "CH", "TN", "TC", "TP"}


def test_real_val_perfect_point_and_shifted(bench):
    questions = read_nextgqa(bench / "nextgqa" / "gsub_val.json")

    def run(span_of, subset=questions) -> dict:
        items = {q.id: Prediction("qa", q.question, q.duration, 0, "", "",
                                  (Segment(*span_of(q.spans[0])),), choice=q.options.index(q.answer))
                 for q in subset}
        return evaluate("nextgqa", list(subset), PredictionFile(items)).metrics

    perfect = run(lambda s: s)
    assert all(perfect[k] == 100.0 for k in ("Acc@QA", "Acc@GQA", "mIoP", "IoP@0.3", "IoP@0.5", "mIoU",
                                              "IoU@0.3", "IoU@0.5"))
    point = run(lambda s: ((s[0] + s[1]) / 2, (s[0] + s[1]) / 2))
    assert (point["mIoP"], point["IoP@0.5"], point["mIoU"], point["Acc@GQA"]) == (100.0, 100.0, 0.0, 100.0)
    single = [q for q in questions if len(q.spans) == 1]
    shifted = run(lambda s: (s[0] + (s[1] - s[0]) / 4, s[1] + (s[1] - s[0]) / 4), single)
    assert shifted["mIoU"] == pytest.approx(60.0) and shifted["mIoP"] == pytest.approx(75.0)
    assert (shifted["IoU@0.5"], shifted["IoP@0.5"], shifted["Acc@GQA"]) == (100.0, 100.0, 100.0)
