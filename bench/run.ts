/**
 * `npm run bench` (`npm run bench -- --quick` for a run under a minute): runs bench/auto-batch.ts
 * and bench/memory.ts, prints their tables and writes them to bench/RESULTS.md.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runAutoBatchBench } from './auto-batch.js';
import { memoryBench, memoryMarkdown } from './memory.js';

const quick = process.argv.slice(2).includes('--quick');
const batching = await runAutoBatchBench({ quick });
const memory = memoryMarkdown(await memoryBench({ quick }));
const markdown = `${batching.markdown}\n${memory}`;
const target = new URL('./RESULTS.md', import.meta.url);
await writeFile(target, markdown);
console.log('');
console.log(markdown);
console.log(`Written to ${fileURLToPath(target)}`);
