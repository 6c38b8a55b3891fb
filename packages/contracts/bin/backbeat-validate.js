#!/usr/bin/env node
// Thin launcher: the compiled validator CLI lives in dist/ (built by `npm ci` through the root prepare step).
// A closed pipe (`| head`) ends the output, not the program with a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

import { runValidateCli } from '../dist/cli.js';

process.exitCode = await runValidateCli(process.argv.slice(2));
