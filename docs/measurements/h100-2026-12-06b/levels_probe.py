"""Where does a GPU process's level come from? One synchronised one-element floor, timed in one
process on several streams, on freshly allocated inputs, and from new host threads. If the level
moves within a process with the stream (a hardware queue) or the allocation, a figure could average
it inside one process; if not, it belongs to the process (its context) and only more processes
average it. Run: python3 levels_probe.py torch|mlx|torch+mlx (one line a process: each variant's
median us, the CPU the main thread ended on, and which CPUs took the GPU's interrupts meanwhile;
torch+mlx is torch's calls with MLX imported and its GPU used once, as in the suite's processes)."""

import statistics
import sys
import threading
import time

CALLS, WARM = 1500, 200


def median_us(call):
    for _ in range(WARM):
        call()
    times = []
    for _ in range(CALLS):
        start = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e3


def torch_calls():
    import torch
    x = torch.rand(1, device="cuda")

    def on(stream, x):
        def call():
            with torch.cuda.stream(stream):
                torch.floor(x)
            stream.synchronize()
        return call
    def device_synchronised():  # the suite's form (benchmarks/backends.py)
        torch.floor(x)
        torch.cuda.synchronize()
    yield "device sync", device_synchronised
    default = torch.cuda.current_stream()
    yield "default stream", on(default, x)
    for i in range(6):
        yield f"new stream {i}", on(torch.cuda.Stream(), x)
    kept = []
    for i in range(6):
        kept.append(torch.rand(1 + 64 * i, device="cuda")[:1])
        yield f"new input {i}", on(default, kept[-1])
    yield "default stream again", on(default, x)
    # A new host thread: torch's current stream is the same default stream there.
    yield "thread", lambda: on(torch.cuda.current_stream(), x)


def mlx_calls():
    import mlx.core as mx
    x = mx.random.uniform(shape=(1,))
    mx.eval(x)

    def on(stream, x):
        def call():
            with mx.stream(stream):
                y = mx.floor(x)
            mx.eval(y)
        return call
    default = mx.default_stream(mx.gpu)
    yield "default stream", on(default, x)
    for i in range(6):
        yield f"new stream {i}", on(mx.new_stream(mx.gpu), x)
    kept = []
    for i in range(6):
        kept.append(mx.random.uniform(shape=(1 + 64 * i,))[:1])
        mx.eval(kept[-1])
        yield f"new input {i}", on(default, kept[-1])
    yield "default stream again", on(default, x)
    # MLX's streams belong to the thread that made them: a new thread times on a stream of its own.
    yield "thread", lambda: on(mx.new_stream(mx.gpu), x)


def gpu_interrupts():
    """{cpu: count} of the interrupt lines named nvidia in /proc/interrupts."""
    counts = {}
    with open("/proc/interrupts") as table:
        cpus = table.readline().split()
        for line in table:
            if "nvidia" in line:
                for cpu, count in zip(cpus, line.split()[1:1 + len(cpus)]):
                    counts[cpu] = counts.get(cpu, 0) + int(count)
    return counts


def current_cpu():
    with open("/proc/self/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[36])


def main(framework):
    if framework == "torch+mlx":
        import mlx.core as mx
        mx.eval(mx.floor(mx.ones(1)))
        framework = "torch"
    before = gpu_interrupts()
    results = []
    *variants, (_, in_thread) = list((torch_calls if framework == "torch" else mlx_calls)())
    for name, call in variants:
        results.append((name, median_us(call)))
    for i in range(4):
        out = {}
        thread = threading.Thread(target=lambda: out.setdefault("us", median_us(in_thread())))
        thread.start()
        thread.join()
        results.append((f"thread {i}", out["us"]))
    after = gpu_interrupts()
    irqs = {cpu: n - before.get(cpu, 0) for cpu, n in after.items() if n > before.get(cpu, 0)}
    print(framework, " | ".join(f"{name} {us:.1f}" for name, us in results), f"| on CPU{current_cpu()}",
          f"| GPU interrupts {irqs or 'none'}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
