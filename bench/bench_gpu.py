"""The real model's runtime on a GPU (issue #3): peak VRAM and time per stage of the whole pipeline, per profile.

Speed and memory do not depend on weight values, and no real weights exist on our machines, so the backbones are
random with the paper's shapes: a Vicuna-7B-shaped LLaMA (saved in Hugging Face format, then loaded through the
same code path as Vicuna, 4-bit included) and a ViT-L/14-shaped open_clip tower, plus experts, head and projector
at the paper's sizes. The experts get random non-zero weights so that they really run.

For each profile (`cuda`: LLM in NF4 4-bit; `cuda-bf16`) on a generated 3-minute 720p video it prints: peak VRAM
of the whole pipeline (load, decode, CLIP, compress, prefill, generation), time per stage, and tokens/s of a
64-token dense caption. Then two checks: that the 4-bit path runs the experts (adapter outputs non-zero, hidden
states change when the adapters are zeroed), and that the two profiles, given the same trained weights (the
shipped demo model), put grounding segments within 2% of the video's length of each other.

    python bench/bench_gpu.py                       # on a CUDA machine with bitsandbytes
    python bench/bench_gpu.py --smoke               # CPU, tiny shapes, short video: checks the script itself

Writes the table to stdout and, with --json FILE, the numbers as JSON. Needs, besides torch and transformers:
bitsandbytes (4-bit), open_clip_torch, av (probing and decoding; also writes the video where no ffmpeg is found).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from videoexpert import Predictor, create_model, load_model, prompts  # noqa: E402
from videoexpert.config import LLMConfig, VisionConfig, get_preset  # noqa: E402
from videoexpert.experts import expert_layers  # noqa: E402
from videoexpert.model import VideoExpert  # noqa: E402
from videoexpert.tokenizer import train_tokenizer  # noqa: E402

logger = logging.getLogger("bench_gpu")

VICUNA_7B = {"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
             "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
             "max_position_embeddings": 4096, "rms_norm_eps": 1e-5}
TINY_LLAMA = {"model_type": "llama", "vocab_size": 1024, "hidden_size": 128, "intermediate_size": 256,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 2048}


@dataclass
class Setup:
    llm_arch: dict
    preset: str                      # sizes of compress, experts, head
    vision: VisionConfig
    seconds: float
    size: tuple[int, int]            # video width, height
    fps: float
    caption_tokens: int = 64
    profiles: list[str] = field(default_factory=lambda: ["cuda", "cuda-bf16"])


def paper_setup(seconds: float, height: int, profiles: list[str]) -> Setup:
    return Setup(VICUNA_7B, "paper", VisionConfig(arch="ViT-L-14-quickgelu", pretrained=None, image_size=224), seconds,
                 (height * 16 // 9 // 2 * 2, height), 30.0, profiles=profiles)


def smoke_setup() -> Setup:
    tiny = get_preset("tiny")
    return Setup(TINY_LLAMA, "tiny", tiny.vision, 6.0, (320, 180), 10.0, caption_tokens=8, profiles=["cpu"])


# ------------------------------------------------------------------------------------------------ inputs

def write_llm(path: Path, arch: dict, device: str) -> Path:
    """A random LLaMA of `arch` saved in Hugging Face format with a locally trained tokenizer (vocab padded with
    unused tokens to the model's size, as Vicuna's 32000)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = train_tokenizer(vocab_size=512)
    tokenizer.add_tokens([f"<unused{i}>" for i in range(arch["vocab_size"] - len(tokenizer))])
    config = AutoConfig.for_model(**arch, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                  pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    with torch.device(device):  # initialising 7B parameters is minutes on a CPU, seconds on the GPU
        llm = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    llm.save_pretrained(path)
    tokenizer.save_pretrained(path)
    del llm
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return path


def write_video(path: Path, seconds: float, size: tuple[int, int], fps: float) -> Path:
    """A moving test pattern in H.264, the common case for uploads: ffmpeg's testsrc2 (imageio-ffmpeg or an ffmpeg
    on PATH), else PyAV's own libx264 (GPU machines may have neither ffmpeg, and the decoder needs PyAV anyway)."""
    try:
        import imageio_ffmpeg
        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return write_video_pyav(path, seconds, size, fps)
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={size[0]}x{size[1]}:rate={fps}", "-t", str(seconds), "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def write_video_pyav(path: Path, seconds: float, size: tuple[int, int], fps: float) -> Path:
    """Colour bars that scroll, and a square that crosses the frame once: every frame differs, like testsrc2."""
    import av
    import numpy as np

    width, height = size
    num_frames = round(seconds * fps)
    bars = np.repeat(np.linspace(0, 255, 8, dtype=np.uint8)[None, :, None] * np.array([[[1, 0.5, 0.2]]]),
                     width // 8 + 1, axis=1)[:, :width].astype(np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=round(fps), options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(num_frames):
            frame = np.repeat(np.roll(bars, 4 * i, axis=1), height, axis=0)
            x = int((width - height // 4) * i / max(num_frames - 1, 1))
            frame[height // 3: height // 3 + height // 4, x: x + height // 4] = 255
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def randomise_experts(model: VideoExpert, seed: int = 0) -> None:
    """LoRA B starts at zero (adapters output nothing until trained): give both experts small random weights."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, layer in expert_layers(model.llm):
            for expert in layer.lora_B.values():
                w = torch.randn(expert.weight.shape, generator=generator) * 0.02
                expert.weight.copy_(w.to(expert.weight.device, expert.weight.dtype))


# ------------------------------------------------------------------------------------------------ measurements

def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn):
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - start


def run_profile(setup: Setup, llm_dir: Path, video: Path, profile: str) -> dict:
    """Load the model in `profile` and run the pipeline twice: the first (cold: CUDA kernels load, cuBLAS picks
    its algorithms) gives the first-question time, the second (warm, as every later question) the table's row."""
    cuda = profile != "cpu"
    peaks: dict[str, tuple[float, float]] = {}

    def peak(stage: str) -> None:  # peak VRAM (allocated, reserved) of each stage, then a fresh count
        if cuda:
            peaks[stage] = (torch.cuda.max_memory_allocated() / 2**30, torch.cuda.max_memory_reserved() / 2**30)
            torch.cuda.reset_peak_memory_stats()

    if cuda:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    config = dataclasses.replace(get_preset(setup.preset), name=f"bench-{setup.preset}", vision=setup.vision,
                                 llm=LLMConfig(name_or_path=str(llm_dir)))
    torch.manual_seed(0)
    model, load_s = timed(torch.device("cuda" if cuda else "cpu"),
                          lambda: create_model(config, profile=profile))
    model.eval()
    randomise_experts(model)
    device = model.device
    row: dict = {"profile": profile, "load_s": load_s}
    peak("load")
    prompt = prompts.chat_prompt(model.templates.question("captioning"))
    with torch.inference_mode():
        start = time.perf_counter()
        predictor = Predictor(model)
        features = predictor.encode(video)
        model.generate(predictor.visual_tokens(features), prompt, max_new_tokens=4, min_new_tokens=4)
        synchronize(device)
        row["first_question_s"] = time.perf_counter() - start   # decode, CLIP, compress, prefill, 4 tokens
        peak("first question")

        features = predictor.encode(video)       # times its own decode and CLIP stages
        row["decode_s"], row["clip_s"] = features.timings_s["decode"], features.timings_s["encode"]
        peak("decode + CLIP")
        visual, row["compress_s"] = timed(device, lambda: predictor.visual_tokens(features))
        peak("compress")
        _, row["prefill_s"] = timed(device, lambda: model.generate(visual, prompt, max_new_tokens=0))
        peak("prefill")
        caption, total = timed(device, lambda: model.generate(visual, prompt, max_new_tokens=setup.caption_tokens,
                                                               min_new_tokens=setup.caption_tokens))
        peak("generation")
        row["new_tokens"] = len(caption.token_ids)
        row["generate_s"] = total - row["prefill_s"]
        row["tokens_per_s"] = row["new_tokens"] / row["generate_s"] if row["generate_s"] > 0 else float("nan")
        row["sequence_tokens"] = len(model.tokenize(prompt)[0])
        row.update(experts_check(model, visual))
    row["peak_vram_gb"] = max((a for a, _ in peaks.values()), default=float("nan"))
    row["reserved_vram_gb"] = max((r for _, r in peaks.values()), default=float("nan"))
    row["peak_vram_gb_by_stage"] = {k: round(a, 3) for k, (a, _) in peaks.items()}
    row["llm_4bit"] = any("4bit" in type(m).__name__ for m in model.llm.modules())
    return row  # the model and its tensors go with this frame; the next profile starts from an empty cache


def experts_check(model: VideoExpert, visual: torch.Tensor) -> dict:
    """Adapter outputs of the first expert layer, and how far the final hidden states move without the adapters."""
    name, layer = next(iter(expert_layers(model.llm)))
    seen: dict[str, float] = {}
    hook = layer.lora_B["temporal"].register_forward_hook(
        lambda m, i, o: seen.__setitem__("temporal", float(o.abs().max())))
    hook_s = layer.lora_B["spatial"].register_forward_hook(
        lambda m, i, o: seen.__setitem__("spatial", float(o.abs().max())))
    prompt = prompts.chat_prompt(model.templates.question("grounding", "the pattern moves"))
    with_adapters = model.generate(visual, prompt, max_new_tokens=0).t_hidden.float()
    hook.remove()
    hook_s.remove()
    saved = [(b, b.weight.detach().clone()) for _, l in expert_layers(model.llm) for b in l.lora_B.values()]
    for b, _ in saved:
        b.weight.zero_()
    without = model.generate(visual, prompt, max_new_tokens=0).t_hidden.float()
    for b, w in saved:
        b.weight.copy_(w)
    return {"adapter_max_temporal": seen.get("temporal", 0.0), "adapter_max_spatial": seen.get("spatial", 0.0),
            "hidden_change_without_adapters": float((with_adapters - without).abs().max()),
            "expert_layer": name}


def profile_agreement(model_dir: Path, profiles: list[str]) -> dict:
    """Top grounding segments of the same trained model (the demo) in each profile on the shipped example videos,
    compared pairwise: end-point differences as a share of the video's length (largest, median, share within 2%),
    with every query's segments in the JSON."""
    assets = sorted((ROOT / "assets").glob("*.json"))
    segments: list[list[tuple[float, float, float]]] = []   # per profile, loaded anew each time (cpu, cpu: 0)
    queries: list[str] = []
    for profile in profiles:
        predictor = Predictor(load_model(model_dir, profile=profile).eval())
        out = []
        with torch.inference_mode():
            for truth in assets:
                features = predictor.encode(truth.with_suffix(".mp4"))
                for query in json.loads(truth.read_text())["grounding"]:
                    top = predictor.predict(features, "grounding", query["query"]).top
                    out.append((top.start, top.end, features.duration))
                    if len(queries) < len(out):
                        queries.append(f"{truth.stem}: {query['query']}")
        segments.append(out)
        del predictor
    pairs = {}
    for i, a_name in enumerate(profiles):
        for j in range(i + 1, len(profiles)):
            a, b, b_name = segments[i], segments[j], profiles[j]
            diffs = sorted(max(abs(x[0] - y[0]), abs(x[1] - y[1])) / x[2] for x, y in zip(a, b))
            pairs[f"{a_name} vs {b_name}"] = {"max": diffs[-1], "median": diffs[len(diffs) // 2],
                                              "within_2pct": sum(d <= 0.02 for d in diffs) / len(diffs)}
    return {"profiles": profiles, "queries": len(queries), "pairs": pairs,
            "max_endpoint_diff_share": next(iter(pairs.values()))["max"],
            "segments": {p: [[round(x[0], 3), round(x[1], 3)] for x in seg] for p, seg in zip(profiles, segments)},
            "query_names": queries}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "CPU"


def table(rows: list[dict], setup: Setup) -> str:
    lines = [f"| profile | LLM 4-bit | peak VRAM GB (reserved) | load s | first question s | decode s | CLIP s | "
             f"compress s | prefill s ({rows[0]['sequence_tokens']} tokens) | {setup.caption_tokens}-token caption s | "
             "tokens/s |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['profile']} | {'yes' if r['llm_4bit'] else 'no'} | {r['peak_vram_gb']:.2f} "
                     f"({r['reserved_vram_gb']:.2f}) | {r['load_s']:.1f} | {r['first_question_s']:.1f} | {r['decode_s']:.2f} | {r['clip_s']:.2f} | "
                     f"{r['compress_s']:.3f} | {r['prefill_s']:.3f} | {r['generate_s']:.2f} | {r['tokens_per_s']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on the CPU (a check of this script)")
    parser.add_argument("--profiles", nargs="+", default=["cuda", "cuda-bf16"])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the generated video")
    parser.add_argument("--height", type=int, default=720, help="video height (16:9)")
    parser.add_argument("--agreement-model", default=str(ROOT / "checkpoints" / "videoexpert-demo"),
                        help="trained model for the cuda vs cuda-bf16 agreement check ('' to skip)")
    parser.add_argument("--work", help="folder for the random LLM and the video (default: a temporary one)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    setup = smoke_setup() if args.smoke else paper_setup(args.seconds, args.height, args.profiles)
    if not args.smoke and not torch.cuda.is_available():
        parser.error("no CUDA GPU visible; use --smoke to check the script on a CPU")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        llm_dir = work / "llm"
        if not (llm_dir / "config.json").is_file():
            write_llm(llm_dir, setup.llm_arch, "cpu" if args.smoke else "cuda")
        video = work / f"video_{setup.size[1]}p_{setup.seconds:g}s.mp4"
        if not video.is_file():
            write_video(video, setup.seconds, setup.size, setup.fps)
        rows = [run_profile(setup, llm_dir, video, p) for p in setup.profiles]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and not args.smoke else cpu_name()
    print(f"\nVideoExpert pipeline, {setup.preset}-shaped random backbones ({setup.llm_arch['num_hidden_layers']}-layer "
          f"LLaMA d={setup.llm_arch['hidden_size']}, {setup.vision.arch}); video {setup.seconds:g} s "
          f"{setup.size[0]}x{setup.size[1]} {setup.fps:g} fps; {device}; torch {torch.__version__}\n")
    print(table(rows, setup))
    if any(r["peak_vram_gb_by_stage"] for r in rows):
        print("\npeak VRAM GB (allocated) by stage, the first question (cold) included")
        for r in rows:
            print(f"  {r['profile']}: {r['peak_vram_gb_by_stage']}")
    print("\nexperts in the LLM (first layer): max |adapter output| temporal / spatial, max |change of the T-token "
          "hidden states| when the adapters are zeroed")
    for r in rows:
        print(f"  {r['profile']}: {r['adapter_max_temporal']:.3g} / {r['adapter_max_spatial']:.3g}, "
              f"{r['hidden_change_without_adapters']:.3g}")
    result = {"setup": {"seconds": setup.seconds, "size": setup.size, "preset": setup.preset}, "rows": rows}
    # Pairs: the two GPU profiles, and each against the fp32 CPU profile as the reference. On the CPU (--smoke)
    # the check runs cpu against cpu: it exercises the code, the GPU run gives the numbers.
    agreement_profiles = ["cpu", "cpu"] if args.smoke else [p for p in ("cuda", "cuda-bf16") if p in setup.profiles]
    if args.agreement_model and len(agreement_profiles) == 2:
        if not args.smoke:
            agreement_profiles.append("cpu")
        result["agreement"] = a = profile_agreement(Path(args.agreement_model), agreement_profiles)
        print(f"\ntop grounding segment of the demo model, {a['queries']} queries on assets/: end-point difference as "
              "a share of the video (target: cuda vs cuda-bf16 <= 2%)")
        for pair, d in a["pairs"].items():
            print(f"  {pair}: largest {100 * d['max']:.2f}%, median {100 * d['median']:.2f}%, "
                  f"{100 * d['within_2pct']:.0f}% of queries within 2%")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
