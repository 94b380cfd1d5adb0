"""Benchmark of the embedded local provider (Gemma 3 270M through llama-cpp-python).

Measures, in one run:
- load: assembling the bundled GGUF (only when the model cache is empty) and loading it;
- free text: decode tokens/s through the harness provider (streamed, timed after the model
  lock is taken) beside raw llama-cpp-python on the same prompt, settings and thread count;
- schema-constrained JSON: tokens/s of stock llama-cpp-python grammar sampling beside the
  provider's top-k grammar prefilter, on the extract-contacts prompt;
- suites: wall time of the example suites (evals/, local target only) through pytest with
  the cache off, then the same run again answered from the cache.

    .venv/bin/python bench/bench_local.py [--tokens 128] [--runs 3] [--threads N] [--no-suites]

Nothing here is asserted: figures are printed for the closing note.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import llama_cpp  # noqa: E402

from harness.providers.base import ProviderSettings  # noqa: E402
from harness.providers.local import (  # noqa: E402
    DEFAULT_CHAT_FORMAT,
    DEFAULT_N_CTX,
    MODEL_DIR_ENV,
    LocalProvider,
    bundled_model_path,
    default_threads,
)
from harness.suite.loader import load_suite  # noqa: E402
from harness.types import Message, Request  # noqa: E402

PROMPT = (
    "The lighthouse keeper kept a logbook. Every evening he wrote down the weather, the "
    "ships he had seen and what he had cooked. This is the entry for the ninth of March:\n\n"
)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def raw_stream(llm: llama_cpp.Llama, tokens: int, **kwargs: Any) -> tuple[int, float, float]:
    """(completion tokens, seconds to first token, total seconds) of one streamed call."""
    start = time.perf_counter()
    first = None
    n = 0
    for chunk in llm.create_completion(
        PROMPT, max_tokens=tokens, temperature=0.0, stream=True, **kwargs
    ):
        if chunk["choices"][0]["text"]:
            first = first or time.perf_counter()
            n += 1
    end = time.perf_counter()
    return n, (first or end) - start, end - start


def bench_free_text(threads: int, tokens: int, runs: int) -> None:
    """Raw and harness runs alternate, so a busy machine slows both alike."""
    path = bundled_model_path()
    raw = llama_cpp.Llama(
        str(path), n_ctx=DEFAULT_N_CTX, n_threads=threads, n_threads_batch=threads, verbose=False
    )
    # Chunks can carry more than one token; count tokens with a non-streamed call instead.
    out = raw.create_completion(PROMPT, max_tokens=tokens, temperature=0.0)
    n_raw = out["usage"]["completion_tokens"]
    provider = LocalProvider(
        ProviderSettings("local", options={"chat_format": "raw", "n_threads": threads})
    )
    request = Request(
        provider="local",
        model="gemma-3-270m",
        messages=(Message("user", PROMPT.rstrip("\n")),),
        max_tokens=tokens,
        temperature=0.0,
        stream=True,
    )
    provider.complete_sync(request)  # warm up: load and evaluate the prompt once
    raw_rates, raw_totals, rates, totals, n_out = [], [], [], [], 0
    for _ in range(runs):
        _, ttft, total = raw_stream(raw, tokens)
        raw_rates.append(n_raw / (total - ttft) if total > ttft else float("nan"))
        raw_totals.append(n_raw / total)
        c = provider.complete_sync(request)
        n_out = c.usage.output_tokens or 0
        rates.append(c.output_tokens_per_s or float("nan"))
        totals.append(n_out / (c.latency_ms / 1000))
    raw.close()
    asyncio.run(provider.aclose())
    print(f"free text, {runs} alternating runs, median (threads={threads}, prompt cached):")
    print(
        f"  raw llama-cpp-python: {n_raw} tokens, decode {median(raw_rates):.1f} tok/s, "
        f"whole call {median(raw_totals):.1f} tok/s"
    )
    print(
        f"  harness provider:     {n_out} tokens, decode {median(rates):.1f} tok/s, "
        f"whole call {median(totals):.1f} tok/s"
    )


def bench_grammar(threads: int, runs: int) -> None:
    from harness.providers.local import chat_messages

    suite = load_suite(ROOT / "evals" / "extract-contacts.yaml")
    cells = [c for c in suite.cells() if c.target.provider == "local"][:runs]
    stock = llama_cpp.Llama(
        str(bundled_model_path()),
        n_ctx=DEFAULT_N_CTX,
        n_threads=threads,
        n_threads_batch=threads,
        chat_format=DEFAULT_CHAT_FORMAT,
        verbose=False,
    )
    provider = LocalProvider(ProviderSettings("local", options={"n_threads": threads}))
    stock_rates, fast_rates, same = [], [], 0
    for cell in cells:
        req = cell.request()
        start = time.perf_counter()
        out = stock.create_chat_completion(
            chat_messages(req.messages, DEFAULT_CHAT_FORMAT),
            max_tokens=req.max_tokens,
            temperature=0.0,
            response_format={"type": "json_object", "schema": req.response_schema},
        )
        stock_rates.append(out["usage"]["completion_tokens"] / (time.perf_counter() - start))
        c = provider.complete_sync(req)
        fast_rates.append((c.usage.output_tokens or 0) / (c.latency_ms / 1000))
        same += c.text == out["choices"][0]["message"]["content"]
    stock.close()
    asyncio.run(provider.aclose())
    print(f"schema-constrained JSON (extract-contacts, first {len(cells)} cases, whole call):")
    print(f"  stock llama-cpp-python grammar:  {median(stock_rates):.1f} tok/s")
    print(
        f"  harness top-k grammar prefilter: {median(fast_rates):.1f} tok/s "
        f"(same output as stock in {same}/{len(cells)})"
    )


def bench_suites() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LLM_HARNESS_CACHE_DIR": str(Path(tmp) / "cache")}
        for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "MISTRAL_API_KEY"):
            env.pop(var, None)
        base = [
            sys.executable,
            "-m",
            "pytest",
            "evals",
            "-q",
            "-p",
            "no:cacheprovider",
            "--llm-targets",
            "local:*",
            "--llm-report",
            "false",
        ]
        for label, extra in (("live", ["--llm-cache", "refresh"]), ("cached", [])):
            cmd = [*base, *extra, "--llm-out", str(Path(tmp) / label)]
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - start
            tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
            print(f"example suites, local only, {label}: {wall:.1f} s wall ({tail})")
            print(f"  command: {' '.join(cmd[2:])} (cache in a fresh temp dir)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--no-suites", action="store_true")
    args = parser.parse_args()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"llama-cpp-python {llama_cpp.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    with tempfile.TemporaryDirectory() as tmp:  # first use: assemble into an empty cache
        os.environ[MODEL_DIR_ENV], saved = tmp, os.environ.get(MODEL_DIR_ENV)
        start = time.perf_counter()
        bundled_model_path()
        first_use = time.perf_counter() - start
        if saved is None:
            del os.environ[MODEL_DIR_ENV]
        else:
            os.environ[MODEL_DIR_ENV] = saved
    bundled_model_path()
    start = time.perf_counter()
    path = bundled_model_path()
    assembled = time.perf_counter() - start
    provider = LocalProvider(ProviderSettings("local", options={"n_threads": args.threads}))
    loaded = provider.model(
        Request(provider="local", model="gemma-3-270m", messages=(), max_tokens=1)
    )
    print(
        f"model {path} ({path.stat().st_size / 1e6:.0f} MB): assemble on first use "
        f"{first_use:.2f} s, locate afterwards {assembled * 1000:.1f} ms, "
        f"load {loaded.load_s:.2f} s"
    )
    asyncio.run(provider.aclose())

    bench_free_text(args.threads, args.tokens, args.runs)
    bench_grammar(args.threads, max(args.runs, 5))
    if not args.no_suites:
        bench_suites()


if __name__ == "__main__":
    main()
