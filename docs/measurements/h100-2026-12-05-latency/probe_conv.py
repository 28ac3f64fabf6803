# torch's strict float32 Conv1d 100x256x256 (8x3x256 weights), channels-last as the suite lays it out,
# with cudnn.benchmark as argv[1] says; events around each call, median of 100 after 20 warm-up calls.
import statistics, sys, torch
import torch.nn.functional as F
bench = sys.argv[1] == "1"
torch.backends.cudnn.benchmark = bench
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = sys.argv[2] == "tf32"
g = torch.Generator().manual_seed(0)
x = torch.randn(100, 256, 256, generator=g).cuda().permute(0, 2, 1).unsqueeze(2)
w = torch.randn(8, 3, 256, generator=g).cuda().permute(0, 2, 1).unsqueeze(2)
with torch.inference_mode():
    for _ in range(20):
        F.conv2d(x, w)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    times = []
    for _ in range(100):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); y = F.conv2d(x, w); b.record(); b.synchronize()
        times.append(a.elapsed_time(b))
    peak = torch.cuda.max_memory_allocated() - base
    ref = F.conv2d(x.double(), w.double())
    err = ((y.double() - ref).abs().max() / ref.abs().max()).item()
print(f"cudnn.benchmark={bench} {sys.argv[2]}: median {statistics.median(times):.4f} ms, peak above inputs {peak/1e6:.1f} MB, normwise error {err:.2e}")
