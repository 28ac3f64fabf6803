#!/usr/bin/env bash
# Detached on the device, for a lease of an H100 (about 14 device minutes after the installs). Why:
# session 25's whole-suite pair (2026-12-07, three processes a figure) had 4 of 177 GPU figures
# beyond 10 %, each within its processes' spread; resampling its process figures said four processes
# a figure would leave about 7 (0.3 of them from 0.2 ms up) against 8.6, for about 94 s more a run
# (the full run about 870 s of the 15 minutes). This measures it: session-23-halves.sh with
# `make bench --gpu-rounds 4`, twice back to back, then tools.stability between them.
export GPU_ROUNDS=4
source docs/measurements/session-23-halves.sh
