"""Device events from the CUDA driver itself (libcuda, which every CUDA framework loads), with the
three calls of torch.cuda.Event: a device clock for a framework's calls that brings no other framework
into its process. torch's CUDA and its events inside MLX's process slowed MLX's calls (by 3 to 36 %
on three cases, docs/timing-checks.md); `tools.fidelity` times the calls with these on NVIDIA GPUs.

The events live in the primary context of the current device (the one MLX's and torch's runtimes
use), on a stream of their own that waits for no other stream."""

import ctypes

CU_STREAM_NON_BLOCKING = 1  # the stream waits for no other, the legacy default stream included
CU_EVENT_DEFAULT = 0  # timed, and a waiter spins

_library = None


class DriverError(RuntimeError):
    """A CUDA driver call that did not return CUDA_SUCCESS."""


def library():
    """libcuda, loaded once (already in the process wherever a framework has used CUDA)."""
    global _library
    if _library is None:
        try:
            _library = ctypes.CDLL("libcuda.so.1")
        except OSError as error:
            raise DriverError(f"no CUDA driver library here ({error}); device events need an NVIDIA GPU") from error
    return _library


def _call(name, *args):
    status = getattr(library(), name)(*args)
    if status != 0:
        raise DriverError(f"{name} returned CUresult {status}")


def _current_context():
    """Make device 0's primary context current on this thread if no context is, as the frameworks'
    runtimes do on their first call."""
    context = ctypes.c_void_p()
    _call("cuCtxGetCurrent", ctypes.byref(context))
    if not context.value:
        _call("cuInit", 0)
        device = ctypes.c_int()
        _call("cuDeviceGet", ctypes.byref(device), 0)
        _call("cuDevicePrimaryCtxRetain", ctypes.byref(context), device)
        _call("cuCtxSetCurrent", context)


class Stream:
    """A stream of the events' own, which waits for no other."""

    def __init__(self):
        _current_context()
        self.handle = ctypes.c_void_p()
        _call("cuStreamCreate", ctypes.byref(self.handle), CU_STREAM_NON_BLOCKING)


class Event:
    """A timed driver event: record(stream), synchronize(), elapsed_time(end) in ms, as torch's."""

    def __init__(self):
        _current_context()
        self.handle = ctypes.c_void_p()
        _call("cuEventCreate", ctypes.byref(self.handle), CU_EVENT_DEFAULT)

    def record(self, stream):
        _call("cuEventRecord", self.handle, stream.handle)

    def synchronize(self):
        _call("cuEventSynchronize", self.handle)

    def elapsed_time(self, end):
        milliseconds = ctypes.c_float()
        _call("cuEventElapsedTime", ctypes.byref(milliseconds), self.handle, end.handle)
        return milliseconds.value
