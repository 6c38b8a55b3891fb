import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLAIM_STATES, MESSAGE_TYPES, PHASES, SEVERITIES, loadSchemas, PACKAGED_SCHEMA_DIR } from '@backbeat/contracts';

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; items?: Schema };
const schemaDir = fileURLToPath(new URL('../schemas/', import.meta.url));
const schema = (type: string): Schema =>
  JSON.parse(readFileSync(join(schemaDir, `${type}.schema.json`), 'utf8')) as Schema;
const TYPES = Object.values(MESSAGE_TYPES);
const generator = fileURLToPath(new URL('../scripts/generate.mjs', import.meta.url));
const generated = fileURLToPath(new URL('../src/generated/types.ts', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'bb-contracts-gen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every sub-schema with the JSON path that leads to it. */
function walk(s: Schema, at: string): [string, Schema][] {
  const props = Object.entries(s.properties ?? {}).flatMap(([k, v]) => walk(v, `${at}.${k}`));
  const items = s.items ? walk(s.items, `${at}[]`) : [];
  return [[at, s], ...props, ...items];
}

describe('schemas - shape', () => {
  it.each(TYPES)('schemas - %s is draft 2020-12 with its $id, title and a const type', (type) => {
    const s = schema(type);
    expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(s.$id).toBe(`https://backbeat.dev/schemas/${type}.schema.json`);
    expect(s.title).toMatch(/^[A-Z]\w+$/);
    expect(s.properties?.type).toMatchObject({ const: type });
  });

  it.each(TYPES)('schemas - %s forbids unknown fields in every object', (type) => {
    const loose = walk(schema(type), type).filter(([, s]) => s.type === 'object' && s.additionalProperties !== false);
    expect(loose.map(([at]) => at)).toEqual([]);
  });

  it.each(TYPES)('schemas - %s gives every property a title and a description', (type) => {
    const props = walk(schema(type), type).filter(([at]) => at !== type && !at.endsWith('[]'));
    expect(props.length).toBeGreaterThan(4);
    const bare = props.filter(
      ([, s]) =>
        typeof s.title !== 'string' || typeof s.description !== 'string' || (s.description as string).length < 10,
    );
    expect(bare.map(([at]) => at)).toEqual([]);
  });

  it('schemas - compile in Ajv strict mode, also from a copied directory (--schemas)', () => {
    expect(loadSchemas(PACKAGED_SCHEMA_DIR).types).toEqual([...TYPES].sort());
  });
});

describe('schemas - enums and generated types', () => {
  it('enums - PHASES, CLAIM_STATES and SEVERITIES equal the schema enums', () => {
    const frame = schema(MESSAGE_TYPES.beatFrame).properties!;
    expect([...PHASES]).toEqual(frame.phase!.enum);
    expect([...PHASES]).toEqual(frame.phases!.items!.enum);
    expect([...CLAIM_STATES]).toEqual(schema(MESSAGE_TYPES.statusClaim).properties!.state!.enum);
    const report = schema(MESSAGE_TYPES.barReport).properties!;
    expect([...SEVERITIES]).toEqual(report.issues!.items!.properties!.severity!.enum);
    expect([...CLAIM_STATES]).toEqual(Object.keys(report.state_counts!.properties!));
  });

  it('generate - --check passes: the committed types are what the schemas give', () => {
    const out = execFileSync(process.execPath, [generator, '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/up to date/);
    const text = readFileSync(generated, 'utf8');
    expect(text).toMatch(/GENERATED FILE - DO NOT EDIT/);
    expect(text).toMatch(/node packages\/contracts\/scripts\/generate\.mjs/);
    for (const name of ['BeatFrame', 'StatusClaim', 'BarReport', 'BarIssue', 'StateCounts', 'BarPerformance']) {
      expect(text).toMatch(new RegExp(`export interface ${name} \\{`));
    }
  });

  it('generate - --check exits 1 with a clear message when the types drift', () => {
    const drifted = join(tmp, 'types.ts');
    writeFileSync(drifted, readFileSync(generated, 'utf8').replace('tempo_bpm: number;', 'tempo_bpm: string;'));
    const r = spawnSync(process.execPath, [generator, '--check', '--out', drifted], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/differs from what the schemas give/);
    expect(r.stderr).toMatch(/Regenerate it with: node packages\/contracts\/scripts\/generate\.mjs/);
  });

  it('generate - writes a missing file, then leaves it untouched', () => {
    const fresh = join(tmp, 'fresh', 'types.ts');
    expect(spawnSync(process.execPath, [generator, '--out', fresh], { encoding: 'utf8' }).stdout).toMatch(/wrote/);
    expect(readFileSync(fresh, 'utf8')).toBe(readFileSync(generated, 'utf8'));
    expect(spawnSync(process.execPath, [generator, '--out', fresh], { encoding: 'utf8' }).stdout).toBe('');
  });
});
