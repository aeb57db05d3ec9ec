"""The official OpenAI Python SDK against the appliance's OpenAI-compatible API.

Usage: python3 openai_sdk_check.py APPLIANCE_BASE_URL FIXTURES_DIR
Prints one line per check and a closing 'sdk: N passed, M failed'; exits non-zero on any failure.
"""
import json
import math
import os
import sys
import traceback

import openai

BASE_URL = sys.argv[1]
FIXTURES = sys.argv[2]
client = openai.OpenAI(base_url=BASE_URL, api_key="appliance-client-key", max_retries=0, timeout=30)


def fixture_json(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def fixture_stream_text(name):
    text = ""
    with open(os.path.join(FIXTURES, name)) as handle:
        for line in handle:
            if line.startswith("data: ") and not line.startswith("data: [DONE]"):
                chunk = json.loads(line[6:])
                for choice in chunk.get("choices", []):
                    text += choice.get("delta", {}).get("content") or ""
    return text


def check_chat_non_stream():
    expected = fixture_json("chat_completions_response.json")
    completion = client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Why is the sky blue?"}]
    )
    assert completion.choices[0].message.content == expected["choices"][0]["message"]["content"]
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == expected["usage"]["prompt_tokens"]
    assert completion.usage.completion_tokens == expected["usage"]["completion_tokens"]


def check_chat_stream():
    expected = fixture_stream_text("chat_completions_stream.sse")
    stream = client.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Why is the sky blue?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == expected, (text, expected)
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens > 0


def check_chat_stream_without_usage():
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    chunks = list(stream)
    assert all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def check_embeddings_base64_default():
    # The SDK asks for base64 by default and decodes it to floats.
    response = client.embeddings.create(model="local", input=["backups run nightly", "forklift speed limit"])
    assert len(response.data) == 2
    for item in response.data:
        assert len(item.embedding) == 512
        assert abs(math.sqrt(sum(v * v for v in item.embedding)) - 1) < 1e-4


def check_embeddings_float():
    response = client.embeddings.create(model="local", input="backups", encoding_format="float")
    assert len(response.data[0].embedding) == 512


def check_embeddings_openai_model_through_the_router():
    # What a new user of the SDK does first, with providers from the environment only (no routing file): OpenAI's
    # own model by its bare name. The SDK asks for base64 and decodes it; the appliance relays the upstream's vectors
    # and its count of prompt tokens.
    expected = fixture_json("embeddings_response.json")
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["Why is the sky blue?", "Why is the grass green?"]
    )
    response = raw.parse()
    assert response.model == "text-embedding-3-small", response.model
    assert len(response.data) == len(expected["data"])
    for item, wanted in zip(response.data, expected["data"]):
        assert len(item.embedding) == len(wanted["embedding"])
        assert all(abs(a - b) < 1e-6 for a, b in zip(item.embedding, wanted["embedding"]))
    assert response.usage.prompt_tokens == expected["usage"]["prompt_tokens"], response.usage
    assert raw.headers["x-unity-route"].startswith("openai/text-embedding-3-small/"), raw.headers["x-unity-route"]


def check_embeddings_dimensions_are_honoured():
    # text-embedding-3 models take `dimensions` (passed to OpenAI); a model with a fixed size refuses another one.
    response = client.embeddings.create(
        model="text-embedding-3-small", input=["Why is the sky blue?", "Why is the grass green?"], dimensions=8
    )
    assert all(len(item.embedding) == 8 for item in response.data)
    try:
        client.embeddings.create(model="local", input="backups", dimensions=256)
    except openai.BadRequestError as error:
        assert "512" in str(error), str(error)
    else:
        raise AssertionError("expected a 400 for dimensions the model cannot give")


def check_embeddings_inputs_are_bounded():
    try:
        client.embeddings.create(model="local", input=["backups", ""])
    except openai.BadRequestError as error:
        assert "input[1]" in str(error), str(error)
    else:
        raise AssertionError("expected a 400 for an empty input")
    try:
        client.embeddings.create(model="local", input=["x"] * 2049)
    except openai.BadRequestError as error:
        assert "2048" in str(error), str(error)
    else:
        raise AssertionError("expected a 400 for more than 2048 inputs")


def check_models():
    ids = [model.id for model in client.models.list()]
    assert "local" in ids
    assert any(i.startswith("openai/") for i in ids), ids


def check_unknown_model_is_404():
    try:
        client.chat.completions.create(model="nosuchprovider-model", messages=[{"role": "user", "content": "x"}])
    except openai.NotFoundError as error:
        assert "nosuchprovider-model" in str(error)
        return
    raise AssertionError("expected NotFoundError")


def check_route_headers():
    raw = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Why is the sky blue?"}],
        extra_body={"tenant": "sdk-tenant"},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert raw.headers["x-unity-route"].startswith("openai/gpt-4o-mini/http://127.0.0.1:"), raw.headers["x-unity-route"]
    assert raw.headers["x-unity-fallbacks"] == "0"
    assert raw.headers["x-unity-cache"] == "disabled"
    assert float(raw.headers["x-unity-cost-usd"]) >= 0


def check_unmet_requirements_are_422():
    try:
        client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
            extra_body={"requirements": {"min_quality": "high"}},
        )
    except openai.UnprocessableEntityError as error:
        assert error.status_code == 422
        detail = error.response.json()["error"]
        assert detail["code"] == "requirements_unmet", detail
        assert detail["excluded"][0]["requirement"] == "min_quality", detail
    else:
        raise AssertionError("expected a 422")


checks = [value for name, value in sorted(globals().items()) if name.startswith("check_")]
passed = failed = 0
for check in checks:
    try:
        check()
        passed += 1
        print(f"ok   {check.__name__}")
    except Exception:
        failed += 1
        print(f"FAIL {check.__name__}")
        traceback.print_exc()
print(f"sdk: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
