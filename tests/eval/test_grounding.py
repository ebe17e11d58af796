"""Charades-STA: hand-computed IoU / R1 / mIoU cases, both protocols, and the real annotation files."""

from __future__ import annotations

import pytest

from videoexpert.errors import InputError
from videoexpert.data.annotations import GroundingQuery
from videoexpert.eval import evaluate, read_charades
from videoexpert.eval.grounding import evaluate_grounding, query_iou
from videoexpert.eval.predictions import PredictionFile, Submission


def q(i: int, start: float, end: float, duration: float | None = 100.0) -> GroundingQuery:
    return GroundingQuery(f"v#{i}", "v", "a query", start, end, duration)


def test_recall_thresholds_are_inclusive_and_missing_is_a_miss():
    queries = [q(0, 0, 10), q(1, 0, 10), q(2, 0, 10), q(3, 0, 10)]
    preds = {"v#0": (5.0, 15.0),   # 1/3
             "v#1": (0.0, 5.0),    # 0.5 exactly
             "v#2": (0.0, 7.0)}    # 0.7 exactly; v#3 missing
    m = evaluate_grounding(queries, preds)
    assert m.recall == {0.3: 75.0, 0.5: 50.0, 0.7: 25.0}
    assert m.miou == pytest.approx(100 * (1 / 3 + 0.5 + 0.7) / 4)
    assert (m.num_queries, m.num_predicted) == (4, 3)


def test_vtimellm_protocol_rounds_iou_to_two_decimals():
    query = q(0, 0, 50, duration=50)
    pred = (0.0, 34.8)                           # IoU 0.696
    assert query_iou(query, pred, "seconds") == pytest.approx(0.696)
    assert query_iou(query, pred, "vtimellm") == 0.7
    assert evaluate_grounding([query], {"v#0": pred}).recall[0.7] == 0.0
    assert evaluate_grounding([query], {"v#0": pred}, protocol="vtimellm").recall[0.7] == 100.0
    with pytest.raises(InputError, match="duration"):
        query_iou(q(0, 0, 10, duration=None), pred, "vtimellm")
    with pytest.raises(InputError, match="protocol"):
        query_iou(query, pred, "2dtan")


def test_real_txt_and_jsonl_share_ids_and_order(bench):
    txt = read_charades(bench / "charades_sta" / "charades_sta_test.txt")
    jsonl = read_charades(bench / "charades_sta" / "charades_test_release.jsonl")
    assert len(txt) == len(jsonl) == 3720
    assert txt[0] == GroundingQuery("3MSZA#0", "3MSZA", "person turn a light on.", 24.3, 30.4, 30.96)
    assert [x.id for x in txt] == [x.id for x in jsonl]
    assert [x.query for x in txt] == [x.query for x in jsonl]
    assert len({x.video_id for x in txt}) == 1334
    assert all(x.duration for x in txt)                      # from Charades_v1_test.csv beside it
    assert sum(x.end > x.duration for x in txt) == 562         # raw txt: ends past the video are kept
    assert all(x.end <= x.duration for x in jsonl)             # lighthouse clipped them
    assert len(read_charades(bench / "charades_sta" / "charades_sta_train.txt")) == 12408


@pytest.mark.parametrize("protocol", ["seconds", "vtimellm"])
def test_real_perfect_and_shifted_predictions(bench, protocol):
    queries = read_charades(bench / "charades_sta" / "charades_sta_test.txt")

    def run(shift: float) -> dict:
        items = {x.id: Submission(((x.start + shift * (x.end - x.start), x.end + shift * (x.end - x.start), 1.0),))
                 for x in queries}
        return evaluate("charades", queries, PredictionFile(items), protocol=protocol).metrics

    perfect = run(0.0)
    assert perfect["R1@0.3"] == perfect["R1@0.5"] == perfect["R1@0.7"] == perfect["mIoU"] == 100.0
    quarter = run(0.25)                          # IoU = 0.75 L / 1.25 L = 0.6 for every query
    assert (quarter["R1@0.3"], quarter["R1@0.5"], quarter["R1@0.7"]) == (100.0, 100.0, 0.0)
    assert quarter["mIoU"] == pytest.approx(60.0, abs=1e-6)
    half = run(0.5)                              # IoU = 0.5 L / 1.5 L = 1/3
    assert (half["R1@0.3"], half["R1@0.5"]) == (100.0, 0.0)
    # vtimellm rounds every 1/3 to 0.33 before averaging
    assert half["mIoU"] == pytest.approx(33.0 if protocol == "vtimellm" else 100 / 3, abs=1e-6)
