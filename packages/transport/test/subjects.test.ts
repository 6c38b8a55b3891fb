import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InvalidArgumentError } from '@backbeat/core';
import { clusterNames, InvalidSubjectError, subjects } from '@backbeat/transport';
import {
  assertKvKey,
  assertSubject,
  resolveStreamConfig,
  subjectMatches,
  subjectsOverlap,
} from '@backbeat/transport/internal';

const token = fc.stringMatching(/^[a-z0-9_-]{1,4}$/);
const subject = fc.array(token, { minLength: 1, maxLength: 5 });

describe('subjects - names of a cluster (docs/spec.md §3 Subjects and shared state)', () => {
  it('subjects - one subject per message type under backbeat.<cluster>', () => {
    expect(subjects('chorus-aus-01')).toMatchObject({
      beat: 'backbeat.chorus-aus-01.beat',
      status: 'backbeat.chorus-aus-01.status',
      reverb: 'backbeat.chorus-aus-01.reverb',
      control: 'backbeat.chorus-aus-01.control',
      dlq: 'backbeat.chorus-aus-01.dlq',
    });
    expect(clusterNames('c_1')).toEqual({
      stateBucket: 'backbeat_c_1_state',
      leaseBucket: 'backbeat_c_1_lease',
      presenceBucket: 'backbeat_c_1_presence',
      statusStream: 'BACKBEAT_c_1_STATUS',
      reportStream: 'BACKBEAT_c_1_REPORTS',
    });
    for (const bad of ['', 'a.b', '-a', 'a b', 'a*', 'x'.repeat(65)]) {
      expect(() => subjects(bad), bad).toThrow(InvalidArgumentError);
      expect(() => clusterNames(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => subjects('x'.repeat(64))).not.toThrow();
  });

  it('subjects - * stands for one token and > for the rest, exactly', () => {
    fc.assert(
      fc.property(subject, fc.array(fc.boolean(), { maxLength: 5 }), fc.nat(5), (tokens, stars, cut) => {
        const s = tokens.join('.');
        const starred = tokens.map((t, i) => (stars[i] ? '*' : t));
        expect(subjectMatches(starred.join('.'), s)).toBe(true);
        const k = Math.min(cut, tokens.length - 1);
        expect(subjectMatches([...starred.slice(0, k), '>'].join('.'), s)).toBe(true);
        expect(subjectMatches([...starred, '>'].join('.'), s)).toBe(false); // > needs one more token
        expect(subjectMatches(`${s}.x`, s)).toBe(false);
      }),
    );
  });

  it('subjects - overlap is symmetric and holds whenever one pattern matches a subject of the other', () => {
    fc.assert(
      fc.property(subject, subject, (a, b) => {
        const x = a.join('.');
        const y = b.join('.');
        expect(subjectsOverlap(x, y)).toBe(subjectsOverlap(y, x));
        expect(subjectsOverlap(x, y)).toBe(x === y);
        expect(subjectsOverlap(`${a[0]}.>`, y)).toBe(b.length > 1 && b[0] === a[0]);
      }),
    );
    expect(subjectsOverlap('a.*.c', 'a.b.*')).toBe(true);
    expect(subjectsOverlap('a.>', 'a')).toBe(false);
  });

  it('subjects - bad subjects and keys are refused with the rule', () => {
    expect(() => assertSubject('a.>.b', true)).toThrow(/must be the last token/);
    expect(() => assertSubject('a.*', false)).toThrow(/wildcards/);
    expect(() => assertKvKey('.lease')).toThrow(InvalidSubjectError);
    expect(() => assertKvKey('a.>', true)).not.toThrow();
    expect(() => assertKvKey('a.>')).toThrow(InvalidSubjectError);
  });

  it('streams - defaults: a two-minute duplicate window, shortened to a shorter max age', () => {
    expect(resolveStreamConfig({ name: 'S', subjects: ['s'] })).toMatchObject({
      maxAgeMs: 0,
      maxMsgs: 0,
      maxBytes: 0,
      duplicateWindowMs: 120_000,
    });
    expect(resolveStreamConfig({ name: 'S', subjects: ['s'], maxAgeMs: 60_000 }).duplicateWindowMs).toBe(60_000);
    expect(() => resolveStreamConfig({ name: 'S', subjects: ['s'], maxMsgs: -1 })).toThrow(InvalidArgumentError);
  });
});
