// Where a model may be downloaded from (the extension and `npm run model:install` alike): https,
// or plain http only on this machine (loopback: 127.0.0.0/8, ::1, localhost), which is what the
// tests serve from. The ONNX file is named by the manifest relative to the manifest's URL.

export type ModelUrlDecision = { ok: true; url: URL } | { ok: false; detail: string };

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function checkModelUrl(raw: string): ModelUrlDecision {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, detail: `"${raw.slice(0, 100)}" is not a URL` };
  }
  if (url.username || url.password) return { ok: false, detail: 'URLs with a user name or password are not accepted' };
  if (url.protocol === 'https:') return { ok: true, url };
  if (url.protocol === 'http:') {
    return isLoopbackHost(url.hostname)
      ? { ok: true, url }
      : { ok: false, detail: `plain http is accepted only from this machine (127.0.0.1, localhost); use https for ${url.host}` };
  }
  return { ok: false, detail: `${url.protocol} URLs are not accepted: give the https URL of a model's manifest.json` };
}

/** The ONNX file's URL: `file` (a plain file name, per the manifest schema) next to the manifest. */
export function onnxUrlOf(manifestUrl: URL, file: string): URL {
  return new URL(file, manifestUrl);
}

/**
 * Checks a response to a Range request for bytes `from`- of a `total`-byte file: 206 whose
 * Content-Range starts at `from` continues the file; anything else means starting again.
 */
export function resumesAt(status: number, contentRange: string | null, from: number, total: number): boolean {
  if (status !== 206 || contentRange === null) return false;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange.trim());
  if (!m) return false;
  return Number(m[1]) === from && (m[3] === '*' || Number(m[3]) === total);
}
