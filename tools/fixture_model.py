#!/usr/bin/env python3
"""Generates (or checks) the test-fixture models: models/fixture/{model.onnx,manifest.json} and its
fp16 variant test/fixtures/models/fixture-fp16/ (the same files; not packaged by the build).

A small ConvNeXt (torchvision's class, deterministic random weights; see realfake_ref/fixture.py)
exported to ONNX opset 17, plus its manifest (schema: src/detector/manifest.ts) with reference
probe logits computed by PyTorch. The fp16 variant (id realfake-fixture-fp16, "variantOf":
"realfake-fixture") is that export converted to fp16 compute (realfake_ref.export.convert_to_fp16),
exactly as tools/convert.py --fp16 converts a real checkpoint; its probe logits are the same
PyTorch fp32 ones, with the fp16 tolerance.

  /usr/bin/python3 tools/fixture_model.py --out models/fixture     # (re)write it and its fp16 variant
  /usr/bin/python3 tools/fixture_model.py --check models/fixture   # verify both committed folders
  /usr/bin/python3 tools/fixture_model.py --spread PHOTO...        # print p(class 0) per photo

--check regenerates both into a temporary folder and verifies, for each: the committed manifest
equals the regenerated one (probe logits to 1e-5, everything else exactly except the ONNX hash/size
when the export is not byte-identical), the committed ONNX run by onnxruntime-node
(tools/run_onnx.mjs) reproduces the probe logits (fp32: to 1e-4; fp16: to half its manifest's
tolerance), and its SHA-256 matches the manifest.
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

from realfake_ref.defaults import FIXTURE_ID, FP16_CHECK_TOLERANCE, LAION_REALFAKE  # noqa: E402
from realfake_ref.export import build_manifest, convert_to_fp16, export_onnx, probe_logits, run_onnx_node  # noqa: E402
from realfake_ref.files import dump_json, sha256_file  # noqa: E402
from realfake_ref.fixture import FIXTURE_SEED, build_fixture_model  # noqa: E402
from realfake_ref.pipeline import load_pixels, preprocess  # noqa: E402

CHECK_TOLERANCE = 1e-5  # PyTorch vs committed manifest (same machine class, same math)
# onnxruntime vs committed manifest: fp32, different kernels; fp16, fp16 rounding on top (the converter's bound).
ONNX_TOLERANCE = {'fp32': 1e-4, 'fp16': FP16_CHECK_TOLERANCE}


REPO = Path(__file__).resolve().parents[1]
# Kept out of models/ so the build does not package it: the e2e tests install it as a user would.
COMMITTED_FP16 = REPO / 'test' / 'fixtures' / 'models' / 'fixture-fp16'


def fp16_dir(fp32_dir: Path) -> Path:
    """Where the fp16 variant of the fixture in `fp32_dir` lives: test/fixtures/models/fixture-fp16
    for the committed models/fixture, else beside it (a scratch folder)."""
    if fp32_dir.resolve() == (REPO / 'models' / 'fixture').resolve():
        return COMMITTED_FP16
    return fp32_dir.with_name(fp32_dir.name + '-fp16')


def manifest_for(onnx_path: Path, logits: list[float], seed: int, precision: str = 'fp32') -> dict:
    fp16 = precision == 'fp16'
    return build_manifest(
        model_id=FIXTURE_ID + ('-fp16' if fp16 else ''),
        name='Realfake Lens test fixture (random weights' + (', fp16)' if fp16 else ')'),
        version='1',
        fixture=True,
        description='Small ConvNeXt (torchvision ConvNeXt class, dims 16/32/64/128, depths 1/1/2/1) '
                    'with deterministic random weights. A test aid: its scores mean nothing.',
        origin=f'tools/fixture_model.py seed={seed}',
        source_sha256=None,
        onnx_path=onnx_path,
        precision=precision,
        # The published model's preset, so that every test runs the path the real model takes.
        preset=LAION_REALFAKE,
        probe=logits,
        variant_of=FIXTURE_ID if fp16 else None,
    )


def generate(out: Path, seed: int) -> list[tuple[Path, dict]]:
    """Writes the fp32 fixture into `out` and its fp16 variant into fp16_dir(out); returns (folder,
    manifest) for each. Both carry PyTorch's fp32 probe logits: the fp16 file must reproduce them
    within its tolerance, as a converted real model's must."""
    model = build_fixture_model(seed)
    logits = probe_logits(model)
    out16 = fp16_dir(out)
    for d in (out, out16):
        d.mkdir(parents=True, exist_ok=True)
    export_onnx(model, out / 'model.onnx')
    convert_to_fp16(out / 'model.onnx', out16 / 'model.onnx')
    written = []
    for d, precision in ((out, 'fp32'), (out16, 'fp16')):
        manifest = manifest_for(d / 'model.onnx', logits, seed, precision)
        (d / 'manifest.json').write_text(dump_json(manifest))
        written.append((d, manifest))
    return written


def run_onnx(onnx_path: Path, batch: int) -> list[float]:
    return [float(v) for v in run_onnx_node(onnx_path, batch=batch).reshape(-1)]


def max_diff(a: list[float], b: list[float]) -> float:
    if len(a) != len(b):
        return float('inf')
    return max(abs(x - y) for x, y in zip(a, b))


def check_one(committed: Path, new: dict) -> list[str]:
    """What is wrong with the committed fixture folder, compared with the regenerated manifest `new`."""
    problems: list[str] = []
    old = json.loads((committed / 'manifest.json').read_text())
    byte_identical = new['onnx']['sha256'] == old['onnx']['sha256']
    print(f"fixture check {committed.name}: regenerated ONNX is {'byte-identical' if byte_identical else 'NOT byte-identical'} "
          f"({new['onnx']['sha256'][:12]} vs committed {old['onnx']['sha256'][:12]})")

    d = max_diff(old['probe']['logits'], new['probe']['logits'])
    print(f'fixture check {committed.name}: PyTorch probe logits vs committed: max |diff| = {d:.3g}')
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

    limit = ONNX_TOLERANCE[new['precision']]
    try:
        ort = run_onnx(onnx_file, old['probe']['batch'])
    except RuntimeError as e:
        problems.append(f'onnxruntime-node could not run {onnx_file}: {str(e).strip().splitlines()[-1]}')
    else:
        d = max_diff(ort, old['probe']['logits'])
        print(f'fixture check {committed.name}: onnxruntime-node probe logits vs committed: max |diff| = {d:.3g} (limit {limit:g})')
        if not d <= limit:
            problems.append(f'onnxruntime-node probe logits differ from the manifest by {d:.3g} (> {limit:g})')
    return [f'{committed.name}: {p}' for p in problems]


def check(committed: Path) -> int:
    """Checks the fp32 fixture in `committed` and its fp16 variant beside it."""
    dirs = [committed, fp16_dir(committed)]
    for d in dirs:
        if not (d / 'manifest.json').exists() or not (d / 'model.onnx').exists():
            print(f'fixture check: {d} lacks manifest.json or model.onnx; run npm run fixture:model', file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory() as tmp:
        regenerated = generate(Path(tmp) / 'fixture', FIXTURE_SEED)
    problems = [p for d, (_, new) in zip(dirs, regenerated) for p in check_one(d, new)]

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
    pre = LAION_REALFAKE['preprocessing']
    x = torch.stack([preprocess(load_pixels(p), pre) for p in photos])
    pg = torch.softmax(model(x), dim=1)[:, LAION_REALFAKE['generatedIndex']]
    for name, p in zip(photos, pg):
        print(f'{float(p):.4f}  {os.path.basename(name)}')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument('--out', type=Path, metavar='DIR', help='write model.onnx and manifest.json into DIR and (fp16) DIR-fp16')
    g.add_argument('--check', type=Path, metavar='DIR', help='verify the files in DIR and DIR-fp16 reproduce')
    g.add_argument('--spread', nargs='+', metavar='PHOTO', help='print p(generated) for photos')
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.out:
        for d, m in generate(args.out, FIXTURE_SEED):
            print(f"wrote {d}/model.onnx ({m['precision']}, {m['onnx']['bytes']} bytes, sha256 {m['onnx']['sha256']}) and manifest.json")
        return 0
    if args.check:
        return check(args.check)
    spread(args.spread, FIXTURE_SEED)
    return 0


if __name__ == '__main__':
    sys.exit(main())
