/**
 * Throughput of hash() on a 64 MiB Float64Array against raw node:crypto over the same bytes
 * (median of 5 runs each). Run directly: `npm run build && node --import tsx bench/hash-throughput.ts`.
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { hash } from '../dist/hash.js';
import { timeMedian } from './stats.js';

const MIB = 1024 * 1024;
const SIZE_MIB = 64;
const RUNS = 5;

/** MiB/s of hash() and of raw md5, sha1 and sha256 over the same 64 MiB. */
export function hashThroughput(): { mibPerSec: number; cryptoMibPerSec: Record<string, number> } {
  const data = new Float64Array((SIZE_MIB * MIB) / 8);
  for (let i = 0; i < data.length; i++) data[i] = i * 0.5;
  const bytes = new Uint8Array(data.buffer);
  const rate = (ms: number) => Math.round(SIZE_MIB / (ms / 1000));

  const cryptoMibPerSec: Record<string, number> = {};
  for (const algorithm of ['md5', 'sha1', 'sha256']) {
    cryptoMibPerSec[algorithm] = rate(timeMedian(RUNS, () => () => createHash(algorithm).update(bytes).digest()));
  }
  const mibPerSec = rate(timeMedian(RUNS, () => () => hash(data)));
  return { mibPerSec, cryptoMibPerSec };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { mibPerSec, cryptoMibPerSec } = hashThroughput();
  const raw = Object.entries(cryptoMibPerSec).map(([name, value]) => `${name} ${value}`).join(', ');
  console.log(`hash() on a ${SIZE_MIB} MiB Float64Array: ${mibPerSec} MiB/s (raw node:crypto MiB/s: ${raw})`);
}
