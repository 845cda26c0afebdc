#!/usr/bin/env python3
"""Python joblib in the comparison (bench/compare.ts): the same protocol as bench/systems/harness.ts.

Reads one job a line on stdin (a workload spec of bench/workloads.ts), answers `@@result {...}`.
Each job times this process's own sequential loop and then `Parallel(n_jobs=workers)` with joblib's
defaults (loky backend, batch_size='auto'), after a warm-up of both; the speedup of joblib is taken
against that loop. The task bodies are the twins of bench/tasks.mjs, their costs calibrated here to
the same durations (a Python loop round is ~100x slower than a JavaScript one). Arrays are numpy
arrays: joblib's own way to pass them (it memory-maps those over 1 MiB to its workers).
"""
import gc
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import joblib
from joblib import Memory, Parallel, delayed

try:
    import numpy as np
except ImportError:  # W5, W6 and the hash figure need numpy
    np = None

MIB = 1024 * 1024
M32 = 0xFFFFFFFF


def spin(rounds, seed):
    """`rounds` rounds of xorshift32 (bench/tasks.mjs's spin, unsigned)."""
    x = (seed & M32) or 1
    for _ in range(rounds):
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
    return x


def array_sum(values):
    return float(values.sum())


def slice_sum(values, index, count, passes):
    size = len(values) // count
    start = index * size
    end = len(values) if index == count - 1 else start + size
    part = values[start:end]
    total = 0.0
    for p in range(1, passes + 1):
        total += float((part * p).sum())
    return total


def noop(value):
    return value


def evaluate(params):
    """What a memoized model evaluation typically returns (bench/memory.ts's evaluate)."""
    return {'score': params['alpha'] * params['depth'], 'weights': np.full(16, params['alpha']) if np else [params['alpha']] * 16}


def cube(x):
    return x * x * x


def now_ms():
    return time.perf_counter() * 1000


# Calibration: the cost of a call of spin and of one more round; of one element of a slice pass.
def calibrate():
    def best(fn, repeat=7):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    calls = 20000
    per_call_us = best(lambda: [spin(0, 1) for _ in range(calls)]) / calls * 1e6
    rounds = 200000
    per_round_us = (best(lambda: spin(rounds, 1), 5) * 1e6 - per_call_us) / rounds
    slice_ns = None
    if np is not None:
        values = np.arange(MIB // 8, dtype=np.float64)
        slice_ns = best(lambda: slice_sum(values, 0, 1, 8)) * 1e9 / (8 * len(values))
    return {'per_call_us': per_call_us, 'per_round_us': per_round_us, 'slice_ns': slice_ns}


CAL = None


def cost_units(shape, index, tasks):
    if shape == 'sawtooth':
        return 1 + round(99 * (index % 20) / 19)
    if shape == 'rising':
        return 1 + round(99 * index / max(1, tasks - 1))
    return 1


def filled_array(length, offset):
    values = np.empty(length, dtype=np.float64)
    step = 1 << 20
    for start in range(0, length, step):
        stop = min(length, start + step)
        values[start:stop] = (np.arange(start, stop) + offset) & 1023
    return values


def build(spec, warm):
    """(function, argument tuples) of a workload, as bench/workloads.ts's buildArgs."""
    tasks = spec['tasks']
    n = spec['warmTasks'] if warm else tasks
    kind = spec['kind']
    if kind == 'spin':
        unit_us = spec.get('unitUs', 1)
        shape = spec.get('shape', 'constant')
        args = []
        for i in range(n):
            target_us = cost_units(shape, i, tasks) * unit_us
            rounds = max(0, round((target_us - CAL['per_call_us']) / CAL['per_round_us']))
            args.append((rounds, i + 1))
        return spin, args
    if np is None:
        raise RuntimeError('numpy is not installed')
    if kind == 'arrays':
        length = spec.get('arrayBytes', MIB) // 8
        return array_sum, [(filled_array(length, i),) for i in range(n)]
    if kind == 'shared':
        count = 10 if warm else tasks
        values = filled_array((MIB if warm else spec['arrayBytes']) // 8, 0)
        slice_length = len(values) / count
        passes = 1 if warm else max(1, round(spec['unitUs'] * 1000 / (slice_length * CAL['slice_ns'])))
        return slice_sum, [(values, i, count, passes) for i in range(count)]
    raise RuntimeError(f'workload kind {kind} is not run in Python')


# Memory of this process and its worker processes (loky's workers are its children).
def status_kib(pid, field):
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid):
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return found


def family():
    pids = [os.getpid()]
    for pid in pids:
        pids.extend(children(pid))
    return pids


def reset_peaks(pids):
    baseline = {}
    for pid in pids:
        try:
            with open(f'/proc/{pid}/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            pass
        rss = status_kib(pid, 'VmRSS')
        if rss is not None:
            baseline[pid] = rss
    return baseline


def peak_above_mib(baseline):
    """Sum over this process and its workers of the peak above the resident size at the reset."""
    total = 0
    for pid in family():
        hwm = status_kib(pid, 'VmHWM')
        if hwm is not None:
            total += hwm - baseline.get(pid, 0)
    return total / 1024


def parallel(workers):
    return Parallel(n_jobs=workers)


def run_job(job):
    global CAL
    spec = job['workload']
    workers = job['workers']
    kind = spec['kind']
    if kind == 'memory':
        return {'ok': True, 'memory': memory_bench(job['quick'])}
    if kind == 'cold':
        before = len(children(os.getpid()))
        t0 = now_ms()
        first = parallel(workers)(delayed(noop)(i) for i in (1, 2))
        first_ms = now_ms() - t0
        after_first = len(children(os.getpid()))
        t1 = now_ms()
        second = parallel(workers)(delayed(noop)(i) for i in (3, 4))
        second_ms = now_ms() - t1
        after_second = len(children(os.getpid()))
        return {'ok': True, 'ms': first_ms, 'secondMs': second_ms, 'results': 4, 'matchesLoop': first + second == [1, 2, 3, 4],
                'threadsFirstCall': after_first - before, 'threadsSecondCall': after_second - after_first}
    if CAL is None:
        CAL = calibrate()
    fn, warm_args = build(spec, True)
    [fn(*a) for a in warm_args]
    parallel(workers)(delayed(fn)(*a) for a in warm_args)
    del warm_args
    fn, args = build(spec, False)
    t0 = now_ms()
    expected = [fn(*a) for a in args]
    loop_ms = now_ms() - t0
    gc.collect()
    baseline = reset_peaks(family())
    t0 = now_ms()
    results = parallel(workers)(delayed(fn)(*a) for a in args)
    ms = now_ms() - t0
    peak = peak_above_mib(baseline)
    return {'ok': True, 'ms': ms, 'loopMs': loop_ms, 'results': len(results), 'matchesLoop': results == expected,
            'peakAboveMiB': peak, 'rssBeforeMiB': sum(baseline.values()) / 1024}


def median(values):
    # The mean of the two middle values of an even count, as bench/stats.ts takes it.
    return statistics.median(values)


def memory_bench(quick):
    """bench/memory.ts's figures, for joblib.Memory (which keeps no results in memory: every hit reads its file)."""
    location = tempfile.mkdtemp(prefix='joblib-py-memory-bench-')
    samples = 500 if quick else 2000
    try:
        params = [{'alpha': i / 1000, 'depth': i % 7} for i in range(samples)]
        memory = Memory(location, verbose=0)
        cached = memory.cache(evaluate)
        miss_us = []
        for p in params:
            t0 = time.perf_counter()
            evaluate(p)
            t1 = time.perf_counter()
            cached(p)
            t2 = time.perf_counter()
            miss_us.append((t2 - t1 - (t1 - t0)) * 1e6)
        hit_us = []
        for p in params:
            t0 = time.perf_counter()
            cached(p)
            hit_us.append((time.perf_counter() - t0) * 1e6)
        fresh = Memory(location, verbose=0)
        fresh_cached = fresh.cache(evaluate)
        fresh_cached(params[0])
        fresh_us = []
        for p in params[1:]:
            t0 = time.perf_counter()
            fresh_cached(p)
            fresh_us.append((time.perf_counter() - t0) * 1e6)
        sweep_tasks = 2000 if quick else 10000
        cached_cube = fresh.cache(cube)
        t0 = now_ms()
        Parallel(n_jobs=2)(delayed(cached_cube)(i) for i in range(sweep_tasks))
        sweep_first = now_ms() - t0
        t0 = now_ms()
        Parallel(n_jobs=2)(delayed(cached_cube)(i) for i in range(sweep_tasks))
        sweep_rerun = now_ms() - t0
        result = {'hitUs': median(hit_us), 'freshHitUs': median(fresh_us), 'missOverheadUs': median(miss_us),
                  'sweepTasks': sweep_tasks, 'sweepFirstMs': sweep_first, 'sweepRerunMs': sweep_rerun}
        if np is not None:
            data = np.arange(64 * MIB // 8, dtype=np.float64) * 0.5
            raw = data.tobytes()

            def rate(fn):
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - t0)
                return 64 / median(times)
            result['hashMibPerSec'] = rate(lambda: joblib.hash(data))
            result['cryptoMibPerSec'] = {name: rate(lambda name=name: hashlib.new(name, raw).digest()) for name in ('md5', 'sha1', 'sha256')}
        return result
    finally:
        shutil.rmtree(location, ignore_errors=True)


def main():
    info = {'python': sys.version.split()[0], 'joblib': joblib.__version__, 'numpy': np.__version__ if np else None}
    sys.stdout.write('@@ready ' + json.dumps(info) + '\n')
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = run_job(json.loads(line))
        except Exception as error:  # reported to the runner, which shows it in the tables
            import traceback
            result = {'ok': False, 'error': f'{error!r}\n{traceback.format_exc()}'}
        sys.stdout.write('@@result ' + json.dumps(result) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
