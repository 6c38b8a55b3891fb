import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultValidator, MESSAGE_TYPES } from '@backbeat/contracts';

const root = fileURLToPath(new URL('../examples/', import.meta.url));
const typeOfDir = { beatframe: MESSAGE_TYPES.beatFrame, statusclaim: MESSAGE_TYPES.statusClaim, barreport: MESSAGE_TYPES.barReport } as const;
const load = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as unknown;

describe.each(Object.entries(typeOfDir))('examples - %s', (dir, type) => {
  const valid = readdirSync(join(root, 'valid', dir));
  const invalid = readdirSync(join(root, 'invalid', dir));

  it('examples - at least 12 valid and 12 invalid messages', () => {
    expect(valid.length).toBeGreaterThanOrEqual(12);
    expect(invalid.length).toBeGreaterThanOrEqual(12);
  });

  it.each(valid)('valid - %s is accepted', (file) => {
    const r = defaultValidator().validate(load(join(root, 'valid', dir, file)));
    expect(r.valid ? [] : r.errors).toEqual([]);
    expect(r.type).toBe(type);
  });

  it.each(invalid)('invalid - %s breaks exactly the rule its name says', (file) => {
    const [path, rule] = file.replace(/\.json$/, '').split('--') as [string, string];
    const r = defaultValidator().validateAs(type, load(join(root, 'invalid', dir, file)));
    expect(r.valid).toBe(false);
    if (r.valid) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ path: `/${path.split('.').join('/')}`, rule });
    expect(r.errors[0]!.message.length).toBeGreaterThan(10);
  });
});
