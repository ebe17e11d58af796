"""Evaluation suite: the standard metrics of five video benchmarks, batch inference, and the benchmark file
readers (defined in `videoexpert.data.annotations`, which training shares, and re-exported here).

Numbers are meant to equal what each benchmark's reference script prints on the same predictions; each
metric module's docstring lists the reference behaviours it reproduces (first-window R1, 2-s clips,
METEOR argument order in SODA, IoP over the prediction's length, ...) and the policy for missing items.

Prediction ids (the "id" of each JSONL line, see `predictions`):

==============  =====================================  ==========================================
benchmark       id                                     example
==============  =====================================  ==========================================
charades        ``<video_id>#<i>``, i = 0-based line   ``3MSZA#0`` (same in the txt and the
                index of the query in the annotations  lighthouse jsonl, which share the order);
                (with the jsonl, its ``qid`` too)      ``12404`` (a QVH submission uses ``qid``)
qvhighlights    ``str(qid)``                           ``2579`` (a QVH submission uses ``qid``)
youcook2        the annotation key                     ``v_xHr8X2Wpmno``
activitynet     the annotation key                     ``v_uqiMw7tQ1Cc``
nextgqa         ``<video_id>/<qid>``                   ``10001787725/3``
==============  =====================================  ==========================================

What is read from a `Prediction`: grounding and NExT-GQA evidence use ``segments[0]``; QVHighlights
uses all segments in order (the first is R1's, up to 10 go to mAP) and ``saliency`` averaged into 2-s
clips; dense captioning uses every segment with its ``label`` as the sentence; NExT-GQA answers use
``choice`` (the option index), else the answer text compared with the options.

The metric modules import only numpy (and pycocoevalcap + Java for the caption-language metrics); their
span arithmetic is `videoexpert.spans`'s. `infer` imports the model lazily.
"""

from ..data.annotations import (CaptionedVideo, GroundedQuestion, GroundingQuery, HighlightQuery, read_charades,
                               read_dense_captions, read_nextgqa, read_qvhighlights)
from .benchmarks import BENCHMARKS, EvalResult, evaluate, format_table, load_annotations
from .captioning import DenseCaptionMetrics, evaluate_dense_captions
from .grounding import GroundingMetrics, evaluate_grounding
from .language import JavaNotFoundError, LanguageScorer, java_available
from .nextgqa import GQAMetrics, GQAPrediction, evaluate_nextgqa
from .predictions import PredictionFile, Submission, read_predictions
from .qvhighlights import MomentPrediction, evaluate_highlights, evaluate_moments
from .report import ItemReport

__all__ = ["BENCHMARKS", "EvalResult", "evaluate", "format_table", "load_annotations", "ItemReport",
           "GroundingQuery", "HighlightQuery", "CaptionedVideo", "GroundedQuestion", "read_charades",
           "read_qvhighlights", "read_dense_captions", "read_nextgqa", "PredictionFile", "Submission",
           "read_predictions", "GroundingMetrics", "evaluate_grounding", "MomentPrediction",
           "evaluate_moments", "evaluate_highlights", "DenseCaptionMetrics", "evaluate_dense_captions",
           "GQAMetrics", "GQAPrediction", "evaluate_nextgqa", "LanguageScorer", "JavaNotFoundError",
           "java_available"]
