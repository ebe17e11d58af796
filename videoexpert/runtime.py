"""Runtime profiles (DESIGN.md §3): where each part of the model lives and in which precision.

| profile     | vision | LLM                                               | experts, head, projector, [LOC] rows |
|-------------|--------|---------------------------------------------------|--------------------------------------|
| `cuda`      | fp16   | NF4 4-bit, double quantization, bf16 compute (bnb)| bf16                                 |
| `cuda-bf16` | bf16   | bf16                                              | bf16                                 |
| `cpu`       | fp32   | fp32                                              | fp32                                 |

`auto` picks `cuda` on a CUDA machine with bitsandbytes installed, `cuda-bf16` on one without, and `cpu` otherwise.
`PROFILE_NAMES` lists the names `select_profile` takes and imports without torch (command-line choices); the
profiles themselves, `PROFILES`, are built on first use.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

PROFILE_NAMES = ("auto", "cuda", "cuda-bf16", "cpu")   # "auto", then every profile of `PROFILES`


@dataclass(frozen=True)
class RuntimeProfile:
    name: str
    device: str
    vision_dtype: torch.dtype
    llm_dtype: torch.dtype          # compute dtype of the LLM (and storage dtype unless 4-bit)
    adapter_dtype: torch.dtype      # experts, head, projector
    load_in_4bit: bool = False

    def quantization_config(self):
        """transformers' BitsAndBytesConfig for the 4-bit profile, None otherwise."""
        if not self.load_in_4bit:
            return None
        from transformers import BitsAndBytesConfig
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                  bnb_4bit_compute_dtype=self.llm_dtype)


@functools.cache
def _profiles() -> dict[str, RuntimeProfile]:
    import torch

    return {
        "cuda": RuntimeProfile("cuda", "cuda", torch.float16, torch.bfloat16, torch.bfloat16, load_in_4bit=True),
        "cuda-bf16": RuntimeProfile("cuda-bf16", "cuda", torch.bfloat16, torch.bfloat16, torch.bfloat16),
        "cpu": RuntimeProfile("cpu", "cpu", torch.float32, torch.float32, torch.float32),
    }


def __getattr__(name: str):
    if name == "PROFILES":   # built on first use, so that PROFILE_NAMES imports without torch
        return _profiles()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def bitsandbytes_available() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def select_profile(name: str | RuntimeProfile | None = "auto", *, cuda: bool | None = None,
                   bnb: bool | None = None) -> RuntimeProfile:
    """The profile for `name` (one of `PROFILE_NAMES`); `cuda`/`bnb` override detection (tests)."""
    import torch

    if isinstance(name, RuntimeProfile):
        return name
    profiles = _profiles()
    cuda = torch.cuda.is_available() if cuda is None else cuda
    bnb = bitsandbytes_available() if bnb is None else bnb
    name = name or "auto"
    if name == "auto":
        if not cuda:
            return profiles["cpu"]
        if not bnb:
            logger.warning("bitsandbytes is not installed: using the cuda-bf16 profile instead of 4-bit")
            return profiles["cuda-bf16"]
        return profiles["cuda"]
    if name not in profiles:
        raise ConfigError(f"unknown profile {name!r}; expected one of {', '.join(PROFILE_NAMES)}")
    profile = profiles[name]
    if profile.device == "cuda" and not cuda:
        raise ConfigError(f"the {name} profile needs a CUDA GPU and none is visible; use the cpu profile")
    if profile.load_in_4bit and not bnb:
        raise ConfigError("the cuda profile loads the LLM in 4-bit with bitsandbytes, which is not installed: "
                          "pip install bitsandbytes, or use the cuda-bf16 profile")
    return profile


def warn_if_large_on_cpu(profile: RuntimeProfile, num_parameters: int) -> None:
    if profile.device == "cpu" and num_parameters > 1_000_000_000:
        logger.warning("running a %.1fB-parameter LLM on the CPU: expect minutes per answer and %.0f GB of memory",
                       num_parameters / 1e9, num_parameters * 4 / 1e9)
