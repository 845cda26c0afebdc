/**
 * `npm run bench` (`npm run bench -- --quick` for a run under a minute): runs bench/auto-batch.ts,
 * prints its table and writes it to bench/RESULTS.md.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runAutoBatchBench } from './auto-batch.js';

const quick = process.argv.slice(2).includes('--quick');
const result = await runAutoBatchBench({ quick });
const target = new URL('./RESULTS.md', import.meta.url);
await writeFile(target, result.markdown);
console.log('');
console.log(result.markdown);
console.log(`Written to ${fileURLToPath(target)}`);
