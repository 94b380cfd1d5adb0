"""Does the harness report the latency the provider caused, and not its own work?

Four providers (openai, anthropic, groq, mistral; the local model is not used) on the
simulator, each scripted at LATENCY_MS. For each run size the script measures, against the
same simulator process:
- bare (the reference): the four official SDKs, imported and their clients built before
  timing (and the heap frozen, as the harness does), the same number of calls per provider
  at the same per-provider concurrency, all four providers at once, each on an event loop
  of its own thread as the harness's lanes run them, each call timed around its create()
  (a separate process);
- paced (for comparison): the bare reference with its sends spaced as the harness's lanes
  space theirs (harness.calls.lanes.start_gap), so that what is compared is the harness's
  own work, not the bare clients' burst of 16 requests built at once, which they time as
  latency and the harness does not send;
- shared (for comparison): the same with all four SDKs on one event loop, where one SDK's
  CPU (mistralai builds two pydantic models per call) is timed as the others' latency;
- harness: a pytest run of a suite with the four targets x CASES cases (fresh cache), its
  per-call latency_ms, stall_ms and provider_ms read back from results.jsonl.
Sizes: 40 cases (160 cells: under 200, so no worker process runs) and 100 cases (400 cells:
the worker runs). Bare and harness runs alternate ``--rounds`` times (default 3) and each
column pools every round's calls. Printed per provider: p50 harness vs p50 bare (the
acceptance: within 15 ms), the bare clients' own largest call (what the machine does to a
client with no harness at all), the largest harness call (acceptance: under 2x the
scripted latency), the largest
stall_ms, the largest latency less its stall_ms ("max net": what a busy machine leaves
of the provider's time once the recorded stall is taken out) and the provider-reported p50.

    .venv/bin/python bench/bench_latency_truth.py [--latency-ms 100] [--sizes 40,100] [--rounds 3]

The simulator runs in its own process. Nothing is asserted; figures are printed (the
machine is shared: run it more than once before quoting a figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

PY = sys.executable
MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "groq": "llama-3.1-8b-instant",
    "mistral": "mistral-small-latest",
}
KEYS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY",
}
PATHS = {"openai": "/openai/v1", "anthropic": "/anthropic", "groq": "/groq", "mistral": "/mistral"}
#: The harness's default per-provider concurrency (runner.DEFAULT_CONCURRENCY).
CONCURRENCY = 16
MAX_TOKENS = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- bare SDKs (run in a child process: --bare) ----------------------------------------------


def _clients(url: str, transport: str) -> dict[str, Any]:
    """The four SDK clients. ``transport`` "harness": set up as the harness sets them up (the
    HTTP transport it gives them, aiohttp under the SDK's own httpx client, and mistralai
    sparing its per-call work and running its own hooks inline), so the comparison is of
    the harness's own work alone; "sdk": each SDK as it comes."""
    import anthropic
    import groq
    import openai
    from mistralai.client import Mistral

    from harness.providers._transport import sdk_http_client
    from harness.providers.mistral import run_hooks_inline, spare_sdk_work

    if transport == "harness":
        spare_sdk_work()

    def http(httpx_name: str) -> Any:
        return sdk_http_client({"transport": "aiohttp" if transport == "harness" else "httpx"},
                               httpx_name)

    clients = {
        "openai": openai.AsyncOpenAI(api_key="sk-bench", base_url=url + PATHS["openai"],
                                     max_retries=0, http_client=http("httpx2")),
        "anthropic": anthropic.AsyncAnthropic(api_key="sk-bench",
                                              base_url=url + PATHS["anthropic"], max_retries=0,
                                              http_client=http("httpx2")),
        "groq": groq.AsyncGroq(api_key="sk-bench", base_url=url + PATHS["groq"], max_retries=0,
                               http_client=http("httpx")),
        "mistral": Mistral(api_key="sk-bench", server_url=url + PATHS["mistral"],
                           async_client=http("httpx2")),
    }
    if transport == "harness":  # its own hooks on the loop, as the adapter runs them
        run_hooks_inline(clients["mistral"])
    return clients


def _bare(url: str, calls: int, layout: str, transport: str) -> dict[str, list[float]]:
    """Each provider's calls timed around the bare SDK call. ``layout`` "lanes": each SDK on
    an event loop of its own thread, as the harness runs them (the reference); "shared": all
    four on one loop, where one SDK's CPU is timed as the others' latency."""
    import gc
    import threading

    clients = _clients(url, transport)
    gc.collect()
    gc.freeze()  # as the harness does once its clients are built (Runner.prepare)
    sys.setswitchinterval(0.001)  # as the harness's runner sets it
    if layout == "shared":
        return asyncio.run(_timed(clients, list(MODELS), calls))
    results: dict[str, list[float]] = {}
    start = threading.Barrier(len(MODELS))
    paced = layout == "paced"

    def lane(provider: str) -> None:
        start.wait()
        results.update(asyncio.run(_timed(clients, [provider], calls, paced)))

    threads = [threading.Thread(target=lane, args=(p,)) for p in MODELS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {p: results[p] for p in MODELS}


async def _timed(clients: dict[str, Any], providers: list[str], calls: int, paced: bool = False
                 ) -> dict[str, list[float]]:
    """Each provider's calls, CONCURRENCY at a time; ``paced``: sent no closer together than
    the harness's lanes send them (harness.calls.lanes.start_gap, with the same running mean
    of call time), so that a bare client's own burst of request building is not timed."""
    from harness.calls.lanes import MEAN_WEIGHT, start_gap

    async def one(provider: str, i: int) -> float:
        client, model = clients[provider], MODELS[provider]
        messages = [{"role": "user", "content": f"Echo item {i}"}]
        started = time.perf_counter()
        if provider == "anthropic":
            await client.messages.create(model=model, max_tokens=MAX_TOKENS, messages=messages)
        elif provider == "mistral":
            await client.chat.complete_async(
                model=model, max_tokens=MAX_TOKENS, messages=messages, temperature=0.0
            )
        else:
            await client.chat.completions.create(
                model=model, max_tokens=MAX_TOKENS, messages=messages, temperature=0.0
            )
        return (time.perf_counter() - started) * 1000

    async def provider_calls(provider: str) -> list[float]:
        sem = asyncio.Semaphore(CONCURRENCY)
        pace: dict[str, Any] = {"next": 0.0, "mean_s": None}

        async def limited(i: int) -> float:
            async with sem:
                if paced:
                    now = time.perf_counter()
                    at = max(now, pace["next"])
                    pace["next"] = at + start_gap(CONCURRENCY, pace["mean_s"])
                    if at > now:
                        await asyncio.sleep(at - now)
                ms = await one(provider, i)
                mean = pace["mean_s"]
                pace["mean_s"] = ms / 1000 if mean is None else (
                    mean + MEAN_WEIGHT * (ms / 1000 - mean))
                return ms

        return list(await asyncio.gather(*(limited(i) for i in range(calls))))

    results = await asyncio.gather(*(provider_calls(p) for p in providers))
    return dict(zip(providers, results, strict=True))


# -- the harness run -------------------------------------------------------------------------


def harness_run(
    work: Path, url: str, cases: int, round_: int = 0
) -> tuple[dict[str, list[dict[str, Any]]], float]:
    """A pytest run of the four targets x ``cases`` (a fresh cache); (records by provider,
    wall seconds)."""
    suite_dir = work / "evals" / f"size{cases}-{round_}"  # under evals/: the default folder
    suite_dir.mkdir(parents=True)
    rows = "\n".join(f'  - {{id: c{i}, vars: {{text: "item {i}"}}}}' for i in range(cases))
    targets = ", ".join(f"{p}:{m}" for p, m in MODELS.items())
    (suite_dir / "latency.yaml").write_text(
        f"name: latency\ntargets: [{targets}]\ntemperatures: [null]\n"
        f"max_tokens: {MAX_TOKENS}\n"
        'prompt:\n  user: "Echo {{ text }}"\nassert:\n  - {type: contains, value: item}\n'
        f"cases:\n{rows}\n"
    )
    out = work / f"run{cases}-{round_}"
    env = dict(os.environ)
    env.update({KEYS[p]: "sk-bench" for p in MODELS})
    env.update({
        "OPENAI_BASE_URL": url + PATHS["openai"],
        "ANTHROPIC_BASE_URL": url + PATHS["anthropic"],
        "GROQ_BASE_URL": url + PATHS["groq"],
        "MISTRAL_BASE_URL": url + PATHS["mistral"],
        "LLM_HARNESS_CACHE_DIR": str(work / f"cache{cases}-{round_}"),
    })
    started = time.perf_counter()
    proc = subprocess.run(
        [PY, "-m", "pytest", str(suite_dir), "-q", "-p", "no:cacheprovider",
         "--llm-report=false", "--llm-out", str(out)],
        cwd=work, env=env, capture_output=True, text=True,
    )
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"pytest exited {proc.returncode}")
    by_provider: dict[str, list[dict[str, Any]]] = {p: [] for p in MODELS}
    for line in (out / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        by_provider[record["provider"]].append(record)
    meta = json.loads((out / "meta.json").read_text())
    print(f"  worker process: {meta.get('worker')}; loop lag: {meta.get('loop_lag_ms')}")
    return by_provider, wall


def sim_get(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=5) as resp:
        return json.load(resp)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--sizes", default="40,100", help="cases per provider, comma-separated")
    parser.add_argument("--rounds", type=int, default=3,
                        help="bare and harness runs alternated this many times per size; "
                             "each column pools every round's calls (one round of 40 calls "
                             "per provider moves its p50 by 10-20 ms from run to run)")
    parser.add_argument("--bare", help=argparse.SUPPRESS)  # child mode: the simulator URL
    parser.add_argument("--calls", type=int, default=40, help=argparse.SUPPRESS)
    parser.add_argument("--layout", default="lanes", help=argparse.SUPPRESS)
    parser.add_argument(
        "--bare-transport", choices=("harness", "sdk"), default="harness",
        help="the bare clients set up as the harness sets them up (default: the comparison is "
             "of the harness's own work) or each SDK as it comes",
    )
    args = parser.parse_args()
    if args.bare:
        print(json.dumps(_bare(args.bare, args.calls, args.layout, args.bare_transport)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="llm-latency-"))
    (work / "pytest.ini").write_text("[pytest]\n")
    port = free_port()
    sim = subprocess.Popen(
        [PY, "-m", "harness.simulator", "--port", str(port), "--latency-ms",
         str(args.latency_ms)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    limit = 2 * args.latency_ms
    print(f"command: {Path(PY).name} {' '.join(sys.argv)}")
    print(f"bare clients on the {args.bare_transport} transport; "
          f"scripted latency {args.latency_ms:g} ms, per-provider concurrency {CONCURRENCY}, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    try:
        for _ in range(100):
            try:
                sim_get(url, "/stats")
                break
            except OSError:
                time.sleep(0.1)
        for cases in (int(s) for s in args.sizes.split(",")):
            cells = cases * len(MODELS)
            print(f"\n{cases} cases x {len(MODELS)} providers = {cells} cells "
                  f"({'worker' if cells >= 200 else 'no worker'} expected)")
            bare: dict[str, list[float]] = {p: [] for p in MODELS}
            paced: dict[str, list[float]] = {p: [] for p in MODELS}
            shared: dict[str, list[float]] = {p: [] for p in MODELS}
            records: dict[str, list[dict[str, Any]]] = {p: [] for p in MODELS}
            for round_ in range(args.rounds):
                for layout, into in (("lanes", bare), ("paced", paced), ("shared", shared)):
                    measured = json.loads(subprocess.run(
                        [PY, __file__, "--bare", url, "--calls", str(cases), "--layout", layout,
                         "--bare-transport", args.bare_transport],
                        capture_output=True, text=True, check=True,
                    ).stdout.strip().splitlines()[-1])
                    for provider, values in measured.items():
                        into[provider] += values
                ran, wall = harness_run(work, url, cases, round_)
                for provider, recs in ran.items():
                    records[provider] += recs
                print(f"  round {round_ + 1}: harness wall {wall:.1f} s")
            print(f"  {'provider':<10} {'shared p50':>10} {'bare p50':>9} {'bare max':>9} "
                  f"{'paced p50':>10} {'harness p50':>12} {'diff':>7} {'diff paced':>10} "
                  f"{'max':>8} {'max stall':>10} {'max net':>8} {'provider p50':>13} "
                  f"{'ok':>4} {'ok paced':>8}")
            for provider in MODELS:
                recs = [r for r in records[provider] if r.get("latency_ms") is not None]
                lat = [r["latency_ms"] for r in recs]
                stalls = [r.get("stall_ms") or 0.0 for r in recs]
                # Latency less the client stall inside it: what the provider and network took.
                net = [r["latency_ms"] - (r.get("stall_ms") or 0.0) for r in recs]
                reported = [r["provider_ms"] for r in recs if r.get("provider_ms") is not None]
                diff = p50(lat) - p50(bare[provider])
                diff_paced = p50(lat) - p50(paced[provider])
                timed = len(lat) == cases * args.rounds
                under = max(lat, default=0.0) < limit and timed
                ok = abs(diff) <= 15 and under
                ok_paced = abs(diff_paced) <= 15 and under
                print(f"  {provider:<10} {p50(shared[provider]):10.1f} "
                      f"{p50(bare[provider]):9.1f} {max(bare[provider]):9.1f} "
                      f"{p50(paced[provider]):10.1f} {p50(lat):12.1f} "
                      f"{diff:+7.1f} {diff_paced:+10.1f} {max(lat, default=float('nan')):8.1f} "
                      f"{max(stalls, default=0.0):10.1f} {max(net, default=float('nan')):8.1f} "
                      f"{(p50(reported) if reported else float('nan')):13.1f} "
                      f"{'yes' if ok else 'NO':>4} {'yes' if ok_paced else 'NO':>8}")
                if not timed:
                    errors = {r.get("error") for r in records[provider] if r.get("error")}
                    print(f"    only {len(lat)}/{cases * args.rounds} calls timed; "
                          f"errors: {errors}")
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
