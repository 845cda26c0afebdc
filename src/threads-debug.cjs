/*
 * `debug`, as the bundle of threads.js's master side sees it (npm run build aliases it here): the
 * real module when the DEBUG variable asks for logs, else loggers that do nothing. Setting up the
 * real one asks whether process.stderr is a terminal, which creates that stream: 3-5 ms of the
 * first call, in a program that has not written to stderr yet.
 */
'use strict';
if (process.env.DEBUG) {
  module.exports = require('../node_modules/debug/src/index.js');
} else {
  const off = Object.assign(() => undefined, { enabled: false, extend: () => off });
  module.exports = Object.assign(() => off, { enable() {}, disable: () => '', enabled: () => false });
}
