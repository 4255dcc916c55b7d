"""copgate.daemon.reload: firewall applies run beside the loop, one at a time, the last one wins."""

from __future__ import annotations

import select
import threading

from copgate.daemon.reload import Applied, FirewallWorker
from copgate.firewall import FirewallSpec

FIRST = FirewallSpec(("br-lan",), queue_num=0)
SECOND = FirewallSpec(("br-lan",), queue_num=2)
THIRD = FirewallSpec(("br-lan",), queue_num=4)


class SlowApply:
    """An apply that waits for the test to let it finish, like an iptables run of seconds."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.release = threading.Event()
        self.applied: list[FirewallSpec] = []

    def __call__(self, spec: FirewallSpec) -> None:
        self.started.release()
        assert self.release.wait(5.0)
        if spec is SECOND:
            raise RuntimeError("iptables-restore: line 3 failed")
        self.applied.append(spec)


def wait_readable(worker: FirewallWorker) -> bool:
    return bool(select.select([worker.fileno()], [], [], 5.0)[0])


def test_the_loop_is_free_while_an_apply_runs_and_learns_when_it_ends() -> None:
    apply = SlowApply()
    worker = FirewallWorker(apply)
    worker.submit(FIRST)
    assert apply.started.acquire(timeout=5.0)
    # The apply is running: the caller is not blocked, the pipe is quiet.
    assert worker.busy and worker.collect() == []
    assert not select.select([worker.fileno()], [], [], 0.0)[0]
    apply.release.set()
    assert wait_readable(worker)
    assert worker.collect() == [Applied(FIRST, None)]
    assert worker.close()


def test_reloads_during_an_apply_collapse_to_the_last() -> None:
    apply = SlowApply()
    worker = FirewallWorker(apply)
    worker.submit(FIRST)
    assert apply.started.acquire(timeout=5.0)
    worker.submit(SECOND)
    worker.submit(THIRD)  # replaces SECOND, which never runs
    apply.release.set()
    done: list[Applied] = []
    while len(done) < 2 and wait_readable(worker):
        done += worker.collect()
    assert done == [Applied(FIRST, None), Applied(THIRD, None)]
    assert apply.applied == [FIRST, THIRD]
    assert worker.close()


def test_a_failed_apply_is_reported_with_its_error() -> None:
    apply = SlowApply()
    apply.release.set()
    worker = FirewallWorker(apply)
    worker.submit(SECOND)
    assert wait_readable(worker)
    (failed,) = worker.collect()
    assert failed.spec is SECOND and isinstance(failed.error, RuntimeError)
    assert worker.close()


def test_close_waits_for_the_apply_in_progress() -> None:
    # Shutdown removes the rules after close: a late apply must not put them back.
    apply = SlowApply()
    worker = FirewallWorker(apply)
    worker.submit(FIRST)
    assert apply.started.acquire(timeout=5.0)
    worker.submit(THIRD)  # dropped by close
    assert worker.close(timeout=0.05) is False  # still running
    thread = worker._thread
    apply.release.set()
    if thread is not None:
        thread.join(5.0)
    assert apply.applied == [FIRST]  # THIRD was dropped, never applied
