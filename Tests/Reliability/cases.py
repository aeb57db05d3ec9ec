"""Property-based request generators (hypothesis) for every JSON endpoint: templates of valid requests whose
fields get replaced by hostile values, byte-level corruption, non-object JSON, deep nesting, huge values."""
import json

from hypothesis import strategies as st

MAX_BODY = 1048576  # the server's default --max-body-bytes


class Raw:
    """A JSON token written verbatim (numbers JSON parsers disagree on, deep nesting, invalid escapes)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"Raw({self.text[:40]!r}{'…' if len(self.text) > 40 else ''})"


def dump(value, ascii=False):
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=ascii) + ":" + dump(v, ascii) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dump(v, ascii) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii)


def encode(value, ascii=False):
    return dump(value, ascii).encode("utf-8", "surrogatepass")


# -- hostile values

RAW_NUMBERS = [
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551616", "2147483648", "4294967296", "1e309", "-1e309", "1E400", "1e-400", "1.5", "-1", "0", "-0",
    "0.0", "1.0", "1e2", "123456789012345678901234567890123456789", "1" + "0" * 400, "3.4028236e38",
    "4.9e-324", "0.1e1",
]
BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "01", "+1", ".5", "1.", "0x10", "1e", "-", "1_000", "١"]

SPECIAL_STRINGS = [
    "", " ", "\t\n", "\u0000", "a\u0000b", "\u0000" * 64, "🎉", "the and of is", "?!?", "\u202e", "\u200b" * 100,
    "\ufeff", "\ud800", "\udfff", "\r\n", "'; DROP TABLE documents; --", "%s%n%x", "../../etc/passwd", "auto", "local",
    "primary/fake-a", "secondary", "primary", "fake-a", "local/extractive", "a" * 63, "a" * 64, "-a", ".", "default",
    "docs", "empty", "load", "[1] [99] [0] [-1] [9223372036854775808]", "\\u0000", "null", "true", "0",
    "e\u0301" * 3, "👨‍👩‍👧‍👦" * 10, "ﷺ" * 50, "\x7f\x1b[31m", "ollama", "openai", "anthropic", "google",
]


@st.composite
def big_string(draw):
    kind = draw(st.sampled_from(["combining", "plain", "nul", "emoji", "zalgo"]))
    n = draw(st.sampled_from([10, 4000, 4001, 20000, 150000, 400000, 1100000]))
    if kind == "combining":
        return "a" + "\u0301" * n
    if kind == "nul":
        return "\u0000" * min(n, 300000)
    if kind == "emoji":
        return "🎉" * min(n, 250000)
    if kind == "zalgo":
        return ("Z" + "\u0336\u0334\u0335") * min(n // 4, 200000)
    return "x" * n


@st.composite
def deep(draw):
    d = draw(st.sampled_from([64, 256, 512, 1000, 5000, 100000, 400000]))
    if draw(st.booleans()):
        return Raw("[" * d + "]" * d)
    return Raw('{"a":' * d + "1" + "}" * d)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 1, 2, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(RAW_NUMBERS).map(Raw),
    st.text(max_size=40),
    st.sampled_from(SPECIAL_STRINGS),
)

# mostly small values: a huge or deeply nested one in about one case in ten
# (hypothesis favours the ends of a range: the rare choices sit in the middle)
_leaf = st.integers(0, 29).flatmap(
    lambda r: big_string() if r == 13 else deep() if r == 17 else st.sampled_from(BAD_NUMBERS).map(Raw) if r in (7, 21)
    else scalars)
hostile = st.recursive(
    _leaf,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=8,
)

# -- the endpoints: a valid template, the fields to attack, and plausible values for each

MESSAGE_VALUES = st.one_of(
    st.builds(lambda role, content: {"role": role, "content": content},
              st.sampled_from(["user", "system", "assistant", "tool", "developer", "", "USER"]),
              st.one_of(st.text(max_size=80), st.sampled_from(SPECIAL_STRINGS))),
    st.builds(lambda t: {"role": "user", "content": [{"type": "text", "text": t}]}, st.text(max_size=40)),
    st.builds(lambda t: {"role": "user", "content": [{"type": "image_url", "image_url": {"url": t}}]}, st.text(max_size=20)),
)

COMMON_ROUTING = {
    "tenant": st.one_of(st.sampled_from(["default", "docs", "load", "a" * 63, "a" * 64, "bad tenant", "", "-x"]),
                        st.text(max_size=70)),
    "strategy": st.sampled_from(["cost_optimized", "performance", "privacy_first", "failover", "nope", ""]),
    "task": st.sampled_from(["summarize", "nope", ""]),
    "requirements": st.fixed_dictionaries({}, optional={
        "max_cost": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(RAW_NUMBERS).map(Raw)),
        "max_latency_ms": st.one_of(st.integers(), st.sampled_from(RAW_NUMBERS).map(Raw)),
        "min_quality": st.sampled_from(["low", "medium", "high", "ultra", ""]),
    }),
    "cache": st.booleans(),
    "fallback": st.one_of(st.booleans(), st.sampled_from(["secondary", "primary", "", "nope", "local"]),
                          st.lists(st.sampled_from(["secondary", "primary", "", "nope", "local"]), max_size=3)),
    "provider": st.sampled_from(["auto", "primary", "secondary", "local", "", "nope", "ollama", "openai"]),
    "temperature": st.one_of(st.floats(min_value=0, max_value=2), st.sampled_from([-1, 3, 1e300]),
                             st.sampled_from(RAW_NUMBERS).map(Raw)),
    "max_tokens": st.one_of(st.integers(min_value=1, max_value=64), st.sampled_from(RAW_NUMBERS).map(Raw),
                            st.integers()),
    "stream": st.one_of(st.booleans(), st.sampled_from(["yes", 1, None])),
}

MODELS = st.one_of(st.sampled_from(["auto", "primary/fake-a", "secondary/fake-a", "fake-a", "primary", "local",
                                    "local/extractive", "nope/nope", "no-such-model", "", "/", "primary/"]),
                   st.text(max_size=30))

ENDPOINTS = {
    "/v1/chat/completions": {
        "template": {"model": "auto", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16},
        "fields": dict(COMMON_ROUTING, **{
            "model": MODELS,
            "messages": st.lists(MESSAGE_VALUES, max_size=4),
            "max_completion_tokens": COMMON_ROUTING["max_tokens"],
            "stop": st.one_of(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=6)),
            "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans()}),
            "n": st.integers(), "top_p": st.floats(allow_nan=False), "user": st.text(max_size=10),
            "tools": st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2), max_size=2),
            "response_format": st.sampled_from([{"type": "json_object"}, {"type": "text"}, "json"]),
        }),
        "nested": [("messages", 0, "content"), ("messages", 0, "role"), ("messages", 0),
                   ("requirements", "max_cost"), ("stream_options", "include_usage")],
    },
    "/v1/embeddings": {
        "template": {"model": "local", "input": "hello world"},
        "fields": {
            "model": st.one_of(st.sampled_from(["local", "primary/fake-a", "primary/text-embedding-3-small",
                                                "text-embedding-3-small", "minilm", "auto", ""]), st.text(max_size=20)),
            "input": st.one_of(st.text(max_size=60), st.lists(st.text(max_size=20), max_size=8),
                               st.lists(st.integers(), max_size=8), st.sampled_from(SPECIAL_STRINGS),
                               st.integers(0, 29).flatmap(lambda r: st.sampled_from([2048, 20000, 262000]).map(
                                   lambda n: Raw("[" + ",".join(['""'] * n) + "]")) if r == 15 else st.text(max_size=5))),
            "encoding_format": st.sampled_from(["float", "base64", "", "binary", None]),
            "dimensions": st.integers(),
            "tenant": COMMON_ROUTING["tenant"],
            "user": st.text(max_size=10),
        },
        "nested": [("input", 0)],
    },
    "/api/ai/chat": {
        "template": {"provider": "auto", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16},
        "fields": dict(COMMON_ROUTING, **{
            "model": MODELS,
            "messages": st.lists(MESSAGE_VALUES, max_size=4),
        }),
        "nested": [("messages", 0, "content"), ("messages", 0, "role"), ("requirements", "min_quality")],
    },
    "/api/ai/generate": {
        "template": {"prompt": "Say hello.", "max_tokens": 16},
        "fields": dict(COMMON_ROUTING, **{
            "model": MODELS,
            "prompt": st.one_of(st.text(max_size=80), st.sampled_from(SPECIAL_STRINGS)),
            "system": st.one_of(st.text(max_size=40), st.sampled_from(SPECIAL_STRINGS)),
        }),
        "nested": [("requirements", "max_latency_ms")],
    },
    "/api/rag/ask": {
        "template": {"question": "How often must administrator passwords change?", "tenant": "docs", "top_k": 3},
        "fields": {
            "question": st.one_of(st.text(min_size=1, max_size=80), st.sampled_from(SPECIAL_STRINGS)),
            "tenant": st.one_of(st.sampled_from(["docs", "empty", "default", "nope", "", "a" * 64]), st.text(max_size=70)),
            "top_k": st.one_of(st.integers(min_value=1, max_value=50), st.integers(),
                               st.sampled_from(RAW_NUMBERS).map(Raw)),
        },
        "nested": [],
    },
}

INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xf0\x28\x8c\x28", b"\xed\xa0\x80",
                b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\x00", b"\x80"]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/x-www-form-urlencoded",
                 "application/json; charset=latin1", "multipart/form-data; boundary=x"]


def set_path(obj, path, value):
    """Sets obj[path...] = value, creating containers on the way when possible."""
    for key in path[:-1]:
        if isinstance(obj, dict):
            obj = obj.setdefault(key, {} if isinstance(key, str) else [])
        elif isinstance(obj, list) and isinstance(key, int):
            while len(obj) <= key:
                obj.append({})
            obj = obj[key]
        else:
            return
    last = path[-1]
    if isinstance(obj, dict):
        obj[last] = value
    elif isinstance(obj, list) and isinstance(last, int):
        while len(obj) <= last:
            obj.append(None)
        obj[last] = value


def clone(v):
    return json.loads(json.dumps(v))


def nesting(text):
    """The deepest nesting of arrays and objects in JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


class Case:
    """One generated request."""

    def __init__(self, endpoint, kind, body, content_type="application/json", value=None, headers=None):
        self.endpoint = endpoint
        self.kind = kind
        self.body = body
        self.content_type = content_type
        self.value = value  # the Python value before encoding (None for byte-level cases)
        self.headers = headers or {}

    def valid_json(self):
        """The body is JSON a strict parser accepts (UTF-8, no NaN/Infinity, numbers within double range)."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if text.startswith("\ufeff") or nesting(text) > 256:
            return False  # a server may refuse deep nesting as it likes: a limit, not a syntax question

        def bad_constant(_):
            raise ValueError("constant")

        def strict_float(s):
            f = float(s)
            if f in (float("inf"), float("-inf")):
                raise ValueError("out of range")
            return f

        try:
            value = json.loads(text, parse_constant=bad_constant, parse_float=strict_float)
        except (ValueError, RecursionError):
            return False

        def has_surrogate(v, depth=0):
            # "\ud800" is valid JSON syntax but no Unicode string (RFC 8259 8.2): calling it invalid is fair
            if depth > 200:
                return False
            if isinstance(v, str):
                return any(0xD800 <= ord(c) <= 0xDFFF for c in v)
            if isinstance(v, dict):
                return any(has_surrogate(k, depth + 1) or has_surrogate(x, depth + 1) for k, x in v.items())
            if isinstance(v, list):
                return any(has_surrogate(x, depth + 1) for x in v)
            return False
        return not has_surrogate(value)

    def __repr__(self):
        return f"<Case {self.endpoint} {self.kind} {len(self.body)}B>"


@st.composite
def case(draw, endpoint):
    spec = ENDPOINTS[endpoint]
    kind = draw(st.sampled_from(["valid", "valid", "field", "field", "field", "field", "nested", "unknown", "bytes",
                                 "bytes", "nonobject", "deep", "empty", "missing"] * 3 + ["oversize"]))
    value = clone(spec["template"])
    ctype = "application/json"
    if kind == "valid":
        for name in draw(st.lists(st.sampled_from(sorted(spec["fields"])), max_size=3, unique=True)):
            if name not in ("stream",):  # keep most valid cases non-streaming; streaming comes with 'field'
                value[name] = draw(spec["fields"][name])
    elif kind == "field":
        for name in draw(st.lists(st.sampled_from(sorted(spec["fields"])), min_size=1, max_size=3, unique=True)):
            value[name] = draw(st.one_of(spec["fields"][name], hostile))
    elif kind == "nested" and spec["nested"]:
        set_path(value, draw(st.sampled_from(spec["nested"])), draw(hostile))
    elif kind == "unknown":
        for _ in range(draw(st.integers(1, 3))):
            value[draw(st.one_of(st.text(max_size=12), st.sampled_from(["__proto__", "", "\u0000", "model " * 3])))] = draw(hostile)
    elif kind == "missing":
        for name in draw(st.lists(st.sampled_from(sorted(value)), min_size=1, unique=True)):
            del value[name]
    elif kind == "nonobject":
        value = draw(st.one_of(st.lists(scalars, max_size=3), scalars))
    elif kind == "deep":
        value[draw(st.sampled_from(sorted(spec["template"])))] = draw(deep())
    elif kind == "empty":
        return Case(endpoint, kind, draw(st.sampled_from([b"", b" ", b"\r\n", b"{", b"}", b"{}", b"[]", b"\"\""])))
    elif kind == "oversize":
        key = draw(st.sampled_from(sorted(spec["template"])))
        value[key] = "x" * (MAX_BODY + draw(st.sampled_from([1, 100, 300000])))
    body = encode(value, ascii=draw(st.booleans()))
    if kind == "bytes":
        op = draw(st.sampled_from(["truncate", "insert", "replace", "bom", "utf16", "trailing", "quote", "rawnul"]))
        i = draw(st.integers(0, max(0, len(body) - 1)))
        if op == "truncate":
            body = body[:i]
        elif op == "insert":
            body = body[:i] + draw(st.sampled_from(INVALID_UTF8)) + body[i:]
        elif op == "replace":
            body = body[:i] + bytes([draw(st.integers(0, 255))]) + body[i + 1:]
        elif op == "bom":
            body = b"\xef\xbb\xbf" + body
        elif op == "utf16":
            body = body.decode("utf-8", "surrogatepass").encode("utf-16")
        elif op == "trailing":
            body = body + draw(st.sampled_from([b"}", b"x", b"\x00", b",", b" {}"]))
        elif op == "quote":
            body = body.replace(b'"', b"'", 1)
        elif op == "rawnul":
            # an unescaped control character inside a string
            j = body.find(b'":"')
            body = body[: j + 3] + b"\x00\x01\x1f" + body[j + 3:] if j >= 0 else body + b"\x00"
        return Case(endpoint, f"bytes:{op}", body)
    if draw(st.integers(0, 9)) == 0:
        ctype = draw(st.sampled_from(CONTENT_TYPES))
    return Case(endpoint, kind, body, content_type=ctype, value=value)


# -- GET endpoints' query strings

QUERY_VALUES = st.one_of(st.text(max_size=20), st.sampled_from(
    ["2026-11-27", "2026-11-27T10:00:00Z", "0", "-1", "99999999999999999999", "1e309", "2026-13-45", "1.5", "",
     "provider", "model", "day", "tenant", "bogus", "%zz", "%00", "%", "+", "%C3%28", "%FF", "a" * 5000, "now"]))


@st.composite
def usage_query(draw):
    from urllib.parse import quote
    params = draw(st.dictionaries(st.sampled_from(["tenant", "from", "to", "group_by", "x"]), QUERY_VALUES, max_size=4))
    parts = []
    for k, v in params.items():
        v = v if (v.startswith("%") or v in ("+",)) else quote(v.encode("utf-8", "surrogatepass"), safe="")
        parts.append(f"{k}={v}")
    return "/api/usage" + ("?" + "&".join(parts) if parts else "")


# -- /api/rag/ask questions for the echo answer path: the upstream repeats them, the server parses its citations

BRACKETY = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: f"[{n}]"),
    st.sampled_from(["[", "]", "[]", "[,]", "[1,,2]", "[ 1 ]", "[+1]", "[1e3]", "[0x1]", "[1.5]", "[١]", "[1", "1]",
                     "[[1]]", "[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]", "[0]",
                     "[99]", "[-1]", "[1, 2, 3]", "[１]", "[\u0000]", "[🎉]"]),
    st.text(max_size=8),
)
echo_answers = st.lists(BRACKETY, min_size=1, max_size=12).map(" ".join)
