// Runs the official C2PA library (c2pa-rs compiled to WebAssembly: @contentauth/c2pa-wasm) in a
// worker: its reader needs FileReaderSync, which only workers have, and a validation that hangs
// can be ended by terminating the worker. The wasm file is bundled with the extension. No network:
// remote manifests, OCSP and trust lists are switched off in the settings, and fetch() itself is
// replaced by a refusal once the wasm is loaded, whatever the library might try.

import init, { WasmReader } from '@contentauth/c2pa-wasm';
import wasmUrl from '@contentauth/c2pa-wasm/c2pa.wasm?url';
import type { C2paValidation } from '../detector/provenance';

/** c2pa-rs settings: verify the signature and hashes; fetch nothing; no trust list is bundled. */
const SETTINGS = JSON.stringify({ verify: { verify_trust: false, remote_manifest_fetch: false, ocsp_fetch: false } });

const ready = (async () => {
  const module = await WebAssembly.compileStreaming(fetch(wasmUrl));
  self.fetch = () => Promise.reject(new TypeError('the C2PA reader has no network access'));
  await init({ module_or_path: module });
})();

type Json = Record<string, unknown>;

function rec(v: unknown): Json | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v ? v.slice(0, 300) : null;
}

/** The few facts the extension reports, out of c2pa-rs's manifest store JSON. */
function summarize(store: Json): C2paValidation {
  const manifests = rec(store.manifests) ?? {};
  const active = rec(manifests[String(store.active_manifest)]);
  const info = active?.claim_generator_info;
  const gen = rec(Array.isArray(info) ? info[0] : info);
  const name = str(gen?.name);
  const version = str(gen?.version);
  const sig = rec(active?.signature_info);
  const cn = str(sig?.common_name);
  const issuer = str(sig?.issuer);
  const sourceTypes = new Set<string>();
  for (const m of Object.values(manifests)) {
    const assertions = rec(m)?.assertions;
    if (!Array.isArray(assertions)) continue;
    for (const a of assertions) {
      const label = str(rec(a)?.label) ?? '';
      const actions = rec(rec(a)?.data)?.actions;
      if (!label.startsWith('c2pa.actions') || !Array.isArray(actions)) continue;
      for (const action of actions) {
        const dst = str(rec(action)?.digitalSourceType);
        if (dst) sourceTypes.add(dst);
      }
    }
  }
  const state = String(store.validation_state ?? '').toLowerCase();
  const status = Array.isArray(store.validation_status) ? store.validation_status : [];
  return {
    state: state === 'trusted' ? 'trusted' : state === 'valid' ? 'valid' : 'invalid',
    signer: cn ? (issuer && issuer !== cn ? `${cn} (${issuer})` : cn) : issuer,
    claimGenerator: name ? (version ? `${name} ${version}` : name) : str(active?.claim_generator),
    digitalSourceTypes: [...sourceTypes].slice(0, 10),
    failures: status.map((s) => str(rec(s)?.code)).filter((c): c is string => c !== null).slice(0, 5),
  };
}

self.onmessage = async (e: MessageEvent<{ id: number; blob: Blob }>) => {
  const { id, blob } = e.data;
  try {
    await ready;
    const reader = await WasmReader.fromBlob(blob.type, blob, SETTINGS);
    try {
      self.postMessage({ id, ok: true, result: summarize(reader.manifestStore() as Json) });
    } finally {
      reader.free();
    }
  } catch (err) {
    self.postMessage({ id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
};
