"""Readers for the benchmark annotation files as they are distributed (see shared/data/benchmarks/README.md).

One parser per format for training (`data.sources` turns the items into conversations) and evaluation
(`videoexpert.eval` scores predictions against them). Each reader returns a list of small frozen dataclasses
in file order, with the item id that prediction files must use (the conventions are in `videoexpert.eval`'s
docstring). Readers keep the data as published: Charades-STA ends that run past the video are not clipped
(the raw txt, as TimeChat scores it), ActivityNet windows past the duration are kept, and so on; the metrics
decide, like the references. This module imports without torch.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..spans import Span

logger = logging.getLogger(__name__)


def normalize_id(value: Any) -> str:
    """Ids are compared as strings: QVHighlights qids are ints in its files, "2579" in ours."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


@dataclass(frozen=True)
class GroundingQuery:
    """One Charades-STA query: a sentence and its single ground-truth window, in seconds."""

    id: str              # "<video_id>#<line index in the file, from 0>"
    video_id: str
    query: str
    start: float
    end: float
    duration: float | None = None   # from the jsonl or Charades_v1_*.csv; the txt alone has none
    qid: str | None = None          # lighthouse jsonl's qid, the key of a QVHighlights-format submission


@dataclass(frozen=True)
class HighlightQuery:
    """One QVHighlights query with its moments and the 3 annotators' 0-4 saliency labels per 2-s clip."""

    id: str              # str(qid)
    video_id: str
    query: str
    duration: float
    windows: tuple[Span, ...]
    clip_ids: tuple[int, ...] = ()
    saliency: tuple[tuple[int, ...], ...] = ()   # one (a1, a2, a3) per clip in clip_ids


@dataclass(frozen=True)
class CaptionedVideo:
    """One dense-captioning video (YouCook2 / ActivityNet Captions): events and their sentences."""

    id: str              # the annotation key, e.g. "v_xHr8X2Wpmno"
    duration: float
    events: tuple[Span, ...]
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class GroundedQuestion:
    """One NExT-GQA question: QA fields from the csv (when given) and the evidence spans from gsub_*.json."""

    id: str              # "<video_id>/<qid>"
    video_id: str
    qid: str
    duration: float
    spans: tuple[Span, ...]
    question: str = ""
    answer: str = ""
    options: tuple[str, ...] = ()
    qtype: str = ""      # CW, CH, TN, TP, TC (causal why/how, temporal next/previous/current)
    video_path: str = ""  # relative path from map_vid_vidorID.json, e.g. "0101/2909445186"


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{number}: not valid JSON ({e})") from e
    return rows


def read_charades_durations(path: str | Path) -> dict[str, float]:
    """Video id -> duration in seconds from a Charades_v1_{train,test}.csv (`length` column)."""
    with open(path, encoding="utf-8", newline="") as f:
        return {row["id"]: float(row["length"]) for row in csv.DictReader(f)}


def _companion_durations(path: Path) -> dict[str, float] | None:
    """charades_sta_test.txt -> Charades_v1_test.csv beside it, when present."""
    split = "train" if "train" in path.name else "test"
    candidate = path.with_name(f"Charades_v1_{split}.csv")
    if candidate.exists():
        logger.info("reading video durations from %s", candidate)
        return read_charades_durations(candidate)
    return None


def read_charades(path: str | Path, durations: dict[str, float] | None = None) -> list[GroundingQuery]:
    """Charades-STA in either published form.

    * `charades_sta_{test,train}.txt` (2D-TAN): `VID start end##sentence`; durations come from `durations`
      or a `Charades_v1_<split>.csv` beside the file. GT ends are kept raw (562 test ends exceed the video).
    * lighthouse `charades_test_release.jsonl` (QVH-style, with `duration`; its GT ends are clipped to it).
    Both list the queries in the same order, so the ids `<vid>#<index>` are interchangeable. The jsonl
    also gives each query a `qid`, kept as `GroundingQuery.qid`: submissions in its (QVHighlights) format
    are keyed by it, and `benchmarks.match` accepts either id.
    """
    path = Path(path)
    if durations is None and path.suffix == ".txt":
        durations = _companion_durations(path)
    queries = []
    if path.suffix == ".jsonl":
        for i, row in enumerate(_read_jsonl(path)):
            if not row.get("relevant_windows"):
                raise InputError(f"{path}: query {row.get('qid')} has no relevant_windows")
            start, end = row["relevant_windows"][0]
            queries.append(GroundingQuery(f"{row['vid']}#{i}", row["vid"], row["query"], float(start),
                                          float(end), float(row["duration"]),
                                          normalize_id(row["qid"]) if "qid" in row else None))
        return queries
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            head, sep, sentence = line.partition("##")
            parts = head.split()
            if not sep or len(parts) != 3:
                raise InputError(f"{path}:{i + 1}: expected 'VID start end##sentence', got {line!r}")
            vid, start, end = parts[0], float(parts[1]), float(parts[2])
            queries.append(GroundingQuery(f"{vid}#{i}", vid, sentence, start, end,
                                          durations.get(vid) if durations else None))
    return queries


def read_qvhighlights(path: str | Path) -> list[HighlightQuery]:
    """QVHighlights `highlight_{val,test_with_gt}_release.jsonl` (moment_detr format)."""
    queries = []
    for row in _read_jsonl(Path(path)):
        queries.append(HighlightQuery(
            id=str(row["qid"]), video_id=row["vid"], query=row["query"], duration=float(row["duration"]),
            windows=tuple((float(s), float(e)) for s, e in row.get("relevant_windows", [])),
            clip_ids=tuple(int(c) for c in row.get("relevant_clip_ids", [])),
            saliency=tuple(tuple(int(x) for x in s) for s in row.get("saliency_scores", []))))
    return queries


def read_dense_captions(path: str | Path) -> list[CaptionedVideo]:
    """ActivityNet-Captions-format json `{v_<id>: {duration, timestamps, sentences}}` (YouCook2 and ANet)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    videos = []
    for vid, ann in data.items():
        if len(ann["timestamps"]) != len(ann["sentences"]):
            raise InputError(f"{path}: video {vid} has {len(ann['timestamps'])} timestamps "
                             f"but {len(ann['sentences'])} sentences")
        videos.append(CaptionedVideo(vid, float(ann["duration"]),
                                     tuple((float(s), float(e)) for s, e in ann["timestamps"]),
                                     tuple(ann["sentences"])))
    return videos


def read_nextgqa(path: str | Path, qa_csv: str | Path | None = None,
                 video_map: str | Path | None = None) -> list[GroundedQuestion]:
    """NExT-GQA `gsub_{val,test}.json`, joined with `{val,test}.csv` and `map_vid_vidorID.json`.

    The csv and the map are looked up beside the json when not given; without the csv, questions have no
    answer or options, so only the grounding metrics can be computed (Acc@QA needs it).
    """
    path = Path(path)
    split = path.stem.replace("gsub_", "")
    if qa_csv is None and path.with_name(f"{split}.csv").exists():
        qa_csv = path.with_name(f"{split}.csv")
    if video_map is None and path.with_name("map_vid_vidorID.json").exists():
        video_map = path.with_name("map_vid_vidorID.json")
    rows: dict[tuple[str, str], dict] = {}
    if qa_csv is not None:
        with open(qa_csv, encoding="utf-8", newline="") as f:
            rows = {(r["video_id"], r["qid"]): r for r in csv.DictReader(f)}
    paths: dict[str, str] = {}
    if video_map is not None:
        with open(video_map, encoding="utf-8") as f:
            paths = json.load(f)
    with open(path, encoding="utf-8") as f:
        gsub = json.load(f)
    questions = []
    for vid, ann in gsub.items():
        for qid, locs in ann["location"].items():
            row = rows.get((vid, qid), {})
            options = tuple(row[f"a{i}"] for i in range(5) if f"a{i}" in row)
            questions.append(GroundedQuestion(
                id=f"{vid}/{qid}", video_id=vid, qid=qid, duration=float(ann["duration"]),
                spans=tuple((float(s), float(e)) for s, e in locs), question=row.get("question", ""),
                answer=row.get("answer", ""), options=options, qtype=row.get("type", ""),
                video_path=paths.get(vid, "")))
    if qa_csv is not None:
        unmatched = sum(1 for q in questions if not q.question)
        if unmatched:
            logger.warning("%d NExT-GQA questions have no row in %s", unmatched, qa_csv)
    return questions


__all__ = ["normalize_id", "GroundingQuery", "HighlightQuery", "CaptionedVideo", "GroundedQuestion", "read_charades",
           "read_charades_durations", "read_qvhighlights", "read_dense_captions", "read_nextgqa"]
