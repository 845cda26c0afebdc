/**
 * How much of the CPUs the host kept for itself during a run. On a virtual machine sharing its host,
 * the hypervisor runs other guests on the same cores, and Linux counts the time this guest was ready
 * to run but not given a core as "steal" (/proc/stat). A run with much of it measures the host, not
 * the systems: all of them slow down, unevenly.
 */
import { readFileSync } from 'node:fs';

/** The whole machine's CPU time so far, in clock ticks: all of it, and the part stolen. */
export interface CpuTimes {
  readonly total: number;
  readonly steal: number;
}

/** Reads /proc/stat; undefined where there is none (not Linux). */
export function cpuTimes(): CpuTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // cpu user nice system idle iowait irq softirq steal (guest time is counted in user already)
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (ticks.length < 8 || ticks.some((t) => !Number.isFinite(t))) return undefined;
    return { total: ticks.reduce((a, b) => a + b, 0), steal: ticks[7] as number };
  } catch {
    return undefined;
  }
}

/** The share of CPU time stolen between two readings, from 0 to 1. */
export function stolenShare(before: CpuTimes | undefined, after: CpuTimes | undefined): number | undefined {
  if (!before || !after || after.total <= before.total) return undefined;
  return (after.steal - before.steal) / (after.total - before.total);
}
