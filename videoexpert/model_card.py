"""A model card (README.md) written beside saved weights, so a saved model can be pushed to the Hub as it is."""

from __future__ import annotations

import json
from pathlib import Path

from .config import ModelConfig

CARD = """---
library_name: videoexpert
tags: [video-llm, temporal-grounding, highlight-detection, dense-video-captioning, video-qa]
license: {license}
---

# {name}

{description}

A VideoExpert model (Zhao et al., *VideoExpert: Augmented LLM for Temporal-Sensitive Video Understanding*):
a frozen vision tower ({vision}) gives one CLS token per frame (T-tokens, {num_frames} frames) and Spatial
Compress turns the patch tokens into {s_tokens} S-tokens; a linear projector maps both into the LLM ({llm}),
whose every projection carries a temporal expert (LoRA at T-token positions) and a spatial expert (LoRA
everywhere else). Each generated `[LOC]` token is grounded by the temporal expert head into a time segment.

## Use

```python
from videoexpert import Predictor
predictor = Predictor.from_pretrained("path/to/this/folder")
print(predictor.predict("video.mp4", task="grounding", query="the red circle moves left").to_dict())
```

## Files

- `config.json`: the architecture, below
- `model.safetensors`: projector, experts, temporal head and `[LOC]` embedding rows
- `llm/`, `vision.safetensors`: backbones, present only when they cannot be fetched by name

## Licence notes

The backbones keep their own licences (CLIP: MIT; Vicuna v1.5: the Llama 2 Community License). The
official VideoExpert code and weights are released under CC BY-NC-ND 4.0; weights converted from them
inherit that licence.

## Configuration

```json
{config}
```
"""


def write_model_card(path: str | Path, config: ModelConfig, license: str = "other") -> Path:
    card = CARD.format(name=config.name, description=config.description or "A VideoExpert model.",
                       vision=config.vision.arch, num_frames=config.num_frames, s_tokens=config.compress.num_tokens,
                       llm=config.llm.name_or_path or "a randomly initialised LLaMA", license=license,
                       config=json.dumps(config.to_dict(), indent=2))
    out = Path(path) / "README.md"
    out.write_text(card)
    return out
