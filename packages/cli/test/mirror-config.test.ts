/**
 * The VIEW mirrors' configuration (docs/security.md Roles): the origin's limits, and its limit
 * markers carried as messages.
 */
import { describe, expect, it } from 'vitest';
import { mirrorConfig, mirroredOrigins, ORIGIN_API_PREFIX } from '../src/mirror-config.js';

const C = 'chorus-aus-01';
const lease = { max_age: 2e9, max_msgs: -1, max_bytes: -1, max_msgs_per_subject: 1, storage: 'file' };

describe('mirror-config - the VIEW mirrors', () => {
  it(
    'mirror-config - a mirror has its origin name, limits and replicas, reads ' +
      'through the BACKBEAT API and forbids deletes and purges',
    () => {
      expect(mirroredOrigins(C)).toEqual([
        `KV_backbeat_${C}_lease`,
        `KV_backbeat_${C}_state`,
        `KV_backbeat_${C}_presence`,
        `BACKBEAT_${C}_DLQ`,
      ]);
      expect(mirrorConfig(C, `KV_backbeat_${C}_lease`, lease, 3)).toEqual({
        name: `KV_backbeat_${C}_lease`,
        mirror: {
          name: `KV_backbeat_${C}_lease`,
          external: { api: ORIGIN_API_PREFIX, deliver: `backbeat.${C}.mirror.KV_backbeat_${C}_lease` },
        },
        max_age: 2e9,
        max_msgs: -1,
        max_bytes: -1,
        max_msgs_per_subject: 1,
        storage: 'file',
        allow_direct: true,
        deny_delete: true,
        deny_purge: true,
        num_replicas: 3,
      });
    },
  );

  it(
    'mirror-config - a lease bucket with limit markers: the mirror takes message TTLs (each marker expires as in ' +
      'the origin) and never a marker TTL of its own, which the server refuses on a mirror',
    () => {
      const withMarkers = mirrorConfig(
        C,
        `KV_backbeat_${C}_lease`,
        { ...lease, allow_msg_ttl: true, subject_delete_marker_ttl: 2e9 },
        3,
      );
      expect(withMarkers.allow_msg_ttl).toBe(true);
      expect(withMarkers).not.toHaveProperty('subject_delete_marker_ttl');
      // an origin that reports the marker TTL alone (allow_msg_ttl is implied by the server)
      expect(
        mirrorConfig(C, `KV_backbeat_${C}_lease`, { ...lease, subject_delete_marker_ttl: 2e9 }, 3).allow_msg_ttl,
      ).toBe(true);
      expect(mirrorConfig(C, `KV_backbeat_${C}_lease`, lease, 3)).not.toHaveProperty('allow_msg_ttl');
    },
  );
});
