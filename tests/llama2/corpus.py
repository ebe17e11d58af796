"""A fixed, varied set of strings on which the built LLaMA-2 tokenizer is checked against the npm packages' encoders.

Deterministic (a fixed list plus combinations drawn with a seeded RNG), so every build checks the same strings.
No string holds `<s>`/`</s>`/`<unk>`: a Hugging Face tokenizer splits those out as special tokens while
sentencepiece encodes them as text, which is a difference of the wrappers, not of the vocabulary.
"""

from __future__ import annotations

import random

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

FIXED = [
    "Hello, my dog is cute",
    "Hello world!",
    VICUNA_SYSTEM,
    VICUNA_SYSTEM + " USER: ",
    VICUNA_SYSTEM + " USER: <video>\nDuring which frames can we see a man opening a door? ASSISTANT:",
    "\nBased on the given video, answer the question: During which frames can we see a person cooking?",
    " ASSISTANT: From [LOC].",
    "From [LOC], a woman is slicing tomatoes. From [LOC], she puts them in a bowl.",
    "Question: What does the boy do after falling? Option A: cry. Option B: stand up. Option C: run away.",
    "Option E.",
    "The quick brown fox jumps over the lazy dog.",
    "It's a test -- with dashes, (parentheses), [brackets], {braces} and \"quotes\".",
    "e-mail: someone@example.com; url: https://example.org/path?q=1&r=2#frag",
    "C'est la vie, naïve café, façade, coöperate, jalapeño, Straße.",
    "Привет, мир! Как дела?",
    "你好，世界。这是一个测试句子。",
    "こんにちは世界、カタカナとひらがな。",
    "안녕하세요 세계",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "Γειά σου Κόσμε",
    "שלום עולם",
    "😀😃😄 emoji 👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷 heart ❤️",
    "Mathematics: ∀x ∈ ℝ, x² ≥ 0; ∑ᵢ aᵢ = π ≈ 3.14159; √2; ∞; ≠; ≤",
    "Currency: $100, €50.25, £7, ¥1000, ₹12, ₿0.001",
    "Numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 12345 3.14 -42 1e-5 0x1F 2023-08-01 12:34:56",
    "Timestamps: 00:01:23.450 --> 00:01:25.000, 12.5s to 17.25s, frames 35-134",
    "Tabs\tand\ttabs\t\tdouble",
    "Windows\r\nline\r\nendings",
    "line one\nline two\n\nline four\n\n\n",
    "\n",
    "\n\n",
    " ",
    "  ",
    "   ",
    "a",
    ".",
    "?",
    "a  b",
    "a   b    c     d",
    " leading space",
    "  two leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "\u2581already\u2581escaped\u2581spaces",
    "mixed \u2581 and spaces",
    "non\u00a0breaking\u00a0space",
    "zero\u200bwidth\u200bspace",
    "soft\u00adhyphen",
    "combining e\u0301 vs é",
    "ﬁ ligature, ｆｕｌｌｗｉｄｔｈ, ①②③, Ⅻ",
    "'quoted' “curly” ‘single’ «guillemets» „low“",
    "ellipsis… em—dash en–dash",
    "def f(x):\n    return x ** 2  # comment\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "<video>",
    "<video>\n",
    "[LOC]",
    "[LOC].",
    "From [LOC]",
    "USER:",
    "ASSISTANT:",
    "USER: hi ASSISTANT: hello",
    "ALL CAPS SENTENCE WITH NUMBERS 123",
    "camelCaseIdentifier snake_case_identifier kebab-case-identifier",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "A" * 40,
    "ab" * 30,
    "!!!???...,,,;;;:::",
    "#hashtag @mention $cashtag %percent ^caret &amp *star",
    "\\backslash /slash |pipe ~tilde `backtick",
]

_WORDS = (
    "the a man woman person dog cat video frames during which can we see happen when does at what point time "
    "take place is depicted opens closes door walks runs kitchen cooking slicing tomatoes onion bowl pan "
    "guitar plays sings dances jumps falls stands sits table chair car street park ball throws catches "
    "Option A B C D E Question Based on given answer the question From LOC Then consider select correct "
    "information presented options describe provided detail summarize visual content informative summary "
    "events shown sentence begin timestamps beginning include prepend exact specify please"
).split()
_PUNCT = [".", ",", "?", "!", ":", ";", "'s", "'", '"', "(", ")", "-", "...", " -", "/"]
_UNICODE = ["é", "ü", "ñ", "ç", "ø", "ß", "中", "文", "日本", "한", "я", "ж", "ع", "ह", "😀", "🎬", "🍅", "👍🏽", "→", "—", "…", "°C"]
_SPACES = [" ", " ", " ", " ", "  ", "   ", "\n", "\n\n", "\t", " \n", "\n "]


def _random_strings(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 14)):
            r = rng.random()
            if r < 0.55:
                w = rng.choice(_WORDS)
                if rng.random() < 0.15:
                    w = w.capitalize()
                parts.append(w)
            elif r < 0.70:
                parts.append(rng.choice(_PUNCT))
            elif r < 0.82:
                parts.append(str(rng.choice([rng.randint(0, 9), rng.randint(10, 999), rng.randint(1000, 10**6)])))
            else:
                parts.append(rng.choice(_UNICODE))
            parts.append(rng.choice(_SPACES))
        s = "".join(parts)
        if rng.random() < 0.5:
            s = s.strip()
        out.append(s)
    return out


def corpus() -> list[str]:
    """The strings to compare: the fixed list, whitespace runs 1..40, and 240 seeded random mixes (no empties)."""
    runs = [" " * k for k in range(4, 41)] + ["x" + " " * k + "y" for k in range(1, 41, 3)] + ["\n" * k for k in (3, 4, 7)]
    strings = FIXED + runs + _random_strings(240)
    seen, out = set(), []
    for s in strings:
        if s and s not in seen:
            seen.add(s)
            out.append(s)
    return out
