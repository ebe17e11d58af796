"""Long-video windows: the plan over the video, and each window's answers merged in global time."""

import pytest

from videoexpert.result import Segment
from videoexpert.windows import merge_captions, merge_ranked, merge_saliency, owned_ranges, plan_windows


def test_a_video_no_longer_than_a_window_is_one_window():
    assert plan_windows(59.0, 60.0, 0.25) == [(0.0, 59.0)]
    assert plan_windows(60.0, 60.0, 0.25) == [(0.0, 60.0)]


@pytest.mark.parametrize("duration", [61.0, 200.0, 1234.5, 7200.0])
def test_windows_are_native_length_evenly_spread_and_overlap_enough(duration):
    windows = plan_windows(duration, 60.0, 0.25)
    assert windows[0][0] == 0.0 and windows[-1][1] == pytest.approx(duration)
    assert all(end - start == pytest.approx(60.0) for start, end in windows)
    overlaps = [a[1] - b[0] for a, b in zip(windows, windows[1:])]
    assert min(overlaps) >= 15.0 - 1e-6                        # at least a quarter of a window
    assert max(overlaps) - min(overlaps) < 1e-6                # evenly spread
    assert len(plan_windows(duration, 60.0, 0.25)) == len(windows)
    assert len(windows) == max(2, -(-(duration - 60) // 45) + 1)   # no more windows than the stride needs


def test_owned_ranges_tile_the_video_cutting_overlaps_in_the_middle():
    windows = plan_windows(200.0, 60.0, 0.25)                  # starts 0, 35, 70, 105, 140
    ranges = owned_ranges(windows)
    assert ranges[0] == (0.0, pytest.approx(47.5)) and ranges[-1][1] == 200.0
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def test_saliency_takes_each_time_from_the_window_that_owns_it():
    windows = [(0.0, 10.0), (5.0, 15.0)]                       # the overlap 5..10 is cut at 7.5
    curves = [([2.0, 4.0, 6.0, 8.0, 10.0], [0.1, 0.2, 0.3, 0.4, 0.5]),
              ([7.0, 9.0, 11.0, 13.0, 15.0], [0.6, 0.7, 0.8, 0.9, 1.0])]
    times, scores = merge_saliency(windows, curves)
    assert times == (2.0, 4.0, 6.0, 9.0, 11.0, 13.0, 15.0)
    assert scores == (0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 1.0)


def test_ranked_candidates_merge_across_windows_with_nms_and_a_threshold():
    candidates = [Segment(40.0, 50.0, 0.7, "q"),              # window 1's view of the moment
                  Segment(41.0, 50.5, 0.9, "q"),              # window 2's better view of the same moment
                  Segment(100.0, 104.0, 0.6, "q"),            # a second moment
                  Segment(150.0, 160.0, 0.3, "q")]            # below the threshold
    kept = merge_ranked(candidates, nms_threshold=0.5, max_segments=10, min_score=0.5)
    assert [(s.start, s.score) for s in kept] == [(41.0, 0.9), (100.0, 0.6)]
    assert merge_ranked(candidates, 0.5, 10, min_score=0.95) == []
    assert len(merge_ranked(candidates, 0.5, 1)) == 1


def test_captions_in_an_overlap_are_told_once():
    windows = [(0.0, 10.0), (5.0, 15.0)]
    first = [Segment(1.0, 3.0, 0.9, "A red circle appears."), Segment(6.0, 8.0, 0.8, "The blue square stops.")]
    second = [Segment(6.2, 8.2, 0.7, "The blue square stops."),   # its middle 7.2 is window 1's
              Segment(7.0, 9.5, 0.9, "the blue square stops"),    # window 2 owns 8.25, but it says the same thing
              Segment(11.0, 14.0, 0.6, "A green star leaves.")]
    merged = merge_captions(windows, [first, second])
    assert [(s.start, s.label) for s in merged] == [(1.0, "A red circle appears."), (7.0, "the blue square stops"),
                                                    (11.0, "A green star leaves.")]
