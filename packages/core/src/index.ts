/**
 * @backbeat/core: the pure logic every BACKBEAT service shares. No I/O.
 *
 * ```ts
 * import { windowId } from '@backbeat/core';
 * windowId('chorus-aus-01', 16); // 32 lower-case hex chars (BACKBEAT-REQ-005)
 * ```
 */
export { BackbeatError, InvalidArgumentError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export { windowId, downbeatOf, windowIdForBeat } from './window.js';
