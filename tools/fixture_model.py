#!/usr/bin/env python3
"""Generates (or checks) the test-fixture model: models/fixture/{model.onnx,manifest.json}.

A small ConvNeXt (torchvision's class, deterministic random weights; see realfake_ref/fixture.py)
exported to ONNX opset 17, plus its manifest (schema: src/detector/manifest.ts) with reference
probe logits computed by PyTorch.

  /usr/bin/python3 tools/fixture_model.py --out models/fixture     # (re)write the files
  /usr/bin/python3 tools/fixture_model.py --check models/fixture   # verify the committed files
  /usr/bin/python3 tools/fixture_model.py --spread PHOTO...        # print p(class 0) per photo

--check regenerates into a temporary folder and verifies: the committed manifest equals the
regenerated one (probe logits to 1e-5, everything else exactly except the ONNX hash/size when the
export is not byte-identical), the committed ONNX run by onnxruntime-node (tools/run_onnx.mjs)
reproduces the probe logits, and its SHA-256 matches the manifest.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from realfake_ref.export import build_manifest, export_onnx, probe_logits, run_onnx_node  # noqa: E402
from realfake_ref.files import dump_json, sha256_file  # noqa: E402
from realfake_ref.fixture import FIXTURE_SEED, build_fixture_model  # noqa: E402
from realfake_ref.pipeline import DEFAULT_PREPROCESSING, build_transform, load_rgb  # noqa: E402

CHECK_TOLERANCE = 1e-5  # PyTorch vs committed manifest (same machine class, same math)
ONNX_TOLERANCE = 1e-4   # onnxruntime vs committed manifest (different kernels)


def manifest_for(onnx_path: Path, logits: list[float], seed: int) -> dict:
    return build_manifest(
        model_id='realfake-fixture',
        name='Realfake Lens test fixture (random weights)',
        version='1',
        fixture=True,
        description='Small ConvNeXt (torchvision ConvNeXt class, dims 16/32/64/128, depths 1/1/2/1) '
                    'with deterministic random weights. A test aid: its scores mean nothing.',
        origin=f'tools/fixture_model.py seed={seed}',
        source_sha256=None,
        onnx_path=onnx_path,
        precision='fp32',
        labels=['fake', 'real'],
        generated_index=0,
        preprocessing=DEFAULT_PREPROCESSING,
        probe=logits,
    )


def generate(out: Path, seed: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    model = build_fixture_model(seed)
    onnx_path = out / 'model.onnx'
    export_onnx(model, onnx_path)
    manifest = manifest_for(onnx_path, probe_logits(model), seed)
    (out / 'manifest.json').write_text(dump_json(manifest))
    return manifest


def run_onnx(onnx_path: Path, batch: int) -> list[float]:
    return [float(v) for v in run_onnx_node(onnx_path, batch=batch).reshape(-1)]


def max_diff(a: list[float], b: list[float]) -> float:
    if len(a) != len(b):
        return float('inf')
    return max(abs(x - y) for x, y in zip(a, b))


def check(committed: Path) -> int:
    problems: list[str] = []
    mpath = committed / 'manifest.json'
    if not mpath.exists() or not (committed / 'model.onnx').exists():
        print(f'fixture check: {committed} lacks manifest.json or model.onnx; run npm run fixture:model', file=sys.stderr)
        return 1
    old = json.loads(mpath.read_text())
    seed = FIXTURE_SEED
    with tempfile.TemporaryDirectory() as tmp:
        new = generate(Path(tmp), seed)
        byte_identical = new['onnx']['sha256'] == old['onnx']['sha256']
        print(f"fixture check: regenerated ONNX is {'byte-identical' if byte_identical else 'NOT byte-identical'} "
              f"({new['onnx']['sha256'][:12]} vs committed {old['onnx']['sha256'][:12]})")

    d = max_diff(old['probe']['logits'], new['probe']['logits'])
    print(f'fixture check: PyTorch probe logits vs committed: max |diff| = {d:.3g}')
    if not d <= CHECK_TOLERANCE:
        problems.append(f'PyTorch probe logits differ from the committed manifest by {d:.3g} (> {CHECK_TOLERANCE})')

    # Everything but the ONNX hash/size and the probe logits must match exactly.
    def strip(m: dict) -> dict:
        m = json.loads(json.dumps(m))
        m['probe']['logits'] = None
        if not byte_identical:
            m['onnx']['sha256'] = m['onnx']['bytes'] = None
        return m
    if strip(old) != strip(new):
        problems.append('manifest fields differ from what tools/fixture_model.py writes')

    onnx_file = committed / old['onnx']['file']
    if sha256_file(onnx_file) != old['onnx']['sha256'] or onnx_file.stat().st_size != old['onnx']['bytes']:
        problems.append(f'{onnx_file} does not match onnx.sha256/bytes in its manifest')

    try:
        ort = run_onnx(onnx_file, old['probe']['batch'])
    except RuntimeError as e:
        problems.append(f'onnxruntime-node could not run {onnx_file}: {str(e).strip().splitlines()[-1]}')
    else:
        d = max_diff(ort, old['probe']['logits'])
        print(f'fixture check: onnxruntime-node probe logits vs committed: max |diff| = {d:.3g}')
        if not d <= ONNX_TOLERANCE:
            problems.append(f'onnxruntime-node probe logits differ from the manifest by {d:.3g} (> {ONNX_TOLERANCE})')

    for p in problems:
        print(f'fixture check FAILED: {p}', file=sys.stderr)
    if problems:
        print('(regenerate with: npm run fixture:model, then review the diff)', file=sys.stderr)
        return 1
    print('fixture check: OK')
    return 0


@torch.no_grad()
def spread(photos: list[str], seed: int) -> None:
    model = build_fixture_model(seed)
    tf = build_transform(DEFAULT_PREPROCESSING)
    x = torch.stack([tf(load_rgb(p)) for p in photos])
    p0 = torch.softmax(model(x), dim=1)[:, 0]
    for name, p in zip(photos, p0):
        print(f'{float(p):.4f}  {os.path.basename(name)}')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument('--out', type=Path, help='write model.onnx and manifest.json into DIR')
    g.add_argument('--check', type=Path, help='verify the files in DIR reproduce')
    g.add_argument('--spread', nargs='+', metavar='PHOTO', help='print p(class 0) for photos')
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.out:
        m = generate(args.out, FIXTURE_SEED)
        print(f"wrote {args.out}/model.onnx ({m['onnx']['bytes']} bytes, sha256 {m['onnx']['sha256']}) and manifest.json")
        return 0
    if args.check:
        return check(args.check)
    spread(args.spread, FIXTURE_SEED)
    return 0


if __name__ == '__main__':
    sys.exit(main())
