"""A fake OpenAI-compatible embeddings endpoint for deploy/bench-ingest.sh: every POST /v1/embeddings answers after
a fixed latency (default 50 ms, however many texts it carries), with deterministic unit vectors of DIMENSIONS.
Requests are served concurrently (one thread each), so N batches in flight take one latency, not N.

Usage: python3 fake_embeddings.py DIMENSIONS LATENCY_MS [TEXTS_LOG]
Prints the port it listens on (127.0.0.1, an ephemeral port), then serves until killed. With TEXTS_LOG, every text
embedded is appended to that file as one JSON string a line.
"""
import hashlib
import http.server
import json
import struct
import sys
import threading
import time

DIMENSIONS = int(sys.argv[1])
LATENCY = int(sys.argv[2]) / 1000.0
LOG = open(sys.argv[3], "a") if len(sys.argv) > 3 else None
LOCK = threading.Lock()
STATS = {"requests": 0, "texts": 0, "max_batch": 0, "in_flight": 0, "max_in_flight": 0, "service_ms_total": 0.0}


def vector(text):
    seed = hashlib.sha256(text.encode()).digest()
    raw = []
    while len(raw) < DIMENSIONS:
        seed = hashlib.sha256(seed).digest()
        raw += [b / 255.0 - 0.5 for b in seed]
    raw = raw[:DIMENSIONS]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [round(x / norm, 6) for x in raw]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed ACK (about
    # 40 ms a response on Linux), which no real server adds.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, payload):
        self.send_body(status, json.dumps(payload).encode())

    def send_body(self, status, body):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/stats"):
            with LOCK:
                stats = dict(STATS)
            stats["mean_service_ms"] = round(stats.pop("service_ms_total") / max(1, stats["requests"]), 1)
            self.reply(200, stats)
        else:
            self.reply(200, {"object": "list", "data": [{"id": "bench-embed", "object": "model"}]})

    def do_POST(self):
        # The latency runs from the request's arrival to its answer's first byte: reading, computing and encoding
        # happen within it, as in a real server, not on top of it.
        started = time.monotonic()
        length = int(self.headers.get("content-length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        texts = request.get("input", [])
        if isinstance(texts, str):
            texts = [texts]
        with LOCK:
            STATS["requests"] += 1
            STATS["texts"] += len(texts)
            STATS["max_batch"] = max(STATS["max_batch"], len(texts))
            STATS["in_flight"] += 1
            STATS["max_in_flight"] = max(STATS["max_in_flight"], STATS["in_flight"])
            if LOG:
                for text in texts:
                    LOG.write(json.dumps(text) + "\n")
                LOG.flush()
        data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(texts)]
        body = json.dumps({"object": "list", "data": data, "model": request.get("model", "bench-embed"),
                           "usage": {"prompt_tokens": 0, "total_tokens": 0}}).encode()
        left = LATENCY - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)
        self.send_body(200, body)
        with LOCK:
            STATS["in_flight"] -= 1
            STATS["service_ms_total"] += (time.monotonic() - started) * 1000


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
