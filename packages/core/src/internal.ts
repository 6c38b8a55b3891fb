/**
 * @backbeat/core/internal: the parts of core that are not its public API, for tests
 * (`import { ... } from '@backbeat/core/internal'`). Source code imports `@backbeat/core` only
 * (eslint refuses the subpath there).
 */
export { SAFE_METHODS, hostnameOf } from './http-guard.js';
export { HLC_MAX_COUNTER } from './hlc-wire.js';
