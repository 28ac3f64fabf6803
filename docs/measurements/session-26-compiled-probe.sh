#!/usr/bin/env bash
# Detached on the device, for the last minutes of a lease (about 2 device minutes after the
# installs). Why: compiled MLX's fidelity (2026-12-07, h100-2026-12-07c) read asv above the events in
# 7 of the 8 cases whose two sides' processes were apart, MatMul `64x1000000` the clearest (asv's
# processes 0.458-0.623 ms, events 0.385-0.387), and no plain backend was checked on that host. C:
# the strict MatMul family alone on mlx_gpu and mlx_gpu_compile, from no results, then tools.fidelity
# on both right after: plain and compiled on one host, to tell the backend from the host. (Its first
# run, 2026-12-07 in h100-2026-12-07d, ended the pattern in '$': asv names a case `name(params)`.)
source docs/measurements/pipeline-start.sh

compiled_probe
mark "all done"
