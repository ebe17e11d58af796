"""Temporal head and grounding losses against the official head (`text_hidden_fcs_det`, `class_embed_head`,
`span_embed_head`) and `DetCriterion`, on recorded final states, [LOC] states and windows."""

import pytest
import torch

from videoexpert.loss import grounding_losses, total_loss

from .support import official_json, recorded

TOL = 1e-6   # measured: 0.0 (same ops in the same order)


@pytest.fixture(scope="module")
def head_run(official_model):
    rec = recorded("head")
    with torch.no_grad():
        out = official_model.head(rec["t_hidden"], rec["loc_hidden"])
        losses = grounding_losses(out, rec["windows"], official_model.config.loss)
    return rec, out, losses, total_loss(losses, official_model.config.loss)


def test_head_outputs_match_official(head_run):
    rec, out, _, _ = head_run
    torch.testing.assert_close(out.foreground, rec["official_foreground"], atol=TOL, rtol=0)
    torch.testing.assert_close(out.offsets, rec["official_offsets"], atol=TOL, rtol=0)     # (d_l, d_r)
    torch.testing.assert_close(out.spans, rec["official_spans"], atol=TOL, rtol=0)         # t_i + (-d_l, d_r)


def test_losses_match_official(head_run):
    """One [LOC] with two ground-truth windows, one window starting exactly on a frame time, one starting at 0."""
    _, _, losses, total = head_run
    ref = official_json()["head"]
    assert losses["indicator_loss"].item() == pytest.approx(ref["loss_f"], rel=TOL, abs=TOL)
    assert losses["span_loss"].item() == pytest.approx(ref["loss_b"], rel=TOL, abs=TOL)
    assert losses["giou_loss"].item() == pytest.approx(ref["loss_g"], rel=TOL, abs=TOL)
    assert total.item() == pytest.approx(ref["det_loss"], rel=TOL, abs=TOL)                # 2 / 5 / 2 weights
