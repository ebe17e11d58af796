"""Our numbers against what the reference scripts printed on the same prediction files.

The fixtures (tests/eval/fixtures/reference/, README.md there) are real prediction files on real annotations
and the numbers VTimeLLM's and TimeChat's `eval_dvc.py` (YouCook2) and lighthouse's / UniVTG's
`standalone_eval` (Charades-STA) printed for them. Tolerances: the dense-captioning references return
unrounded floats from the same METEOR jar and the same arithmetic, so 1e-6 (in %); the grounding references
round to 2 decimals, so half a unit of the last digit.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from videoexpert.eval import evaluate, read_charades, read_dense_captions
from videoexpert.eval.cli import add_subcommands
from videoexpert.eval.grounding import evaluate_grounding
from videoexpert.eval.qvhighlights import MR_THRESHOLDS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reference"
UNROUNDED = 1e-6          # %, reference floats vs ours
TWO_DECIMALS = 0.005 + 1e-9

needs_java = pytest.mark.skipif(shutil.which("java") is None,
                                reason="METEOR / PTB tokenizer need Java (apt-get install default-jre-headless)")


def reference(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="videoexpert")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def yc2_videos(bench):
    keys = set((FIXTURES / "yc2_val_videos.txt").read_text().split())
    videos = [v for v in read_dense_captions(bench / "youcook2" / "yc2_val.json") if v.id in keys]
    assert len(videos) == 48
    return videos


@needs_java
def test_garbage_reference_is_one_meteor_word(scorer):
    """The references pair an unmatched prediction with 10-20 random letters: one word in METEOR's
    reference length. "abc123!@#" was split into 4 by METEOR's -norm, lowering every aggregate."""
    from videoexpert.eval.captioning import GARBAGE

    stats = scorer.meteor_process.stats([(scorer.tokens("add the salt"), scorer.tokens(GARBAGE))])[0].split()
    assert (float(stats[0]), float(stats[1])) == (3.0, 1.0)      # hypothesis length, reference length
    assert scorer.meteor([("add the salt", GARBAGE)]) == 0.0


@needs_java
def test_yc2_cli_matches_vtimellm(yc2_videos, bench, tmp_path, capsys):
    """`videoexpert eval --missing skip` on the full yc2_val.json: VTimeLLM scores only predicted videos."""
    out = tmp_path / "metrics.json"
    assert run_cli(["eval", "--benchmark", "youcook2", "--annotations", str(bench / "youcook2" / "yc2_val.json"),
                    "--predictions", str(FIXTURES / "yc2_val_preds.json"), "--missing", "skip",
                    "--out", str(out)]) == 0
    ours = json.loads(out.read_text())["metrics"]
    ref = reference("yc2_vtimellm.json")["numbers"]
    assert ours["num_predicted"] == 44
    assert ours["METEOR"] == pytest.approx(100 * ref["METEOR"], abs=UNROUNDED)
    assert f"METEOR         {100 * ref['METEOR']:.2f}" in capsys.readouterr().out
    assert ours["CIDEr"] == pytest.approx(100 * ref["CIDEr"], abs=UNROUNDED)
    assert ours["SODA_c"] == pytest.approx(100 * ref["soda_c"], abs=UNROUNDED)
    for name in ("Precision", "Recall", "F1"):
        assert ours[name] == pytest.approx(100 * ref[name], abs=UNROUNDED)
        for t in (0.3, 0.5, 0.7, 0.9):
            assert ours[f"{name}@{t}"] == pytest.approx(100 * ref[f"{name}@{t}"], abs=UNROUNDED)


@needs_java
def test_yc2_matches_timechat(yc2_videos, scorer):
    """TimeChat scores the 4 unpredicted videos of its GT file 0 everywhere: our 'zero' policy."""
    ours = evaluate("youcook2", yc2_videos, FIXTURES / "yc2_val_preds.json", missing="zero", language=scorer).metrics
    ref = reference("yc2_timechat.json")
    numbers = ref["numbers"]
    assert numbers["num_videos"] == len(yc2_videos)
    assert ours["METEOR"] == pytest.approx(numbers["METEOR"], abs=UNROUNDED)
    assert ours["CIDEr"] == pytest.approx(numbers["CIDER"], abs=UNROUNDED)
    assert ours["Precision"] == pytest.approx(numbers["Precision_Mean"], abs=UNROUNDED)
    assert ours["Recall"] == pytest.approx(numbers["Recall_Mean"], abs=UNROUNDED)
    for t in (0.3, 0.5, 0.7, 0.9):
        assert ours[f"Precision@{t}"] == pytest.approx(numbers[f"Precision@{t}"], abs=UNROUNDED)
        assert ours[f"Recall@{t}"] == pytest.approx(numbers[f"Recall@{t}"], abs=UNROUNDED)
    assert round(ours["METEOR"], 1) == ref["printed"]["METEOR"]       # what its printout shows
    # Not compared: TimeChat's F1_Score (a per-video F1, averaged) and SODA_c_2 (predictions unsorted and
    # METEOR scores taken in string-key order, see README.md); ours follow VTimeLLM and fujiso/SODA.


@pytest.fixture(scope="module")
def charades_subset(bench, tmp_path_factory) -> Path:
    """The lines of lighthouse's charades_test_release.jsonl whose qid the fixture submits, as the reference
    runs were given them (moment_detr asserts that the qid sets match)."""
    qids = {json.loads(line)["qid"] for line in (FIXTURES / "charades_test_preds.jsonl").read_text().splitlines()}
    lines = [line for line in (bench / "charades_sta" / "charades_test_release.jsonl").read_text().splitlines()
             if json.loads(line)["qid"] in qids]
    assert len(lines) == len(qids) == 414
    path = tmp_path_factory.mktemp("charades") / "charades_test_release.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_charades_qid_submission_cli_matches_lighthouse_and_univtg(charades_subset, tmp_path):
    out = tmp_path / "metrics.json"
    assert run_cli(["eval", "--benchmark", "charades", "--annotations", str(charades_subset),
                    "--predictions", str(FIXTURES / "charades_test_preds.jsonl"), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    counts = result["report"]["counts"]
    assert (counts["unknown"], counts["missing"], result["report"]["num_scored"]) == (0, 0, 414)
    ours = result["metrics"]
    lighthouse = reference("charades_lighthouse.json")["numbers"]["brief"]
    univtg = reference("charades_univtg.json")["numbers"]["brief"]
    assert ours["R1@0.3"] == pytest.approx(univtg["MR-full-R1@0.3-key"], abs=TWO_DECIMALS)
    assert ours["R1@0.5"] == pytest.approx(lighthouse["MR-full-R1@0.5"], abs=TWO_DECIMALS)
    assert ours["R1@0.7"] == pytest.approx(lighthouse["MR-full-R1@0.7"], abs=TWO_DECIMALS)
    assert ours["mIoU"] == pytest.approx(univtg["MR-full-mIoU-key"], abs=TWO_DECIMALS)
    assert ours["mAP"] == pytest.approx(lighthouse["MR-full-mAP"], abs=TWO_DECIMALS)
    assert ours["mAP@0.5"] == pytest.approx(lighthouse["MR-full-mAP@0.5"], abs=TWO_DECIMALS)
    assert ours["mAP@0.75"] == pytest.approx(lighthouse["MR-full-mAP@0.75"], abs=TWO_DECIMALS)


def submitted_windows() -> dict[int, list[tuple[float, float, float]]]:
    """qid -> the fixture's scored windows, in submitted order."""
    rows = [json.loads(line) for line in (FIXTURES / "charades_test_preds.jsonl").read_text().splitlines()]
    return {row["qid"]: [tuple(w) for w in row["pred_relevant_windows"]] for row in rows}


def test_charades_every_threshold_matches_lighthouse_and_univtg(charades_subset):
    """R1 at every threshold UniVTG prints (0.3:0.05:0.95) and mAP at each of lighthouse's."""
    lighthouse = reference("charades_lighthouse.json")["numbers"]["full"]
    univtg = reference("charades_univtg.json")["numbers"]["full"]
    queries = read_charades(charades_subset)
    windows = {q.id: submitted_windows()[int(q.qid)] for q in queries}
    thresholds = [float(t) for t in univtg["MR-R1"]]
    result = evaluate_grounding(queries, {k: w[0][:2] for k, w in windows.items()}, thresholds=thresholds,
                                windows=windows)
    for t in thresholds:
        assert result.recall[t] == pytest.approx(univtg["MR-R1"][str(t)], abs=TWO_DECIMALS)
    for t in MR_THRESHOLDS:
        assert result.mean_ap[str(t)] == pytest.approx(lighthouse["MR-mAP"][str(t)], abs=TWO_DECIMALS)
    assert result.mean_ap["average"] == pytest.approx(lighthouse["MR-mAP"]["average"], abs=TWO_DECIMALS)


def test_charades_qid_submission_on_the_full_release_file(bench):
    """Against all 3720 queries: the 414 qids resolve to their `<vid>#<i>` queries, the rest are missing."""
    result = evaluate("charades", bench / "charades_sta" / "charades_test_release.jsonl",
                      FIXTURES / "charades_test_preds.jsonl")
    assert result.report.unknown == []
    assert (len(result.report.missing), result.report.num_scored) == (3720 - 414, 414)
    assert result.metrics["num_predicted"] == 414
    assert result.report.missing[0] == "3MSZA#1"          # line 0 (qid 12404) is submitted, line 1 is not
