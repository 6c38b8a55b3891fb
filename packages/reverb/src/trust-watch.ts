/**
 * Reloads the trust file when it changes (docs/spec.md §10 Security, Trust file): it watches
 * the file's directory, not the file's inode, so any number of atomic replaces (a new file
 * renamed over it, a swapped symlink as a Kubernetes ConfigMap does) and in-place rewrites
 * are seen; a signal (SIGHUP) reloads it too. A change is read once it settled
 * (`debounceMs`), and only a content that differs from the one in force is loaded. A file
 * that cannot be read or parsed keeps the previous keys in force.
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { TrustFileError } from './errors.js';
import { TrustStore } from './trust.js';

/** What {@link watchTrustFile} tells its owner. */
export interface TrustWatchHooks {
  /** A new trust store was loaded (`why`: 'file changed' or the signal's name). */
  onLoad(store: TrustStore, why: string): void;
  /** The file could not be read or parsed: the previous keys stay in force. */
  onError(err: TrustFileError, why: string): void;
  /** Wait this long after the last change before reading. @default 100 */
  debounceMs?: number;
  /** Where the reload signal comes from. @default process */
  signals?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  /** The signal that forces a reload. @default 'SIGHUP' */
  signal?: string;
}

/** A running watch. */
export interface TrustWatch {
  /** Reads the file now and loads it (even when unchanged). */
  reload(why: string): void;
  /** Stops watching. */
  close(): void;
}

/**
 * Watches `file` (loaded already by the caller: the content found now is the one in force)
 * and calls `onLoad` with each new content. @throws TrustFileError when the directory cannot be watched
 */
export function watchTrustFile(file: string, hooks: TrustWatchHooks): TrustWatch {
  const { debounceMs = 100, signals = process, signal = 'SIGHUP' } = hooks;
  let last: string | undefined;
  try {
    last = readFileSync(file, 'utf8');
  } catch {
    last = undefined; // loaded at the first change
  }
  let timer: NodeJS.Timeout | undefined;
  const load = (why: string, force: boolean) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Between an unlink and the rename of its successor the file may be missing for a moment: the next event reads
      // it.
      if (code === 'ENOENT' && !force) return;
      hooks.onError(
        new TrustFileError(file, code === 'ENOENT' ? 'no such file' : (err as Error).message, { cause: err }),
        why,
      );
      return;
    }
    if (!force && text === last) return;
    let store: TrustStore;
    try {
      store = TrustStore.parse(text, file);
    } catch (err) {
      last = text; // reported once, not at every event until it changes
      hooks.onError(err as TrustFileError, why);
      return;
    }
    last = text;
    hooks.onLoad(store, why);
  };
  let watcher: FSWatcher;
  try {
    // Every event of the directory may concern the file: its own name, a temporary file renamed
    // over it, or a symlink it resolves through (a ConfigMap's ..data). A debounced read that
    // compares the content settles it; other files of the directory cost one read of it.
    watcher = watch(dirname(file), () => {
      clearTimeout(timer);
      timer = setTimeout(() => load('file changed', false), debounceMs);
    });
  } catch (err) {
    throw new TrustFileError(file, `cannot watch its directory: ${(err as Error).message}`, { cause: err });
  }
  watcher.on('error', () => {}); // a removed directory: SIGHUP still reloads
  const onSignal = () => load(signal, true);
  signals.on(signal, onSignal);
  return {
    reload: (why) => load(why, true),
    close: () => {
      clearTimeout(timer);
      watcher.close();
      signals.off(signal, onSignal);
    },
  };
}
