#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the root prepare step).
import { main } from '../dist/main.js';

await main(process.argv);
