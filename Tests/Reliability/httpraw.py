"""A small raw HTTP/1.1 client: sends exactly the bytes asked for (invalid UTF-8, malformed chunking, HTTP/1.0),
reads the answer with a deadline and a size cap, and reports transport failures instead of raising."""
import socket
import time

HOST = "127.0.0.1"  # the suite only ever targets the loopback interface


class Response:
    def __init__(self):
        self.status = None          # int, or None when no status line arrived
        self.headers = {}           # lower-case name -> value (last wins)
        self.body = b""
        self.error = None           # "timeout", "reset", "eof", "refused", "too_large", "bad_response"
        self.elapsed = 0.0
        self.server_closed = False  # the server closed the connection after this response

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return f"<Response {self.status} {self.error or ''} {len(self.body)}B {self.elapsed * 1000:.0f}ms>"


def build(method, path, body=None, headers=None, version="HTTP/1.1", content_type="application/json"):
    """Request bytes with a content-length (unless headers give transfer-encoding or content-length themselves)."""
    lines = [f"{method} {path} {version}", f"Host: {HOST}"]
    given = {k.lower() for k in (headers or {})}
    if body is not None and content_type and "content-type" not in given:
        lines.append(f"Content-Type: {content_type}")
    if body is not None and "content-length" not in given and "transfer-encoding" not in given:
        lines.append(f"Content-Length: {len(body)}")
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head + (body or b"")


class Connection:
    """One keep-alive connection; reconnects when the previous answer closed it."""

    def __init__(self, port, timeout=15.0, max_body=16 * 1024 * 1024):
        self.port = port
        self.timeout = timeout
        self.max_body = max_body
        self.sock = None
        self.buffer = b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buffer = b""

    def _connect(self):
        self.sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method, path, body=None, headers=None, raw=None, timeout=None):
        """Sends `raw` bytes if given, else a request built from the rest. Never raises for network trouble."""
        data = raw if raw is not None else build(method, path, body, headers)
        r = Response()
        start = time.monotonic()
        deadline = start + (timeout or self.timeout)
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self._connect()
                    attempt = 1  # a fresh connection: no retry
                self.sock.sendall(data)
                self._read(r, deadline, head_only=(method == "HEAD"))
                break
            except ConnectionRefusedError:
                r.error = "refused"
                self.close()
                break
            except (BrokenPipeError, ConnectionResetError, _EOF) as exc:
                self.close()
                if attempt == 0 and r.status is None and not isinstance(exc, _Partial):
                    # A kept-alive connection the server had closed meanwhile: retry once on a fresh one.
                    r = Response()
                    continue
                r.error = "reset" if isinstance(exc, ConnectionResetError) else "eof"
                break
            except (socket.timeout, TimeoutError):
                r.error = "timeout"
                self.close()
                break
            except _TooLarge:
                r.error = "too_large"
                self.close()
                break
            except (ValueError, IndexError):
                r.error = "bad_response"
                self.close()
                break
            except OSError as exc:
                r.error = f"oserror:{exc.errno}"
                self.close()
                break
        r.elapsed = time.monotonic() - start
        return r

    # -- reading

    def _recv(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(262144)
        if not chunk:
            raise _EOF()
        return chunk

    def _read_until(self, marker, deadline, partial):
        while marker not in self.buffer:
            if len(self.buffer) > 1024 * 1024:
                raise ValueError("header too large")
            try:
                self.buffer += self._recv(deadline)
            except _EOF:
                raise _Partial() if partial or self.buffer else _EOF()
        i = self.buffer.index(marker)
        out, self.buffer = self.buffer[:i], self.buffer[i + len(marker):]
        return out

    def _read_exact(self, n, deadline):
        while len(self.buffer) < n:
            try:
                self.buffer += self._recv(deadline)
            except _EOF:
                raise _Partial()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _read(self, r, deadline, head_only=False):
        while True:
            head = self._read_until(b"\r\n\r\n", deadline, partial=False)
            lines = head.decode("latin-1").split("\r\n")
            version, status = lines[0].split(" ", 2)[:2]
            r.status = int(status)
            r.headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    r.headers[k.strip().lower()] = v.strip()
            if r.status >= 200 or r.status == 101:
                break  # skip 1xx interim answers
        close = r.headers.get("connection", "").lower() == "close" or (
            version == "HTTP/1.0" and r.headers.get("connection", "").lower() != "keep-alive")
        if head_only or r.status in (204, 304):
            pass
        elif r.headers.get("transfer-encoding", "").lower() == "chunked":
            parts, total = [], 0
            while True:
                size = int(self._read_until(b"\r\n", deadline, True).split(b";")[0].strip(), 16)
                if size == 0:
                    self._read_until(b"\r\n", deadline, True)
                    break
                total += size
                if total > self.max_body:
                    raise _TooLarge()
                parts.append(self._read_exact(size, deadline))
                self._read_exact(2, deadline)
            r.body = b"".join(parts)
        elif "content-length" in r.headers:
            n = int(r.headers["content-length"])
            if n > self.max_body:
                raise _TooLarge()
            r.body = self._read_exact(n, deadline)
        else:
            parts, total = [self.buffer], len(self.buffer)
            self.buffer = b""
            while True:
                try:
                    chunk = self._recv(deadline)
                except _EOF:
                    break
                total += len(chunk)
                if total > self.max_body:
                    raise _TooLarge()
                parts.append(chunk)
            r.body = b"".join(parts)
            close = True
        if close:
            r.server_closed = True
            self.close()


class _EOF(Exception):
    pass


class _Partial(_EOF):
    """The connection ended in the middle of an answer."""


class _TooLarge(Exception):
    pass


def once(port, method, path, body=None, headers=None, raw=None, timeout=15.0, max_body=16 * 1024 * 1024):
    """One request on a fresh connection."""
    c = Connection(port, timeout=timeout, max_body=max_body)
    try:
        return c.request(method, path, body=body, headers=headers, raw=raw)
    finally:
        c.close()


def closed_within(sock, seconds):
    """True when the server closes `sock` (EOF or reset) within `seconds`; any bytes it sends are read and ignored."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sock.settimeout(min(remaining, 1.0))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            continue
        except OSError:
            return True
        if not chunk:
            return True
