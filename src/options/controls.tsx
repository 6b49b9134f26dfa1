// The options page's small controls, each bound to one setting or one outcome.

import { SETTING_RANGES, type Settings } from '../shared/settings';

type BooleanSetting = { [K in keyof Settings]: Settings[K] extends boolean ? K : never }[keyof Settings];

/** A whole-number setting, saved only when it is within its range. */
export function NumberSetting(props: { id: keyof typeof SETTING_RANGES; label: string; value: number; onSave: (v: number) => void }) {
  const { min, max } = SETTING_RANGES[props.id];
  return (
    <label class="row" for={props.id}>
      <span>{props.label}</span>
      <input
        id={props.id}
        type="number"
        min={min}
        max={max}
        step={1}
        value={props.value}
        onChange={(e) => {
          const v = Number((e.currentTarget as HTMLInputElement).value);
          if (Number.isInteger(v) && v >= min && v <= max) props.onSave(v);
        }}
      />
    </label>
  );
}

/** An on/off setting; its id is the setting's name. */
export function CheckboxSetting(props: { id: BooleanSetting; label: string; settings: Settings; save: (patch: Partial<Settings>) => void }) {
  return (
    <label class="row" for={props.id}>
      <span>{props.label}</span>
      <input
        id={props.id}
        type="checkbox"
        checked={props.settings[props.id]}
        onChange={(e) => props.save({ [props.id]: (e.currentTarget as HTMLInputElement).checked })}
      />
    </label>
  );
}

/** What an action ended in: an error (announced at once) or a message (announced politely). */
export function Outcome(props: { error?: string | null; message?: string | null }) {
  return (
    <>
      {props.error && (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
      {props.message && (
        <p class="message" role="status">
          {props.message}
        </p>
      )}
    </>
  );
}
