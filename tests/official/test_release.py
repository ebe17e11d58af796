"""A release fabricated in the official layout (the files `train.py` writes, bf16 as a `--bf16 True` run writes them)
from the fixtures' weights, converted by `videoexpert.convert.convert_official` with the tiny base LLM, loaded by
`VideoExpert.from_pretrained`: the converted model must give the official outputs.

`convert-official` on the command line takes only a named preset (`--preset`), and no preset has the official shapes
at tiny size (rank-32 experts, 768-d vision tokens, 64 centres), so the function behind the command is called with
the fixtures' architecture as its template.
"""

import pytest
import torch

from videoexpert import load_model
from videoexpert.convert import convert_official
from videoexpert.tokenizer import train_tokenizer

from .support import RELEASE, base_llm_state, generate, llm_arch, model_config, official_json, recorded, train_forward


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("official_release")
    llm_dir = root / "tiny-vicuna"                      # the base LLM as the authors' users have Vicuna: HF folder
    arch = {k: v for k, v in llm_arch().items() if k != "model_type"}
    llm = LlamaForCausalLM(LlamaConfig(**arch))
    llm.load_state_dict(base_llm_state(), strict=True)
    llm.save_pretrained(llm_dir)
    tokenizer = train_tokenizer(vocab_size=arch["vocab_size"])
    assert len(tokenizer) == arch["vocab_size"]
    tokenizer.save_pretrained(llm_dir)
    report = convert_official(RELEASE / "stage2", RELEASE / "mm_projector.bin", str(llm_dir), root / "converted",
                              vision=None, template=model_config())
    return report, load_model(root / "converted").eval()


def test_every_official_tensor_is_used(converted):
    report, _ = converted
    assert not report.missing and not report.unmatched and not report.wrong_shape
    assert len(report.matched) == 2 + 16 + 2 * 7 * 4 + 2   # projector, head, 2 layers x 7 projections x {V,L}x{A,B}, embeddings


def test_converted_model_gives_the_official_outputs(converted, monkeypatch):
    _, model = converted
    out, hooks, _, attention = train_forward(model)
    rec, ref = recorded("train_forward"), official_json()["train_forward"]
    valid = attention.bool()
    torch.testing.assert_close(hooks.hidden[0][valid], rec["official_hidden"][valid], atol=2e-5, rtol=0)
    torch.testing.assert_close(out.head.foreground, rec["official_foreground"], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.head.spans, rec["official_spans"], atol=1e-5, rtol=0)
    assert out.loss.item() == pytest.approx(ref["loss"], rel=1e-5)
    gen, hooks = generate(model, monkeypatch)
    assert gen.token_ids == recorded("generation")["official_tokens"].tolist()
    torch.testing.assert_close(hooks.hidden[0][0], recorded("generation")["official_prefill_hidden"], atol=2e-5, rtol=0)
