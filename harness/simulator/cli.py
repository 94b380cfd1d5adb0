"""``llm-harness simulate`` / ``python -m harness.simulator``: run the simulator in the
foreground, print where each SDK should point, serve until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace

from harness.errors import ConfigError
from harness.simulator.config import SimConfig
from harness.simulator.simulator import BASE_PATHS, Simulator

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-harness simulate",
        description="Serve the OpenAI, Anthropic, Groq and Mistral wire protocols on "
        "127.0.0.1 with scripted answers, latency and faults.",
    )
    parser.add_argument("--port", type=int, default=8400, help="port (0: any free port)")
    parser.add_argument("--config", help="YAML or JSON simulator script (docs/simulator.md)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="script four models with their own quality, latency and token rate for the "
        "starter suite of `llm-harness init` (a --config script is merged over it)",
    )
    parser.add_argument("--latency-ms", type=float, help="fixed latency for every model")
    parser.add_argument("--token-rate", type=float, help="streaming tokens/s for every model")
    parser.add_argument("--seed", type=int, help="seed for fault draws and generated values")
    parser.add_argument(
        "--require-key-env",
        metavar="VAR",
        help="answer 401 unless the request carries the key held in env var VAR",
    )
    return parser


def load_config(args: argparse.Namespace) -> SimConfig:
    config = SimConfig.load(args.config) if args.config else SimConfig()
    if args.demo:
        from harness.simulator.demo import demo_config

        demo = demo_config()
        demo["models"].update(dict(config.models))
        if args.config:
            demo["default"] = {**demo["default"], **config.default}
        config = replace(config, default=demo["default"], models=tuple(demo["models"].items()))
    default = dict(config.default)
    if args.latency_ms is not None:
        if args.latency_ms < 0:
            raise ConfigError("--latency-ms must not be negative")
        default["latency_ms"] = args.latency_ms
    if args.token_rate is not None:
        default["token_rate"] = args.token_rate
    changes: dict[str, object] = {"default": default}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.require_key_env:
        key = os.environ.get(args.require_key_env)
        if not key:
            raise ConfigError(f"--require-key-env: {args.require_key_env} is not set")
        changes["require_key"] = key
    return replace(config, **changes)  # type: ignore[arg-type]


def export_lines(sim: Simulator, key_env: str | None = None) -> list[str]:
    """``export`` lines pointing every provider's SDK at ``sim`` (with a key it accepts)."""
    from harness.providers import PROVIDERS

    key = f'"${key_env}"' if key_env else "sk-sim"
    lines = []
    for name, info in PROVIDERS.items():
        if name not in BASE_PATHS or not info.base_url_env:
            continue
        line = f"export {info.base_url_env}={sim.base_url(name)}"
        if info.api_key_env:
            line += f" {info.api_key_env}={key}"
        lines.append(line)
    return lines


def main(argv: Sequence[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or until ``stop`` is set, for embedding and tests)."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args)
        sim = Simulator(config, port=args.port).start()
    except ConfigError as exc:
        print(f"llm-harness simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        print(f"simulator listening on {sim.url}  (stats: {sim.url}/stats)")
        for provider in BASE_PATHS:
            print(f"  {provider:<18} {sim.base_url(provider)}")
        print("paste into the shell that runs the suites:")
        for line in export_lines(sim, args.require_key_env):
            print(line)
        print("Ctrl-C to stop", flush=True)
        waiter = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (e.g. a benchmark's terminate()) stops as cleanly as Ctrl-C.
            signal.signal(signal.SIGTERM, lambda *_: waiter.set())
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0
