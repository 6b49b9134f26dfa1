// Recognisers for what image generators write into their files: AUTOMATIC1111 / Forge
// `parameters`, ComfyUI `prompt` / `workflow` JSON, NovelAI, InvokeAI, and generator names in
// EXIF and XMP text fields. Each returns a finding or null; none throws on odd input.

import type { EvidenceFinding } from './evidence';
import type { ExifFields } from './tiff';
import type { XmpFields } from './xmp';
import { isAiSourceType } from './jumbf';

const MAX_VALUE = 500;

function clip(s: string, max = MAX_VALUE): string {
  const t = s.trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Keeps only present, non-empty values, clipped. */
function details(d: Record<string, string | number | null | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(d)) {
    if (v === null || v === undefined) continue;
    const s = clip(String(v));
    if (s) out[k] = s;
  }
  return out;
}

/** A finding of generation parameters that the file itself declares, with the generator named. */
function declared(summary: string, generator: string, fields: Record<string, string | number | null | undefined>): EvidenceFinding {
  return { kind: 'generator-parameters', summary, declaresAI: true, details: details({ generator, ...fields }) };
}

// ---- generator names --------------------------------------------------------------------

const GENERATORS: Array<[RegExp, string]> = [
  [/\bmidjourney\b/i, 'Midjourney'],
  [/\bdall[\s·\-–]?e\b/i, 'DALL-E'],
  [/\b(?:adobe\s+)?firefly\b/i, 'Adobe Firefly'],
  [/\bstable[\s-]?diffusion\b|\bsdxl\b/i, 'Stable Diffusion'],
  [/\bautomatic1111\b|stable-diffusion-webui/i, 'AUTOMATIC1111'],
  [/\bcomfyui\b/i, 'ComfyUI'],
  [/\bnovelai\b/i, 'NovelAI'],
  [/\binvokeai\b/i, 'InvokeAI'],
  [/\bfooocus\b/i, 'Fooocus'],
  [/\bleonardo\.?ai\b/i, 'Leonardo.Ai'],
  [/\bideogram\b/i, 'Ideogram'],
  [/\bflux\.1\b|black forest labs/i, 'FLUX'],
  [/\bimagen\s?[234]?\b.*google|google.*\bimagen\b/i, 'Google Imagen'],
  [/\bchatgpt\b|\bgpt-4o\b|\bopenai\b/i, 'OpenAI'],
  [/\bbing image creator\b|\bmicrosoft designer\b/i, 'Microsoft Designer'],
  [/\bdreamstudio\b/i, 'DreamStudio'],
  [/\bnightcafe\b/i, 'NightCafe'],
  [/\bplayground\s?ai\b/i, 'Playground AI'],
  [/\bcraiyon\b/i, 'Craiyon'],
  [/\bdiffusers\b/i, 'Diffusers'],
  [/\bgenerative fill\b/i, 'Adobe Generative Fill'],
];

/** The known generator a text names, or null. */
export function generatorNamedIn(text: string): string | null {
  const probe = text.slice(0, 4_000);
  for (const [re, name] of GENERATORS) if (re.test(probe)) return name;
  return null;
}

// ---- AUTOMATIC1111 / Forge ----------------------------------------------------------------

/** A1111's own pattern for `Key: value, Key: "quoted, value"` lists. */
const PARAM_RE = /\s*([\w ]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

export function parseA1111(text: string): EvidenceFinding | null {
  const lines = text.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  if (!/^Steps: \d+/.test(last.trim())) return null;
  const params: Record<string, string> = {};
  for (const m of last.slice(0, 20_000).matchAll(PARAM_RE)) {
    const key = m[1]?.trim();
    if (key) params[key] = (m[2] ?? '').trim().replace(/^"(.*)"$/, '$1');
  }
  if (!params.Sampler && !params.Seed) return null;
  const body = lines.slice(0, -1);
  const neg = body.findIndex((l) => l.startsWith('Negative prompt:'));
  const prompt = (neg < 0 ? body : body.slice(0, neg)).join('\n');
  const negative = neg < 0 ? null : body.slice(neg).join('\n').replace(/^Negative prompt:\s*/, '');
  const forge = params.Version?.startsWith('f') ?? false;
  return declared(`Stable Diffusion parameters (${forge ? 'Forge' : 'AUTOMATIC1111 / Forge'})`, forge ? 'Forge' : 'AUTOMATIC1111 / Forge', {
    prompt,
    negativePrompt: negative,
    steps: params.Steps,
    sampler: params.Sampler,
    cfg: params['CFG scale'],
    seed: params.Seed,
    size: params.Size,
    model: params.Model,
    modelHash: params['Model hash'],
    version: params.Version,
  });
}

// ---- JSON-based tools ---------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function parseJson(text: string): Json | undefined {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

function obj(v: Json | undefined): { [k: string]: Json } | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : null;
}

function scalar(v: Json | undefined): string | null {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : null;
}

/** ComfyUI's API graph: `{ "3": { "class_type": "KSampler", "inputs": {...} }, ... }`. */
function comfyPrompt(graph: { [k: string]: Json }): EvidenceFinding | null {
  const nodes = Object.values(graph).map(obj);
  if (nodes.length === 0 || !nodes.every((n) => n && typeof n.class_type === 'string')) return null;
  const byClass = (re: RegExp) => nodes.find((n) => n && re.test(String(n.class_type)));
  const sampler = obj(byClass(/^KSampler/)?.inputs);
  const ckpt = obj(byClass(/CheckpointLoader|UNETLoader/)?.inputs);
  // The sampler's positive input links to a text encoder node: ["6", 0].
  const link = sampler?.positive;
  const positive = Array.isArray(link) ? obj(obj(graph[String(link[0])])?.inputs) : null;
  return declared('ComfyUI workflow', 'ComfyUI', {
    nodes: nodes.length,
    prompt: scalar(positive?.text),
    sampler: scalar(sampler?.sampler_name),
    scheduler: scalar(sampler?.scheduler),
    steps: scalar(sampler?.steps),
    cfg: scalar(sampler?.cfg),
    seed: scalar(sampler?.seed ?? sampler?.noise_seed),
    model: scalar(ckpt?.ckpt_name ?? ckpt?.unet_name),
  });
}

/** ComfyUI's UI graph: `{ "nodes": [{ "type": "KSampler", ... }], "links": [...] }`. */
function comfyWorkflow(w: { [k: string]: Json }): EvidenceFinding | null {
  const nodes = Array.isArray(w.nodes) ? w.nodes.map(obj) : null;
  if (!nodes || nodes.length === 0 || !nodes.every((n) => n && typeof n.type === 'string')) return null;
  const ckpt = nodes.find((n) => n && /CheckpointLoader|UNETLoader/.test(String(n.type)));
  const ckptName = Array.isArray(ckpt?.widgets_values) ? scalar(ckpt.widgets_values[0]) : null;
  return declared('ComfyUI workflow', 'ComfyUI', { nodes: nodes.length, model: ckptName });
}

type GenerationField = 'prompt' | 'negativePrompt' | 'steps' | 'sampler' | 'cfg' | 'seed';

/** The usual generation settings, read from a tool's own key for each. */
function generation(o: Record<string, Json> | null, keys: Partial<Record<GenerationField, string>>): Partial<Record<GenerationField, string | number | null>> {
  const out: Partial<Record<GenerationField, string | number | null>> = {};
  for (const [field, key] of Object.entries(keys) as Array<[GenerationField, string]>) out[field] = scalar(o?.[key]);
  return out;
}

function novelAi(comment: Json | undefined, software: string | null, source: string | null): EvidenceFinding | null {
  const c = obj(comment);
  if (!/novelai/i.test(software ?? '') && !(c && ('steps' in c || 'sampler' in c) && /novelai/i.test(source ?? ''))) return null;
  return declared('NovelAI generation metadata', 'NovelAI', {
    source,
    ...generation(c, { prompt: 'prompt', negativePrompt: 'uc', steps: 'steps', sampler: 'sampler', cfg: 'scale', seed: 'seed' }),
  });
}

function invokeAi(key: string, v: Json | undefined): EvidenceFinding | null {
  const m = obj(v);
  if (!m) return null;
  if (key === 'invokeai_metadata') {
    const model = obj(m.model);
    return declared('InvokeAI generation metadata', 'InvokeAI', {
      ...generation(m, { prompt: 'positive_prompt', negativePrompt: 'negative_prompt', steps: 'steps', sampler: 'scheduler', cfg: 'cfg_scale', seed: 'seed' }),
      model: scalar(model?.name ?? m.model),
    });
  }
  // Older "sd-metadata": { model_weights, image: { prompt: [{ prompt }], sampler, steps, cfg_scale, seed } }
  const image = obj(m.image);
  const prompts = image?.prompt;
  const prompt = Array.isArray(prompts) ? scalar(obj(prompts[0])?.prompt) : scalar(prompts);
  return declared('InvokeAI generation metadata', 'InvokeAI', {
    prompt,
    ...generation(image, { steps: 'steps', sampler: 'sampler', cfg: 'cfg_scale', seed: 'seed' }),
    model: scalar(m.model_weights),
  });
}

const TOOL_KEYS = new Set(['software', 'source', 'author', 'generator', 'creator', 'creator tool']);

/** Findings from a file's text chunks (key -> text), in the order the tools are tried. */
export function recogniseTextChunks(texts: Map<string, string>): EvidenceFinding[] {
  const out: EvidenceFinding[] = [];
  const parameters = texts.get('parameters');
  const a1111 = parameters === undefined ? null : parseA1111(parameters);
  if (a1111) out.push(a1111);
  const prompt = obj(parseJson(texts.get('prompt') ?? ''));
  const comfy = (prompt && comfyPrompt(prompt)) ?? comfyWorkflowOf(texts.get('workflow'));
  if (comfy) out.push(comfy);
  const nai = novelAi(parseJson(texts.get('Comment') ?? ''), texts.get('Software') ?? null, texts.get('Source') ?? null);
  if (nai) out.push(nai);
  for (const key of ['invokeai_metadata', 'sd-metadata']) {
    const text = texts.get(key);
    const f = text === undefined ? null : invokeAi(key, parseJson(text));
    if (f) {
      out.push(f);
      break;
    }
  }
  if (out.length === 0) {
    // A tool-naming chunk of some other generator ("Software: Midjourney"); free text does not count.
    for (const [key, text] of texts) {
      if (!TOOL_KEYS.has(key.toLowerCase())) continue;
      const name = generatorNamedIn(text);
      if (name) {
        out.push(declared(`Text chunk "${clip(key, 40)}" names ${name}`, name, { field: key, text }));
        break;
      }
    }
  }
  return out;
}

function comfyWorkflowOf(text: string | undefined): EvidenceFinding | null {
  const w = obj(parseJson(text ?? ''));
  return w ? comfyWorkflow(w) : null;
}

// ---- EXIF and XMP -----------------------------------------------------------------------

export function recogniseExif(e: ExifFields): EvidenceFinding[] {
  const out: EvidenceFinding[] = [];
  // A1111 and Forge write their parameters into UserComment for JPEG and WebP.
  const a1111 = e.userComment ? parseA1111(e.userComment) : null;
  if (a1111) out.push({ ...a1111, summary: `${a1111.summary}, in EXIF` });
  // Only fields that name a tool or maker count: a caption that mentions Midjourney is no claim.
  const fields: Array<[string, string | undefined]> = [
    ['Software', e.software],
    ['Artist', e.artist],
    ['Make', e.make],
  ];
  const named = fields.map(([f, v]) => [f, v, v ? generatorNamedIn(v) : null] as const).find(([, , g]) => g);
  const camera = [e.make, e.model].filter(Boolean).join(' ');
  if (named) {
    out.push({
      kind: 'exif',
      summary: `EXIF ${named[0]} names ${named[2] ?? ''}`,
      declaresAI: true,
      details: details({ generator: named[2], field: named[0], text: named[1], software: e.software, camera: camera || null }),
    });
  } else if (!a1111 && (e.software || camera)) {
    out.push({
      kind: 'exif',
      summary: camera ? `EXIF names a camera: ${clip(camera, 80)}` : `EXIF Software: ${clip(e.software ?? '', 80)}`,
      declaresAI: false,
      details: details({ camera: camera || null, software: e.software }),
    });
  }
  return out;
}

export function recogniseXmp(x: XmpFields): EvidenceFinding[] {
  const dst = x.digitalSourceType;
  const ai = dst ? isAiSourceType(dst) : false;
  const tool = x.creatorTool ?? x.software;
  const named = tool ? generatorNamedIn(tool) : null;
  if (!dst && !named && !tool && !x.provenance) return [];
  const sourceWord = dst ? dst.split('/').pop() ?? dst : null;
  const summary = ai
    ? `XMP declares IPTC digital source type ${sourceWord}`
    : named
      ? `XMP names ${named}`
      : dst
        ? `XMP digital source type: ${sourceWord}`
        : x.provenance
          ? 'XMP points to Content Credentials'
          : `XMP CreatorTool: ${clip(tool ?? '', 80)}`;
  return [
    {
      kind: 'xmp',
      summary,
      declaresAI: ai || named !== null,
      details: details({ digitalSourceType: dst, generator: named, creatorTool: tool, provenance: x.provenance }),
    },
  ];
}
