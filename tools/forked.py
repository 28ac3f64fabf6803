"""A measurement in a process of its own, forked from this one (which has imported torch but touched
no GPU), as asv runs each case: MLX fixes its precision per process, and a fault stays in there."""

import multiprocessing


def forked(target, *args):
    """(what `target(*args, send)` sent, in order; the process's exit code)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    worker = context.Process(target=target, args=(*args, send.send))
    worker.start()
    send.close()
    messages = []
    while True:
        try:
            messages.append(receive.recv())
        except EOFError:
            break
    worker.join()
    return messages, worker.exitcode
