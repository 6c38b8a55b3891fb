/** Messages the contracts tests share (frozen: a test that needs another shape spreads it). */

/** A valid StatusClaim with only its required fields. */
export const claim = Object.freeze({
  type: 'backbeat.statusclaim.v1',
  agent_id: 'agent:a1',
  beat_index: 3,
  state: 'executing',
  hlc: '7ffd:0001:abcd',
});
