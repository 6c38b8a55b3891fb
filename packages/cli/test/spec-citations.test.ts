/**
 * References that resolve: every citation of the project's specification in the repository's
 * source and docs has the form `docs/spec.md §N Title`, where N and Title are those of a
 * `## N. Title` heading of docs/spec.md today, and the numbered forms of an older numbering
 * are gone. Pure: reads files, starts nothing.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The section sign, written as an escape so this file's own text cites nothing. */
const SECTION = '\u00a7';

/** `## N. Title` headings of a spec text, by number. */
export function specSections(spec: string): Map<number, string> {
  const sections = new Map<number, string>();
  for (const m of spec.matchAll(/^## (\d+)\. (.+?)\s*$/gm)) sections.set(Number(m[1]), m[2]!);
  return sections;
}

/** Between two words of a title: spaces, or a line break with the next line's comment marker. */
const GAP = String.raw`(?:[ \t]*\r?\n[ \t]*(?:\/\/+|\*|#)?[ \t]*|[ \t]+)`;

function titlePattern(title: string): RegExp {
  const words = title.split(/\s+/).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`${GAP}${words.join(GAP)}(?![\\w-])`, 'y');
}

/** An old citation: the word SPEC (any case) with a number, or "spec section N". */
const OLD_FORM = new RegExp(String.raw`\bSPEC(?:[ \t]+section)?[ \t]+\d+|\bspec[ \t]+section[ \t]+\d+`, 'gi');
const CITED = new RegExp(`${SECTION}(\\d+)`, 'g');

const DECISION = /docs\/decisions\/(\d{4}-[a-z0-9-]+\.md)/g;

/**
 * The problems of one file's text, one line each: `line N: ...`. Every section sign followed
 * by a number must be followed by that section's title; no old form may remain; every
 * `docs/decisions/NNNN-name.md` cited must be one of `decisions`.
 */
export function citationProblems(
  text: string,
  sections: Map<number, string>,
  decisions: ReadonlySet<string> = new Set(),
): string[] {
  const problems: string[] = [];
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  for (const m of text.matchAll(OLD_FORM)) {
    problems.push(`line ${lineOf(m.index)}: '${m[0]}' is an old citation; write docs/spec.md ${SECTION}N Title`);
  }
  for (const m of text.matchAll(CITED)) {
    const n = Number(m[1]);
    const title = sections.get(n);
    if (title === undefined) {
      problems.push(`line ${lineOf(m.index)}: ${m[0]} is not a section of docs/spec.md`);
      continue;
    }
    const pattern = titlePattern(title);
    pattern.lastIndex = m.index + m[0].length;
    if (!pattern.test(text)) {
      const said = text
        .slice(m.index, m.index + m[0].length + title.length + 12)
        .split('\n')[0]!
        .trimEnd();
      problems.push(`line ${lineOf(m.index)}: '${said}' must read '${SECTION}${n} ${title}'`);
    }
  }
  for (const m of text.matchAll(DECISION)) {
    if (!decisions.has(m[1]!)) problems.push(`line ${lineOf(m.index)}: ${m[0]} does not exist`);
  }
  return problems;
}

const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'coverage', 'test-results']);
const SCANNED = /\.(ts|mts|cts|js|mjs|cjs|go|json|sh|ya?ml|md)$/;

function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return SKIP_DIRS.has(name) ? [] : filesUnder(p);
    return SCANNED.test(name) && name !== 'package-lock.json' ? [p] : [];
  });
}

/** The groups checked, each its own test: every package, scripts, bench, sdk-go, deploy, docs, the root. */
function groups(): Array<[string, string[]]> {
  const packages = readdirSync(join(root, 'packages')).map((p): [string, string[]] => [
    `packages/${p}`,
    filesUnder(join(root, 'packages', p)),
  ]);
  const rootFiles = readdirSync(root)
    .filter((name) => SCANNED.test(name) && name !== 'package-lock.json')
    .map((name) => join(root, name));
  const docs = filesUnder(join(root, 'docs')).filter((f) => relative(root, f) !== 'docs/spec.md');
  return [
    ...packages,
    ['scripts', filesUnder(join(root, 'scripts'))],
    ['bench', filesUnder(join(root, 'bench'))],
    ['sdk-go', filesUnder(join(root, 'sdk-go'))],
    ['deploy', filesUnder(join(root, 'deploy'))],
    ['docs', docs],
    ['root', rootFiles],
  ];
}

const sections = specSections(readFileSync(join(root, 'docs/spec.md'), 'utf8'));
const decisions = new Set(readdirSync(join(root, 'docs/decisions')));

describe('spec citations - the checker', () => {
  const spec = '# x\n\n## 7. Election, terms and fencing\n\ntext\n\n## 12. Known pitfalls\n';
  const s = specSections(spec);

  it('spec citations - reads the numbered second-level headings', () => {
    expect([...s]).toEqual([
      [7, 'Election, terms and fencing'],
      [12, 'Known pitfalls'],
    ]);
  });

  it('spec citations - accepts the number with its title, on one line or wrapped in a comment', () => {
    const one = `// docs/spec.md ${SECTION}7 Election, terms and fencing.`;
    const wrapped =
      `/**\n * (docs/spec.md ${SECTION}7 Election, terms\n * and ` + `fencing; ${SECTION}12 Known pitfalls)\n */`;
    const go = `// docs/spec.md ${SECTION}12 Known\n// pitfalls`;
    expect([one, wrapped, go].flatMap((t) => citationProblems(t, s))).toEqual([]);
  });

  it(
    'spec citations - refuses a wrong title, a missing title, an unknown ' +
      'section, the old forms and a missing decision',
    () => {
      const text = [
        `// docs/spec.md ${SECTION}7 Degradation and grid timing`,
        `// docs/spec.md ${SECTION}12)`,
        `// docs/spec.md ${SECTION}99 Nothing`,
        `// docs/spec.md ${SECTION}7 Election, terms and fencings`,
        `// the lease (${'SP'}EC 6), the grid (${'SP'}EC section 4), see ${'sp'}ec section 12`,
        `// see docs/decisions/${'0001-here.md'} and docs/decisions/${'0002-gone.md'}`,
      ].join('\n');
      expect(citationProblems(text, s, new Set(['0001-here.md']))).toEqual([
        `line 5: '${'SP'}EC 6' is an old citation; write docs/spec.md ${SECTION}N Title`,
        `line 5: '${'SP'}EC section 4' is an old citation; write docs/spec.md ${SECTION}N Title`,
        `line 5: '${'sp'}ec section 12' is an old citation; write docs/spec.md ${SECTION}N Title`,
        `line 1: '${SECTION}7 Degradation and grid timing' must read '${SECTION}7 Election, terms and fencing'`,
        `line 2: '${SECTION}12)' must read '${SECTION}12 Known pitfalls'`,
        `line 3: ${SECTION}99 is not a section of docs/spec.md`,
        `line 4: '${SECTION}7 Election, terms and fencings' must read '${SECTION}7 Election, terms and fencing'`,
        `line 6: docs/decisions/${'0002-gone.md'} does not exist`,
      ]);
    },
  );
});

describe('spec citations - every citation in the repository names a section of docs/spec.md', () => {
  it('spec citations - docs/spec.md has its numbered sections', () => {
    expect(sections.size).toBeGreaterThanOrEqual(10);
  });

  it.each(groups())('spec citations - %s', (_group, files) => {
    const problems = files.flatMap((f) =>
      citationProblems(readFileSync(f, 'utf8'), sections, decisions).map((p) => `${relative(root, f)} ${p}`),
    );
    expect(problems).toEqual([]);
  });
});
