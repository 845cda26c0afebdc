// Every TypeScript sample of the README runs, as a user would run it (tsx, importing 'joblib-ts').
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
// Inside the repository, so that `import ... from 'joblib-ts'` resolves to this package.
const folder = join(root, '.readme-samples');
const samples = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);

function runTsx(file: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', file], { cwd: folder, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

describe('README samples', () => {
  before(() => mkdirSync(folder, { recursive: true }));
  after(() => rmSync(folder, { recursive: true, force: true }));

  it('has samples to run', () => {
    assert.ok(samples.length >= 8, `found ${samples.length}`);
  });

  samples.forEach((sample, i) => {
    // A sample that starts with `// name.ts` is a module other samples import: it is written, not run.
    const named = /^\/\/ ([\w-]+\.ts)\n/.exec(sample)?.[1];
    if (named && named !== 'main.ts') {
      it(`sample ${i + 1} (${named}) is a module the next sample imports`, () => {
        writeFileSync(join(folder, named), sample);
        assert.match(sample, /export /);
      });
      return;
    }
    it(`sample ${i + 1} runs without error`, async () => {
      const file = join(folder, `sample-${i + 1}.ts`);
      writeFileSync(file, sample);
      const { code, output } = await runTsx(file);
      assert.equal(code, 0, output);
    });
  });
});
