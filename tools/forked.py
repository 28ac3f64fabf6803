"""A measurement in a process of its own, forked from this one (which has imported torch but touched
no GPU), as asv runs each case: MLX fixes its precision per process, and a fault stays in there."""

import multiprocessing


def forked(target, *args, fresh=False):
    """(what `target(*args, send)` sent, in order; the process's exit code). `fresh`: a new interpreter
    instead of a fork (`target` then must be importable), sharing nothing with this process, not even
    the layout of its address space: as a new asv run's forkserver is to the last's."""
    context = multiprocessing.get_context("spawn" if fresh else "fork")
    receive, send = context.Pipe(duplex=False)
    worker = context.Process(target=target, args=(*args, send.send))
    worker.start()
    send.close()
    messages = []
    try:
        while True:
            try:
                messages.append(receive.recv())
            except EOFError:
                break
    except BaseException:  # this process is being stopped: its measurement goes with it
        worker.terminate()
        worker.join()
        raise
    worker.join()
    return messages, worker.exitcode
