// History export: the CSV is parsed back by hand-written expectations, formulas are defused,
// and a reported mistake carries the label opposite to its verdict.

import { describe, expect, it } from 'vitest';
import { historyToCsv, historyToJson } from '../../src/options/export';
import type { HistoryEntry } from '../../src/shared/protocol/ui';

const base: HistoryEntry = {
  id: 1,
  url: 'https://img.example/a.jpg',
  pageUrl: 'https://news.example/story',
  pageTitle: 'A story, "quoted"',
  site: 'news.example',
  pGenerated: 0.8,
  threshold: 0.5,
  modelId: 'realfake-fixture',
  time: Date.UTC(2026, 10, 25, 12, 0, 0),
  thumbnail: 'data:image/jpeg;base64,AAAA',
  mistake: false,
};

describe('history export', () => {
  it('writes one CSV row per entry with quoting', () => {
    const csv = historyToCsv([base]).split('\r\n');
    expect(csv[0]).toBe('time,verdict,pGenerated,threshold,reportedWrong,label,modelId,site,pageTitle,pageUrl,url');
    expect(csv[1]).toBe(
      '2026-11-25T12:00:00.000Z,likely generated,0.8,0.5,false,,realfake-fixture,news.example,"A story, ""quoted""",https://news.example/story,https://img.example/a.jpg',
    );
    expect(csv[2]).toBe('');
  });

  it('defuses cells a spreadsheet would run as formulas', () => {
    const csv = historyToCsv([{ ...base, pageTitle: '=HYPERLINK("http://evil")' }]);
    expect(csv).toContain(`"'=HYPERLINK(""http://evil"")"`);
  });

  it('labels a reported mistake with the opposite of its verdict, and leaves thumbnails out of JSON', () => {
    const json = JSON.parse(historyToJson([{ ...base, mistake: true }, { ...base, id: 2, pGenerated: 0.1, mistake: true }, { ...base, id: 3 }]));
    expect(json.map((e: { label: string | null }) => e.label)).toEqual(['real', 'generated', null]);
    expect(json[0].thumbnail).toBeUndefined();
  });
});
