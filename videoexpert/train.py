"""Training: one readable accelerate loop for both stages (DESIGN.md §2 "Training stages").

    stage 1: the projector (captioning data)
    stage 2: both experts, the LOC MLP, the temporal head and the [LOC] embedding rows; LLM and projector frozen

Data comes from a mixture of sources sampled by weight (the official task ratio is 5:1 temporal : QA). One GPU,
several (`accelerate launch`), or DeepSpeed ZeRO-2 (`configs/accelerate/deepspeed_zero2.yaml`); bf16; gradient
checkpointing; checkpoints hold only what trains (plus optimizer, scheduler and RNG state) and resume exactly.

    python -m videoexpert train --config configs/train/stage2_example.json --set max_steps=2000
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from .config import dataclass_from_dict
from .data.collate import collate, make_example
from .data.features import FeatureSource
from .data.sources import Sample, read_samples
from .errors import ConfigError
from .factory import load_model, save_model

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
FINAL_DIR = "final"


@dataclass
class DataSourceConfig:
    kind: str                       # videoexpert, charades, qvhighlights, youcook2, activitynet, nextgqa
    annotations: str                # the annotation file
    features: str | None = None     # folder of <video_id>.safetensors from `extract-features`
    videos: str | None = None       # folder of videos, decoded and encoded on the fly when features are missing
    weight: float = 1.0             # sampling weight of this source in the mixture


@dataclass
class TrainConfig:
    stage: int = 2                  # 1: projector; 2: experts, LOC MLP, head, [LOC] rows
    model: str = "tiny"             # preset name or saved model directory to start from
    data: list[DataSourceConfig] = field(default_factory=list)
    output_dir: str = "runs/train"
    max_steps: int = 1000           # optimizer steps
    batch_size: int = 8             # per device and micro-step
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"     # no, bf16, fp16 (accelerate); bf16 is required on the GPU profiles
    gradient_checkpointing: bool = False
    qlora: bool = False             # frozen LLM in 4-bit NF4 (the `cuda` profile), adapters trained over it
    log_every: int = 10
    save_every: int = 500
    keep_checkpoints: int = 2
    seed: int = 0
    num_workers: int = 0

    def __post_init__(self) -> None:
        self.data = [d if isinstance(d, DataSourceConfig) else dataclass_from_dict(DataSourceConfig, d, "data")
                     for d in self.data]
        if self.stage not in (1, 2):
            raise ConfigError(f"stage must be 1 or 2, got {self.stage}")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ConfigError(f"mixed_precision must be no, bf16 or fp16, got {self.mixed_precision!r}")
        if self.qlora and self.mixed_precision != "bf16":
            raise ConfigError("qlora trains fp32 adapters over a bf16-computing 4-bit LLM: set mixed_precision=bf16")

    def profile(self, cuda: bool | None = None) -> str:
        """The runtime profile the model is trained in: the 4-bit `cuda` profile for QLoRA, else the frozen
        backbones in bf16 on a GPU (never 4-bit unless asked: `auto` would pick it at inference) or fp32 on CPU."""
        cuda = torch.cuda.is_available() if cuda is None else cuda
        if self.qlora:
            return "cuda"
        return "cuda-bf16" if cuda else "cpu"

    @classmethod
    def from_json(cls, path: str | Path, overrides: list[str] = ()) -> "TrainConfig":
        data = json.loads(Path(path).read_text()) if path else {}
        for item in overrides:
            apply_override(data, item, cls)
        return dataclass_from_dict(cls, data, "train")


def apply_override(data: dict[str, Any], item: str, cls: type) -> None:
    """`key=value` with the value parsed as the field's type (JSON for lists), e.g. `lr=2e-5`, `stage=1`."""
    key, sep, raw = item.partition("=")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if not sep or key not in fields:
        raise ConfigError(f"bad override {item!r}: expected key=value with key in {', '.join(fields)}")
    kind = str(fields[key].type)
    try:
        if "bool" in kind:
            value: Any = raw.lower() in ("1", "true", "yes", "on")
        elif "int" in kind and "float" not in kind:
            value = int(raw)
        elif "float" in kind:
            value = float(raw)
        elif "list" in kind:
            value = json.loads(raw)
        else:
            value = raw
    except ValueError as e:
        raise ConfigError(f"bad value for {key}: {raw!r} ({e})") from e
    data[key] = value


class ConversationDataset(Dataset):
    """Samples of one source, materialised as tokenized examples with their video features."""

    def __init__(self, samples: list[Sample], features: FeatureSource, model) -> None:
        self.samples, self.features, self.model = samples, features, model

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        feats = self.features(sample.video)
        duration = feats.duration or sample.duration
        return make_example(self.model, feats.cls_tokens, feats.patch_tokens, sample.question, sample.answer,
                            sample.normalised_windows(duration))


def build_mixture(cfg: TrainConfig, model, num_samples: int) -> tuple[Dataset, WeightedRandomSampler]:
    """Concatenate the sources and sample them by weight: source s gets weight_s / sum(weights) of the batches."""
    if not cfg.data:
        raise ConfigError("the training config lists no data sources")
    datasets, weights = [], []
    total = sum(d.weight for d in cfg.data)
    for source in cfg.data:
        samples = read_samples(source.kind, source.annotations, model.templates)
        if not samples:
            raise ConfigError(f"{source.annotations}: no usable samples of kind {source.kind}")
        datasets.append(ConversationDataset(samples, FeatureSource(model, source.features, source.videos), model))
        weights += [source.weight / total / len(samples)] * len(samples)
        logger.info("%s (%s): %d samples, weight %.2f", source.annotations, source.kind, len(samples), source.weight)
    generator = torch.Generator().manual_seed(cfg.seed)
    sampler = WeightedRandomSampler(weights, num_samples=num_samples, replacement=True, generator=generator)
    return torch.utils.data.ConcatDataset(datasets), sampler


def upcast_(params: list[torch.nn.Parameter]) -> None:
    """Trainable parameters in fp32 (master weights, as in QLoRA): AdamW steps of ~1e-4 vanish in bf16. The
    frozen backbone keeps its profile's dtype; autocast (mixed_precision=bf16) runs the matmuls in bf16."""
    for p in params:
        if p.dtype != torch.float32:
            p.data = p.data.float()


def latest_checkpoint(output_dir: Path) -> Path | None:
    steps = sorted((int(m.group(1)), p) for p in (output_dir / CHECKPOINT_DIR).glob("step_*")
                   if (m := re.fullmatch(r"step_(\d+)", p.name)))
    return steps[-1][1] if steps else None


def train(cfg: TrainConfig) -> Path:
    """Run (or resume) a training run; returns the directory of the final model (`save_model` format)."""
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    output_dir = Path(cfg.output_dir)
    accelerator = Accelerator(gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision,
                              project_dir=str(output_dir),
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    set_seed(cfg.seed)
    profile = cfg.profile(accelerator.device.type == "cuda")
    if profile != "cpu" and cfg.mixed_precision != "bf16":
        raise ConfigError(f"training in the {profile} profile (bf16 backbones) needs mixed_precision=bf16")
    model = load_model(cfg.model, profile=profile,
                       device=str(accelerator.device) if accelerator.device.type == "cuda" else None)
    params = model.trainable_parameters(cfg.stage)
    upcast_(params)
    if cfg.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    embeddings = {id(model.llm.get_input_embeddings().weight), id(model.llm.get_output_embeddings().weight)}
    groups = [{"params": [p for p in params if id(p) not in embeddings], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if id(p) in embeddings], "weight_decay": 0.0}]  # rows without gradient stay put
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr)
    scheduler = get_cosine_schedule_with_warmup(optimizer, math.ceil(cfg.warmup_ratio * cfg.max_steps), cfg.max_steps)
    micro_batches = cfg.max_steps * cfg.grad_accum
    dataset, sampler = build_mixture(cfg, model, micro_batches * cfg.batch_size * accelerator.num_processes)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
                        collate_fn=functools.partial(collate, pad_token_id=model.tokenizer.pad_token_id))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}

    def keep_trainable(models, weights, out_dir):  # checkpoints hold what trains, not the frozen 7B backbone
        for i, state in enumerate(weights):
            weights[i] = {k: v for k, v in state.items() if k.removeprefix("module.") in trainable}

    accelerator.register_save_state_pre_hook(keep_trainable)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)

    step = 0
    resume_from = latest_checkpoint(output_dir)
    if resume_from is not None:
        accelerator.load_state(str(resume_from), strict=False)
        step = int(resume_from.name.split("_")[1])
        logger.info("resumed from %s (step %d)", resume_from, step)
    batches = accelerator.skip_first_batches(loader, step * cfg.grad_accum) if step else loader
    log_path = output_dir / "log.jsonl"
    output_dir.mkdir(parents=True, exist_ok=True)
    model.train()
    progress = tqdm(total=cfg.max_steps, initial=step, desc=f"stage {cfg.stage}", unit="step",
                    disable=not accelerator.is_main_process)
    running: dict[str, torch.Tensor] = {}
    logged_steps = 0
    started = time.perf_counter()
    for batch in batches:
        if step >= cfg.max_steps:
            break
        with accelerator.accumulate(model):
            out = model(**batch)
            accelerator.backward(out.loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        # Summed on the device and read at log time only: an `.item()` per loss per step would wait for the GPU
        # five times a step (the H100 profile of the demo recipe showed the step bound by such overhead).
        for name, value in {"loss": out.loss, **out.losses}.items():
            running[name] = running.get(name, 0.0) + value.detach().float() / cfg.grad_accum
        if not accelerator.sync_gradients:
            continue
        step += 1
        logged_steps += 1
        progress.update(1)
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            record = {"step": step, "lr": scheduler.get_last_lr()[0], "elapsed_s": time.perf_counter() - started,
                      **{k: float(v) / logged_steps for k, v in running.items()}}
            progress.set_postfix(loss=f"{record['loss']:.3f}")
            if accelerator.is_main_process:
                with open(log_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
                logger.info("step %d %s", step, " ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "step"))
            running, logged_steps = {}, 0
        if step % cfg.save_every == 0 and step < cfg.max_steps:
            save_checkpoint(accelerator, output_dir, step, cfg.keep_checkpoints)
    progress.close()
    final = output_dir / FINAL_DIR
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_model(accelerator.unwrap_model(model), final)
        (output_dir / "train_config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")
    return final


def save_checkpoint(accelerator, output_dir: Path, step: int, keep: int) -> None:
    path = output_dir / CHECKPOINT_DIR / f"step_{step:07d}"
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        old = sorted((output_dir / CHECKPOINT_DIR).glob("step_*"))[:-keep]
        for stale in old:
            for file in sorted(stale.rglob("*"), reverse=True):
                file.unlink() if file.is_file() else file.rmdir()
            stale.rmdir()

