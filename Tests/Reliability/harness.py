"""Processes the reliability suite starts and stops: a throwaway PostgreSQL on 127.0.0.1, fake upstreams, the
appliance (serve and ingest), wrk. Everything started here is registered and killed at exit."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpraw

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

_children = []  # Popen objects, each the leader of its own process group
_cleanups = []  # callables run at exit, last registered first


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def spawn(args, log_path=None, env=None, stdout=None):
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    p = subprocess.Popen(args, stdout=stdout if stdout is not None else out, stderr=out, env=env,
                         start_new_session=True, cwd=REPO)
    _children.append(p)
    pidfile = os.environ.get("RELIABILITY_PIDFILE")
    if pidfile:  # deploy/reliability.sh kills these process groups if this driver itself is killed
        with open(pidfile, "a") as f:
            f.write(f"{p.pid}\n")
    return p


def kill(p, sig=signal.SIGKILL):
    """Signals the process group `p` leads (only processes this suite started)."""
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass


def stop(p, timeout=10):
    if p is None or p.poll() is not None:
        return
    kill(p, signal.SIGTERM)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        kill(p, signal.SIGKILL)
        p.wait(5)


def cleanup():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as exc:  # keep cleaning
            log(f"cleanup: {exc}")
    for p in reversed(_children):
        kill(p, signal.SIGKILL)
    for p in _children:
        try:
            p.wait(5)
        except Exception:
            pass


def on_exit(fn):
    _cleanups.append(fn)


def rss_kib(pid):
    """VmRSS and VmHWM of `pid` in KiB, from /proc/PID/status (None when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return None


# -- PostgreSQL


class Postgres:
    """A throwaway cluster listening on 127.0.0.1:PORT (TCP) and a unix socket in its directory, started as the
    unprivileged user deploy/lib.sh names when the suite runs as root."""

    def __init__(self, pg_bin, root, user):
        self.bin = pg_bin
        self.root = root
        self.user = user
        self.data = os.path.join(root, "pgdata")
        self.port = free_port()
        self.logfile = os.path.join(root, "postgres.log")

    def _as_user(self, args):
        return (["runuser", "-u", self.user, "--"] + args) if self.user else args

    def run(self, args, check=True, timeout=120, **kw):
        return subprocess.run(self._as_user(args), check=check, timeout=timeout, capture_output=True, text=True, **kw)

    def init(self):
        if self.user:
            subprocess.run(["chown", self.user, self.root], check=True)
        self.run([f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
                  "--no-instructions"])
        on_exit(lambda: self.stop(mode="immediate"))
        self.start()

    def start(self):
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='{self.root}' "
                f"-c fsync=off -c max_connections=300")
        r = self.run([f"{self.bin}/pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "60", "-o", opts, "start"],
                     check=False)
        if r.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {r.stderr}\n{open(self.logfile).read()[-2000:]}")

    def stop(self, mode="fast"):
        self.run([f"{self.bin}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"], check=False)

    def is_running(self):
        return self.run([f"{self.bin}/pg_ctl", "-D", self.data, "status"], check=False).returncode == 0

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}?sslmode=disable"

    def createdb(self, db):
        self.run([f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", db])

    def sql(self, db, query):
        """Rows of `query` as lists of strings (psql, unaligned, tab-separated)."""
        r = subprocess.run([f"{self.bin}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
                            "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr.strip()}")
        return [line.split("\t") for line in r.stdout.splitlines() if line]


# -- fake upstreams


class Upstream:
    def __init__(self, name, root, mode="ok", port=None, delay_ms=0):
        self.name = name
        self.root = root
        self.mode = mode
        self.port = port or free_port()
        self.delay_ms = delay_ms
        self.proc = None

    def start(self):
        self.proc = spawn([sys.executable, os.path.join(HERE, "fake_upstream.py"), "--port", str(self.port),
                           "--name", self.name, "--mode", self.mode, "--delay-ms", str(self.delay_ms)],
                          log_path=os.path.join(self.root, f"upstream-{self.name}.log"), stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            raise RuntimeError(f"fake upstream {self.name} did not start")
        return self

    def kill(self):
        kill(self.proc, signal.SIGKILL)
        if self.proc:
            self.proc.wait(5)

    def set_mode(self, mode):
        r = httpraw.once(self.port, "POST", "/__mode", body=json.dumps({"mode": mode}).encode())
        assert r.status == 200, r
        self.mode = mode

    def stats(self):
        r = httpraw.once(self.port, "GET", "/__stats")
        return json.loads(r.body)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/v1"


# -- the routing file


def routing_file(path, upstreams, tenant_limits=None, nested=False, extra_providers="", failure_threshold=3):
    """Writes a routing file: providers `primary` and `secondary` (OpenAI-compatible fakes) in a named strategy
    `failover` (primary first, then secondary), the default; catalogue entries with context windows; tenants with
    rate limits; quick health checks. `nested` writes the design document's form (strategies under routing:)."""
    providers = []
    for name, up in upstreams.items():
        providers.append(f"""  {name}:
    type: openai
    endpoints:
      - url: {up.url}
        api_key_env: RELIABILITY_UPSTREAM_KEY
        max_concurrency: 64
    default_model: fake-a
    timeouts: {{connect: 2s, first_byte: 10s, total: 30s}}
""")
    models = "\n".join(
        f"  {name}/fake-a: {{input_per_1k: 0.0001, output_per_1k: 0.0002, context_window: 128000, quality: medium}}"
        for name in upstreams)
    tenants = "\n".join(f"  {t}:\n    rate_limit: \"{limit}\"" for t, limit in (tenant_limits or {}).items())
    steps = "\n".join(f"    - {{provider: {name}, model: fake-a}}" for name in ("primary", "secondary") if name in upstreams)
    strategies = f"strategies:\n  failover:\n{steps}\n"
    if nested:
        strategies = "  " + strategies.replace("\n", "\n  ").rstrip() + "\n"
        head = f"routing:\n  default_strategy: failover\n{strategies}"
        strategies = ""
    else:
        head = "routing:\n  default_strategy: failover\n"
    text = (f"{head}providers:\n{''.join(providers)}{extra_providers}models:\n{models}\n{strategies}"
            + (f"tenants:\n{tenants}\n" if tenants else "")
            + f"health:\n  probe_interval: 2s\n  failure_threshold: {failure_threshold}\n  cooldown: 5s\n"
            + "embeddings:\n  model: local\n")
    with open(path, "w") as f:
        f.write(text)
    return path


# -- the appliance


class Appliance:
    """Runs `unity-ai` commands with a DATABASE_URL on the suite's PostgreSQL, the local embedder, no provider from
    the caller's environment."""

    def __init__(self, binary, root, database_url, config=None, answer_model=None):
        self.binary = binary
        self.root = root
        self.database_url = database_url
        self.config = config
        self.answer_model = answer_model
        self.port = free_port()
        self.proc = None
        self.logfile = None
        self.starts = 0

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_",
                                                                          "OLLAMA_", "UNITY_AI_", "DATABASE_URL"))}
        env.update({
            "DATABASE_URL": self.database_url,
            "UNITY_AI_EMBEDDING_MODEL": "local",
            "UNITY_AI_MIGRATIONS_DIR": os.environ.get("RELIABILITY_MIGRATIONS_DIR", os.path.join(REPO, "migrations")),
            "UNITY_AI_DATA_DIR": os.path.join(self.root, "data-dir"),
            "RELIABILITY_UPSTREAM_KEY": "sk-reliability-not-a-secret",
            "LOG_LEVEL": os.environ.get("RELIABILITY_LOG_LEVEL", "info"),
        })
        if self.config:
            env["UNITY_AI_CONFIG"] = self.config
        if self.answer_model:
            env["UNITY_AI_ANSWER_MODEL"] = self.answer_model
        return env

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait_ready=True, timeout=60):
        self.starts += 1
        self.logfile = os.path.join(self.root, f"serve-{self.port}-{self.starts}.log")
        self.proc = spawn([self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                          log_path=self.logfile, env=self.env())
        deadline = time.monotonic() + timeout
        path = "/ready" if wait_ready else "/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}: {self.log_tail()}")
            r = httpraw.once(self.port, "GET", path, timeout=2)
            if r.status == 200:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"serve did not become ready in {timeout}s: {self.log_tail()}")

    def ensure_running(self):
        """Restarts the server when it died; returns True when a restart was needed."""
        if self.alive():
            return False
        self.start()
        return True

    def stop(self):
        stop(self.proc)

    def sigkill(self):
        kill(self.proc, signal.SIGKILL)
        self.proc.wait(10)

    def rss(self):
        return rss_kib(self.pid) if self.alive() else None

    def log_tail(self, n=25):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def log_grep(self, *needles, n=5):
        try:
            with open(self.logfile, errors="replace") as f:
                return [line.rstrip() for line in f if any(x in line for x in needles)][-n:]
        except OSError:
            return []

    def command(self, args, timeout=300, log_name="cli.log"):
        """Runs a CLI command to completion (bounded); returns (returncode or None on timeout, stdout)."""
        p = spawn([self.binary] + args, log_path=os.path.join(self.root, log_name), env=self.env(),
                  stdout=subprocess.PIPE)
        try:
            out, _ = p.communicate(timeout=timeout)
            return p.returncode, out.decode(errors="replace")
        except subprocess.TimeoutExpired:
            kill(p)
            p.wait(5)
            return None, ""

    def start_command(self, args, log_name="cli.log"):
        # Output goes to the log file, never to a pipe nobody reads while waiting: an ingest's JSON summary of a few
        # hundred failures is over a pipe's 64 KiB, and the command then blocks in its final print (this suite's own
        # flaw, which once looked like an ingest that never exits after a PostgreSQL outage).
        return spawn([self.binary] + args, log_path=os.path.join(self.root, log_name), env=self.env())

    def config_check(self):
        p = subprocess.run([self.binary, "config", "check", self.config], capture_output=True, text=True,
                           env=self.env(), timeout=60)
        return p.returncode == 0, (p.stdout + p.stderr).strip()


# -- wrk


def wrk(port, duration, connections, threads=2, rate=0, max_requests=0, path="/v1/chat/completions",
        method="POST", body=None, headers=None, timeout="10s", unique=False, log_path=None):
    """Runs wrk with paced.lua; returns its JSON summary (plus the exit code)."""
    env = dict(os.environ)
    env.update({"WRK_RATE": str(rate), "WRK_THREADS": str(threads), "WRK_MAX": str(max_requests),
                "WRK_METHOD": method, "WRK_PATH": path, "WRK_UNIQUE": "1" if unique else "0",
                "WRK_HEADERS": "|".join(f"{k}: {v}" for k, v in (headers or {}).items())})
    if body is not None:
        env["WRK_BODY"] = body
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", timeout,
            "--latency", "-s", os.path.join(HERE, "paced.lua"), f"http://127.0.0.1:{port}{path}"]
    done_file = None
    if max_requests:
        done_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"wrk-done-{os.getpid()}-{time.monotonic_ns()}")
        env["WRK_DONE_FILE"] = done_file
    p = spawn(args, env=env, stdout=subprocess.PIPE, log_path=log_path)
    if done_file:
        # wrk sleeps for the whole -d even when every thread has stopped: interrupt it once they all have
        deadline = time.monotonic() + duration + 5
        while p.poll() is None and time.monotonic() < deadline:
            try:
                with open(done_file) as f:
                    if len(f.readlines()) >= threads:
                        os.kill(p.pid, signal.SIGINT)
                        break
            except OSError:
                pass
            time.sleep(0.2)
    try:
        out, _ = p.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        kill(p)
        p.wait(5)
        return {"requests": 0, "errors": {}, "counts": {}, "latency_us": {}, "wrk_failed": "timed out"}
    if done_file and os.path.exists(done_file):
        os.unlink(done_file)
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("WRKJSON "):
            result = json.loads(line[len("WRKJSON "):])
            result["exit"] = p.returncode
            return result
    return {"requests": 0, "errors": {}, "counts": {}, "latency_us": {}, "wrk_failed": out.decode(errors="replace")[-500:]}


def start_wrk(*args, **kw):
    """wrk in a background thread; returns (thread, holder) where holder['result'] is set at the end."""
    import threading
    holder = {}

    def run():
        holder["result"] = wrk(*args, **kw)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, holder


def chat_body(tenant=None, content="Say something short.", extra=None):
    body = {"model": "auto", "messages": [{"role": "user", "content": content}], "max_tokens": 32}
    if tenant:
        body["tenant"] = tenant
    body.update(extra or {})
    return json.dumps(body)
