import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLAIM_STATES, PHASES, SEVERITIES, defaultValidator, MESSAGE_TYPES } from '@backbeat/contracts';

const root = fileURLToPath(new URL('../examples/', import.meta.url));
const typeOfDir = {
  beatframe: MESSAGE_TYPES.beatFrame,
  statusclaim: MESSAGE_TYPES.statusClaim,
  barreport: MESSAGE_TYPES.barReport,
} as const;
const load = (...p: string[]) => JSON.parse(readFileSync(join(root, ...p), 'utf8')) as Record<string, unknown>;
const files = (...p: string[]) => readdirSync(join(root, ...p)).filter((f) => f.endsWith('.json'));

/** `issues.0.severity--enum--note.json` -> the JSON Pointer and rule it names (examples/README.md). */
function expected(file: string): { path: string; rule: string } {
  const [path, rule] = file.replace(/\.json$/, '').split('--') as [string, string | undefined];
  return { path: `/${path.split('.').join('/')}`, rule: rule ?? '(missing rule in the file name)' };
}

describe.each(Object.entries(typeOfDir))('examples - %s', (dir, type) => {
  it('examples - at least 12 valid and 12 invalid messages', () => {
    expect(files('valid', dir).length).toBeGreaterThanOrEqual(12);
    expect(files('invalid', dir).length).toBeGreaterThanOrEqual(12);
  });

  it.each(files('valid', dir))('valid - %s is accepted', (file) => {
    const r = defaultValidator().validate(load('valid', dir, file));
    expect(r.valid ? [] : r.errors).toEqual([]);
    expect(r.type).toBe(type);
  });

  it.each(files('invalid', dir))('invalid - %s breaks exactly the rule its name says', (file) => {
    const r = defaultValidator().validateAs(type, load('invalid', dir, file));
    expect(r.valid).toBe(false);
    if (r.valid) return;
    expect(r.errors).toEqual([{ ...expected(file), message: expect.stringMatching(/^.{12,}$/) }]);
  });
});

describe('examples - coverage', () => {
  const values = (dir: string, key: string) => files('valid', dir).map((f) => load('valid', dir, f)[key]);

  it('examples - the valid ones cover every phase, state and severity, and the seed HLC', () => {
    expect(new Set(values('beatframe', 'phase'))).toEqual(new Set(PHASES));
    expect(new Set(values('statusclaim', 'state'))).toEqual(new Set(CLAIM_STATES));
    const severities = values('barreport', 'issues').flatMap((i) =>
      (i as { severity: string }[]).map((x) => x.severity),
    );
    expect(new Set(severities)).toEqual(new Set(SEVERITIES));
    for (const dir of Object.keys(typeOfDir)) expect(values(dir, 'hlc')).toContain('7ffd:0001:abcd');
  });

  it('examples - the valid ones include the edges: beat 0, tempo 0.1 and 1000, negative drift, no issues', () => {
    expect(values('beatframe', 'beat_index')).toContain(0);
    expect(values('statusclaim', 'beat_index')).toContain(0);
    expect(values('barreport', 'from_beat')).toContain(0);
    expect(values('beatframe', 'tempo_bpm')).toEqual(expect.arrayContaining([0.1, 1000]));
    expect(values('barreport', 'tempo_drift_ms').some((d) => (d as number) < 0)).toBe(true);
    expect(values('barreport', 'issues')).toContainEqual([]);
  });
});
