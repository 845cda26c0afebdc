/*
 * The two modules of threads.js's master side that joblib-ts uses, which `npm run build` bundles
 * with what they require into dist/threads-master.cjs (loaded by src/threads-master.ts). One file
 * loads in about half the time of the 30 modules it replaces, on the first call's critical path.
 * The paths are relative because threads.js does not export these modules; threads is a direct
 * dependency, so it sits in the top node_modules when this package is built.
 */
'use strict';
exports.spawn = require('../node_modules/threads/dist/master/spawn.js').spawn;
exports.Transfer = require('../node_modules/threads/dist/transferable.js').Transfer;
