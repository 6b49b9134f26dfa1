// This site on/off, pause everywhere, and what was found on the current tab.

import { useState } from 'preact/hooks';
import type { TabReply } from '../shared/protocol/ui';

interface Props {
  tab: TabReply;
  onSite: (enabled: boolean) => void;
  onPause: (paused: boolean) => void;
  /** "Check all images on this page now"; resolves false when the page could not be reached. */
  onCheckAll: () => Promise<boolean>;
}

function Switch(props: { id: string; label: string; checked: boolean; disabled?: boolean; onChange: (v: boolean) => void }) {
  return (
    <label class="switch" for={props.id}>
      <span>{props.label}</span>
      <input
        id={props.id}
        type="checkbox"
        role="switch"
        checked={props.checked}
        disabled={props.disabled}
        onChange={(e) => props.onChange((e.currentTarget as HTMLInputElement).checked)}
      />
    </label>
  );
}

export function SiteControls({ tab, onSite, onPause, onCheckAll }: Props) {
  const scanning = tab.site !== null && tab.siteEnabled && !tab.paused;
  const [checkAll, setCheckAll] = useState<'idle' | 'asked' | 'unreachable'>('idle');
  return (
    <section class="card" aria-label="This page">
      {tab.site ? (
        <Switch id="site-switch" label={`Check images on ${tab.site}`} checked={tab.siteEnabled} onChange={onSite} />
      ) : (
        <p class="muted">This page cannot be checked (only web pages can).</p>
      )}
      <Switch id="pause-switch" label="Pause everywhere" checked={tab.paused} onChange={onPause} />
      <p class="counts" aria-live="polite">
        {scanning ? (
          <>
            <strong data-count="checked">{tab.counts.checked}</strong> checked ·{' '}
            <strong data-count="suspected" class={tab.counts.suspected > 0 ? 'alert' : ''}>
              {tab.counts.suspected}
            </strong>{' '}
            likely generated · <strong data-count="failed">{tab.counts.failed}</strong> couldn’t check
          </>
        ) : (
          `Not checking this page${tab.paused ? ' (paused everywhere)' : ''}.`
        )}
      </p>
      {scanning && (
        <p class="check-all">
          <button
            type="button"
            id="check-all"
            onClick={() => void onCheckAll().then((ok) => setCheckAll(ok ? 'asked' : 'unreachable'))}
          >
            Check all images on this page now
          </button>
          {checkAll === 'asked' && <span class="muted"> Checking every image, including those further down.</span>}
          {checkAll === 'unreachable' && <span class="muted"> This page was open before the extension started: reload it first.</span>}
        </p>
      )}
    </section>
  );
}
