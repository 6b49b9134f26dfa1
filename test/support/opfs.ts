// Reads the extension's origin private file system (where downloaded and imported models live)
// directly from the service worker, not through the extension's own code.

import { createHash } from 'node:crypto';
import type { ExtensionSession } from './chrome';

/** Every file under OPFS's models/ folder (path -> size), read in the service worker. */
export async function opfsModels(ext: ExtensionSession): Promise<Record<string, number>> {
  return (await ext.serviceWorker()).evaluate(async () => {
    const out: Record<string, number> = {};
    type Dir = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };
    const walk = async (dir: Dir, prefix: string): Promise<void> => {
      for await (const [name, h] of dir.entries()) {
        if (h.kind === 'directory') await walk(h as Dir, `${prefix}${name}/`);
        else out[`${prefix}${name}`] = (await (h as FileSystemFileHandle).getFile()).size;
      }
    };
    const root = (await navigator.storage.getDirectory()) as Dir;
    try {
      await walk((await root.getDirectoryHandle('models')) as Dir, '');
    } catch {
      // no models folder
    }
    return out;
  });
}

/** The stored chunks of a model, concatenated in the service worker, hashed by node:crypto. */
export async function storedSha(ext: ExtensionSession, id: string): Promise<{ sha: string; bytes: number }> {
  const b64 = await (await ext.serviceWorker()).evaluate(async (modelId) => {
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle(modelId);
    const parts: Blob[] = [];
    for (let i = 0; ; i++) {
      try {
        parts.push(await (await dir.getFileHandle(`part-${String(i).padStart(5, '0')}.bin`)).getFile());
      } catch {
        break;
      }
    }
    const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }, id);
  const buf = Buffer.from(b64, 'base64');
  return { sha: createHash('sha256').update(buf).digest('hex'), bytes: buf.length };
}

/** A model's stored chunks.json (or `name`: the part hashes recorded at install), parsed; undefined if absent. */
export async function storedChunkRecord(ext: ExtensionSession, id: string, name = 'chunks.json'): Promise<unknown> {
  const text = await (await ext.serviceWorker()).evaluate(async ([modelId, file]) => {
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle(modelId);
    try {
      return await (await (await dir.getFileHandle(file)).getFile()).text();
    } catch {
      return null;
    }
  }, [id, name] as const);
  return text === null ? undefined : (JSON.parse(text) as unknown);
}

/** What chunks.json must say of `file` cut into parts of `size` bytes, hashed here by node:crypto. */
export function expectedChunkRecord(file: Buffer, size: number): unknown {
  const parts: Buffer[] = [];
  for (let at = 0; at < file.length; at += size) parts.push(file.subarray(at, at + size));
  return expectedRecordOfParts(parts);
}

/** The stored part files of a model whose names start with `prefix` ('part-', 'weights-'), in order. */
export async function storedParts(ext: ExtensionSession, id: string, prefix: string): Promise<Buffer[]> {
  const b64 = await (await ext.serviceWorker()).evaluate(async ([modelId, start]) => {
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle(modelId);
    const out: string[] = [];
    for (let i = 0; ; i++) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await (await (await dir.getFileHandle(`${start}${String(i).padStart(5, '0')}.bin`)).getFile()).arrayBuffer());
      } catch {
        return out;
      }
      let s = '';
      for (let k = 0; k < bytes.length; k += 0x8000) s += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
      out.push(btoa(s));
    }
  }, [id, prefix] as const);
  return b64.map((s) => Buffer.from(s, 'base64'));
}

/** What a part-hash record must say of a file stored as `parts`, hashed here by node:crypto. */
export function expectedRecordOfParts(parts: Buffer[]): unknown {
  const whole = Buffer.concat(parts);
  return {
    v: 1,
    sha256: createHash('sha256').update(whole).digest('hex'),
    bytes: whole.length,
    parts: parts.map((p) => ({ bytes: p.length, sha256: createHash('sha256').update(p).digest('hex') })),
  };
}
