"""Which CPUs take the GPU's interrupts (Linux, NVIDIA driver), and the CPUs that leave them out.

MLX on CUDA waits for the GPU asleep (a blocking-sync event) and is woken by the GPU's interrupt. On
the lent H100s of 2026-12-06 every NVIDIA interrupt went to one CPU, and MLX's floor ran two to three
times slower in the processes that sat on that CPU: 51-54 us against 25.6 elsewhere
(docs/measurements/h100-2026-12-06e), 81-102 us pinned there (h100-2026-12-06c). `make bench`,
`tools.processes` and `tools.fidelity` take --avoid-gpu-interrupts to time on the other CPUs. Nothing
of the suite is imported here."""

import os
from pathlib import Path

INTERRUPTS = "/proc/interrupts"
IRQ_FOLDER = "/proc/irq"


class NoInterruptsError(Exception):
    """Nothing to avoid or nothing left: the message says which, and what to do."""


def nvidia_lines(path=INTERRUPTS):
    """(CPU numbers, [(irq, [count per CPU])] of the NVIDIA driver's lines), or None where
    /proc/interrupts cannot be read or has no such line (another GPU, no GPU, not Linux)."""
    try:
        with open(path) as table:
            cpus = [int(name.removeprefix("CPU")) for name in table.readline().split()]
            lines = [line.split() for line in table if "nvidia" in line]
        parsed = [(fields[0].rstrip(":"), [int(count) for count in fields[1:1 + len(cpus)]]) for fields in lines]
    except (OSError, ValueError):
        return None
    return (cpus, parsed) if parsed else None


def counts(path=INTERRUPTS):
    """{CPU: the GPU's interrupts so far}, summed over the NVIDIA driver's lines, or None (`nvidia_lines`)."""
    found = nvidia_lines(path)
    if found is None:
        return None
    cpus, lines = found
    return {cpu: sum(line[i] for _, line in lines) for i, cpu in enumerate(cpus)}


def parse_cpu_list(text):
    """The CPUs of a kernel CPU list ('14', '0-3,8')."""
    cpus = set()
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def cpu_list(cpus):
    """The kernel's (and asv's --cpu-affinity's) form of a set of CPUs: '0-13,15'."""
    spans, cpus = [], sorted(cpus)
    for cpu in cpus:
        if spans and cpu == spans[-1][1] + 1:
            spans[-1][1] = cpu
        else:
            spans.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def interrupt_cpus(path=INTERRUPTS, irq_folder=IRQ_FOLDER):
    """The CPUs the NVIDIA driver's interrupts go to: where the kernel delivers each line that has
    taken any (/proc/irq/N/effective_affinity_list; every line if none has yet), or, where the kernel
    does not say or names every CPU, the CPUs that have taken some. An empty set where there are no
    such lines or neither tells."""
    found = nvidia_lines(path)
    if found is None:
        return set()
    cpus, lines = found
    used = [(irq, line) for irq, line in lines if sum(line)] or lines
    delivered = set()
    for irq, _ in used:
        try:
            delivered |= parse_cpu_list((Path(irq_folder) / irq / "effective_affinity_list").read_text())
        except (OSError, ValueError):
            delivered = None
            break
    if delivered and delivered != set(cpus):
        return delivered
    return {cpu for i, cpu in enumerate(cpus) if any(line[i] for _, line in used)}


def cpus_avoiding(allowed=None, path=INTERRUPTS, irq_folder=IRQ_FOLDER):
    """The CPUs of `allowed` (default: this process's) that take none of the GPU's interrupts, and
    those that do; NoInterruptsError where there is nothing to avoid or nothing would be left."""
    taking = interrupt_cpus(path, irq_folder)
    if not taking:  # off Linux too, before os.sched_getaffinity (Linux only) is asked
        raise NoInterruptsError(f"--avoid-gpu-interrupts: {path} shows no CPU taking the NVIDIA driver's interrupts, "
                                "so none to avoid (Linux with NVIDIA's driver only); leave the option out")
    allowed = os.sched_getaffinity(0) if allowed is None else allowed
    rest = set(allowed) - taking
    if not rest:
        raise NoInterruptsError(f"--avoid-gpu-interrupts: every CPU this process may use ({cpu_list(allowed)}) takes "
                                f"the GPU's interrupts; leave the option out or allow more CPUs")
    return rest, taking
