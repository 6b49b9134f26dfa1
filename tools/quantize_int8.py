#!/usr/bin/env python3
"""Makes the int8 variant of a model folder that tools/convert.py already wrote (fp32), without the
checkpoint: the same transform and checks as `convert.py --int8` (tools/realfake_ref/int8.py).

  /usr/bin/python3 tools/quantize_int8.py MODEL_DIR [--out DIR] [--force] [--json]

writes DIR (default: MODEL_DIR's sibling <id>-int8) with model.onnx and a manifest naming MODEL_DIR's
model in "variantOf", its probe logits (PyTorch's, from MODEL_DIR's manifest) and the measured
agreement with the fp32 file on the photographs in test/fixtures/photos and synthetic pictures.
Exit status: 0 written, 1 refused (not an fp32 model folder, probe too far off), 2 bad arguments.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realfake_ref.defaults import FIXTURE_FOLDER  # noqa: E402


def log(msg: str) -> None:
    print(f'quantize_int8: {msg}', file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model_dir', type=Path)
    ap.add_argument('--out', type=Path)
    ap.add_argument('--force', action='store_true', help='replace an existing output folder')
    ap.add_argument('--json', action='store_true', help='print a JSON summary on stdout')
    args = ap.parse_args(argv)

    from realfake_ref.convert import PHOTOS_DIR
    from realfake_ref.export import build_manifest
    from realfake_ref.files import dump_json, staged_dir
    from realfake_ref.int8 import make_int8

    try:
        m = json.loads((args.model_dir / 'manifest.json').read_text())
    except (OSError, ValueError) as e:
        print(f'quantize_int8: error: {args.model_dir}: no readable manifest.json ({e})', file=sys.stderr)
        return 1
    if m.get('precision') != 'fp32':
        print(f"quantize_int8: error: {args.model_dir} holds a {m.get('precision')} model; give an fp32 one", file=sys.stderr)
        return 1
    out = (args.out or args.model_dir.with_name(args.model_dir.name + '-int8')).resolve()
    if out.name == FIXTURE_FOLDER or (out.exists() and not args.force):
        print(f'quantize_int8: error: {out} already exists (pass --force to replace it)', file=sys.stderr)
        return 1
    preset = {'name': (m.get('preset') or {}).get('name', 'unknown'), 'sources': (m.get('preset') or {}).get('sources', {}),
              'labels': m['labels'], 'generatedIndex': m['generatedIndex'], 'preprocessing': m['preprocessing']}
    with tempfile.TemporaryDirectory(prefix='rfl-int8-') as scratch:
        int8 = Path(scratch) / 'model.onnx'
        try:
            made = make_int8(args.model_dir / m['onnx']['file'], int8, probe=m['probe']['logits'],
                             preprocessing=m['preprocessing'], generated_index=int(m['generatedIndex']), photos_dir=PHOTOS_DIR, log=log)
        except (ValueError, RuntimeError) as e:
            print(f'quantize_int8: error: {e}', file=sys.stderr)
            return 1
        with staged_dir(out, replace=args.force) as d8:
            shutil.move(str(int8), d8 / 'model.onnx')
            m8 = build_manifest(model_id=m['id'] + '-int8', name=m['name'] + ' int8', version=m['version'], fixture=m['fixture'],
                                description=m['source']['description'], origin=m['source']['origin'],
                                source_sha256=m['source']['sha256'], onnx_path=d8 / 'model.onnx', precision='int8',
                                preset=preset, probe=m['probe']['logits'], variant_of=m['id'], agreement=made['agreement'])
            (d8 / 'manifest.json').write_text(dump_json(m8))
    log(f"wrote {out} (int8, {m8['onnx']['bytes']} bytes, sha256 {m8['onnx']['sha256']})")
    if args.json:
        print(json.dumps({**made, 'dir': str(out), 'id': m8['id'], 'bytes': m8['onnx']['bytes']}, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
