import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressReporter, type ProgressOutput } from '../dist/progress.js';

function fakeOutput(isTTY: boolean): ProgressOutput & { text: string } {
  return {
    isTTY,
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

describe('progress', () => {
  it('draws a bar on a terminal, ending on a full bar and a newline', () => {
    const output = fakeOutput(true);
    const reporter = new ProgressReporter({ nJobs: 2, verbose: 0, progress: true, onProgress: undefined, output });
    reporter.update(5, 10, 1);
    reporter.update(10, 10, 1);
    reporter.finish(10, 10, false);
    assert.match(output.text, /\r\[#{15}\.{15}\] 5\/10 {2}50%/);
    assert.match(output.text, /\r\[#{30}\] 10\/10 100% \| \d+\.\ds\n$/);
  });

  it('prints nothing extra when the output is not a terminal', () => {
    const output = fakeOutput(false);
    const reporter = new ProgressReporter({ nJobs: 2, verbose: 0, progress: true, onProgress: undefined, output });
    reporter.update(10, 10, 1);
    reporter.finish(10, 10, false);
    assert.equal(output.text, '');
  });

  it('prints about `verbose` lines over a run of known length, and a final line', () => {
    const output = fakeOutput(false);
    const reporter = new ProgressReporter({ nJobs: 4, verbose: 5, progress: false, onProgress: undefined, output });
    for (let done = 1; done <= 100; done++) reporter.update(done, 100, 1);
    reporter.finish(100, 100, false);
    const lines = output.text.trimEnd().split('\n');
    assert.ok(lines.length >= 4 && lines.length <= 7, output.text);
    assert.match(lines[0] ?? '', /^\[Parallel\(nJobs=4\)\]: Done {2}\d+ out of 100 \| elapsed: \d+\.\ds$/);
    assert.match(lines.at(-1) ?? '', /Done 100 out of 100 \| elapsed: \d+\.\ds finished$/);
  });

  it('paces lines quadratically when the total is unknown, and says when the call failed', () => {
    const output = fakeOutput(false);
    const reporter = new ProgressReporter({ nJobs: 2, verbose: 1, progress: false, onProgress: undefined, output });
    for (let done = 1; done <= 1000; done++) reporter.update(done, undefined, 1);
    reporter.finish(1000, undefined, true);
    const lines = output.text.trimEnd().split('\n');
    assert.ok(lines.length > 2 && lines.length < 10, output.text);
    assert.match(lines.at(-1) ?? '', /Done 1000 tasks \| elapsed: \d+\.\ds failed$/);
  });
});
