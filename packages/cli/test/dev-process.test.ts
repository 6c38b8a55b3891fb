import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ManagedProcess, waitFor } from '@backbeat/testing';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = fileURLToPath(new URL('../bin/backbeat.js', import.meta.url));

/** Every process below `pid` (children, grandchildren ...). */
function descendants(pid: number): number[] {
  let kids: number[] = [];
  try {
    kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return kids.flatMap((k) => [k, ...descendants(k)]);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The top-level keys of a JSON object text, repeats included (JSON.parse keeps only the last). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && /^\s*:/.test(text.slice(j + 1))) keys.push(text.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

describe('npm start - the process tree', () => {
  it('npm start - SIGTERM to npm stops the dev server and every process under it', async () => {
    const p = ManagedProcess.spawn('npm', ['start', '--', '--port', '0', '--agents', '1'], {
      cwd: root,
      env: { BACKBEAT_LOG_FORMAT: 'json', BACKBEAT_ADMIN_TOKEN: '' },
    });
    let tree: number[] = [];
    try {
      await p.waitForOutput(/dashboard at http:\/\/127\.0\.0\.1:\d+\//, 30_000);
      tree = descendants(p.pid!);
      expect(tree.length).toBeGreaterThan(0);
      p.kill('SIGTERM');
      await waitFor(() => !p.running && tree.every((pid) => !alive(pid)), {
        timeoutMs: 8000,
        message: 'npm and every process under it to exit',
      });
    } finally {
      await p.stop();
      for (const pid of tree) if (alive(pid)) process.kill(pid, 'SIGKILL'); // never leave an orphan behind
    }
  }, 45_000);
});

describe('backbeat dev - logs', () => {
  it('dev - every JSON log line is one object with no key twice', async () => {
    const p = ManagedProcess.node(bin, ['dev', '--port', '0', '--agents', '2', '--pulse-nodes', '2', '--bpm', '240'], {
      env: { BACKBEAT_LOG_FORMAT: 'json', BACKBEAT_ADMIN_TOKEN: '' },
    });
    try {
      await p.waitForOutput(/dashboard at/, 20_000);
      await waitFor(() => p.stdout.split('\n').filter((l) => l.startsWith('{')).length >= 10, {
        timeoutMs: 10_000,
        message: 'ten log lines',
      });
    } finally {
      await p.stop();
    }
    const lines = p.stdout.split('\n').filter((l) => l.startsWith('{'));
    for (const l of lines) {
      expect(() => JSON.parse(l)).not.toThrow();
      const keys = topLevelKeys(l);
      expect(
        keys.filter((k, i) => keys.indexOf(k) !== i),
        l,
      ).toEqual([]);
    }
  });
});
