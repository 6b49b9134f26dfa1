// Checked images, newest first: thumbnail, score bar, verdict, page and time; this site or all,
// search, open the page or the image, report a mistake, clear.

import { useEffect, useState } from 'preact/hooks';
import type { HistoryEntry } from '../shared/protocol/ui';
import { describeEvidence } from '../shared/evidence-text';
import { isWebLink } from '../shared/url-policy';
import { isGenerated } from '../detector/scores';
import { DEFAULT_SETTINGS } from '../shared/settings';
import { percent } from '../shared/verdict-text';
import { clearHistory, currentThreshold, listHistory, markMistake } from './api';

function ago(time: number, now: number): string {
  const s = Math.max(0, Math.round((now - time) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(time).toLocaleDateString();
}

/** `threshold`: the one in force now, as the page's badges and the toolbar count use it. */
function Row({ e, threshold, onMistake }: { e: HistoryEntry; threshold: number; onMistake: (e: HistoryEntry) => void }) {
  const generated = isGenerated(e.pGenerated, threshold);
  const verdict = generated ? 'Likely generated' : 'Likely real';
  const evidence = e.evidence && e.evidence.state !== 'none' ? describeEvidence(e.evidence) : null;
  return (
    <li class={`entry ${generated ? 'generated' : 'real'}`} data-url={e.url}>
      {e.thumbnail ? <img class="thumb" src={e.thumbnail} alt="" /> : <span class="thumb none" aria-hidden="true" />}
      <div class="body">
        <div class="line">
          <span class="verdict">
            {verdict} {percent(e.pGenerated)}
          </span>
          <time class="muted" dateTime={new Date(e.time).toISOString()} title={new Date(e.time).toLocaleString()}>
            {ago(e.time, Date.now())}
          </time>
        </div>
        {evidence && (
          // What the file says about itself, apart from the score; the tooltip has the details.
          <div class="evidence muted" data-evidence={e.evidence?.state} title={evidence.text}>
            {evidence.label}
          </div>
        )}
        <div class="bar" role="img" aria-label={`score ${percent(e.pGenerated)}, threshold ${percent(threshold)}`}>
          <span style={{ width: percent(e.pGenerated) }} />
          {/* Where "likely generated" begins. */}
          <i class="mark" style={{ left: percent(threshold) }} />
        </div>
        <div class="line page">
          {isWebLink(e.pageUrl) ? (
            <a href={e.pageUrl} target="_blank" rel="noreferrer noopener" title={e.pageUrl}>
              {e.pageTitle || e.site || 'page'}
            </a>
          ) : (
            <span>{e.pageTitle || e.site}</span>
          )}
        </div>
        {/* The page gets a line of its own: its title is the longest text of the row. */}
        <div class="line actions">
          {isWebLink(e.url) && (
            <a href={e.url} target="_blank" rel="noreferrer noopener" title={e.url}>
              Open image
            </a>
          )}
          <button
            type="button"
            class={`link ${e.mistake ? 'reported' : ''}`}
            aria-pressed={e.mistake}
            title="Marks this verdict as wrong; kept on this computer only, as a labelled example"
            onClick={() => onMistake(e)}
          >
            {e.mistake ? 'Reported as wrong' : 'Report a mistake'}
          </button>
        </div>
      </div>
    </li>
  );
}

export function HistoryList({ site }: { site: string | null }) {
  const [scope, setScope] = useState<'site' | 'all'>(site ? 'site' : 'all');
  const [query, setQuery] = useState('');
  const [entries, setEntries] = useState<HistoryEntry[] | null>(null);
  const [threshold, setThreshold] = useState(DEFAULT_SETTINGS.threshold);
  const [version, setVersion] = useState(0);
  const [confirming, setConfirming] = useState(false);
  const filterSite = scope === 'site' ? site : null;

  useEffect(() => {
    let alive = true;
    void Promise.all([listHistory(filterSite, query.trim()), currentThreshold()]).then(([e, t]) => {
      if (!alive) return;
      setThreshold(t);
      setEntries(e);
    });
    return () => {
      alive = false;
    };
  }, [filterSite, query, version]);

  const toggleMistake = (e: HistoryEntry): void => {
    void markMistake(e.id, !e.mistake).then(() => setVersion((v) => v + 1));
  };
  const clear = (): void => {
    setConfirming(false);
    void clearHistory().then(() => setVersion((v) => v + 1));
  };

  return (
    <section class="history" aria-label="History">
      <div class="history-head">
        <h2>History</h2>
        <div class="scope" role="group" aria-label="Show">
          <button type="button" aria-pressed={scope === 'site'} disabled={!site} onClick={() => setScope('site')}>
            This site
          </button>
          <button type="button" aria-pressed={scope === 'all'} onClick={() => setScope('all')}>
            All
          </button>
        </div>
      </div>
      <input
        type="search"
        placeholder="Search pages and images"
        aria-label="Search history"
        value={query}
        onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
      />
      {entries === null ? (
        <p class="muted">Loading…</p>
      ) : entries.length === 0 ? (
        <p class="muted">{query ? 'Nothing matches.' : 'No images checked yet.'}</p>
      ) : (
        <ul>
          {entries.map((e) => (
            <Row key={e.id} e={e} threshold={threshold} onMistake={toggleMistake} />
          ))}
        </ul>
      )}
      {entries !== null && entries.length > 0 && !confirming && (
        <button type="button" class="link danger" onClick={() => setConfirming(true)}>
          Clear history…
        </button>
      )}
      {confirming && (
        <p class="confirm" role="alert">
          Delete the whole history? (Cached scores stay.){' '}
          <button type="button" class="link danger" onClick={clear}>
            Delete
          </button>{' '}
          <button type="button" class="link" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </p>
      )}
    </section>
  );
}
