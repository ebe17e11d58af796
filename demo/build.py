"""The whole demo recipe, from a seed to `checkpoints/videoexpert-demo` (DESIGN.md §4):

    1. generate the demo world (train split; a held-out test split of unseen colour-shape pairs)
    2. train a byte-level BPE tokenizer and a small LLaMA on the world's text            (frozen afterwards)
    3. train a small CLIP ViT contrastively on frames and their descriptions               (frozen afterwards)
    4. assemble a VideoExpert from them, with the same architecture and code as the paper's
    5. extract the vision features of every training video and write the tasks as VideoExpert conversation JSON
    6. stage 1 (projector) and stage 2 (experts, head, [LOC] rows) with `videoexpert.train`
    7. score it on the held-out test split and save it with its scores, plus a few example videos in assets/

    python -m demo build --out checkpoints/videoexpert-demo [--reduced]
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from videoexpert import load_model, prompts, save_model
from videoexpert.config import (CompressConfig, ExpertConfig, HeadConfig, LLMConfig, ModelConfig, VisionConfig,
                                WindowConfig)
from videoexpert.errors import ConfigError
from videoexpert.data.features import save_features
from .world import HELD_OUT_PAIRS, MAX_DURATION_S, generate_videos, text_corpus
from .world_text import stable_hash
from videoexpert.tokenizer import train_tokenizer
from videoexpert.train import FINAL_DIR as FINAL
from videoexpert.train import DataSourceConfig, TrainConfig, train
from .backbones import LanguageRecipe, VisionRecipe, train_language, train_vision
from .evaluate import evaluate_world, world_features

logger = logging.getLogger(__name__)

DESCRIPTION = ("The VideoExpert Studio demo model: a small VideoExpert (same architecture and code path as the "
               "paper's) trained from scratch on a generated world of coloured shapes (circles, squares, triangles, "
               "diamonds in 7 colours) that appear, disappear, move, grow, shrink and change colour on textured "
               "backgrounds. It knows that world only: real videos get answers of the right form but no meaning.")


@dataclass
class DemoRecipe:
    seed: int = 0
    num_train: int = 1000
    num_test: int = 120
    num_assets: int = 4
    vision: VisionRecipe = field(default_factory=VisionRecipe)
    language: LanguageRecipe = field(default_factory=LanguageRecipe)
    stage1_steps: int = 300
    stage2_steps: int = 2000
    batch_size: int = 16            # stage 1
    stage2_batch_size: int = 16     # stage 2 and its refine run
    stage1_lr: float = 1e-3
    stage2_lr: float = 1e-3
    task_weights: dict[str, float] = field(default_factory=lambda: {"grounding": 2.0, "captioning": 1.0, "qa": 1.0})
    # A second stage-2 run from the first one's final model, with a fresh schedule and more grounding: the head
    # learns the query-conditioned choice of frames slowly (see the README), and grounding is what the app is for.
    refine_steps: int = 3500
    refine_task_weights: dict[str, float] = field(default_factory=lambda: {"grounding": 4.0, "captioning": 1.0,
                                                                           "qa": 1.0})
    # Then runs on the training world grown in phases, each (videos, steps) from the previous run's model with a
    # fresh schedule; the first num_train videos stay the same ones (the backbones and stage 1 saw only those). More
    # generated data is what a probe of the head's inputs showed the model lacks (bench/probe_demo_head.py); a phase
    # as large as the one before adds steps, not data, and on the 10000-video world each such phase raised grounding
    # more than growing it to there had. The README gives what each phase measured. An empty list rebuilds the model
    # before them.
    extend: list[tuple[int, int]] = field(default_factory=lambda: [(5000, 2000), (10000, 2000), (10000, 2000),
                                                                   (10000, 2000), (10000, 2000)])
    extend_task_weights: dict[str, float] = field(default_factory=lambda: {"grounding": 4.0, "captioning": 1.0,
                                                                           "qa": 1.0})

    @classmethod
    def reduced(cls) -> "DemoRecipe":
        """Minutes on a CPU: the same steps at toy scale (CI smoke test of the recipe, not a usable model)."""
        return cls(num_train=12, num_test=3, num_assets=1, stage1_steps=3, stage2_steps=6, refine_steps=2, batch_size=4,
                   stage2_batch_size=4, extend=[(14, 2), (16, 2), (16, 2)],
                   vision=VisionRecipe(steps=5, batch_size=16, frames_per_video=4),
                   language=LanguageRecipe(steps=5, batch_size=8, vocab_size=600))


def model_config(recipe: DemoRecipe, llm_arch: dict) -> ModelConfig:
    v = recipe.vision
    return ModelConfig(
        name="videoexpert-demo", num_frames=100, vision_width=v.embed_dim,
        vision=VisionConfig(arch="demo-vit", pretrained=None, arch_config=v.arch_config(), image_size=v.image_size),
        compress=CompressConfig(num_gops=4, gop_length=3, num_centers=16, num_key_tokens=7),
        experts=ExpertConfig(rank=16, alpha=32.0, dropout=0.05), head=HeadConfig(hidden_size=128),
        windows=WindowConfig(seconds=MAX_DURATION_S),   # a long video in windows as long as the longest it saw
        llm=LLMConfig(name_or_path=None, arch_config=llm_arch), description=DESCRIPTION)


def conversation(video, question: str, answer: str, windows: list[tuple[float, float]],
                 time_format: str = "loc") -> dict:
    """One VideoExpert/VTimeLLM JSON record; `answer` marks each window with [LOC]. With time_format "text" the
    times are written into the answer as percentages instead (the "w/o temporal head" ablation)."""
    if time_format == "text":
        answer = prompts.times_as_text(answer, [(s / video.duration, e / video.duration) for s, e in windows])
        windows = []
    tokens = {}
    for k, (s, e) in enumerate(windows):
        answer = answer.replace("[LOC]", f"<s{k}> to <e{k}>", 1)
        tokens[f"<s{k}>"], tokens[f"<e{k}>"] = s, e
    return {"id": video.name, "meta": {"duration": video.duration, "token": tokens},
            "conversations": [{"from": "human", "value": f"{prompts.VIDEO_PLACEHOLDER}\n{question}"},
                              {"from": "gpt", "value": answer}]}


def write_world_data(model, videos, data_dir: Path, time_format: str = "loc", workers: int = 1,
                     model_dir: Path | None = None, tag: str = "") -> dict[str, Path]:
    """Features of every video and one conversation file per task (plus stage 1's captions without times), named
    `{task}{tag}[_{time_format}].json`. With workers > 1 the features are computed by that many processes, each
    loading the model from `model_dir`."""
    features_dir = data_dir / "features"
    features_dir.mkdir(parents=True, exist_ok=True)
    todo = [v for v in videos if not (features_dir / f"{v.name}.safetensors").exists()]
    if workers > 1 and len(todo) > 1:
        if model_dir is None:
            raise ValueError("parallel feature extraction needs model_dir")
        encode_in_processes(model_dir, todo, features_dir, workers)
    else:
        for video in tqdm(todo, desc="encoding the training world", unit="video"):
            save_features(world_features(model, video), features_dir / f"{video.name}.safetensors", vision="demo-vit")
    records: dict[str, list[dict]] = {"stage1": [], "grounding": [], "captioning": [], "qa": []}
    t = model.templates
    for video in videos:
        captions = video.dense_captions()
        variant = stable_hash(video.name)   # like the official training, cycle through each task's prompts
        records["stage1"].append(conversation(video, "Describe the video.", " ".join(c.sentence for c in captions), []))
        records["captioning"].append(conversation(video, t.question("captioning", variant=variant),
                                                  t.captioning_answer([c.sentence for c in captions]),
                                                  [(c.start, c.end) for c in captions], time_format))
        for i, q in enumerate(video.grounding_queries()):
            records["grounding"].append(conversation(video, t.question("grounding", q.query, variant=variant + i),
                                                     t.grounding_answer(), [(q.start, q.end)], time_format))
        for i, qa in enumerate(video.qa_items()):
            multiple_choice = stable_hash(video.name, qa.question) % 2 == 0
            question = t.question("qa", qa.question, qa.options if multiple_choice else None, variant=variant + i)
            answer = t.qa_answer(qa.answer, qa.answer_index if multiple_choice else None)
            records["qa"].append(conversation(video, question, answer, [(qa.start, qa.end)], time_format))
    files = {}
    for task, rows in records.items():
        files[task] = data_dir / (f"{task}{tag}.json" if time_format == "loc" else f"{task}{tag}_{time_format}.json")
        files[task].write_text(json.dumps(rows))
        logger.info("%s: %d conversations", task, len(rows))
    return files


_WORKER_MODEL = None


def _load_worker_model(model_dir: str) -> None:
    global _WORKER_MODEL
    torch.set_num_threads(1)  # one core each: processes, not threads, share the machine
    _WORKER_MODEL = load_model(model_dir, profile="cpu").eval()


def _encode_and_save(job) -> str:
    video, path = job
    with torch.inference_mode():
        save_features(world_features(_WORKER_MODEL, video), Path(path), vision="demo-vit")
    return path


def encode_in_processes(model_dir: Path, videos, features_dir: Path, workers: int) -> None:
    """Render and encode videos in `workers` processes (spawned: forking after torch has started threads can hang).
    Each computes exactly what the single-process loop does: the model on the CPU, in fp32."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(v, str(features_dir / f"{v.name}.safetensors")) for v in videos]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_load_worker_model, initargs=(str(model_dir),)) as pool:
        for _ in tqdm(pool.map(_encode_and_save, jobs, chunksize=4), total=len(jobs),
                      desc=f"encoding the training world ({workers} processes)", unit="video"):
            pass


def build(recipe: DemoRecipe, out: Path, work_dir: Path, assets_dir: Path | None = None, workers: int = 1,
          train_only: bool = False) -> dict | None:
    """The recipe; every step reuses what an earlier run in `work_dir` finished. `workers` processes extract the
    features (and load the training data). `train_only` stops before scoring and saving (a GPU lease that ends
    first: the same command without it then scores and saves what was trained)."""
    from videoexpert.model import VideoExpert
    from videoexpert.vision import VisionTower

    work_dir.mkdir(parents=True, exist_ok=True)
    check_work_dir(recipe, work_dir)
    train_videos = generate_videos("train", recipe.num_train, start_seed=recipe.seed * 1_000_000)
    test_videos = generate_videos("test", recipe.num_test, start_seed=recipe.seed * 1_000_000 + 500_000)
    if (work_dir / "assembled" / "config.json").is_file():  # resuming: the backbones are already trained
        model = load_model(work_dir / "assembled", profile="cpu")
    else:
        corpus = list(text_corpus(train_videos))
        tokenizer = train_tokenizer(corpus, vocab_size=recipe.language.vocab_size)
        llm = train_language(corpus, tokenizer, recipe.language, recipe.seed)
        visual = train_vision(train_videos, recipe.vision, recipe.seed)
        torch.manual_seed(recipe.seed)
        config = model_config(recipe, recipe.language.arch_config(len(tokenizer), tokenizer))
        model = VideoExpert(config, VisionTower(visual, config.vision), llm, tokenizer)
        save_model(model, work_dir / "assembled")
    files = write_world_data(model, train_videos, work_dir / "data", workers=workers, model_dir=work_dir / "assembled")
    extended = extended_world_data(recipe, model, train_videos, work_dir, workers=workers,
                                   model_dir=work_dir / "assembled")

    features = str(work_dir / "data" / "features")
    stage1 = run_stage(recipe, 1, work_dir / "assembled", work_dir / "stage1",
                       [DataSourceConfig("videoexpert", str(files["stage1"]), features)], workers=workers)
    stage2 = run_stage2(recipe, stage1, work_dir, files, features, workers=workers, extended=extended)
    if train_only:
        return None

    model = load_model(stage2, profile="cpu").eval()
    scores = evaluate_world(model, test_videos)
    logger.info("held-out test split:\n%s", scores.table())
    if out.exists():
        shutil.rmtree(out)
    model.config.description = describe(scores)
    save_model(model, out)
    report = write_report(recipe, test_videos, scores, out)
    if assets_dir is not None:
        write_assets(test_videos[: recipe.num_assets], assets_dir)
    return report


def describe(scores) -> str:
    """The model card's description: what the model knows, and how well, measured on the held-out split."""
    m = scores.metrics
    return (f"{DESCRIPTION} Held-out test split (unseen colour-shape pairs): grounding R1@0.5 "
            f"{m.get('grounding/R1@0.5', 0):.2f}, mIoU {m.get('grounding/mIoU', 0):.2f}; highlight HIT@1 "
            f"{m.get('highlight/HIT@1', 0):.2f}; multiple-choice QA accuracy {m.get('qa/accuracy', 0):.2f}.")


def mixture(files: dict[str, Path], features: str, weights: dict[str, float]) -> list[DataSourceConfig]:
    """Stage 2's task mixture: one conversation file per task, sampled by weight."""
    return [DataSourceConfig("videoexpert", str(files[task]), features, weight=weight) for task, weight in weights.items()]


def extended_world_data(recipe: DemoRecipe, model, train_videos, work_dir: Path, time_format: str = "loc",
                        workers: int = 1, model_dir: Path | None = None) -> list[dict[str, Path]]:
    """Each extend run's conversations: the training world grown to its number of videos (features shared; phases
    on a world of the same size share its files)."""
    largest = max((num_videos for num_videos, _ in recipe.extend), default=recipe.num_train)
    more = generate_videos("train", largest - recipe.num_train, start_seed=recipe.seed * 1_000_000 + recipe.num_train)
    files: dict[int, dict[str, Path]] = {}
    for num_videos, _ in recipe.extend:
        if num_videos not in files:
            grown = list(train_videos) + more[: num_videos - recipe.num_train]
            files[num_videos] = write_world_data(model, grown, work_dir / "data", time_format=time_format,
                                                 workers=workers, model_dir=model_dir, tag=f"_{num_videos}videos")
    return [files[num_videos] for num_videos, _ in recipe.extend]


def run_stage2(recipe: DemoRecipe, start: Path, work_dir: Path, files: dict[str, Path], features: str,
               suffix: str = "", workers: int = 1, extended: list[dict[str, Path]] = ()) -> Path:
    """Stage 2 on the task mixture, then the grounding-heavy refine run from its final model, then the extend runs
    (`extended`: each one's files, on the world grown as `recipe.extend` says), each from the previous model."""
    stage2 = run_stage(recipe, 2, start, work_dir / f"stage2{suffix}", mixture(files, features, recipe.task_weights),
                       workers=workers)
    if recipe.refine_steps:
        stage2 = run_stage(recipe, 2, stage2, work_dir / f"stage2{suffix}_refine",
                           mixture(files, features, recipe.refine_task_weights), steps=recipe.refine_steps,
                           workers=workers)
    for phase, ((_, steps), grown) in enumerate(zip(recipe.extend, extended, strict=True), start=1):
        # stage2_extend, stage2_extend2, ...: the first keeps the name it had when the recipe had one extend run
        stage2 = run_stage(recipe, 2, stage2, work_dir / f"stage2{suffix}_extend{phase if phase > 1 else ''}",
                           mixture(grown, features, recipe.extend_task_weights), steps=steps, workers=workers)
    return stage2


def run_stage(recipe: DemoRecipe, stage: int, start: Path, run_dir: Path, data: list[DataSourceConfig],
              steps: int | None = None, workers: int = 1) -> Path:
    """Train one stage with `videoexpert.train`, or reuse its final model if an earlier run finished it. On a GPU
    the frozen backbones run in bf16 (the `cuda-bf16` profile, which needs bf16 autocast)."""
    final = run_dir / FINAL
    if (final / "config.json").is_file() and (final / "model.safetensors").is_file():
        logger.info("stage %d already trained: %s", stage, final)
        return final
    if stage == 1:
        default_steps, lr, batch_size = recipe.stage1_steps, recipe.stage1_lr, recipe.batch_size
    else:
        default_steps, lr, batch_size = recipe.stage2_steps, recipe.stage2_lr, recipe.stage2_batch_size
    return train(TrainConfig(stage=stage, model=str(start), output_dir=str(run_dir), max_steps=steps or default_steps,
                             lr=lr, batch_size=batch_size, log_every=20, save_every=500, seed=recipe.seed, data=data,
                             mixed_precision="bf16" if torch.cuda.is_available() else "no",
                             num_workers=min(workers, 8) if workers > 1 else 0))


def check_work_dir(recipe: DemoRecipe, work_dir: Path) -> None:
    """A work dir holds one recipe's intermediate results; reusing it with another recipe would mix them. Recipes
    that differ only in how many extend phases follow share it (each phase's run depends only on those before it),
    so a world can be grown further in place; recipe.json keeps the longest."""
    sizes = [recipe.num_train] + [num_videos for num_videos, _ in recipe.extend]
    if sizes != sorted(sizes):
        raise ConfigError(f"extend {recipe.extend}: each phase's videos must be at least the previous phase's "
                          f"(num_train {recipe.num_train} first): the extend runs grow the training world")
    saved = work_dir / "recipe.json"
    current = json.loads(json.dumps(dataclasses.asdict(recipe)))
    if saved.exists():
        previous = json.loads(saved.read_text())
        short, long = sorted((previous.pop("extend", []), current.pop("extend")), key=len)
        if previous != current or long[: len(short)] != short:
            raise ConfigError(f"{work_dir} holds the results of another recipe ({saved}); use a fresh --work-dir")
        current["extend"] = long
    saved.write_text(json.dumps(current, indent=2, sort_keys=True))


def write_report(recipe: DemoRecipe, test_videos, scores, out: Path | None, key: str = "test") -> dict:
    """demo_scores.json beside the model: the recipe and the held-out scores (merged into an existing report)."""
    report = {"recipe": dataclasses.asdict(recipe), "held_out_pairs": [list(p) for p in HELD_OUT_PAIRS]}
    if out is not None and (out / "demo_scores.json").exists():
        report = json.loads((out / "demo_scores.json").read_text())
    report[key] = {"videos": len(test_videos), **scores.to_dict()}
    if out is not None:
        (out / "demo_scores.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def build_text_times_ablation(recipe: DemoRecipe, out: Path, work_dir: Path, workers: int = 1,
                              train_only: bool = False) -> dict | None:
    """The paper's "w/o temporal head" row: the same stage-1 model, data and stage-2 runs (steps, mixtures, refine),
    but every answer writes its times as text (two-digit percentages) instead of [LOC]; same test split."""
    check_work_dir(recipe, work_dir)  # the build's recipe: an ablation with another budget would compare nothing

    train_videos = generate_videos("train", recipe.num_train, start_seed=recipe.seed * 1_000_000)
    test_videos = generate_videos("test", recipe.num_test, start_seed=recipe.seed * 1_000_000 + 500_000)
    base = load_model(work_dir / "stage1" / FINAL, profile="cpu")
    base.config.time_format = "text"
    save_model(base, work_dir / "stage1_text")
    files = write_world_data(base, train_videos, work_dir / "data", time_format="text", workers=workers,
                             model_dir=work_dir / "stage1_text")
    extended = extended_world_data(recipe, base, train_videos, work_dir, time_format="text", workers=workers,
                                   model_dir=work_dir / "stage1_text")
    features = str(work_dir / "data" / "features")
    stage2 = run_stage2(recipe, work_dir / "stage1_text", work_dir, files, features, suffix="_text", workers=workers,
                        extended=extended)
    if train_only:
        return None
    scores = evaluate_world(load_model(stage2, profile="cpu").eval(), test_videos)
    logger.info("w/o temporal head (times as text), held-out test split:\n%s", scores.table())
    return write_report(recipe, test_videos, scores, out, key="test_without_temporal_head")


def write_assets(videos, assets_dir: Path) -> None:
    """Example videos (held-out test split) with their ground truth, for the app and the README."""
    assets_dir.mkdir(parents=True, exist_ok=True)
    for video in videos:
        video.write_mp4(assets_dir / f"{video.name}.mp4", size=256 if video.size == 64 else video.size)
        truth = {"video": video.to_dict(), "grounding": [q.to_dict() for q in video.grounding_queries()],
                 "captions": [c.to_dict() for c in video.dense_captions()],
                 "qa": [q.to_dict() for q in video.qa_items()]}
        (assets_dir / f"{video.name}.json").write_text(json.dumps(truth, indent=2) + "\n")
