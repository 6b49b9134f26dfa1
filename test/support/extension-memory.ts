// Memory of the processes of the browser this test process launched, read from /proc: the benches'
// way to report peak memory (resident and private) while the extension works.

import { readdirSync, readFileSync } from 'node:fs';

/** The parent of each process on the machine. */
function parents(): Map<string, string> {
  const out = new Map<string, string>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      out.set(pid, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '');
    } catch {
      // the process ended
    }
  }
  return out;
}

/** Peak memory (MiB) of one process: all resident pages, and its private part. */
export interface PeakMemory {
  rssMb: number;
  /**
   * Resident memory less file-backed pages (RssAnon + RssShmem): what this process costs. The
   * file-backed part is mostly the browser binary's code (about 110 MiB for Chromium), shared by
   * every process of the browser and the same with or without a model.
   */
  privateMb: number;
}

/** A process of this bench's browser, by its command line and its name (/proc/PID/comm). */
export type ProcessFilter = (cmdline: string, comm: string) => boolean;
/** Chromium's extension process (which hosts the offscreen document). */
export const CHROMIUM_EXTENSION_PROCESS: ProcessFilter = (cmd) => cmd.includes('--extension-process');
/** Firefox's extension process (which hosts the event page and the engine's frame). */
export const FIREFOX_EXTENSION_PROCESS: ProcessFilter = (cmd, comm) => comm === 'WebExtensions' && cmd.includes('-contentproc');
/** Every Firefox process (the parent included). */
export const FIREFOX_PROCESSES: ProcessFilter = (cmd) => cmd.includes('firefox');

/**
 * Peak memory of the largest process the filter picks (`sum`: of all of them together, sampled at
 * once), sampled every `intervalMs` until stopped. Only descendants of this process count: other
 * browsers on the machine (another test run) have extension processes too.
 */
export function watchMemory(filter: ProcessFilter, mode: 'largest' | 'sum' = 'largest', intervalMs = 200): () => PeakMemory | null {
  const peak: PeakMemory = { rssMb: 0, privateMb: 0 };
  const kb = (status: string, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  const sample = (): void => {
    const parent = parents();
    const ours = (pid: string): boolean => {
      for (let p: string | undefined = pid, n = 0; p && n < 32; p = parent.get(p), n++) if (p === String(process.pid)) return true;
      return false;
    };
    const now: PeakMemory = { rssMb: 0, privateMb: 0 };
    for (const pid of parent.keys()) {
      try {
        if (!ours(pid)) continue;
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        if (!filter(cmd, comm)) continue;
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const rss = kb(status, 'VmRSS') / 1024;
        const priv = (kb(status, 'RssAnon') + kb(status, 'RssShmem')) / 1024;
        if (mode === 'sum') {
          now.rssMb += rss;
          now.privateMb += priv;
        } else {
          now.rssMb = Math.max(now.rssMb, rss);
          now.privateMb = Math.max(now.privateMb, priv);
        }
      } catch {
        // the process ended
      }
    }
    peak.rssMb = Math.max(peak.rssMb, now.rssMb);
    peak.privateMb = Math.max(peak.privateMb, now.privateMb);
  };
  const timer = setInterval(sample, intervalMs);
  return () => {
    clearInterval(timer);
    sample();
    return peak.rssMb > 0 ? peak : null;
  };
}
