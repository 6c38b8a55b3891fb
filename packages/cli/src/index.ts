/** @backbeat/cli: the `backbeat` command. Run `backbeat --help`. */
export { main, buildProgram } from './main.js';
export { UsageError, CLI_ERROR_CODES, intFlag, numberFlag } from './usage.js';
