"""Per-token routing of the temporal and spatial experts through a real (tiny) LLaMA forward pass."""

import pytest
import torch
from torch import nn

from videoexpert.config import ExpertConfig
from videoexpert.experts import ExpertLinear, ExpertRouter, expert_layers, route_tokens
from videoexpert import create_model


def _first_q_proj_outputs(model, input_ids, cls, patches):
    """Outputs of layer 0's q_proj during a full forward pass."""
    layer = dict(expert_layers(model.llm))
    q0 = next(m for name, m in layer.items() if name.endswith("layers.0.self_attn.q_proj"))
    captured = {}
    handle = q0.register_forward_hook(lambda mod, inp, out: captured.setdefault("out", out.detach().clone()))
    with torch.no_grad():
        model(input_ids, cls, patches)
    handle.remove()
    return q0, captured["out"][0]


@pytest.fixture()
def batch(tiny_model):
    g = torch.Generator().manual_seed(0)
    n, d = tiny_model.config.num_frames, tiny_model.config.vision_width
    ids, _ = tiny_model.tokenize("A USER: <video>\nwhen? ASSISTANT:", "During [LOC].")
    input_ids = torch.tensor([ids])
    video = input_ids[0] == -200
    t_positions = video.nonzero()[:n, 0]
    return input_ids, torch.randn(1, n, d, generator=g), torch.randn(1, n, 16, d, generator=g), t_positions


@pytest.mark.parametrize("expert", ["temporal", "spatial"])
def test_changing_one_expert_changes_only_its_tokens(tiny_model, batch, expert):
    input_ids, cls, patches, t_positions = batch
    q0, before = _first_q_proj_outputs(tiny_model, input_ids, cls, patches)
    saved = q0.lora_B[expert].weight.detach().clone()
    try:
        with torch.no_grad():
            q0.lora_B[expert].weight.normal_(0, 0.5)
        _, after = _first_q_proj_outputs(tiny_model, input_ids, cls, patches)
    finally:
        with torch.no_grad():
            q0.lora_B[expert].weight.copy_(saved)
    changed = (after - before).abs().amax(dim=-1) > 1e-6           # (s,)
    is_t = torch.zeros_like(changed)
    is_t[t_positions] = True
    expected = is_t if expert == "temporal" else ~is_t
    assert changed.sum() > 0
    assert torch.equal(changed, expected), f"{expert} expert changed positions {changed.nonzero().flatten().tolist()[:10]}"


def test_zero_initialised_experts_leave_the_base_unchanged():
    torch.manual_seed(0)
    base = nn.Linear(8, 6)
    layer = ExpertLinear(base, ExpertConfig(rank=4, alpha=8, dropout=0.0), ExpertRouter())
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(layer(x), base(x))


def test_router_mask_selects_adapters_and_scaling():
    torch.manual_seed(0)
    router = ExpertRouter()
    layer = ExpertLinear(nn.Linear(4, 3), ExpertConfig(rank=2, alpha=6, dropout=0.0), router)
    for e in ("temporal", "spatial"):
        nn.init.normal_(layer.lora_B[e].weight)
    x = torch.randn(1, 4, 4)
    mask = torch.tensor([[True, False, True, False]])
    with route_tokens(router, mask):
        y = layer(x)
    base = layer.base_layer(x)
    t = layer.lora_B["temporal"](layer.lora_A["temporal"](x)) * 3.0
    s = layer.lora_B["spatial"](layer.lora_A["spatial"](x)) * 3.0
    torch.testing.assert_close(y, base + torch.where(mask[..., None], t, s))
    assert router.temporal_mask is None  # the context manager restores the previous routing
    with pytest.raises(RuntimeError, match="does not match"):
        with route_tokens(router, torch.ones(1, 3, dtype=torch.bool)):
            layer(x)


def test_every_target_projection_carries_experts(tiny_model):
    names = [n for n, _ in expert_layers(tiny_model.llm)]
    layers = tiny_model.llm.config.num_hidden_layers
    assert len(names) == 7 * layers
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert sum(n.endswith(proj) for n in names) == layers


@pytest.mark.gpu
def test_wraps_bitsandbytes_linear4bit():
    bnb = pytest.importorskip("bitsandbytes")
    if not torch.cuda.is_available():
        pytest.skip("4-bit layers need CUDA")
    base = bnb.nn.Linear4bit(64, 32, compute_dtype=torch.bfloat16, quant_type="nf4").cuda()
    layer = ExpertLinear(base, ExpertConfig(rank=4, alpha=8, dropout=0.0), ExpertRouter(), dtype=torch.bfloat16)
    x = torch.randn(2, 3, 64, device="cuda", dtype=torch.bfloat16)
    torch.testing.assert_close(layer(x), base(x))


def test_gradient_checkpointing_recomputes_with_the_same_routing():
    """Checkpointed layers are recomputed in backward, after the routing block of `forward` has closed; the gradients
    of both experts must still equal those of a run that keeps its activations (the GPU QLoRA run found this)."""
    from videoexpert.data.collate import collate, make_example

    grads = []
    for checkpointing in (False, True):
        model = create_model("tiny", seed=0).train()
        torch.manual_seed(1)
        with torch.no_grad():
            for _, layer in expert_layers(model.llm):
                for b in layer.lora_B.values():
                    b.weight.normal_(0, 0.05)
        if checkpointing:
            model.enable_gradient_checkpointing()
        n, d = model.config.num_frames, model.config.vision_width
        g = torch.Generator().manual_seed(0)
        ex = make_example(model, torch.randn(n, d, generator=g), torch.randn(n, 16, d, generator=g),
                          "When?", "During [LOC], a.", [(0.2, 0.6)])
        torch.manual_seed(2)                                    # the same dropout masks in both runs
        model(**collate([ex], model.tokenizer.pad_token_id)).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if ".lora_" in n})
    plain, checkpointed = grads
    assert any(".lora_A.temporal" in n and g.abs().sum() > 0 for n, g in plain.items())
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], msg=name)
