"""The whole model against the official `VTimeLLMLlamaForCausalLM` (the authors' LLaMA with `VExpertLoRA` projections):
splicing of the visual tokens, [LOC] positions, expert routing, head and losses in the training forward
(`model_forward`), and routing in prefill and cached greedy generation (`generate`, which routes positions 35..134
to the temporal expert and every generated token to the spatial one).

Tolerances: our LLaMA attention is transformers' SDPA, the official one an explicit softmax(QK^T)V; they differ by
~2.6e-6 on final states of magnitude up to 4.2 (with eager attention ours matches to 0.0). Leaving out the temporal
expert moves those states by 2.6, so 2e-5 separates rounding from a routing error by five orders of magnitude.
"""

import pytest
import torch

from .support import LOC_ID, generate, official_json, recorded, train_forward

STATES = 2e-5
HEAD = 1e-5


@pytest.fixture(scope="module")
def train_run(official_model):
    return train_forward(official_model)


def test_visual_tokens_are_spliced_where_the_official_code_puts_them(train_run):
    out, rec_hooks, ids, attention = train_run
    rec = recorded("train_forward")
    valid = attention.bool()
    assert torch.equal(valid.long(), rec["official_attention_mask"])
    embeds = rec_hooks.embeds[0]
    torch.testing.assert_close(embeds[valid], rec["official_inputs_embeds"][valid], atol=1e-6, rtol=0)
    assert torch.equal(rec_hooks.masks[0].long(), rec["official_frame_mask"])   # the 100 T-tokens of each sample


def test_loc_states_are_read_where_the_official_code_reads_them(train_run):
    """Sample 0 has two [LOC]s, sample 1 one: the head gets the final state of the token before each [LOC]."""
    out, rec_hooks, ids, _ = train_run
    positions = recorded("train_forward")["official_loc_positions"]
    assert positions.shape == (3, 2)
    assert torch.equal(ids[positions[:, 0], positions[:, 1] + 1], torch.full((3,), LOC_ID))
    t_hidden, loc_hidden = rec_hooks.head_inputs[0]
    hidden = rec_hooks.hidden[0]
    assert torch.equal(loc_hidden, hidden[positions[:, 0], positions[:, 1]])
    frames = recorded("train_forward")["official_frame_mask"].bool()
    for row, sample in enumerate(positions[:, 0].tolist()):                        # each [LOC] sees its sample's
        assert torch.equal(t_hidden[row], hidden[sample][frames[sample]])          # 100 T-token states


def test_training_forward_matches_official(train_run):
    out, rec_hooks, _, attention = train_run
    rec, ref = recorded("train_forward"), official_json()["train_forward"]
    valid = attention.bool()
    torch.testing.assert_close(rec_hooks.hidden[0][valid], rec["official_hidden"][valid], atol=STATES, rtol=0)
    torch.testing.assert_close(out.head.foreground, rec["official_foreground"], atol=HEAD, rtol=0)
    torch.testing.assert_close(out.head.spans, rec["official_spans"], atol=HEAD, rtol=0)
    assert out.losses["text_loss"].item() == pytest.approx(ref["text_loss"], rel=HEAD)
    assert out.losses["indicator_loss"].item() == pytest.approx(ref["loss_f"], rel=HEAD)
    assert out.losses["span_loss"].item() == pytest.approx(ref["loss_b"], rel=HEAD)
    assert out.losses["giou_loss"].item() == pytest.approx(ref["loss_g"], rel=HEAD)
    assert out.loss.item() == pytest.approx(ref["loss"], rel=HEAD)


def test_prefill_and_cached_generation_match_official(official_model, monkeypatch):
    gen, rec_hooks = generate(official_model, monkeypatch)
    rec = recorded("generation")
    assert rec_hooks.masks[0][0].nonzero().squeeze(1).tolist() == list(range(35, 135))
    torch.testing.assert_close(rec_hooks.hidden[0][0], rec["official_prefill_hidden"], atol=STATES, rtol=0)
    assert gen.token_ids == rec["official_tokens"].tolist()                         # 6 greedy tokens
    steps = torch.stack([h[0, -1] for h in rec_hooks.hidden[1:6]])                  # one state per cached step
    assert all(m is None or not m.any() for m in rec_hooks.masks[1:])               # new tokens: spatial expert
    torch.testing.assert_close(steps, rec["official_step_hidden"], atol=STATES, rtol=0)
    lm_head = official_model.llm.get_output_embeddings()
    with torch.no_grad():
        logits = lm_head(torch.cat([rec_hooks.hidden[0][0, -1:], steps]))
    torch.testing.assert_close(logits, rec["official_scores"], atol=STATES, rtol=0)
