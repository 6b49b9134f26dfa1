// How the extension behaves on pages: automatic or on-demand checking, what happens to a
// picture shown as likely generated, and whether "likely real" pictures get a badge.

import type { ScanMode, Settings, SuspectedStyle } from '../shared/settings';
import { CheckboxSetting } from './controls';

interface Props {
  settings: Settings;
  save: (patch: Partial<Settings>) => void;
}

const MODES: Array<{ value: ScanMode; label: string; help: string }> = [
  { value: 'auto', label: 'Automatically', help: 'Images are checked as they come into view.' },
  { value: 'on-demand', label: 'Only when I ask', help: 'Nothing is checked until you press “Check all images” in the popup or use “Check image” on one.' },
];

const STYLES: Array<{ value: SuspectedStyle; label: string }> = [
  { value: 'badge', label: 'Show a badge' },
  { value: 'blur', label: 'Blur it until I click it' },
  { value: 'hide', label: 'Hide it until I click it' },
];

export function PageSettings({ settings, save }: Props) {
  return (
    <section aria-labelledby="h-pages">
      <h2 id="h-pages">On web pages</h2>
      <fieldset class="choices">
        <legend>Check images</legend>
        {MODES.map((m) => (
          <label key={m.value} class="choice" for={`scan-${m.value}`}>
            <input
              id={`scan-${m.value}`}
              type="radio"
              name="scanMode"
              value={m.value}
              checked={settings.scanMode === m.value}
              onChange={() => save({ scanMode: m.value })}
            />
            <span>
              {m.label} <span class="help">{m.help}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <label class="row" for="suspectedStyle">
        <span>When an image is likely generated</span>
        <select
          id="suspectedStyle"
          value={settings.suspectedStyle}
          onChange={(e) => save({ suspectedStyle: (e.currentTarget as HTMLSelectElement).value as SuspectedStyle })}
        >
          {STYLES.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </select>
      </label>
      <CheckboxSetting id="showRealBadges" label="Show “likely real” badges too" settings={settings} save={save} />
    </section>
  );
}
