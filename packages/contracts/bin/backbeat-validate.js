#!/usr/bin/env node
// Thin launcher: the compiled validator CLI lives in dist/ (built by `npm ci` through the root prepare step).
import { runValidateCli } from '../dist/cli.js';

process.exitCode = await runValidateCli(process.argv.slice(2));
