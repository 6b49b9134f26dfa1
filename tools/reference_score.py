#!/usr/bin/env python3
"""Reference scorer: a labelled image set through PIL + torchvision + PyTorch, with its metrics.

The independent cross-check of `npm run eval` (tools/eval/): the same files, decoded by PIL and
preprocessed by torchvision exactly as in training (tools/realfake_ref/pipeline.py), scored by
the PyTorch model, and measured with numpy (own rank-based ROC AUC; no sklearn).

  /usr/bin/python3 tools/reference_score.py (--real DIR --fake DIR | --manifest FILE) [options]

  --real DIR / --fake DIR   every file under DIR, recursively, sorted, names starting with "."
                            left out (may be repeated)
  --manifest FILE           CSV (path,label, optional header) or JSONL (.jsonl/.ndjson: objects with
                            a path/image/file key and a label/target/class key); relative paths are
                            relative to the manifest's folder
  --one-means fake|real     what label 1 means in a manifest (default fake)
  --model ID|DIR            model folder or installed id (default: models/active.json, else the
                            fixture); gives labels, generated index and preprocessing. A fixture
                            is rebuilt from its seed (tools/realfake_ref/fixture.py)
  --checkpoint FILE         score with this PyTorch checkpoint (tools/realfake_ref/checkpoint.py)
                            instead; --prefix / --ignore as in tools/convert.py
  --out DIR                 writes DIR/scores.csv and DIR/metrics.json (default: reference-report/)
  --threshold T             p(generated) >= T counts as generated (default 0.5)
  --batch N                 images per forward pass (default 16)

Only JPEG, PNG, GIF and WebP files (told by their first bytes) are scored, like eval; any other
file, or one PIL cannot decode, is skipped, counted and listed.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from realfake_ref.defaults import FIXTURE_ID, LAION_REALFAKE  # noqa: E402
from realfake_ref.pipeline import load_manifest, load_model, preprocess, published_pixels, score_tensors  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PATH_KEYS = ['path', 'image', 'file', 'filepath', 'file_path', 'image_path', 'filename', 'img']
LABEL_KEYS = ['label', 'target', 'class', 'y', 'is_fake', 'fake', 'is_generated', 'generated']
REAL_WORDS = {'real', 'authentic', 'natural', 'photo', 'human'}
FAKE_WORDS = {'fake', 'generated', 'synthetic', 'ai', 'sd', 'artificial'}
PIL_FORMATS = {'JPEG', 'PNG', 'GIF', 'WEBP'}


class InputError(Exception):
    pass


# ---- which files, which labels -------------------------------------------------------------------

def walk(d: str) -> list[str]:
    """Regular files under d, names in code-point order per folder, hidden names left out."""
    try:
        names = sorted(os.listdir(d))
    except OSError as e:
        raise InputError(f'cannot read folder {d}: {e.strerror}') from e
    out: list[str] = []
    for name in names:
        if name.startswith('.'):
            continue
        p = os.path.normpath(os.path.join(d, name))
        if os.path.isdir(p) and not os.path.islink(p):
            out.extend(walk(p))
        elif os.path.isfile(p):
            out.append(p)
    return out


def parse_label(v: Any, one_means: str) -> str:
    zero_means = 'real' if one_means == 'fake' else 'fake'
    if isinstance(v, bool):
        return 'fake' if v else 'real'
    if isinstance(v, (int, float)) and v in (0, 1):
        return one_means if v == 1 else zero_means
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ('0', '1'):
            return one_means if s == '1' else zero_means
        if s in ('true', 'false'):
            return 'fake' if s == 'true' else 'real'
        if s in REAL_WORDS:
            return 'real'
        if s in FAKE_WORDS:
            return 'fake'
    raise InputError(f'unknown label {v!r}')


def pick(keys: list[str], wanted: list[str]) -> str | None:
    lower = {k.strip().lower(): k for k in keys}
    return next((lower[w] for w in wanted if w in lower), None)


def resolve(path: str, base: Path) -> str:
    return path if os.path.isabs(path) else str(base / path)


def from_manifest(file: str, one_means: str) -> list[tuple[str, str, str]]:
    """(path as given, file to read, label) rows."""
    base = Path(file).resolve().parent
    text = Path(file).read_text(encoding='utf-8-sig')
    out = []
    if file.lower().endswith(('.jsonl', '.ndjson')):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            pk, lk = pick(list(rec), PATH_KEYS), pick(list(rec), LABEL_KEYS)
            if pk is None or lk is None or not isinstance(rec[pk], str):
                raise InputError(f'JSONL line {n}: no path or label')
            out.append((rec[pk], resolve(rec[pk], base), parse_label(rec[lk], one_means)))
        return out
    rows = [r for r in csv.reader(io.StringIO(text)) if not (len(r) == 0 or (len(r) == 1 and not r[0].strip()))]
    if not rows:
        return out
    pc, lc = pick(rows[0], PATH_KEYS), pick(rows[0], LABEL_KEYS)
    header = pc is not None and lc is not None
    pi, li = (rows[0].index(pc), rows[0].index(lc)) if header else (0, 1)
    for r in rows[1:] if header else rows:
        path = r[pi].strip()
        out.append((path, resolve(path, base), parse_label(r[li] if li < len(r) else None, one_means)))
    return out


def gather(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    samples = []
    for dirs, label in ((args.real, 'real'), (args.fake, 'fake')):
        for d in dirs:
            samples.extend((p, os.path.abspath(p), label) for p in walk(d))
    for m in args.manifest:
        samples.extend(from_manifest(m, args.one_means))
    return samples


# ---- decoding --------------------------------------------------------------------------------------

def sniff(head: bytes) -> str | None:
    if head[:3] == b'\xff\xd8\xff':
        return 'jpeg'
    if head[:8] == b'\x89PNG\r\n\x1a\n':
        return 'png'
    if head[:6] in (b'GIF87a', b'GIF89a'):
        return 'gif'
    if head[:4] == b'RIFF' and head[8:12] == b'WEBP':
        return 'webp'
    return None


def open_rgb(file: str) -> np.ndarray:
    """The published model's decode (realfake_ref.pipeline.published_pixels), for the four types eval reads."""
    with open(file, 'rb') as f:
        head = f.read(16)
    if sniff(head) is None:
        raise InputError('not a JPEG, PNG, GIF or WebP file')
    with Image.open(file) as im:
        if im.format not in PIL_FORMATS:
            raise InputError(f'PIL reads it as {im.format}')
        return published_pixels(im)


# ---- metrics (numpy, independent of tools/eval/metrics.ts) ------------------------------------------

def midranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind='mergesort')
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + 1 + j + 1) / 2.0  # mean of ranks i+1 .. j+1
        i = j + 1
    return ranks


def auc(y: np.ndarray, p: np.ndarray) -> float | None:
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return None
    r = midranks(p)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def ratio(a: int, b: int) -> float | None:
    return None if b == 0 else a / b


def metrics(y: np.ndarray, p: np.ndarray, t: float) -> dict[str, Any]:
    pred = p >= t
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    tn = int(np.sum(~pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    return {'threshold': t, 'accuracy': ratio(tp + tn, len(y)), 'precision': ratio(tp, tp + fp), 'recall': ratio(tp, tp + fn),
            'f1': ratio(2 * tp, 2 * tp + fp + fn), 'confusion': {'tp': tp, 'fp': fp, 'tn': tn, 'fn': fn}, 'auc': auc(y, p)}


# ---- model -------------------------------------------------------------------------------------------

def find_model_dir(spec: str | None) -> Path | None:
    if spec and (Path(spec) / 'manifest.json').is_file():
        return Path(spec)
    models = REPO / 'models'
    if spec is None:
        try:
            spec = json.loads((models / 'active.json').read_text())['id']
        except (OSError, ValueError, KeyError):
            spec = FIXTURE_ID
    for d in sorted(models.iterdir()) if models.is_dir() else []:
        if d.is_dir() and not d.name.startswith('.') and (d / 'manifest.json').is_file():
            if json.loads((d / 'manifest.json').read_text()).get('id') == spec:
                return d
    return None


def model_and_manifest(args: argparse.Namespace) -> tuple[torch.nn.Module, dict[str, Any]]:
    model_dir = find_model_dir(args.model)
    if args.model and model_dir is None:
        raise InputError(f'no model {args.model!r} (a folder with manifest.json, or an installed id)')
    if args.checkpoint:
        from realfake_ref.checkpoint import load_checkpoint
        manifest = load_manifest(model_dir) if args.model else {
            'id': Path(args.checkpoint).name, 'labels': LAION_REALFAKE['labels'],
            'generatedIndex': LAION_REALFAKE['generatedIndex'], 'preprocessing': LAION_REALFAKE['preprocessing']}
        return load_checkpoint(Path(args.checkpoint), prefix=args.prefix, ignore=args.ignore).model, manifest
    if model_dir is None:
        raise InputError('no model found: pass --model or --checkpoint')
    manifest = load_manifest(model_dir)
    if not manifest.get('fixture'):
        raise InputError(f"{manifest['id']} is not a fixture: pass its PyTorch --checkpoint (the ONNX file is never the reference)")
    return load_model(manifest), manifest


# ---- main --------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--real', action='append', default=[])
    ap.add_argument('--fake', action='append', default=[])
    ap.add_argument('--manifest', action='append', default=[])
    ap.add_argument('--one-means', choices=['fake', 'real'], default='fake')
    ap.add_argument('--model')
    ap.add_argument('--checkpoint')
    ap.add_argument('--prefix')
    ap.add_argument('--ignore', action='append')
    ap.add_argument('--out', default='reference-report')
    ap.add_argument('--threshold', type=float, default=0.5)
    ap.add_argument('--batch', type=int, default=16)
    args = ap.parse_args()
    if not (args.real or args.fake or args.manifest):
        ap.error('give --real and --fake folders, or --manifest FILE')
    try:
        samples = gather(args)
        model, manifest = model_and_manifest(args)
    except (InputError, OSError, ValueError) as e:
        print(f'reference_score: {e}', file=sys.stderr)
        return 1

    pre = manifest['preprocessing']
    scored: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    pending: list[tuple[tuple[str, str, str], np.ndarray]] = []

    def flush() -> None:
        if not pending:
            return
        batch = torch.stack([preprocess(a, pre) for _, a in pending])
        for ((path, _, label), a), r in zip(pending, score_tensors(model, batch, manifest)):
            scored.append({'path': path, 'label': label, 'p': r['pGenerated'], 'width': a.shape[1], 'height': a.shape[0]})
        pending.clear()

    for s in samples:
        try:
            pending.append((s, open_rgb(s[1])))
        except (InputError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            skipped.append({'path': s[0], 'label': s[2], 'reason': str(e).split('\n')[0]})
        if len(pending) >= args.batch:
            flush()
    flush()

    y = np.array([1 if r['label'] == 'fake' else 0 for r in scored], dtype=np.int64)
    p = np.array([r['p'] for r in scored], dtype=np.float64)
    m = metrics(y, p, args.threshold)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / 'scores.csv', 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['path', 'label', 'p_generated', 'predicted', 'correct', 'width', 'height'])
        for r in scored:
            pred = 'fake' if r['p'] >= args.threshold else 'real'
            w.writerow([r['path'], r['label'], repr(r['p']), pred, int(pred == r['label']), r['width'], r['height']])
    result = {'tool': 'tools/reference_score.py', 'model': manifest.get('id'), 'checkpoint': args.checkpoint,
              'counts': {'files': len(samples), 'scored': len(scored), 'skipped': len(skipped),
                         'real': int((y == 0).sum()), 'fake': int((y == 1).sum())},
              **m, 'skipped': skipped}
    (out / 'metrics.json').write_text(json.dumps(result, indent=2) + '\n')
    c = m['confusion']
    fmt = (lambda v: '—' if v is None else f'{v:.4f}')
    print(f"images     {len(scored)} scored ({result['counts']['real']} real, {result['counts']['fake']} generated), {len(skipped)} skipped")
    print(f"accuracy   {fmt(m['accuracy'])}\nprecision  {fmt(m['precision'])}\nrecall     {fmt(m['recall'])}\nF1         {fmt(m['f1'])}")
    print(f"ROC AUC    {fmt(m['auc'])}\nconfusion  TP {c['tp']}  FP {c['fp']}  TN {c['tn']}  FN {c['fn']}")
    for s in skipped:
        print(f"  skipped {s['path']}: {s['reason']}")
    return 0 if scored else 1


if __name__ == '__main__':
    sys.exit(main())
