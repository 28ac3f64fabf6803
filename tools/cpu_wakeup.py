"""How fast a sleeping CPU wakes: Linux's idle states, and its PM QoS request that keeps every CPU out
of the ones slower to leave than a limit. A synchronised GPU call's host thread sleeps until the GPU
is done (MLX waits on a blocking-sync event) and wakes inside the timed call, so the idle state its
CPU fell to in between is part of the figure; `tools.processes`, `tools.fidelity` and `make bench` take
--cpu-latency-us to hold the limit while they time. Nothing of the suite is imported here."""

import contextlib
import os
import struct
import sys
from pathlib import Path

REQUEST = "/dev/cpu_dma_latency"
IDLE_STATES = "/sys/devices/system/cpu/cpu0/cpuidle"


@contextlib.contextmanager
def held(limit_us, path=None):
    """While the file (default REQUEST) stays open with the limit written, no CPU enters an idle state
    that takes longer to leave (0: none deeper than polling). The request ends when the file is
    closed, even on a crash. None holds nothing."""
    if limit_us is None:
        yield
        return
    path = path or REQUEST
    try:
        request = os.open(path, os.O_WRONLY)
    except OSError as error:
        sys.exit(f"error: cannot hold the CPUs' wake-up latency: {path}: {error.strerror}; run as root on "
                 f"Linux, or leave out --cpu-latency-us")
    try:
        os.write(request, struct.pack("i", limit_us))
        yield
    finally:
        os.close(request)


def idle_states(folder=IDLE_STATES):
    """CPU 0's idle states as 'name exit-latency us', shallowest first; empty where Linux shows none."""
    states = sorted(Path(folder).glob("state*"), key=lambda state: int(state.name[5:]))
    return ", ".join(f"{(state / 'name').read_text().strip()} {(state / 'latency').read_text().strip()} us"
                     for state in states)


def described(limit_us, folder=IDLE_STATES):
    """The line a report ends with: the idle states, and the limit if one was held. Without idle
    states (no cpuidle driver, as on the lent H100 of 2026-12-06) an idle CPU takes the kernel's
    default idle, which no limit changes: the line says so rather than let a held limit pass for a
    lever that was tried."""
    states = idle_states(folder)
    limit = "" if limit_us is None else f"; held to a wake-up latency of {limit_us} us"
    if limit and not states:
        limit += ", which changes nothing here: there is no idle state to keep the CPUs out of"
    return f"CPU idle states (exit latency): {states or 'not shown by this system'}{limit}"
