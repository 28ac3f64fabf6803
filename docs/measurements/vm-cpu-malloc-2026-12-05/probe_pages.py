# One process: a case's median call (0.5 s of calls after the suite's warm-up) and the transparent huge
# pages the process holds. Run from the project root: python probe_pages.py "ROW" BACKEND.
# THP_OFF=1 turns huge pages off for the process (prctl PR_SET_THP_DISABLE) before anything allocates.
import ctypes, os, statistics, sys, time
if os.environ.get("THP_OFF"):
    assert ctypes.CDLL(None).prctl(41, 1, 0, 0, 0) == 0
sys.path.insert(0, ".")
from benchmarks.common import op_families
family, label = sys.argv[1].split(" / ", 1)
bench = next(f for f in op_families() if f.__name__ == family)()
params = (label, sys.argv[2])
bench.setup(*params)
times = []
end = time.perf_counter() + 0.5
while time.perf_counter() < end:
    start = time.perf_counter(); bench.time_latency(*params); times.append(time.perf_counter() - start)
bench.teardown(*params)
huge = sum(int(line.split()[1]) for line in open("/proc/self/smaps") if line.startswith("AnonHugePages:"))
print(f"{statistics.median(times) * 1e6:8.1f} us/call  huge pages {huge / 1024:6.1f} MB")
