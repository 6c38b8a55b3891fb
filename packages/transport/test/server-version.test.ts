import { describe, expect, it } from 'vitest';
import { compareServerVersions } from '@backbeat/transport';

describe('server version - compareServerVersions', () => {
  it('server version - dotted versions compare numerically; a v prefix and a pre-release tail are ignored', () => {
    expect(compareServerVersions('2.9.21', '2.10.0')).toBeLessThan(0);
    expect(compareServerVersions('2.10.0', '2.9.21')).toBeGreaterThan(0);
    expect(compareServerVersions('v2.14.10', '2.14.10')).toBe(0);
    expect(compareServerVersions('2.11.7-RC.1', '2.11.7')).toBe(0);
    expect(compareServerVersions('2.10', '2.10.0')).toBe(0);
    expect(compareServerVersions('2.14.10', '2.14.9')).toBeGreaterThan(0);
  });
});
