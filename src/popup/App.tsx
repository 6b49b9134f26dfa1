// The popup: this site's switch and global pause with the tab's counts, the model's status (with
// a plain warning when it is the test fixture), and the history of checked images.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { StatusReply, TabReply } from '../shared/protocol/ui';
import { FIXTURE_WARNING, MODEL_LIMITS } from '../shared/verdict-text';
import { getStatus, getTab, openModelOptions, scanTab, setPaused, setSiteEnabled, targetTabId } from './api';
import { HistoryList } from './HistoryList';
import { ModelStatus } from './ModelStatus';
import { SiteControls } from './SiteControls';

export function App() {
  const [status, setStatus] = useState<StatusReply | null>(null);
  const [tabId, setTabId] = useState<number | null>(null);
  const [tab, setTab] = useState<TabReply | null>(null);
  const [error, setError] = useState<string | null>(null);

  // Refreshes overlap (one a second, one after each action) and can finish out of order. A reply
  // older than one already shown, or read before the user's last action, is dropped: otherwise it
  // flips a switch back on screen, and the next press sends the old value again.
  const order = useRef({ started: 0, shown: 0, action: 0 });
  const refresh = useCallback(async (): Promise<void> => {
    const mine = ++order.current.started;
    const current = (): boolean => mine > order.current.shown && mine > order.current.action;
    try {
      const nextStatus = await getStatus();
      const nextTab = tabId !== null ? await getTab(tabId) : null;
      if (!current()) return;
      order.current.shown = mine;
      setStatus(nextStatus);
      if (nextTab) setTab(nextTab);
    } catch (e) {
      if (current()) setError(e instanceof Error ? e.message : String(e));
    }
  }, [tabId]);
  /** Marks every refresh under way as stale: they read the settings before this action. */
  const acted = (): void => {
    order.current.action = order.current.started;
  };

  useEffect(() => {
    void targetTabId().then(setTabId);
  }, []);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), 1000);
    return () => clearInterval(timer);
  }, [refresh]);

  const onSite = (enabled: boolean): void => {
    acted();
    if (tab?.site) void setSiteEnabled(tab.site, enabled).then(refresh);
  };
  const onPause = (paused: boolean): void => {
    acted();
    void setPaused(paused).then(refresh);
  };
  const onCheckAll = async (): Promise<boolean> => (tabId === null ? false : (await scanTab(tabId)).ok);

  const model = status?.engine.model ?? null;
  return (
    <main>
      <h1>
        <img src="/icons/icon-32.png" alt="" /> Realfake Lens
      </h1>
      {model?.fixture && (
        <p class="warning" role="alert">
          {FIXTURE_WARNING} Install the real model to get meaningful scores.
        </p>
      )}
      {error && <p class="warning">Could not reach the extension: {error}</p>}
      {tab && <SiteControls tab={tab} onSite={onSite} onPause={onPause} onCheckAll={onCheckAll} />}
      {status && <ModelStatus status={status} onOpenOptions={() => void openModelOptions()} />}
      {tab && <HistoryList site={tab.site} />}
      <p class="limits">{MODEL_LIMITS}</p>
      <p class="privacy">Everything runs on this computer. No image, address or verdict leaves it.</p>
    </main>
  );
}
