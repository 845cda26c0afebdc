/**
 * Programs run under tsx start worker threads with tsx's flags in their execArgv, which makes each
 * worker load tsx at start (about 5x slower) although only TypeScript task modules need it. The pool
 * starts workers without those flags and tells them where tsx is, to register when needed.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const LOADER_FLAGS = /^--(import|loader|experimental-loader|require)$/;

function isTsxValue(value: string): boolean {
  return value === 'tsx' || value.startsWith('tsx/') || /[\\/]tsx[\\/]dist[\\/]/.test(value);
}

/** The program's execArgv without tsx's flags (the rest is passed on to workers unchanged). */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    if (LOADER_FLAGS.test(flag)) {
      const value = eq < 0 ? execArgv[i + 1] : arg.slice(eq + 1);
      if (value !== undefined && isTsxValue(value)) {
        if (eq < 0) i++;
        continue;
      }
    }
    kept.push(arg);
  }
  return kept;
}

/** URL of tsx's ESM API if the program runs under tsx, else undefined. */
export function typeScriptLoaderUrl(execArgv: readonly string[] = process.execArgv): string | undefined {
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    const eq = arg.indexOf('=');
    if (!/^--(import|loader|experimental-loader)$/.test(eq < 0 ? arg : arg.slice(0, eq))) continue;
    const value = eq < 0 ? execArgv[i + 1] : arg.slice(eq + 1);
    if (!value || !isTsxValue(value)) continue;
    if (/[\\/]tsx[\\/]dist[\\/]loader\.mjs$/.test(value)) {
      return new URL('./esm/api/index.mjs', value.startsWith('file:') ? value : pathToFileURL(value)).href;
    }
    const cjsApi = createRequire(`${process.cwd()}/`).resolve('tsx/esm/api');
    return pathToFileURL(cjsApi.replace(/\.cjs$/, '.mjs')).href;
  }
  return undefined;
}
