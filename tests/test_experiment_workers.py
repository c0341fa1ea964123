"""Live-training trials in worker processes: results, failures, timeouts, kills, GPU slots.

Most tests use the ``fork`` start method, so the children run the helper functions of
this module; one test uses ``spawn`` with standard-library callables only.
"""
from __future__ import annotations

import operator
import os
import signal
import threading
import time

import pytest

from nasbench_lab.experiment._workers import Outcome, TrialProcesses, gpu_slots, report_intermediate_result


def _raise(message):
    raise ValueError(message)


def _exit(code):
    os._exit(code)


def _sigkill():
    os.kill(os.getpid(), signal.SIGKILL)


def _hang():
    report_intermediate_result(os.getpid())
    time.sleep(60)


def _report(values):
    assert all(report_intermediate_result(v) for v in values)
    return len(values)


def _unpicklable():
    return lambda: 0


def _leave_thread_running():
    threading.Thread(target=time.sleep, args=(60,)).start()  # non-daemon: the process cannot exit
    return 7


def _wait_for(path):
    end = time.monotonic() + 20
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.01)
    return os.environ["CUDA_VISIBLE_DEVICES"]


def _outcomes(pool: TrialProcesses, n: int, limit: float = 15.0) -> list[Outcome]:
    """Poll until ``n`` outcomes arrived; fail after ``limit`` seconds."""
    got: list[Outcome] = []
    end = time.monotonic() + limit
    while len(got) < n:
        assert time.monotonic() < end, f"only {len(got)} of {n} trials ended within {limit} s: {got}"
        got += pool.poll(timeout=0.1)
    return got


def _pids(pool: TrialProcesses, n: int) -> list[int]:
    """The pids that ``n`` :func:`_hang` trials report."""
    pids: list[int] = []
    end = time.monotonic() + 15
    while len(pids) < n:
        assert time.monotonic() < end, "the trials did not report their pids"
        pool.poll(timeout=0.05)
        pids += [int(v) for _, v, _ in pool.intermediate()]
    return pids


def _gone(pid: int) -> bool:
    """True when no process (not even a zombie) has this pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_successful_trial_returns_its_value():
    with TrialProcesses(max_workers=2, start_method="fork") as pool:
        assert pool.poll(timeout=5) == []  # nothing runs: returns at once
        before = time.time()
        pool.submit(4, operator.add, (2, 3))
        assert pool.running() == [4]
        [o] = _outcomes(pool, 1)
        assert (o.trial_id, o.status, o.value, o.error, o.placement) == (4, "SUCCEEDED", 5, None, ())
        assert before <= o.start_time <= o.end_time <= time.time()
        assert pool.running() == [] and pool.free() == 2


def test_a_raising_trial_fails_with_its_traceback():
    with TrialProcesses(max_workers=1, start_method="fork") as pool:
        pool.submit(0, _raise, ("bad learning rate 42",))
        [o] = _outcomes(pool, 1)
    assert o.status == "FAILED" and o.value is None
    assert "Traceback" in o.error and "ValueError: bad learning rate 42" in o.error


def test_a_hanging_trial_times_out_and_its_process_is_gone():
    with TrialProcesses(max_workers=1, start_method="fork", grace=0.5) as pool:
        t0 = time.monotonic()
        pool.submit(0, _hang, timeout=1)
        [pid] = _pids(pool, 1)
        [o] = _outcomes(pool, 1)
        assert time.monotonic() - t0 < 5
    assert o.status == "FAILED" and o.error == "timed out after 1.0 s (killed)"
    assert _gone(pid)


@pytest.mark.parametrize("fn, args, named", [(_exit, (3,), "(exit code 3)"),
                                             (_sigkill, (), "(exit code -9 / signal SIGKILL)")])
def test_a_dying_trial_fails_naming_its_exit(fn, args, named):
    with TrialProcesses(max_workers=1, start_method="fork") as pool:
        pool.submit(0, fn, args)
        [o] = _outcomes(pool, 1)
    assert o.status == "FAILED"
    assert o.error == f"worker process died {named} before reporting a result"


def test_kill_cancels_a_running_trial():
    with TrialProcesses(max_workers=2, start_method="fork", grace=0.5) as pool:
        pool.submit(0, _hang)
        pool.submit(1, _hang)
        pids = _pids(pool, 2)
        assert pool.kill(1) is True
        assert pool.running() == [0] and pool.free() == 1
        [o] = pool.poll(timeout=0)
        assert (o.trial_id, o.status, o.value) == (1, "USER_CANCELED", None) and "kill()" in o.error
        assert pool.kill(1) is False
        assert sum(_gone(p) for p in pids) == 1


def test_an_unpicklable_result_fails_clearly():
    with TrialProcesses(max_workers=1, start_method="fork") as pool:
        pool.submit(0, _unpicklable)
        [o] = _outcomes(pool, 1)
    assert o.status == "FAILED" and "returned a function, which cannot be sent back" in o.error


def test_an_unpicklable_function_is_refused_at_submit():
    with TrialProcesses(max_workers=1, start_method="fork") as pool:
        with pytest.raises(TypeError, match="must be picklable"):
            pool.submit(0, lambda: 1)
        assert pool.running() == []


def test_a_result_is_kept_when_the_process_lingers_after_it():
    with TrialProcesses(max_workers=1, start_method="fork", grace=0.3) as pool:
        pool.submit(0, _leave_thread_running)
        [o] = _outcomes(pool, 1, limit=10)
    assert (o.status, o.value) == ("SUCCEEDED", 7)


def test_gpu_slots_cap_concurrency_and_set_cuda_visible_devices(tmp_path):
    slots = gpu_slots([0, 1, 2, 3], trial_gpu_number=2, max_trial_number_per_gpu=1)
    assert slots == [(0, 1), (2, 3)]
    with TrialProcesses(max_workers=3, placements=slots, start_method="fork") as pool:
        assert pool.free() == 2
        pool.submit(0, _wait_for, (str(tmp_path / "go0"),))
        pool.submit(1, _wait_for, (str(tmp_path / "go1"),))
        assert pool.free() == 0  # a third worker is free, but no GPU slot is
        with pytest.raises(RuntimeError, match="no free worker or GPU slot"):
            pool.submit(2, _wait_for, (str(tmp_path / "go2"),))
        (tmp_path / "go0").touch()
        [first] = _outcomes(pool, 1)
        assert first.trial_id == 0 and first.value == ",".join(map(str, first.placement))
        assert pool.free() == 1
        pool.submit(2, _wait_for, (str(tmp_path / "go2"),))
        (tmp_path / "go1").touch()
        (tmp_path / "go2").touch()
        rest = {o.trial_id: o for o in _outcomes(pool, 2)}
    assert {first.value, rest[1].value} == {"0,1", "2,3"}
    assert rest[2].value == first.value and rest[2].placement == first.placement


def test_max_workers_caps_cpu_trials(tmp_path):
    with TrialProcesses(max_workers=2, start_method="fork") as pool:
        for k in range(2):
            pool.submit(k, _wait_for, (str(tmp_path / "go"),))
        assert pool.free() == 0
        (tmp_path / "go").touch()
        assert [o.value for o in _outcomes(pool, 2)] == ["", ""]
        assert pool.free() == 2


def test_intermediate_results_arrive_in_order():
    assert report_intermediate_result(0.5) is False  # outside a worker: a no-op
    with TrialProcesses(max_workers=1, start_method="fork") as pool:
        pool.submit(9, _report, ([0.1, 0.5, 0.9],))
        [o] = _outcomes(pool, 1)
        metrics = pool.intermediate()
        assert pool.intermediate() == []
    assert o.value == 3
    assert [(t, v) for t, v, _ in metrics] == [(9, 0.1), (9, 0.5), (9, 0.9)]
    times = [s for _, _, s in metrics]
    assert o.start_time <= times[0] <= times[1] <= times[2] <= o.end_time


def test_shutdown_kills_running_children():
    pool = TrialProcesses(max_workers=2, start_method="fork", grace=0.5)
    with pool:
        pool.submit(0, _hang)
        pool.submit(1, _hang)
        pids = _pids(pool, 2)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 5  # stopped, not waited for
    assert all(_gone(p) for p in pids)
    assert pool.running() == []
    assert sorted((o.trial_id, o.status) for o in pool.poll(timeout=0)) == [(0, "USER_CANCELED"), (1, "USER_CANCELED")]
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(2, operator.add, (1, 2))


def test_spawn_workers_see_their_placement():
    with TrialProcesses(max_workers=2, placements=gpu_slots([3, 1], 1), start_method="spawn") as pool:
        pool.submit(0, os.getenv, ("CUDA_VISIBLE_DEVICES",))
        pool.submit(1, os.getenv, ("CUDA_VISIBLE_DEVICES",))
        got = _outcomes(pool, 2, limit=30)
        pool.submit(2, operator.add, (2, 3))
        [added] = _outcomes(pool, 1, limit=30)
    assert sorted((o.value, o.placement) for o in got) == [("1", (1,)), ("3", (3,))]
    assert (added.status, added.value) == ("SUCCEEDED", 5)
    with TrialProcesses(max_workers=1, start_method="spawn") as pool:
        pool.submit(0, os.getenv, ("CUDA_VISIBLE_DEVICES", "unset"))
        [cpu] = _outcomes(pool, 1, limit=30)
    assert (cpu.status, cpu.value) == ("SUCCEEDED", "")


def test_gpu_slots_respect_the_per_gpu_cap():
    slots = gpu_slots([0, 1], trial_gpu_number=1, max_trial_number_per_gpu=2)
    assert sorted(slots) == [(0,), (0,), (1,), (1,)]
    assert gpu_slots([5, 6, 7], trial_gpu_number=2) == [(5, 6)]  # GPU 7 is left over
    assert gpu_slots([], trial_gpu_number=0) == [()]
    assert gpu_slots(None, 0, 3) == [()]


@pytest.mark.parametrize("args, message", [
    (([0, -1], 1, 1), "gpu_indices must be an integer >= 0"),
    (([0, 1], -1, 1), "trial_gpu_number must be an integer >= 0"),
    (([0, 1], 3, 1), "trial_gpu_number=3 is more than the 2 GPU"),
    (([0, 1], 1, 0), "max_trial_number_per_gpu must be an integer >= 1"),
    (([], 1, 1), "needs GPUs, but no gpu_indices"),
    ((None, 2, 1), "needs GPUs, but no gpu_indices"),
    (([0, 0], 1, 1), "duplicates"),
    (([0, 1], 1.5, 1), "trial_gpu_number must be an integer"),
])
def test_gpu_slots_reject_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        gpu_slots(*args)


def test_bad_pool_arguments_are_refused():
    with pytest.raises(ValueError, match="max_workers"):
        TrialProcesses(max_workers=0)
    with pytest.raises(ValueError, match="mix CPU"):
        TrialProcesses(max_workers=2, placements=[(0,), ()])
    with pytest.raises(ValueError):
        TrialProcesses(max_workers=1, start_method="teleport")
    with TrialProcesses(max_workers=1, start_method="fork") as pool:
        with pytest.raises(ValueError, match="timeout"):
            pool.submit(0, operator.add, (1, 2), timeout=0)
