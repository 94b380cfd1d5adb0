"""The mistral adapter makes the SDK's serializers reuse the pydantic model class they build
around a body type on every call: same class for the same type, results unchanged."""

from __future__ import annotations

from typing import Annotated

from mistralai.client import models
from mistralai.client.utils import serializers

from harness.providers.mistral import reuse_sdk_models


def test_the_serializers_build_one_model_per_body_type() -> None:
    assert reuse_sdk_models() is True
    assert reuse_sdk_models() is True  # idempotent: wrapped once
    assert serializers.create_model.harness_reuses  # type: ignore[attr-defined]
    one = serializers.create_model("Unmarshaller", body=(int, ...))
    assert serializers.create_model("Unmarshaller", body=(int, ...)) is one
    assert serializers.create_model("Unmarshaller", body=(str, ...)) is not one
    assert serializers.create_model("Marshaller", body=(int, ...)) is not one


def test_a_body_type_that_cannot_be_a_key_is_built_each_time() -> None:
    reuse_sdk_models()
    unhashable = Annotated[int, {"not": "hashable"}]
    first = serializers.create_model("Unmarshaller", body=(unhashable, ...))
    assert serializers.create_model("Unmarshaller", body=(unhashable, ...)) is not first
    assert first(body=3).body == 3


def test_bodies_are_read_and_written_as_before() -> None:
    reuse_sdk_models()
    raw = {
        "id": "x", "object": "chat.completion", "model": "m", "created": 1,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    for _ in range(2):  # the second time through the reused class
        parsed = serializers.unmarshal(raw, models.ChatCompletionResponse)
        assert parsed.choices[0].message.content == "hi"
        request = models.ChatCompletionRequest(
            model="m", messages=[{"role": "user", "content": "q"}]
        )
        written = serializers.marshal_json(request, models.ChatCompletionRequest)
        assert '"content":"q"' in written
