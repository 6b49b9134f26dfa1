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

/** A model's stored chunks.json (the part hashes recorded at install), parsed; undefined if absent. */
export async function storedChunkRecord(ext: ExtensionSession, id: string): Promise<unknown> {
  const text = await (await ext.serviceWorker()).evaluate(async (modelId) => {
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('models')).getDirectoryHandle(modelId);
    try {
      return await (await (await dir.getFileHandle('chunks.json')).getFile()).text();
    } catch {
      return null;
    }
  }, id);
  return text === null ? undefined : (JSON.parse(text) as unknown);
}

/** What chunks.json must say of `file` cut into parts of `size` bytes, hashed here by node:crypto. */
export function expectedChunkRecord(file: Buffer, size: number): unknown {
  const parts: string[] = [];
  for (let at = 0; at < file.length; at += size) parts.push(createHash('sha256').update(file.subarray(at, at + size)).digest('hex'));
  return { v: 1, sha256: createHash('sha256').update(file).digest('hex'), bytes: file.length, chunkSize: size, parts };
}
