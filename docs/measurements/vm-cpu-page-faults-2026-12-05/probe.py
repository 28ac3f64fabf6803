# One process: a case on a CPU backend after the suite's warm-up; per call, median time and minor page faults.
import resource, statistics, sys, time
sys.path.insert(0, ".")  # run from the project root
from benchmarks.common import op_families
family_name, label = sys.argv[1].split(" / ", 1)
backend = sys.argv[2]
fam = next(f for f in op_families() if f.__name__ == family_name)
bench = fam()
params = (label, backend, "strict") if fam.uses_matrix_units else (label, backend)
if len(fam.params) > len(params): params = (*params, "float32")
import ctypes
for i in range(3, len(sys.argv), 2): assert ctypes.CDLL(None).mallopt(int(sys.argv[i]), int(sys.argv[i + 1])) == 1
bench.setup(*params)
times = []
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
t_end = time.perf_counter() + 0.5
n = 0
while time.perf_counter() < t_end:
    a = time.perf_counter(); bench.time_latency(*params); times.append(time.perf_counter() - a); n += 1
f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
print(f"{statistics.median(times)*1e6:8.1f} us/call  {(f1-f0)/n:8.1f} minflt/call  calls {n}")
