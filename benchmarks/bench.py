"""Benchmarks: what our channel wrapper costs next to raw grpcio and the published clarifai-grpc.

One run: a V2 server in its own process on 127.0.0.1, one worker process per contender (the
published package cannot share a process with ours), warm-up, then rounds that alternate the
contenders. Rewrites benchmarks/RESULTS.md; the last line printed is the ratios.

    python benchmarks/bench.py            # full run (about 2 minutes on 2 cores)
    python benchmarks/bench.py --quick    # smoke run (under 30 s)

See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
API_KEY = "bench0123456789abcdef0123456789ab"  # a dummy key: the bench server accepts anything
MODEL_ID = "general-image-recognition"
SMALL_BYTES = 1024
BIG_BYTES = 8 * 1024 * 1024
AIO_CONCURRENCY = 256
MAX_LIFETIME_S = 600.0  # every child process exits by itself after this, whatever happens

SYNC_KINDS = ("raw", "inner", "ours", "published")
HEADLINE = ("raw", "ours", "published")


# ---------------------------------------------------------------------------------------------
# Settings of a full and a quick run.


class Plan:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        # Many short rounds: other load on the machine comes in bursts, and a burst that hits
        # one round of one contender moves one ratio among many, not the median.
        self.rounds_a = 12 if quick else 150
        self.unary_calls = 50  # per contender and round, section (a)
        self.paired_calls = 300 if quick else 3000  # diagnostic of (a): pairs in one process
        self.rounds_b = 6 if quick else 80
        self.big_calls = 1  # section (b)
        self.rounds_c = 6 if quick else 60
        self.aio_calls_per_task = 1  # x 256 tasks, section (c)
        self.fresh_rounds = 3 if quick else 24  # section (d): noisy per round, so more rounds
        self.rounds_e = 6 if quick else 50
        self.stream_messages = 1000  # per call, section (e)
        self.stream_calls = 1
        self.warm_unary = 200 if quick else 500
        self.overhead_calls = 20000 if quick else 100000


# ---------------------------------------------------------------------------------------------
# Small helpers (no grpc import: the orchestrator stays light).


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _watchdog(seconds: float) -> None:
    def kill() -> None:
        time.sleep(seconds)
        os._exit(3)

    threading.Thread(target=kill, daemon=True).start()


def _protos(kind: str) -> tuple[Any, Any, Any, Any]:
    """(resources_pb2, service_pb2, service_pb2_grpc, status_code_pb2) of ours or the published package."""
    if kind == "published":
        from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
        from clarifai_grpc.grpc.api.status import status_code_pb2
    else:
        from clarifai_client.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
        from clarifai_client.grpc.api.status import status_code_pb2
    return resources_pb2, service_pb2, service_pb2_grpc, status_code_pb2


def _request(resources_pb2: Any, service_pb2: Any, size: int) -> Any:
    payload = (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * (size // 256 + 1))[:size]
    return service_pb2.PostModelOutputsRequest(
        model_id=MODEL_ID,
        inputs=[resources_pb2.Input(id="in-1", data=resources_pb2.Data(image=resources_pb2.Image(base64=payload)))],
    )


# ---------------------------------------------------------------------------------------------
# The server process: a minimal V2 service on 127.0.0.1.


def serve(stream_messages: int) -> None:
    """Answer PostModelOutputs with a small SUCCESS response; stream N small messages for
    GenerateModelOutputs. Requests are taken as bytes (never parsed) and answers are serialized
    once, so the server's cost per call is small and the same for every contender. Any metadata is
    accepted. Prints the port, then runs until its stdin closes (or MAX_LIFETIME_S)."""
    import asyncio

    import grpc

    resources_pb2, service_pb2, _, status_code_pb2 = _protos("raw")
    from clarifai_client.grpc.api.status import status_pb2

    concepts = [resources_pb2.Concept(id=f"ai_{i}", name=f"concept-{i}", value=0.9 - i / 10) for i in range(5)]
    answer = service_pb2.MultiOutputResponse(
        status=status_pb2.Status(code=status_code_pb2.SUCCESS, description="Ok", req_id="bench"),
        outputs=[resources_pb2.Output(id="out-1", status=status_pb2.Status(code=status_code_pb2.SUCCESS),
                                      data=resources_pb2.Data(concepts=concepts))],
    ).SerializeToString()
    chunk = service_pb2.MultiOutputResponse(
        status=status_pb2.Status(code=status_code_pb2.SUCCESS),
        outputs=[resources_pb2.Output(data=resources_pb2.Data(text=resources_pb2.Text(raw="token ")))],
    ).SerializeToString()

    async def post_model_outputs(_request: bytes, _context: Any) -> bytes:
        return answer

    async def generate_model_outputs(_request: bytes, _context: Any) -> Any:
        for _ in range(stream_messages):
            yield chunk

    handler = grpc.method_handlers_generic_handler("clarifai.api.V2", {
        "PostModelOutputs": grpc.unary_unary_rpc_method_handler(post_model_outputs),
        "GenerateModelOutputs": grpc.unary_stream_rpc_method_handler(generate_model_outputs),
    })

    async def main() -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port(f"{HOST}:0")
        await server.start()
        print(port, flush=True)
        loop = asyncio.get_running_loop()
        stdin_closed = asyncio.Event()

        def wait_for_eof() -> None:
            sys.stdin.read()
            loop.call_soon_threadsafe(stdin_closed.set)

        threading.Thread(target=wait_for_eof, daemon=True).start()
        try:
            await asyncio.wait_for(stdin_closed.wait(), MAX_LIFETIME_S)
        except asyncio.TimeoutError:
            pass
        await server.stop(None)

    asyncio.run(main())
    os._exit(0)  # the stdin reader thread may still be blocked


# ---------------------------------------------------------------------------------------------
# Worker processes: one per contender; they do as told on stdin, one JSON command per line.


class SyncContender:
    """A stub's PostModelOutputs/GenerateModelOutputs for one contender, called as a user would."""

    def __init__(self, kind: str, port: int) -> None:
        import grpc

        self.kind = kind
        resources_pb2, service_pb2, service_pb2_grpc, status_code_pb2 = _protos(kind)
        self.success = status_code_pb2.SUCCESS
        address = f"{HOST}:{port}"
        md: tuple[tuple[str, str], ...] = (("authorization", "Key " + API_KEY),)
        timeout = None
        if kind == "raw":
            self.channel = grpc.insecure_channel(address)
        elif kind == "published":
            from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel as Published

            self.channel = Published.get_insecure_grpc_channel(HOST, port)
        else:
            from clarifai_client import Auth, ClarifaiChannel

            self.channel = ClarifaiChannel.get_insecure_grpc_channel(address, auth=Auth.from_api_key(API_KEY))
            if kind == "ours":
                md = ()
            else:  # "inner": our grpc channel (options, deadline, metadata) without the Python wrapper
                timeout = self.channel.policy.default_timeout
                md = self.channel.policy.base_metadata
                self.channel = self.channel.inner_channel
        stub = service_pb2_grpc.V2Stub(self.channel)
        self.post = stub.PostModelOutputs
        self.generate = stub.GenerateModelOutputs
        self.small = _request(resources_pb2, service_pb2, SMALL_BYTES)
        self.big = _request(resources_pb2, service_pb2, BIG_BYTES)
        self.big_size = self.big.ByteSize()
        # Per-call keyword arguments: ours gets none (its channel adds them), the others the
        # metadata a user passes per call.
        self.kwargs: dict[str, Any] = {}
        if md:
            self.kwargs["metadata"] = md
        if timeout is not None:
            self.kwargs["timeout"] = timeout

    def unary(self, n: int, big: bool = False) -> dict[str, Any]:
        post, request, kwargs, success = self.post, self.big if big else self.small, self.kwargs, self.success
        clock = time.perf_counter
        latencies = []
        cpu = time.process_time()
        start = clock()
        for _ in range(n):
            t0 = clock()
            response = post(request, **kwargs)
            latencies.append(clock() - t0)
            if response.status.code != success:
                raise RuntimeError(f"unexpected status {response.status}")
        elapsed = clock() - start
        cpu = time.process_time() - cpu
        return {"n": n, "elapsed": elapsed, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
                "mean": elapsed / n, "cpu": cpu / n, "bytes": self.big_size if big else self.small.ByteSize()}

    def stream(self, calls: int) -> dict[str, Any]:
        clock = time.perf_counter
        count = 0
        start = clock()
        for _ in range(calls):
            for response in self.generate(self.small, **{k: v for k, v in self.kwargs.items() if k == "metadata"}):
                count += 1
                if response.status.code != self.success:
                    raise RuntimeError(f"unexpected status {response.status}")
        elapsed = clock() - start
        return {"messages": count, "elapsed": elapsed, "rate": count / elapsed}


class AioContender:
    """The asyncio flavour: one channel, AIO_CONCURRENCY tasks each making calls one after another."""

    def __init__(self, kind: str, port: int) -> None:
        import asyncio

        self.kind = kind
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._setup())

    async def _setup(self) -> None:
        import asyncio

        import grpc

        kind, port = self.kind, self.port
        resources_pb2, service_pb2, service_pb2_grpc, status_code_pb2 = _protos(kind)
        self.success = status_code_pb2.SUCCESS
        address = f"{HOST}:{port}"
        md: tuple[tuple[str, str], ...] = (("authorization", "Key " + API_KEY),)
        timeout = None
        if kind == "raw":
            channel = grpc.aio.insecure_channel(address)
        elif kind == "published":
            from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel as Published

            channel = Published.get_aio_insecure_grpc_channel(HOST, port)
        else:
            from clarifai_client import Auth, ClarifaiChannel

            channel = ClarifaiChannel.get_aio_insecure_grpc_channel(address, auth=Auth.from_api_key(API_KEY))
            if kind == "ours":
                md = ()
            else:
                timeout = channel.policy.default_timeout
                md = channel.policy.base_metadata
                channel = channel.channel_for(asyncio.get_running_loop())
        self.channel = channel
        self.post = service_pb2_grpc.V2Stub(channel).PostModelOutputs
        self.small = _request(resources_pb2, service_pb2, SMALL_BYTES)
        self.kwargs: dict[str, Any] = {}
        if md:
            self.kwargs["metadata"] = md
        if timeout is not None:
            self.kwargs["timeout"] = timeout

    async def _burst(self, per_task: int) -> tuple[int, float]:
        import asyncio

        post, request, kwargs, success = self.post, self.small, self.kwargs, self.success

        async def task() -> int:
            done = 0
            for _ in range(per_task):
                response = await post(request, **kwargs)
                if response.status.code != success:
                    raise RuntimeError(f"unexpected status {response.status}")
                done += 1
            return done

        start = time.perf_counter()
        counts = await asyncio.gather(*(task() for _ in range(AIO_CONCURRENCY)))
        return sum(counts), time.perf_counter() - start

    def aio(self, per_task: int) -> dict[str, Any]:
        cpu = time.process_time()
        n, elapsed = self.loop.run_until_complete(self._burst(per_task))
        cpu = time.process_time() - cpu
        return {"n": n, "elapsed": elapsed, "rate": n / elapsed, "cpu": cpu / n}


def paired(port: int, n: int) -> dict[str, Any]:
    """Diagnostic of (a): raw and ours in one process, calls alternated one by one, so that load
    from elsewhere hits both alike; the median of the per-pair latency ratios."""
    raw, ours = SyncContender("raw", port), SyncContender("ours", port)
    raw.unary(100)
    ours.unary(100)
    clock = time.perf_counter
    pairs = []
    for i in range(n):
        first, second = (raw, ours) if i % 2 else (ours, raw)
        t0 = clock()
        first.post(first.small, **first.kwargs)
        t1 = clock()
        second.post(second.small, **second.kwargs)
        t2 = clock()
        r, o = (t1 - t0, t2 - t1) if first is raw else (t2 - t1, t1 - t0)
        pairs.append((r, o))
    ratios = sorted(o / r for r, o in pairs)
    return {"n": n, "ratio": percentile(ratios, 0.5), "ratio_q1": percentile(ratios, 0.25),
            "ratio_q3": percentile(ratios, 0.75), "raw_p50": percentile([r for r, _ in pairs], 0.5),
            "ours_p50": percentile([o for _, o in pairs], 0.5)}


def overhead(n: int) -> dict[str, Any]:
    """Our sync wrapper around a do-nothing inner multicallable: its Python cost alone, per call,
    and the cost of each step of its hot path (ours worker only)."""
    import timeit

    from clarifai_client import Auth, ClarifaiChannel
    from clarifai_client._method_rules import rule_for
    from clarifai_client._sync_channel import PolicyChannel
    from clarifai_client.grpc.api import service_pb2

    resources_pb2, _, _, status_code_pb2 = _protos("ours")
    from clarifai_client.grpc.api.status import status_pb2

    response = service_pb2.MultiOutputResponse(status=status_pb2.Status(code=status_code_pb2.SUCCESS))
    request = _request(resources_pb2, service_pb2, SMALL_BYTES)

    def fake(request: Any, timeout: Any = None, metadata: Any = None, credentials: Any = None,
             wait_for_ready: Any = None, compression: Any = None) -> Any:
        return response

    class FakeChannel:
        def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
            return fake

    real = ClarifaiChannel.get_insecure_grpc_channel(f"{HOST}:1", auth=Auth.from_api_key(API_KEY))
    policy = real.policy
    real.close()
    wrapped = PolicyChannel(FakeChannel(), policy, "fake").unary_unary("/clarifai.api.V2/PostModelOutputs")
    rule = rule_for("/clarifai.api.V2/PostModelOutputs")
    md = policy.base_metadata

    def per_call_ns(stmt: Callable[[], Any]) -> float:
        best = min(timeit.repeat(stmt, number=n, repeat=5))
        return best / n * 1e9

    base = per_call_ns(lambda: fake(request, None, md, None, None, None))
    steps = {
        "whole wrapper: stub call through _UnaryUnary.__call__": per_call_ns(lambda: wrapped(request)) - base,
        "policy.prepare(rule, request, None)": per_call_ns(lambda: policy.prepare(rule, request, None)),
        "policy.prepare(rule, request, md) (caller metadata, cached)": per_call_ns(
            lambda: policy.prepare(rule, request, md)
        ),
        "time.monotonic() + timeout (deadline)": per_call_ns(lambda: time.monotonic() + 120.0),
        "response.status.code != THROTTLED": per_call_ns(lambda: response.status.code != 11005),
        "empty Python call (reference)": per_call_ns(lambda: None),
    }
    return {"steps_ns": steps, "fake_call_ns": base}


def worker(kind: str, port: int, flavour: str) -> None:
    """Serve commands on stdin until EOF or 'quit'; answer each with one JSON line on stdout."""
    _watchdog(MAX_LIFETIME_S)
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write to the answer pipe
    contender: Any = SyncContender(kind, port) if flavour == "sync" else AioContender(kind, port)
    print(json.dumps({"ready": kind}), file=out, flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "quit":
            break
        if op == "unary":
            result = contender.unary(cmd["n"], big=cmd.get("big", False))
        elif op == "stream":
            result = contender.stream(cmd["calls"])
        elif op == "aio":
            result = contender.aio(cmd["per_task"])
        elif op == "paired":
            result = paired(port, cmd["n"])
        elif op == "overhead":
            result = overhead(cmd["n"])
        elif op == "info":
            import grpc
            from google.protobuf import __version__ as pb_version
            from google.protobuf.internal import api_implementation

            result = {"grpc": grpc.__version__, "protobuf": pb_version, "protobuf_impl": api_implementation.Type()}
        else:
            raise ValueError(op)
        print(json.dumps(result), file=out, flush=True)
    os._exit(0)


FRESH_PHASES = ("import package", "import protos", "make channel", "V2Stub(channel)", "first call")


def fresh(kind: str, port: int) -> None:
    """Section (d): from the first import to the first completed call, in a new process."""
    marks = [time.perf_counter()]
    md: tuple[tuple[str, str], ...] = ()
    if kind == "ours":
        from clarifai_client import Auth, ClarifaiChannel

        marks.append(time.perf_counter())
        from clarifai_client.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
        from clarifai_client.grpc.api.status import status_code_pb2

        marks.append(time.perf_counter())
        channel = ClarifaiChannel.get_insecure_grpc_channel(f"{HOST}:{port}", auth=Auth.from_api_key(API_KEY))
    else:
        from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel as Published

        marks.append(time.perf_counter())
        from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc  # type: ignore[no-redef]
        from clarifai_grpc.grpc.api.status import status_code_pb2  # type: ignore[no-redef]

        marks.append(time.perf_counter())
        channel = Published.get_insecure_grpc_channel(HOST, port)
        md = (("authorization", "Key " + API_KEY),)
    marks.append(time.perf_counter())
    stub = service_pb2_grpc.V2Stub(channel)
    marks.append(time.perf_counter())
    response = stub.PostModelOutputs(_request(resources_pb2, service_pb2, SMALL_BYTES), metadata=md)
    marks.append(time.perf_counter())
    assert response.status.code == status_code_pb2.SUCCESS
    phases = {name: marks[i + 1] - marks[i] for i, name in enumerate(FRESH_PHASES)}
    print(json.dumps({"elapsed": marks[-1] - marks[0], **phases}), flush=True)
    os._exit(0)


# ---------------------------------------------------------------------------------------------
# The orchestrator.


def child_env(pycache: str, ours_src: Optional[Path]) -> dict[str, str]:
    """The environment of every child: bytecode cached under ``pycache`` (so stale or unwritable
    __pycache__ folders cost nobody a recompile, and nothing is written next to the sources), and
    ``ours_src`` first on the path when benchmarking another tree of clarifai_client."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    env["PYTHONUNBUFFERED"] = "1"
    if ours_src is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ours_src), env.get("PYTHONPATH", "")) if p)
    return env


def _child(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)


class Worker:
    def __init__(self, kind: str, port: int, flavour: str, env: dict[str, str]) -> None:
        self.kind = kind
        self.proc = _child(["--worker", kind, "--port", str(port), "--flavour", flavour], env)

    def ready(self) -> None:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError(f"worker {self.kind} did not start")

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.kind} died during {cmd}")
        return json.loads(line)

    def stop(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_workers(kinds: tuple[str, ...], port: int, flavour: str, env: dict[str, str]) -> dict[str, Worker]:
    workers = {kind: Worker(kind, port, flavour, env) for kind in kinds}
    for w in workers.values():
        w.ready()
    return workers


def alternate(workers: dict[str, Worker], rounds: int, **cmd: Any) -> list[dict[str, dict[str, Any]]]:
    """Run ``cmd`` once per contender per round; the starting contender rotates each round."""
    kinds = list(workers)
    results = []
    for r in range(rounds):
        order = kinds[r % len(kinds):] + kinds[: r % len(kinds)]
        results.append({kind: workers[kind].ask(**cmd) for kind in order})
    return results


def med(rounds: list[dict[str, dict[str, Any]]], kind: str, key: str) -> float:
    return statistics.median(r[kind][key] for r in rounds)


def ratios(rounds: list[dict[str, dict[str, Any]]], num: str, den: str, key: str) -> list[float]:
    return [r[num][key] / r[den][key] for r in rounds]


def machine(info: dict[str, Any]) -> list[str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib import metadata

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        f"- grpcio {info['grpc']}, protobuf {info['protobuf']} ({info['protobuf_impl']} backend)",
        f"- clarifai-client {version('clarifai-client')}, clarifai-grpc {version('clarifai-grpc')}",
    ]


def _cpu_snapshot() -> Optional[tuple[float, float]]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process and its waited children)."""
    try:
        import resource

        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
        busy = (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
        own = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                    resource.getrusage(resource.RUSAGE_CHILDREN)))
        return busy, own
    except (OSError, ValueError, ImportError):
        return None


def foreign_load(before: Optional[tuple[float, float]], seconds: float) -> str:
    """How busy other processes kept the machine during the run (they add noise to every number)."""
    after = _cpu_snapshot()
    if before is None or after is None:
        return "- Other load during the run: unknown (no /proc/stat)"
    other = (after[0] - before[0]) - (after[1] - before[1])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"- Other load during the run: {max(other, 0.0):.0f} CPU-seconds used by processes outside the benchmark "
            f"({max(other, 0.0) / seconds:.2f} of {os.cpu_count()} cores on average); load average at the end "
            f"{load:.2f}")


def fmt_ratios(values: list[float]) -> str:
    """Median, quartiles and the rounds' values (all of them when few)."""
    head = (f"median {statistics.median(values):.3f}, quartiles {percentile(values, 0.25):.3f}.."
            f"{percentile(values, 0.75):.3f}, {len(values)} rounds")
    if len(values) <= 25:
        head += ": " + " ".join(f"{v:.3f}" for v in values)
    return head


def run(plan: Plan, out_path: Path, ours_src: Optional[Path]) -> None:
    with tempfile.TemporaryDirectory(prefix="clarifai-bench-pycache-") as pycache:
        _run(plan, out_path, child_env(pycache, ours_src))


def _run(plan: Plan, out_path: Path, env: dict[str, str]) -> None:
    t_start = time.perf_counter()
    cpu_before = _cpu_snapshot()
    server = _child(["--serve", "--stream-messages", str(plan.stream_messages)], env)
    assert server.stdout
    port = int(server.stdout.readline())
    try:
        # -- sync sections (a), (b), (e) -------------------------------------------------------
        sync = start_workers(SYNC_KINDS, port, "sync", env)
        info = sync["raw"].ask(op="info")
        for w in sync.values():  # warm-up: connections, code paths, allocator
            w.ask(op="unary", n=plan.warm_unary)
            w.ask(op="unary", n=1, big=True)
        a = alternate(sync, plan.rounds_a, op="unary", n=plan.unary_calls)
        b = alternate(sync, plan.rounds_b, op="unary", n=plan.big_calls, big=True)
        stream_workers = {k: sync[k] for k in ("raw", "ours")}
        for w in stream_workers.values():
            w.ask(op="stream", calls=1)
        e = alternate(stream_workers, plan.rounds_e, op="stream", calls=plan.stream_calls)
        pair = sync["raw"].ask(op="paired", n=plan.paired_calls)
        cost = sync["ours"].ask(op="overhead", n=plan.overhead_calls)
        for w in sync.values():
            w.stop()
        # -- asyncio section (c) ---------------------------------------------------------------
        aio = start_workers(SYNC_KINDS, port, "aio", env)
        for w in aio.values():
            w.ask(op="aio", per_task=4)
        c = alternate(aio, plan.rounds_c, op="aio", per_task=plan.aio_calls_per_task)
        for w in aio.values():
            w.stop()
        # -- fresh process (d) -----------------------------------------------------------------
        d: list[dict[str, dict[str, Any]]] = []
        for r in range(plan.fresh_rounds + 1):  # round 0 warms the page cache; not counted
            order = ("ours", "published") if r % 2 else ("published", "ours")
            row = {}
            for kind in order:
                t0 = time.perf_counter()
                proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--fresh", kind,
                                       "--port", str(port)], capture_output=True, text=True, timeout=120,
                                      check=True, env=env)
                row[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
                row[kind]["wall"] = time.perf_counter() - t0
            if r:
                d.append(row)
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    # -- the report ----------------------------------------------------------------------------
    ra = statistics.median(ratios(a, "ours", "raw", "p50"))
    rb = statistics.median(ratios(b, "ours", "raw", "mean"))
    rc = statistics.median(ratios(c, "ours", "raw", "rate"))
    rd = statistics.median(ratios(d, "ours", "published", "elapsed"))
    re_ = statistics.median(ratios(e, "ours", "raw", "rate"))
    mb = 1024 * 1024

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

    lines = [
        "# Benchmark results",
        "",
        f"Written by `python benchmarks/bench.py{' --quick' if plan.quick else ''}` on "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"({'quick' if plan.quick else 'full'} run, {time.perf_counter() - t_start:.0f} s).",
        "",
        "## Machine",
        "",
        *machine(info),
        foreign_load(cpu_before, time.perf_counter() - t_start),
        "",
        "Contenders, each in its own worker process, rounds alternating (the first contender rotates):",
        "",
        "- **raw**: our generated `V2Stub` on a plain `grpc.insecure_channel`, metadata per call: the floor.",
        "- **ours**: `ClarifaiChannel.get_insecure_grpc_channel(addr, auth=Auth.from_api_key(...))` with our",
        "  defaults (auth and identity metadata, 120 s default deadline, retry service config, PAT check,",
        "  throttle retry).",
        "- **published**: clarifai-grpc 12.6.0's `ClarifaiChannel.get_insecure_grpc_channel`, metadata per call.",
        "- **inner** (diagnostic): our channel's underlying grpc channel (same options), with our metadata",
        "  and deadline passed per call, i.e. ours without the Python wrapper. ours - inner = the wrapper;",
        "  inner - raw = what our defaults cost inside gRPC.",
        "",
        "## Summary",
        "",
        "| section | measure | ratio (median of per-round ratios) | target | |",
        "| --- | --- | --- | --- | --- |",
        f"| (a) small unary | p50 latency ours/raw | {ra:.3f} | <= 1.03 | {verdict(ra <= 1.03)} |",
        f"| (b) 8 MiB unary | time per call ours/raw | {rb:.3f} | <= 1.01 | {verdict(rb <= 1.01)} |",
        f"| (c) asyncio x{AIO_CONCURRENCY} | calls/s ours/raw | {rc:.3f} | >= 0.97 | {verdict(rc >= 0.97)} |",
        f"| (d) fresh process | import..first call ours/published | {rd:.3f} | <= 1.00 | {verdict(rd <= 1.0)} |",
        f"| (e) server stream | messages/s ours/raw | {re_:.3f} | (report) | |",
    ]
    pa = statistics.median(ratios(a, "ours", "published", "p50"))
    pb = statistics.median(ratios(b, "ours", "published", "mean"))
    pc = statistics.median(ratios(c, "ours", "published", "rate"))
    lines += [
        f"| (a) small unary | p50 latency ours/published | {pa:.3f} | <= 1.00 | {verdict(pa <= 1.0)} |",
        f"| (b) 8 MiB unary | time per call ours/published | {pb:.3f} | <= 1.00 | {verdict(pb <= 1.0)} |",
        f"| (c) asyncio x{AIO_CONCURRENCY} | calls/s ours/published | {pc:.3f} | >= 1.00 | {verdict(pc >= 1.0)} |",
        "",
        "Read each ratio with its quartiles below: when other processes load the machine, rounds",
        "scatter widely and a ratio a few percent from 1.00 is not a measured difference.",
        "",
        f"## (a) small unary PostModelOutputs (one {SMALL_BYTES} B input), "
        f"{plan.rounds_a} rounds of {plan.unary_calls} calls",
        "",
        "| contender | calls/s | p50 µs | p99 µs | mean µs | client CPU µs per call |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in SYNC_KINDS:
        lines.append(f"| {kind} | {1 / med(a, kind, 'mean'):.0f} | {med(a, kind, 'p50') * 1e6:.1f} | "
                     f"{med(a, kind, 'p99') * 1e6:.1f} | {med(a, kind, 'mean') * 1e6:.1f} | "
                     f"{med(a, kind, 'cpu') * 1e6:.1f} |")
    lines += [
        "",
        f"- per-round p50 ratio ours/raw: {fmt_ratios(ratios(a, 'ours', 'raw', 'p50'))}",
        f"- per-round p50 ratio inner/raw: {fmt_ratios(ratios(a, 'inner', 'raw', 'p50'))}",
        f"- per-round p50 ratio ours/inner: {fmt_ratios(ratios(a, 'ours', 'inner', 'p50'))}",
        f"- per-round mean ratio ours/raw: {fmt_ratios(ratios(a, 'ours', 'raw', 'mean'))}",
        f"- per-round p50 ratio ours/published: {fmt_ratios(ratios(a, 'ours', 'published', 'p50'))}",
        f"- paired diagnostic (raw and ours in one process, {pair['n']} calls each alternated one by one):",
        f"  median per-pair latency ratio ours/raw {pair['ratio']:.3f} (quartiles {pair['ratio_q1']:.3f}.."
        f"{pair['ratio_q3']:.3f}); p50 raw {pair['raw_p50'] * 1e6:.1f} µs, ours {pair['ours_p50'] * 1e6:.1f} µs",
        f"- per-round client CPU ratio ours/raw: {fmt_ratios(ratios(a, 'ours', 'raw', 'cpu'))}",
        "",
        f"## (b) one 8 MiB image-bytes request, {plan.rounds_b} rounds of {plan.big_calls} calls",
        "",
        "| contender | MB/s | mean ms per call | client CPU ms per call |",
        "| --- | --- | --- | --- |",
    ]
    big_bytes = b[0]["raw"]["bytes"]
    for kind in SYNC_KINDS:
        lines.append(f"| {kind} | {big_bytes / med(b, kind, 'mean') / mb:.0f} | {med(b, kind, 'mean') * 1e3:.2f} | "
                     f"{med(b, kind, 'cpu') * 1e3:.2f} |")
    lines += [
        "",
        f"- per-round time ratio ours/raw: {fmt_ratios(ratios(b, 'ours', 'raw', 'mean'))}",
        f"- per-round time ratio inner/raw: {fmt_ratios(ratios(b, 'inner', 'raw', 'mean'))}",
        f"- per-round time ratio ours/published: {fmt_ratios(ratios(b, 'ours', 'published', 'mean'))}",
        "",
        f"## (c) asyncio: {AIO_CONCURRENCY} concurrent unary calls over one channel, "
        f"{plan.rounds_c} rounds of {AIO_CONCURRENCY * plan.aio_calls_per_task} calls",
        "",
        "| contender | calls/s | client CPU µs per call |",
        "| --- | --- | --- |",
    ]
    for kind in SYNC_KINDS:
        lines.append(f"| {kind} | {med(c, kind, 'rate'):.0f} | {med(c, kind, 'cpu') * 1e6:.1f} |")
    lines += [
        "",
        f"- per-round rate ratio ours/raw: {fmt_ratios(ratios(c, 'ours', 'raw', 'rate'))}",
        f"- per-round rate ratio inner/raw: {fmt_ratios(ratios(c, 'inner', 'raw', 'rate'))}",
        f"- per-round rate ratio ours/published: {fmt_ratios(ratios(c, 'ours', 'published', 'rate'))}",
        f"- per-round client CPU ratio ours/raw: {fmt_ratios(ratios(c, 'ours', 'raw', 'cpu'))}",
        "",
        f"## (d) fresh process: first import to first completed call, {plan.fresh_rounds} rounds",
        "",
        "| contender | import..first call ms | whole process (with interpreter start) ms |",
        "| --- | --- | --- |",
    ]
    for kind in ("ours", "published"):
        lines.append(f"| {kind} | {med(d, kind, 'elapsed') * 1e3:.0f} | {med(d, kind, 'wall') * 1e3:.0f} |")
    lines += [
        "",
        f"- per-round ratio ours/published: {fmt_ratios(ratios(d, 'ours', 'published', 'elapsed'))}",
        "",
        "Where the time goes (median ms of each phase; 'import package' includes importing grpc):",
        "",
        "| phase | ours | published | ours - published |",
        "| --- | --- | --- | --- |",
    ]
    for phase in FRESH_PHASES:
        o, p = med(d, "ours", phase) * 1e3, med(d, "published", phase) * 1e3
        lines.append(f"| {phase} | {o:.1f} | {p:.1f} | {o - p:+.1f} |")
    lines += [
        "",
        f"## (e) GenerateModelOutputs, {plan.rounds_e} rounds of {plan.stream_calls} call(s) "
        f"x {plan.stream_messages} messages",
        "",
        "| contender | messages/s |",
        "| --- | --- |",
    ]
    for kind in ("raw", "ours"):
        lines.append(f"| {kind} | {med(e, kind, 'rate'):.0f} |")
    lines += [
        "",
        f"- per-round rate ratio ours/raw: {fmt_ratios(ratios(e, 'ours', 'raw', 'rate'))}",
        "",
        "## Where our time goes: the sync wrapper in isolation",
        "",
        "Our `_UnaryUnary` around a do-nothing inner multicallable (no I/O), best of 5 x "
        f"{plan.overhead_calls} calls; each step of the hot path timed alone. Compare with the",
        f"small unary call above (raw p50 {med(a, 'raw', 'p50') * 1e6:.0f} µs).",
        "",
        "| step | ns per call |",
        "| --- | --- |",
    ]
    for step, ns in cost["steps_ns"].items():
        lines.append(f"| {step} | {ns:.0f} |")
    wrapper_us = cost["steps_ns"]["whole wrapper: stub call through _UnaryUnary.__call__"] / 1000
    lines += [
        "",
        f"The whole wrapper costs {wrapper_us:.2f} µs per call = "
        f"{wrapper_us / (med(a, 'raw', 'p50') * 1e6) * 100:.2f} % of a raw small unary call on this machine.",
        "",
    ]
    notes = HERE / "RESULTS-notes.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    out_path.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"\nwrote {out_path}")
    print(f"ratios: a={ra:.2f} b={rb:.2f} c={rc:.2f} d={rd:.2f} e={re_:.2f}")


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (under 30 s)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="where to write the results")
    parser.add_argument("--ours-src", type=Path, default=None,
                        help="benchmark the clarifai_client package found in this folder (e.g. a scratch "
                             "copy of src/) instead of the installed one")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stream-messages", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=SYNC_KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--flavour", choices=("sync", "aio"), default="sync", help=argparse.SUPPRESS)
    parser.add_argument("--fresh", choices=("ours", "published"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.stream_messages)
    elif args.worker:
        worker(args.worker, args.port, args.flavour)
    elif args.fresh:
        _watchdog(120)
        fresh(args.fresh, args.port)
    else:
        run(Plan(args.quick), args.out, args.ours_src.resolve() if args.ours_src else None)


if __name__ == "__main__":
    main()
