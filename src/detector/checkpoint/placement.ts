// Places a checkpoint's tensors onto torchvision's ConvNeXt, by the same rules as the converter
// (tools/realfake_ref/checkpoint.py) and from the same data file (convnext-keys.json): one common
// key prefix found from the stem's name, timm or torchvision names mapped one to one onto
// torchvision's, the architecture (stage widths and depths, class count) read from the shapes,
// and anything missing, extra or misshapen refused with the checkpoint's own key names.

import keys from './convnext-keys.json';
import { CheckpointError, listing } from './errors';
import { describeNonContiguous, FLOAT_DTYPES, type TensorInfo } from './tensors';

const TORCHVISION_KEY = new RegExp(`^(?:${keys.torchvisionKey})$`);
const BLOCK_PARTS: Record<string, string> = keys.timmBlockParts;
const BLOCK_PART_OF: Record<string, string> = Object.fromEntries(Object.entries(BLOCK_PARTS).map(([k, v]) => [v, k]));

export type Layout = 'torchvision' | 'timm';

export interface Architecture {
  dims: number[];
  depths: number[];
  numClasses: number;
}

export interface PlacedTensor {
  /** torchvision's name, which the exported ONNX graph's initializers carry. */
  name: string;
  /** torchvision's shape (timm's gamma [C] becomes layer_scale [C, 1, 1]: the same bytes). */
  shape: number[];
  tensor: TensorInfo;
}

export interface PlacedCheckpoint {
  layout: Layout;
  prefix: string;
  architecture: Architecture;
  /** In torchvision's state_dict order. */
  weights: PlacedTensor[];
}

export interface PlaceOptions {
  /** The prefix before every model key; found from the stem's name when absent. */
  prefix?: string;
  /** Regular expressions of keys to leave out (an EMA copy, a loss module). */
  ignore?: string[];
}

function refuse(message: string): never {
  throw new CheckpointError('wrong-model', message);
}

/** torchvision's name for a timm ConvNeXt parameter, or null. */
export function timmToTorchvision(name: string): string | null {
  let m: RegExpExecArray | null;
  if ((m = /^stem\.([01])\.(weight|bias)$/.exec(name))) return `features.0.${m[1]}.${m[2]}`;
  if ((m = /^stages\.([123])\.downsample\.([01])\.(weight|bias)$/.exec(name))) return `features.${2 * Number(m[1])}.${m[2]}.${m[3]}`;
  if ((m = /^stages\.([0-3])\.blocks\.(\d+)\.gamma$/.exec(name))) return `features.${2 * Number(m[1]) + 1}.${m[2]}.layer_scale`;
  if ((m = /^stages\.([0-3])\.blocks\.(\d+)\.(conv_dw|norm|mlp\.fc1|mlp\.fc2)\.(weight|bias)$/.exec(name))) {
    return `features.${2 * Number(m[1]) + 1}.${m[2]}.${BLOCK_PARTS[m[3] as string]}.${m[4]}`;
  }
  if ((m = /^head\.(norm|fc)\.(weight|bias)$/.exec(name))) return `classifier.${m[1] === 'norm' ? 0 : 2}.${m[2]}`;
  return null;
}

/** The inverse of timmToTorchvision, for messages about a timm checkpoint. */
export function torchvisionToTimm(name: string): string {
  let m: RegExpExecArray | null;
  if ((m = /^features\.0\.([01])\.(\w+)$/.exec(name))) return `stem.${m[1]}.${m[2]}`;
  if ((m = /^features\.([246])\.([01])\.(\w+)$/.exec(name))) return `stages.${Number(m[1]) / 2}.downsample.${m[2]}.${m[3]}`;
  if ((m = /^features\.([1357])\.(\d+)\.layer_scale$/.exec(name))) return `stages.${(Number(m[1]) - 1) / 2}.blocks.${m[2]}.gamma`;
  if ((m = /^features\.([1357])\.(\d+)\.(block\.\d)\.(\w+)$/.exec(name))) {
    return `stages.${(Number(m[1]) - 1) / 2}.blocks.${m[2]}.${BLOCK_PART_OF[m[3] as string] ?? m[3]}.${m[4]}`;
  }
  if ((m = /^classifier\.([02])\.(\w+)$/.exec(name))) return `head.${m[1] === '0' ? 'norm' : 'fc'}.${m[2]}`;
  return name;
}

function findPrefix(names: string[], prefix: string | undefined): string {
  if (prefix !== undefined) return prefix;
  const found = new Set<string>();
  for (const k of names) {
    for (const a of keys.anchors) {
      if (k.endsWith(a) && (k === a || k.slice(0, -a.length).endsWith('.'))) found.add(k.slice(0, -a.length));
    }
  }
  if (found.size === 0) {
    refuse(listing(`found no ConvNeXt stem (a key ending in "${keys.anchors.join('" or "')}") among the ${names.length} keys`, names, 8));
  }
  if (found.size > 1) refuse(`several models in one checkpoint (key prefixes ${[...found].sort().join(', ')}); choose one with a prefix`);
  return [...found][0] as string;
}

/** torchvision ConvNeXt's state_dict (names and shapes) for an architecture, in its order. */
export function torchvisionConvNeXtShapes(arch: Architecture): Array<[string, number[]]> {
  const { dims, depths, numClasses } = arch;
  const out: Array<[string, number[]]> = [];
  const d0 = dims[0] as number;
  out.push(['features.0.0.weight', [d0, 3, 4, 4]], ['features.0.0.bias', [d0]], ['features.0.1.weight', [d0]], ['features.0.1.bias', [d0]]);
  for (let s = 0; s < 4; s++) {
    const d = dims[s] as number;
    if (s > 0) {
      const prev = dims[s - 1] as number;
      const f = `features.${2 * s}`;
      out.push([`${f}.0.weight`, [prev]], [`${f}.0.bias`, [prev]], [`${f}.1.weight`, [d, prev, 2, 2]], [`${f}.1.bias`, [d]]);
    }
    for (let j = 0; j < (depths[s] as number); j++) {
      const b = `features.${2 * s + 1}.${j}`;
      out.push(
        [`${b}.layer_scale`, [d, 1, 1]],
        [`${b}.block.0.weight`, [d, 1, 7, 7]],
        [`${b}.block.0.bias`, [d]],
        [`${b}.block.2.weight`, [d]],
        [`${b}.block.2.bias`, [d]],
        [`${b}.block.3.weight`, [4 * d, d]],
        [`${b}.block.3.bias`, [4 * d]],
        [`${b}.block.5.weight`, [d, 4 * d]],
        [`${b}.block.5.bias`, [d]],
      );
    }
  }
  const last = dims[3] as number;
  out.push(['classifier.0.weight', [last]], ['classifier.0.bias', [last]], ['classifier.2.weight', [numClasses, last]], ['classifier.2.bias', [numClasses]]);
  return out;
}

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** The checkpoint's tensors placed onto torchvision's ConvNeXt; throws CheckpointError('wrong-model'). */
export function placeConvNeXt(tensors: TensorInfo[], options: PlaceOptions = {}): PlacedCheckpoint {
  const ignore = (options.ignore ?? []).map((p) => new RegExp(p));
  const kept = tensors.filter((t) => !ignore.some((r) => r.test(t.key)));
  const prefix = findPrefix(
    kept.map((t) => t.key),
    options.prefix,
  );
  const placed = new Map<string, PlacedTensor>();
  const unplaced: string[] = [];
  const layouts = new Set<Layout>();
  for (const t of kept) {
    const name = t.key.startsWith(prefix) ? t.key.slice(prefix.length) : null;
    let target: string | null = null;
    if (name !== null && TORCHVISION_KEY.test(name)) {
      target = name;
      layouts.add('torchvision');
    } else if (name !== null && (target = timmToTorchvision(name))) {
      layouts.add('timm');
    }
    if (target === null) {
      unplaced.push(t.key);
      continue;
    }
    if (!FLOAT_DTYPES.has(t.dtype)) refuse(`${t.key} holds ${t.dtype} values; a ConvNeXt weight is a floating-point tensor`);
    // timm's gamma [C] is torchvision's layer_scale [C, 1, 1].
    const shape = target.endsWith('layer_scale') && t.shape.length === 1 ? [t.shape[0] as number, 1, 1] : t.shape;
    placed.set(target, { name: target, shape, tensor: t });
  }
  if (unplaced.length) {
    refuse(`${listing(`could not place ${unplaced.length} key(s) of the checkpoint`, unplaced)} (leave out keys that are not part of the model with ignore)`);
  }
  if (layouts.size > 1) refuse(`the checkpoint mixes timm and torchvision key names under the prefix "${prefix}"`);
  const layout = [...layouts][0] as Layout;
  const spell = (name: string): string => placed.get(name)?.tensor.key ?? prefix + (layout === 'timm' ? torchvisionToTimm(name) : name);

  const architecture = inferArchitecture(placed, spell);
  const expected = torchvisionConvNeXtShapes(architecture);
  const expectedNames = new Set(expected.map(([n]) => n));
  const missing = expected.filter(([n]) => !placed.has(n)).map(([n]) => spell(n));
  const extra = [...placed.keys()].filter((n) => !expectedNames.has(n)).map((n) => spell(n));
  const wrong = expected.flatMap(([n, shape]) => {
    const p = placed.get(n);
    return p && !sameShape(p.shape, shape) ? [`${p.tensor.key} [${p.tensor.shape.join(', ')}] (the model needs [${shape.join(', ')}])`] : [];
  });
  const problems: string[] = [];
  if (missing.length) problems.push(listing(`missing ${missing.length} key(s)`, missing));
  if (extra.length) problems.push(listing(`could not place ${extra.length} key(s)`, extra));
  if (wrong.length) problems.push(listing(`${wrong.length} tensor(s) of the wrong shape`, wrong, 6));
  if (problems.length) refuse(problems.join('; '));
  const weights = expected.map(([n]) => placed.get(n) as PlacedTensor);
  const gaps = weights.filter((w) => !w.tensor.contiguous).map((w) => w.tensor);
  if (gaps.length) throw new CheckpointError('bad-tensor', describeNonContiguous(gaps));
  return { layout, prefix, architecture, weights };
}

function inferArchitecture(placed: Map<string, PlacedTensor>, spell: (name: string) => string): Architecture {
  const dims: number[] = [];
  const depths: number[] = [];
  for (let stage = 0; stage < 4; stage++) {
    const f = `features.${2 * stage + 1}`;
    const re = new RegExp(`^features\\.${2 * stage + 1}\\.(\\d+)\\.block\\.0\\.weight$`);
    const blocks = [...placed.keys()]
      .flatMap((k) => {
        const m = re.exec(k);
        return m ? [Number(m[1])] : [];
      })
      .sort((a, b) => a - b);
    if (!blocks.length) refuse(`missing keys: stage ${stage} has no blocks (no depthwise conv weight ${spell(`${f}.0.block.0.weight`)})`);
    const first = `${f}.${blocks[0]}.block.0.weight`;
    const dw = (placed.get(first) as PlacedTensor).shape;
    if (dw.length !== 4) refuse(`${spell(first)} has shape [${dw.join(', ')}]; a depthwise conv weight is [C, 1, k, k]`);
    dims.push(dw[0] as number);
    depths.push((blocks[blocks.length - 1] as number) + 1);
  }
  const headName = spell('classifier.2.weight');
  const head = placed.get('classifier.2.weight')?.shape;
  if (!head) refuse(`missing keys: found no classifier head weight (${headName})`);
  if (head.length !== 2) refuse(`${headName} has shape [${head.join(', ')}]; the classifier head weight must be [classes, ${dims[3]}]`);
  const numClasses = head[0] as number;
  if (numClasses < 2) refuse(`${headName} has shape [${head.join(', ')}]: ${numClasses} output(s); a classifier needs at least 2`);
  return { dims, depths, numClasses };
}
