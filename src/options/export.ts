// History export: JSON as stored, CSV for spreadsheets; the whole history or only the reported
// mistakes (the local labelled set). Pure, so the tests can check it.

import { isGenerated } from '../detector/scores';
import type { HistoryEntry } from '../shared/protocol/ui';

const COLUMNS = ['time', 'verdict', 'pGenerated', 'threshold', 'reportedWrong', 'label', 'modelId', 'site', 'pageTitle', 'pageUrl', 'url'] as const;

/** A reported mistake is a labelled example: the label is the opposite of the verdict. */
function label(e: Pick<HistoryEntry, 'mistake' | 'pGenerated' | 'threshold'>): string {
  if (!e.mistake) return '';
  return isGenerated(e.pGenerated, e.threshold) ? 'real' : 'generated';
}

function csvCell(v: string | number | boolean): string {
  let s = String(v);
  // Cells that a spreadsheet would run as a formula are defused.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function historyToCsv(entries: HistoryEntry[]): string {
  const rows = entries.map((e) =>
    [
      new Date(e.time).toISOString(),
      isGenerated(e.pGenerated, e.threshold) ? 'likely generated' : 'likely real',
      e.pGenerated,
      e.threshold,
      e.mistake,
      label(e),
      e.modelId,
      e.site,
      e.pageTitle,
      e.pageUrl,
      e.url,
    ].map(csvCell),
  );
  return [COLUMNS.join(','), ...rows.map((r) => r.join(','))].join('\r\n') + '\r\n';
}

export function historyToJson(entries: HistoryEntry[]): string {
  return JSON.stringify(
    entries.map(({ thumbnail: _t, ...e }) => ({ ...e, label: label(e) || null })),
    null,
    2,
  );
}

/** The entries reported as wrong: each a labelled example (see `label`). */
export function reportedMistakes(entries: HistoryEntry[]): HistoryEntry[] {
  return entries.filter((e) => e.mistake);
}
