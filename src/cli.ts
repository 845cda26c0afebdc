#!/usr/bin/env node
/**
 * `joblib-ts cache info|clear|reduce --location DIR`: look at and trim a Memory cache from a shell.
 */
import { parseArgs } from 'node:util';
import { Memory, type CacheEntryInfo } from './memory.js';

const USAGE = `Usage: joblib-ts cache <info|clear|reduce> --location DIR [options]

  info      what is stored: entries, size, per function
  clear     remove every entry
  reduce    evict least recently used entries until the limits hold:
              --bytes N   keep at most N bytes
              --items N   keep at most N entries
              --age MS    remove entries not used for MS milliseconds
  --json    print info as JSON`;

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      location: { type: 'string', short: 'l' },
      bytes: { type: 'string' },
      items: { type: 'string' },
      age: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [group, command] = positionals;
  if (values.help || group !== 'cache' || !command || !['info', 'clear', 'reduce'].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (!values.location) {
    process.stderr.write(`Expected --location DIR (the cache folder given to new Memory())\n\n${USAGE}\n`);
    return 2;
  }
  await using memory = new Memory({ location: values.location });
  if (command === 'clear') {
    const count = (await memory.entries()).length;
    await memory.clear();
    process.stdout.write(`Removed ${count} entries from ${memory.location}\n`);
  } else if (command === 'reduce') {
    const limits = {
      ...(values.bytes !== undefined ? { bytesLimit: count('--bytes', values.bytes) } : {}),
      ...(values.items !== undefined ? { itemsLimit: count('--items', values.items) } : {}),
      ...(values.age !== undefined ? { ageLimit: count('--age', values.age) } : {}),
    };
    if (Object.keys(limits).length === 0) {
      process.stderr.write('Expected at least one of --bytes, --items, --age\n');
      return 2;
    }
    const removed = await memory.reduceSize(limits);
    process.stdout.write(`Removed ${removed} entries from ${memory.location}\n`);
  } else {
    const entries = await memory.entries();
    process.stdout.write(values.json ? `${JSON.stringify(entries, null, 2)}\n` : describe(memory.location ?? '', entries));
  }
  return 0;
}

function count(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`Expected ${flag} to be a whole number from 0 up, got ${text}`);
  return value;
}

function describe(location: string, entries: readonly CacheEntryInfo[]): string {
  const bytes = entries.reduce((sum, e) => sum + e.size, 0);
  const lines = [`${location}: ${entries.length} entries, ${formatBytes(bytes)}`];
  const byFunction = new Map<string, CacheEntryInfo[]>();
  for (const entry of entries) byFunction.set(entry.functionId, [...(byFunction.get(entry.functionId) ?? []), entry]);
  for (const [functionId, group] of byFunction) {
    const size = group.reduce((sum, e) => sum + e.size, 0);
    const lastUsed = new Date(Math.max(...group.map((e) => e.lastUsedAt))).toISOString();
    const computeMs = group.reduce((sum, e) => sum + e.durationMs, 0);
    lines.push(`  ${group[0]?.functionName ?? '?'}: ${group.length} entries, ${formatBytes(size)}, ` +
      `${(computeMs / 1000).toFixed(1)} s of computation, last used ${lastUsed}`);
    lines.push(`    ${functionId}`);
  }
  return `${lines.join('\n')}\n`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`joblib-ts: ${(error as Error)?.message ?? error}\n`);
    process.exitCode = 1;
  },
);
