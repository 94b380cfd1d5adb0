"""llama-cpp-python internals the local provider relies on, kept apart from the provider.

- ``FastGrammarLlama``: grammar sampling over Gemma's 262k-token vocabulary is slow in stock
  llama-cpp-python (the grammar checks every token at every step). This subclass checks the
  most likely tokens first and falls back to the full vocabulary only when none fits, which
  picks the same token under greedy decoding at about three times the speed on the contact
  schema (bench/bench_local.py). It reaches into llama-cpp-python 0.3.x's sampler chain and
  falls back to the stock sampler when that layout changes.
- ``TokenCounter``: prompt and sampled tokens counted at the sampler (streams carry no usage).
- ``quiet_llama_logs``: llama.cpp's log lines go to Python logging, not stderr.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import llama_cpp as _c
from llama_cpp.llama_grammar import LlamaGrammar

from harness.errors import BadRequest

log = logging.getLogger("harness.providers.local")

#: Candidate set sizes checked against the grammar, in turn, before the whole vocabulary.
GRAMMAR_TOP_K = (128, 8192)


@_c.llama_log_callback
def _llama_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    # llama.cpp prints some notices at error level even with verbose=False; route all of
    # them to logging so the test and report output stay clean.
    log.debug("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())


_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


@dataclass
class TokenCounter:
    """Tokens of one generation, counted at the sampler (streams carry no usage)."""

    prompt_tokens: int | None = None
    sampled: int = 0
    last_token: int = -1


class FastGrammarLlama(llama_cpp.Llama):
    """Llama with cheaper grammar sampling and per-generation token counts.

    Stock llama-cpp-python applies the grammar to every token of the vocabulary at every
    step. Here a custom sampler placed before the grammar keeps the allowed tokens among the
    128 most likely; when none is allowed it tries the 8192 most likely, and only then
    leaves the full list to the grammar. If any of the k likeliest tokens is allowed, the
    likeliest allowed token is among them, so greedy decoding picks the same token as the
    stock sampler (bench/bench_local.py compares the outputs); when sampling, candidates
    come from the likeliest tokens that fit (the sampler's own top_k is 40 anyway).
    """

    counter: TokenCounter | None = None

    def _init_sampler(self, **kwargs: Any) -> Any:  # type: ignore[override]
        grammar = kwargs.pop("grammar", None)
        if grammar is None:
            return super()._init_sampler(**kwargs)
        try:
            return self._fast_grammar_sampler(grammar, kwargs)
        except (AttributeError, TypeError) as exc:  # another llama-cpp-python layout
            log.debug("fast grammar sampling unavailable (%s); using the stock sampler", exc)
            return super()._init_sampler(grammar=grammar, **kwargs)

    def _fast_grammar_sampler(self, grammar: LlamaGrammar, kwargs: dict[str, Any]) -> Any:
        sampler = super()._init_sampler(grammar=None, **kwargs)
        chain = sampler.sampler
        # Chain: [logits processor], penalties, then the temperature/top-k/dist samplers.
        # Lift those off, add prefilter + grammar, and put them back on top.
        first = 2 if kwargs.get("logits_processor") else 1
        n = _c.llama_sampler_chain_n(chain)
        tail = [_c.llama_sampler_chain_remove(chain, first) for _ in range(n - first)]
        grammar_sampler = _c.llama_sampler_init_grammar(
            self._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not grammar_sampler:
            for s in tail:
                _c.llama_sampler_chain_add(chain, s)
            sampler.close()
            raise BadRequest("local: the grammar for this schema does not parse", provider="local")
        sampler.add_custom(self._prefilter(grammar_sampler))
        _c.llama_sampler_chain_add(chain, grammar_sampler)
        for s in tail:
            _c.llama_sampler_chain_add(chain, s)
        return sampler

    def _prefilter(self, grammar_sampler: Any) -> Callable[[Any], None]:
        small = np.zeros(max(GRAMMAR_TOP_K), dtype=_TOKEN_DATA)
        small_array = _c.llama_token_data_array(
            data=small.ctypes.data_as(_c.llama_token_data_p), size=0, selected=-1, sorted=False
        )

        def allowed_among(full: Any, positions: Any) -> Any:
            n = len(positions)
            small[:n] = full[positions]
            small_array.size = n
            small_array.selected = -1
            small_array.sorted = False
            _c.llama_sampler_apply(grammar_sampler, ctypes.byref(small_array))
            return small[:n][np.isfinite(small["logit"][:n])]

        def apply(cur_p: Any) -> None:
            size = int(cur_p.contents.size)
            address = ctypes.addressof(cur_p.contents.data.contents)
            full = np.frombuffer(
                memoryview((ctypes.c_char * (size * _TOKEN_DATA.itemsize)).from_address(address)),
                dtype=_TOKEN_DATA,
            )
            for k in GRAMMAR_TOP_K:
                if k >= size:
                    return  # as many candidates as the list: let the grammar scan it
                # Only the k likeliest tokens, nothing added: then the likeliest allowed
                # token among them is the likeliest allowed token overall.
                top = np.argpartition(full["logit"], size - k)[size - k :]
                allowed = allowed_among(full, top)
                if len(allowed):
                    full[: len(allowed)] = allowed
                    cur_p.contents.size = len(allowed)
                    cur_p.contents.sorted = False
                    return
            # None of the likeliest fits: the grammar sampler scans the whole vocabulary.

        return apply

    def sample(self, *args: Any, **kwargs: Any) -> int:
        token: int = super().sample(*args, **kwargs)
        counter = self.counter
        if counter is not None:
            if counter.prompt_tokens is None:
                idx = kwargs.get("idx")
                counter.prompt_tokens = (idx + 1) if isinstance(idx, int) else self.n_tokens
            counter.sampled += 1
            counter.last_token = token
        return token

    def is_eog(self, token: int) -> bool:
        return bool(_c.llama_vocab_is_eog(self._model.vocab, token))


def quiet_llama_logs() -> None:
    """Route llama.cpp's log output to Python logging (Llama() re-installs its own logger,
    so call this again after loading a model)."""
    _c.llama_log_set(_llama_log, ctypes.c_void_p(0))
