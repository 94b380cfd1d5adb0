"""The mistral adapter makes the SDK do once what it did on every call: its serializers reuse
the pydantic model class they build around a body type, its request helpers read a class's
type hints once, its packages bind a lazily imported name on first use. Results unchanged."""

from __future__ import annotations

import typing
from typing import Annotated, Any

import pytest
from mistralai.client import models
from mistralai.client.utils import serializers

from harness.providers.mistral import spare_sdk_work


def test_the_serializers_build_one_model_per_body_type() -> None:
    assert spare_sdk_work() is True
    assert spare_sdk_work() is True  # idempotent: wrapped once
    assert serializers.create_model.harness_wrapped  # type: ignore[attr-defined]
    one = serializers.create_model("Unmarshaller", body=(int, ...))
    assert serializers.create_model("Unmarshaller", body=(int, ...)) is one
    assert serializers.create_model("Unmarshaller", body=(str, ...)) is not one
    assert serializers.create_model("Marshaller", body=(int, ...)) is not one


def test_a_body_type_that_cannot_be_a_key_is_built_each_time() -> None:
    spare_sdk_work()
    unhashable = Annotated[int, {"not": "hashable"}]
    first = serializers.create_model("Unmarshaller", body=(unhashable, ...))
    assert serializers.create_model("Unmarshaller", body=(unhashable, ...)) is not first
    assert first(body=3).body == 3


def test_bodies_are_read_and_written_as_before() -> None:
    spare_sdk_work()
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


def test_the_request_helpers_read_a_class_s_type_hints_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mistralai.client.utils import queryparams

    spare_sdk_work()
    reads: list[Any] = []
    read = typing.get_type_hints

    def counted(obj: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(obj)
        return read(obj, *args, **kwargs)

    monkeypatch.setattr(typing, "get_type_hints", counted)

    class Params:
        limit: int
        cursor: str | None

    first = queryparams.get_type_hints(Params)
    first["limit"] = str  # a caller's change is its own
    assert queryparams.get_type_hints(Params) == {"limit": int, "cursor": str | None}
    assert reads == [Params]
    assert queryparams.get_type_hints(spare_sdk_work) == read(spare_sdk_work)  # not a class


def test_a_lazily_imported_name_is_bound_in_its_package_on_first_use() -> None:
    from mistralai.client import utils

    spare_sdk_work()
    spare_sdk_work()  # wrapped once
    utils.__dict__.pop("unmarshal", None)
    found = utils.unmarshal
    assert found is serializers.unmarshal
    assert utils.__dict__["unmarshal"] is found
    with pytest.raises(AttributeError):
        utils.no_such_name  # noqa: B018


class _ThreadOf:
    """A before-request hook that notes the thread it ran on."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def before_request(self, hook_ctx: Any, request: Any) -> Any:
        import threading

        self.threads.append(threading.get_ident())
        return request


def test_the_adapter_s_own_hooks_run_on_the_loop_and_any_other_client_s_in_a_thread(
    cloud_sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The thread hops, twice a call, were timed as latency under a busy GIL.
    import asyncio
    import threading

    from cloudkit import KEY, key_env, request, settings_for
    from mistralai.client import Mistral

    from harness.providers import create_provider

    monkeypatch.setenv(key_env("mistral"), KEY)
    url = cloud_sim.base_url("mistral")
    own, other = _ThreadOf(), _ThreadOf()

    async def through_the_adapter() -> str:
        provider: Any = create_provider(settings_for("mistral", url))
        try:
            vars(provider.client.sdk_configuration)["_hooks"].register_before_request_hook(own)
            return (await provider.complete(request("mistral"))).text
        finally:
            await provider.aclose()

    async def through_a_client_of_its_own() -> str:
        async with Mistral(api_key=KEY, server_url=url) as client:
            vars(client.sdk_configuration)["_hooks"].register_before_request_hook(other)
            response = await client.chat.complete_async(
                model="mistral-small-latest", messages=[{"role": "user", "content": "hi"}],
                max_tokens=5,
            )
            return str(response.choices[0].message.content)

    assert asyncio.run(through_the_adapter())
    assert asyncio.run(through_a_client_of_its_own())
    assert own.threads == [threading.get_ident()]  # asyncio.run's loop is this thread's
    assert len(other.threads) == 1 and other.threads != own.threads
