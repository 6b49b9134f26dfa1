// Memory of the extension processes of the Chromium this test process launched, read from /proc:
// the benches' way to report peak memory (resident and private) while the extension works.

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
   * file-backed part is mostly the Chromium binary's code (about 110 MiB), shared by every
   * Chromium process and the same with or without a model.
   */
  privateMb: number;
}

/**
 * Peak memory of the largest of this bench's own Chromium extension processes, sampled until
 * stopped. Only descendants of this process count: other Chromiums on the machine (another test
 * run) have extension processes too.
 */
export function watchExtensionMemory(intervalMs = 200): () => PeakMemory | null {
  const peak: PeakMemory = { rssMb: 0, privateMb: 0 };
  const kb = (status: string, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  const sample = (): void => {
    const parent = parents();
    const ours = (pid: string): boolean => {
      for (let p: string | undefined = pid, n = 0; p && n < 32; p = parent.get(p), n++) if (p === String(process.pid)) return true;
      return false;
    };
    for (const pid of parent.keys()) {
      try {
        if (!ours(pid)) continue;
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (!cmd.includes('--extension-process')) continue;
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        peak.rssMb = Math.max(peak.rssMb, kb(status, 'VmRSS') / 1024);
        peak.privateMb = Math.max(peak.privateMb, (kb(status, 'RssAnon') + kb(status, 'RssShmem')) / 1024);
      } catch {
        // the process ended
      }
    }
  };
  const timer = setInterval(sample, intervalMs);
  return () => {
    clearInterval(timer);
    sample();
    return peak.rssMb > 0 ? peak : null;
  };
}
