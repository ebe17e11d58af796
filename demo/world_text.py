"""Wording of the demo world's ground truth: grounding queries, captions, questions, answers, options.

The world (`synthetic.py`) hands over one `EventFacts` per event: who does what, when. This module turns
facts into text. Every choice of template, synonym and option order is drawn from a stable hash of a key
(the video's seed and split, the event, the purpose), so a video always reads the same while the wording
varies from video to video. Answers to questions are canonical (one phrasing) so that multiple-choice
options are comparable and a free-form answer can be scored by exact match.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:
    from .world import WorldVideo


@dataclass(frozen=True)
class GroundingItem:
    query: str
    start: float          # seconds
    end: float            # seconds
    event: int = -1       # index into WorldVideo.events

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CaptionItem:
    start: float
    end: float
    sentence: str
    event: int = -1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class QAItem:
    question: str
    answer: str            # free-form answer; equals options[answer_index]
    options: list[str]     # 4-5 multiple-choice options, the answer among them
    answer_index: int
    start: float           # evidence window, seconds
    end: float
    kind: str = ""         # question type: action, which_shape, which_object, new_colour, actor_colour, direction
    event: int = -1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EventFacts:
    """What the text needs to know about one event; `colour` is the object's colour when the event starts."""

    index: int
    object: int
    kind: str                      # appear, disappear, move, grow, shrink, change_colour
    shape: str
    colour: str
    start: float
    end: float
    direction: str | None = None   # move
    new_colour: str | None = None  # change_colour

    @property
    def signature(self) -> tuple:
        """What the event does, without who does it."""
        return self.kind, self.direction, self.new_colour

    @property
    def pairs(self) -> set[tuple[str, str]]:
        """The colour-shape pairs its text names: the object as the event starts, and its new colour's pair."""
        return {(self.colour, self.shape)} | ({(self.new_colour, self.shape)} if self.new_colour else set())


# ---------------------------------------------------------------------------------------------------- choices

def stable_hash(*key) -> int:
    return zlib.crc32(repr(key).encode("utf-8"))


def pick(options: Sequence[str], *key) -> str:
    return options[stable_hash(*key) % len(options)]


def shuffled(items: Sequence[str], *key) -> list[str]:
    order = np.random.default_rng(stable_hash(*key)).permutation(len(items))
    return [items[i] for i in order]


def with_article(noun_phrase: str) -> str:
    return ("an " if noun_phrase[:1] in "aeiou" else "a ") + noun_phrase


# ---------------------------------------------------------------------------------------------------- phrases

_DIRECTION_WORDS = {
    "left": ("to the left", "left", "leftwards", "towards the left"),
    "right": ("to the right", "right", "rightwards", "towards the right"),
    "up": ("up", "upwards", "towards the top"),
    "down": ("down", "downwards", "towards the bottom"),
}

_PREDICATES = {
    "appear": ("appears", "shows up", "fades in", "comes into view", "becomes visible"),
    "disappear": ("disappears", "vanishes", "fades out", "fades away", "goes out of view"),
    "move": ("moves {d}", "slides {d}", "travels {d}", "drifts {d}", "glides {d}"),
    "grow": ("grows", "gets bigger", "becomes larger", "expands", "grows in size"),
    "shrink": ("shrinks", "gets smaller", "becomes smaller", "contracts", "shrinks in size"),
    "change_colour": ("turns {c}", "changes colour to {c}", "becomes {c}", "changes from {old} to {c}",
                      "switches to {c}", "changes its colour to {c}"),
}
# Predicates that leave out the direction or the new colour: only used when no other event of that kind exists.
_GENERIC_PREDICATES = {"move": ("moves", "moves across the frame"), "change_colour": ("changes colour",)}

# Canonical answers to "what does X do?".
_ACTIONS = {"appear": "it appears", "disappear": "it disappears", "grow": "it grows", "shrink": "it shrinks"}


def predicate(f: EventFacts, *key, generic: bool = False) -> str:
    if generic and f.kind in _GENERIC_PREDICATES:
        return pick(_GENERIC_PREDICATES[f.kind], *key, "generic")
    template = pick(_PREDICATES[f.kind], *key, "predicate")
    direction = pick(_DIRECTION_WORDS[f.direction], *key, "direction") if f.direction else ""
    return template.format(d=direction, c=f.new_colour, old=f.colour)


def subject(f: EventFacts, *key) -> str:
    """'the red circle', or for an appearance sometimes 'a red circle'."""
    noun = f"{f.colour} {f.shape}"
    if f.kind == "appear" and stable_hash(*key, "article") % 2:
        return with_article(noun)
    return "the " + noun


def action_answer(f: EventFacts) -> str:
    if f.kind == "move":
        return f"it moves {f.direction}"
    if f.kind == "change_colour":
        return f"it turns {f.new_colour}"
    return _ACTIONS[f.kind]


def event_phrase(f: EventFacts, *key) -> str:
    """'the red circle moves to the left': a grounding query."""
    return f"{subject(f, *key)} {predicate(f, *key)}"


def caption_sentence(f: EventFacts, *key) -> str:
    phrase = event_phrase(f, *key)
    return phrase[0].upper() + phrase[1:] + "."


# ---------------------------------------------------------------------------------------------------- questions

_Q_ACTION = ("What does the {s} do?", "What happens to the {s}?", "What does the {s} do in the video?")
_Q_ACTION_FIRST = ("What does the {s} do first?", "What is the first thing the {s} does?")
_Q_ACTION_LAST = ("What does the {s} do last?", "What is the last thing the {s} does?")
_Q_WHICH_SHAPE = ("Which shape {p}?", "What shape {p}?")
_Q_WHICH_OBJECT = ("Which object {p}?", "What {p}?", "Which of the shapes {p}?")
_Q_NEW_COLOUR = ("What colour does the {s} turn?", "What colour does the {s} become?",
                 "What colour does the {s} change to?", "Which colour does the {s} take on?")
_Q_ACTOR_COLOUR = ("What colour is the {shape} that {p}?", "What is the colour of the {shape} that {p}?")
_Q_DIRECTION = ("In which direction does the {s} move?", "Which way does the {s} move?", "Where does the {s} move?")


def _options(answer: str, candidates: Sequence[str], count: int, *key) -> tuple[list[str], int]:
    """`answer` plus `count - 1` distinct distractors (earlier candidates first), in a shuffled order."""
    distractors: list[str] = []
    for c in candidates:
        if c != answer and c not in distractors:
            distractors.append(c)
    options = shuffled([answer, *distractors[:count - 1]], *key, "options")
    return options, options.index(answer)


def qa_items(facts: Sequence[EventFacts], colours: Sequence[str], shapes: Sequence[str],
             objects: Sequence[tuple[str, Sequence[str]]], *key) -> list[QAItem]:
    """Every question that has exactly one right answer in this video, grounded in its event's window.

    objects: (shape, every colour it takes) of each object. Distractors never name the asked object under
    another of its colours, nor anything else it does, so that exactly one option is right.
    """
    signature_count = Counter(f.signature for f in facts)
    kind_count = Counter(f.kind for f in facts)
    by_subject: dict[tuple[int, str], list[EventFacts]] = {}
    for f in sorted(facts, key=lambda f: f.start):
        by_subject.setdefault((f.object, f.colour), []).append(f)
    recolours = {f.object for f in facts if f.kind == "change_colour"}
    shape_count = Counter(shape for shape, _ in objects)
    all_pairs = [f"{c} {s}" for c in colours for s in shapes]

    items: list[QAItem] = []

    def add(kind: str, f: EventFacts, question: str, answer: str, candidates: Sequence[str], count: int) -> None:
        options, index = _options(answer, candidates, count, *key, f.index, kind)
        items.append(QAItem(question, answer, options, index, f.start, f.end, kind, f.index))

    for f in sorted(facts, key=lambda f: (f.start, f.end, f.index)):
        k = (*key, f.index)
        name = f"{f.colour} {f.shape}"
        same_subject = by_subject[(f.object, f.colour)]
        own_colours = set(objects[f.object][1])
        own_names = {f"the {c} {f.shape}" for c in own_colours} - {f"the {name}"}
        own_actions = {action_answer(g) for g in facts if g.object == f.object and g.index != f.index}
        other_actions = [action_answer(g) for g in facts if g.object != f.object]
        action_pool = [a for a in other_actions + shuffled(
            ["it appears", "it disappears", "it grows", "it shrinks"] + [f"it moves {d}" for d in _DIRECTION_WORDS]
            + [f"it turns {c}" for c in colours if c != f.colour], *k, "action_pool") if a not in own_actions]
        colour_pool = [c for c in shuffled(colours, *k, "colours") if c not in own_colours]

        # What does X do? (first / last when X does several things and never changes colour)
        if len(same_subject) == 1:
            add("action", f, pick(_Q_ACTION, *k, "q").format(s=name), action_answer(f), action_pool, 5)
        elif f.object not in recolours and f in (same_subject[0], same_subject[-1]):
            templates = _Q_ACTION_FIRST if f is same_subject[0] else _Q_ACTION_LAST
            add("action", f, pick(templates, *k, "q").format(s=name), action_answer(f), action_pool, 5)

        # Which shape / which object does it?
        if signature_count[f.signature] == 1:
            p = predicate(f, *k, "which", generic=kind_count[f.kind] == 1 and stable_hash(*k, "gen") % 2 == 0)
            add("which_shape", f, pick(_Q_WHICH_SHAPE, *k, "q1").format(p=p), f"the {f.shape}",
                [f"the {s}" for s in shuffled(shapes, *k, "shapes")], 4)
            others = [f"the {c} {shape}" for o, (shape, cs) in enumerate(objects) if o != f.object for c in cs]
            candidates = [n for n in others + [f"the {n}" for n in shuffled(all_pairs, *k, "pairs")]
                          if n not in own_names]
            add("which_object", f, pick(_Q_WHICH_OBJECT, *k, "q2").format(p=p), f"the {name}", candidates, 4)
            if f.kind != "change_colour":
                p2 = predicate(f, *k, "actor")
                add("actor_colour", f, pick(_Q_ACTOR_COLOUR, *k, "q3").format(shape=f.shape, p=p2), f.colour,
                    colour_pool, 5)

        # What colour does X turn?  (refer to it by shape alone when no other object has that shape)
        if f.kind == "change_colour":
            ref = f.shape if shape_count[f.shape] == 1 and stable_hash(*k, "short") % 2 else name
            add("new_colour", f, pick(_Q_NEW_COLOUR, *k, "q4").format(s=ref), f.new_colour,
                [f.colour, *colour_pool], 5)

        # Which way does X move?
        if f.kind == "move" and sum(g.kind == "move" for g in same_subject) == 1:
            add("direction", f, pick(_Q_DIRECTION, *k, "q5").format(s=name), f.direction, list(_DIRECTION_WORDS), 4)
    return items


# ---------------------------------------------------------------------------------------------------- frames

_BACKGROUND_PHRASES = {"noise": "a noisy background", "stripes": "a striped background",
                       "checker": "a checkered background", "gradient": "a gradient background",
                       "tinted": "a plain background"}


def position_phrase(x: float, y: float) -> str:
    """Normalised centre -> 'at the top left', 'in the middle', 'on the right', ..."""
    col = "left" if x < 1 / 3 else "right" if x > 2 / 3 else ""
    row = "top" if y < 1 / 3 else "bottom" if y > 2 / 3 else ""
    if row and col:
        return f"at the {row} {col}"
    if row:
        return f"at the {row}"
    if col:
        return f"on the {col}"
    return "in the middle"


def size_word(size: float) -> str:
    return "small " if size < 0.22 else "large " if size > 0.30 else ""


def frame_sentence(objects: Sequence[tuple[str, str, float, float, float]], background: str) -> str:
    """objects: (colour, shape, x, y, size) of each visible object -> one sentence."""
    parts = [f"{with_article(size_word(s) + f'{c} {shape}')} {position_phrase(x, y)}" for c, shape, x, y, s in objects]
    where = _BACKGROUND_PHRASES[background]
    if not parts:
        return f"nothing but {where}"
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{listed} on {where}"


# ---------------------------------------------------------------------------------------------------- corpus

def text_corpus(videos: Iterable["WorldVideo"], descriptions_per_event: int = 3) -> Iterator[str]:
    """Every query, caption, question, option (answers included) and frame description of `videos`.

    Frames are described at the start and end of each video and at `descriptions_per_event` times across each
    event's window. This is the text the demo's tokenizer and small language model are trained on.
    """
    for video in videos:
        yield from (q.query for q in video.grounding_queries())
        yield from (c.sentence for c in video.dense_captions())
        for qa in video.qa_items():
            yield qa.question
            yield from qa.options
        times = {0.0, video.duration}
        for ev in video.events:
            times.update(np.linspace(ev.start, ev.end, descriptions_per_event).round(2).tolist())
        yield from (video.frame_description(t) for t in sorted(times))


__all__ = ["GroundingItem", "CaptionItem", "QAItem", "EventFacts", "event_phrase", "caption_sentence", "qa_items",
           "frame_sentence", "position_phrase", "action_answer", "text_corpus"]
