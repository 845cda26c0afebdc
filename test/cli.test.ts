import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Memory } from '../dist/index.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('joblib-ts cache CLI', () => {
  it('shows, reduces and clears a cache', async () => {
    const location = mkdtempSync(join(tmpdir(), 'joblib-ts-cli-'));
    try {
      {
        await using memory = new Memory({ location });
        const train = memory.cache(function train(x: number) {
          return new Float64Array(10).fill(x);
        });
        await train(1);
        await train(2);
      }
      const info = await run(['cache', 'info', '--location', location]);
      assert.equal(info.code, 0, info.stderr);
      assert.match(info.stdout, /: 2 entries, \d+(\.\d)? (B|KiB)\n {2}train: 2 entries/);
      const json = JSON.parse((await run(['cache', 'info', '--location', location, '--json'])).stdout) as { functionName: string }[];
      assert.deepEqual(json.map((e) => e.functionName), ['train', 'train']);
      assert.match((await run(['cache', 'reduce', '--location', location, '--items', '1'])).stdout, /Removed 1 entries/);
      assert.match((await run(['cache', 'clear', '--location', location])).stdout, /Removed 1 entries/);
      assert.match((await run(['cache', 'info', '--location', location])).stdout, /: 0 entries/);
    } finally {
      rmSync(location, { recursive: true, force: true });
    }
  });

  it('explains its usage and exits with status 2 on a wrong command line', async () => {
    const missing = await run(['cache', 'info']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Expected --location DIR/);
    const unknown = await run(['cache', 'prune', '--location', '/tmp/x']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Usage: joblib-ts cache <info\|clear\|reduce>/);
  });
});
