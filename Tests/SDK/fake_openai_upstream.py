"""A fake OpenAI upstream for the SDK checks: serves the shared wire fixtures unchanged.

Usage: python3 fake_openai_upstream.py FIXTURES_DIR API_KEY   (prints the port it listens on, then serves)
"""
import http.server
import json
import os
import sys

FIXTURES = sys.argv[1]
API_KEY = sys.argv[2]


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: without TCP_NODELAY the body waits ~40 ms for the delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def send_fixture(self, status, name, content_type="application/json"):
        body = fixture(name)
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        if self.headers.get("authorization") != f"Bearer {API_KEY}":
            self.send_fixture(401, "error_401_invalid_api_key.json")
            return False
        return True

    def do_GET(self):
        if not self.authorized():
            return
        if self.path.startswith("/v1/models"):
            self.send_fixture(200, "models_response.json")
        else:
            self.send_error(404)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.authorized():
            return
        if self.path == "/v1/chat/completions":
            if body.get("stream"):
                self.send_fixture(200, "chat_completions_stream.sse", "text/event-stream; charset=utf-8")
            else:
                self.send_fixture(200, "chat_completions_response.json")
        elif self.path == "/v1/embeddings":
            self.send_fixture(200, "embeddings_response.json")
        else:
            self.send_error(404)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
