// The options page: threshold, minimum size, history retention and incognito, the sites switched
// off, data export and deletion, and what the model is and is not. Every control writes the one
// settings store through writeSettings (the site switch through the background, which also
// updates the toolbar); the background and content scripts react to the storage change.

import { useEffect, useState } from 'preact/hooks';
import browser from 'webextension-polyfill';
import { askBackground } from '../shared/ask-background';
import { DEFAULT_SETTINGS, readSettings, writeSettings, type Settings } from '../shared/settings';
import { describePreparation, MODEL_LIMITS, percent, PUBLISHED_INPUT } from '../shared/verdict-text';
import { historyToCsv, historyToJson, reportedMistakes } from './export';
import { CheckboxSetting, NumberSetting, Outcome } from './controls';
import { ModelManager } from './ModelManager';
import { PageSettings } from './PageSettings';

function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Sites whose pictures may be fetched with cookies: off everywhere until the user adds a site. */
function CookieSites(props: { sites: string[]; onSave: (sites: string[]) => void }) {
  const [draft, setDraft] = useState('');
  const add = (): void => {
    const site = draft.trim().toLowerCase();
    if (!/^[a-z0-9.-]{1,253}$/.test(site) || props.sites.includes(site)) return;
    props.onSave([...props.sites, site]);
    setDraft('');
  };
  return (
    <>
      <p class="help" id="cookie-help">
        Realfake Lens fetches pictures without cookies and without saying which page showed them. When a server refuses
        that (hotlink protection), it asks once more naming the page, still without cookies. Cookies are never sent,
        unless you add the site here: then, for pictures on that site’s pages that are refused, the retry carries the
        browser’s cookies for the picture’s address too. Off for every site by default.
      </p>
      {props.sites.length > 0 && (
        <ul class="sites">
          {props.sites.map((site) => (
            <li key={site}>
              <span>{site}</span>
              <button type="button" onClick={() => props.onSave(props.sites.filter((s) => s !== site))}>
                Stop sending cookies
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="row">
        <label for="cookieSite">Send cookies for refused pictures on pages of (host name)</label>
        <input
          id="cookieSite"
          type="text"
          aria-describedby="cookie-help"
          placeholder="www.example.com"
          value={draft}
          onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') add();
          }}
        />
        <button type="button" onClick={add}>
          Allow cookies
        </button>
      </div>
    </>
  );
}

export function Options() {
  const [settings, setSettings] = useState<Settings>(DEFAULT_SETTINGS);
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<string | null>(null);

  // Opened from the popup at a section (#h-model): show it once the page has rendered.
  useEffect(() => {
    if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
  }, []);

  useEffect(() => {
    const load = (): void =>
      void readSettings(browser.storage.sync).then(setSettings);
    load();
    browser.storage.onChanged.addListener(load);
    return () => browser.storage.onChanged.removeListener(load);
  }, []);

  const save = (patch: Partial<Settings>): void => {
    setSettings((s) => ({ ...s, ...patch }));
    void writeSettings(patch, browser.storage.sync);
  };

  const exportAs = async (format: 'json' | 'csv', which: 'history' | 'mistakes'): Promise<void> => {
    const all = (await askBackground({ kind: 'ui/export-history' })).entries;
    const entries = which === 'mistakes' ? reportedMistakes(all) : all;
    const name = `realfake-lens-${which}-${new Date().toISOString().slice(0, 10)}`;
    if (format === 'json') download(`${name}.json`, 'application/json', historyToJson(entries));
    else download(`${name}.csv`, 'text/csv', historyToCsv(entries));
    const one = entries.length === 1;
    const noun = which === 'mistakes' ? (one ? 'reported mistake' : 'reported mistakes') : one ? 'history entry' : 'history entries';
    setMessage(`Exported ${entries.length} ${noun}.`);
  };

  const deleteAll = async (): Promise<void> => {
    setConfirming(false);
    await askBackground({ kind: 'ui/delete-all-data' });
    setSettings(DEFAULT_SETTINGS);
    setMessage('All data deleted: cache, history, counters, settings and downloaded models.');
  };

  return (
    <main>
      <h1>
        <img src="/icons/icon-32.png" alt="" /> Realfake Lens options
      </h1>

      <section aria-labelledby="h-detection">
        <h2 id="h-detection">Detection</h2>
        <label class="row" for="threshold">
          <span>
            Call an image “likely generated” from <output for="threshold">{percent(settings.threshold)}</output>
          </span>
          <input
            id="threshold"
            type="range"
            min={0.05}
            max={0.95}
            step={0.05}
            value={settings.threshold}
            onInput={(e) => save({ threshold: Number((e.currentTarget as HTMLInputElement).value) })}
          />
        </label>
        <p class="help">
          Lower flags more generated images but also more real photos by mistake; higher flags fewer real photos but
          misses more generated ones. Badges already on pages are relabelled at once.
        </p>
        <NumberSetting
          id="minImageSize"
          label="Skip images smaller than (CSS pixels)"
          value={settings.minImageSize}
          onSave={(v) => save({ minImageSize: v })}
        />
      </section>

      <PageSettings settings={settings} save={save} />

      <section aria-labelledby="h-fetching">
        <h2 id="h-fetching">Fetching pictures</h2>
        <NumberSetting
          id="revalidateAfterHours"
          label="Ask the server again whether a remembered picture changed after (hours)"
          value={settings.revalidateAfterHours}
          onSave={(v) => save({ revalidateAfterHours: v })}
        />
        <p class="help">
          A verdict is remembered by the picture’s address. After this long the server is asked whether the address
          still serves the same picture (a short conditional request); only a changed picture is judged again.
        </p>
        <CookieSites sites={settings.cookieSites} onSave={(cookieSites) => save({ cookieSites })} />
      </section>

      <section aria-labelledby="h-sites">
        <h2 id="h-sites">Sites switched off</h2>
        {settings.disabledSites.length === 0 ? (
          <p class="help">None. Switch a site off from the toolbar popup while you are on it.</p>
        ) : (
          <ul class="sites">
            {settings.disabledSites.map((site) => (
              <li key={site}>
                <span>{site}</span>
                <button type="button" onClick={() => void askBackground({ kind: 'ui/set-site-enabled', site, enabled: true })}>
                  Switch on again
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="h-history">
        <h2 id="h-history">History</h2>
        <NumberSetting
          id="historyMaxEntries"
          label="Keep at most (entries; 0 keeps none)"
          value={settings.historyMaxEntries}
          onSave={(v) => save({ historyMaxEntries: v })}
        />
        <NumberSetting id="historyMaxDays" label="Keep for (days)" value={settings.historyMaxDays} onSave={(v) => save({ historyMaxDays: v })} />
        <CheckboxSetting id="incognitoHistory" label="Remember images checked in incognito windows (history and cache)" settings={settings} save={save} />
      </section>

      <ModelManager />
      <section aria-labelledby="h-data">
        <h2 id="h-data">Your data</h2>
        <p class="help" id="what-is-stored">
          Stored on this computer only, in this browser’s storage for the extension: scores of checked images (by
          address and by a fingerprint of the picture), the history with small thumbnails and your reported mistakes,
          counters, these settings, and models you installed. No image, address or verdict ever leaves this computer:
          the extension fetches only the images the pages you visit already show, and a model only when you ask it to.
        </p>
        <div class="buttons">
          <button type="button" onClick={() => void exportAs('json', 'history')}>
            Export history (JSON)
          </button>
          <button type="button" onClick={() => void exportAs('csv', 'history')}>
            Export history (CSV)
          </button>
          <button type="button" onClick={() => void exportAs('json', 'mistakes')}>
            Export reported mistakes (JSON)
          </button>
          <button type="button" onClick={() => void exportAs('csv', 'mistakes')}>
            Export reported mistakes (CSV)
          </button>
          {!confirming && (
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Delete all data…
            </button>
          )}
        </div>
        {confirming && (
          <p class="confirm" role="alert">
            Delete the cache, the history, reported mistakes, counters, all settings and downloaded models?{' '}
            <button type="button" class="danger" onClick={() => void deleteAll()}>
              Delete everything
            </button>{' '}
            <button type="button" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </p>
        )}
        <Outcome message={message} />
      </section>

      <section aria-labelledby="h-about">
        <h2 id="h-about">About the model</h2>
        <p>
          Realfake Lens runs LAION’s “realfake” classifier: a ConvNeXt-Large network (an image-recognition model
          first trained on ImageNet) fine-tuned on about 1.8 million real photos and Stable Diffusion v1.4 images. It
          was about 99% accurate on its own validation set, which comes from the same sources as its training data.
        </p>
        <h3>What the score means</h3>
        <p>
          The score is the model’s estimate, from 0% to 100%, that a picture was made by Stable Diffusion. Images at or
          above your threshold ({percent(settings.threshold)}) are labelled “likely generated”, the rest “likely
          real”. It is an estimate, not proof either way: use it as one clue among others.
        </p>
        <h3>Known limits</h3>
        <ul class="limits">
          <li>{MODEL_LIMITS}</li>
          <li>Noisy real photos, landscapes, building sites and furniture are sometimes taken for generated images.</li>
          <li>
            {describePreparation(PUBLISHED_INPUT)} This is how the model was evaluated by its authors, so the extension
            does the same. Images smaller than your minimum size are skipped.
          </li>
        </ul>
      </section>
    </main>
  );
}
