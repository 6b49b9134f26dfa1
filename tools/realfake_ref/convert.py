"""The conversion behind tools/convert.py: checkpoint -> checked ONNX model folder(s) + manifest."""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import Architecture, CheckpointError, LoadedCheckpoint, load_checkpoint
from .defaults import FP16_CHECK_TOLERANCE, PARITY_TOLERANCE, PROBE_BATCH, preset
from .export import build_manifest, convert_to_fp16, export_onnx, parity_inputs, probe_logits, run_onnx_node, softmax, torch_logits
from .files import dump_json, staged_dir
from .int8 import make_int8

REPO = Path(__file__).resolve().parents[2]
PHOTOS_DIR = REPO / 'test' / 'fixtures' / 'photos'  # the int8 variant's agreement set (with synthetic pictures)
# The committed test models (tools/fixture_model.py): never written by the converter.
FIXTURE_DIRS = [(REPO / 'models' / 'fixture').resolve(), (REPO / 'test' / 'fixtures' / 'models' / 'fixture-fp16').resolve()]
# torchvision's ConvNeXt variants, to name what a checkpoint is.
VARIANTS = {
    ((96, 192, 384, 768), (3, 3, 9, 3)): 'ConvNeXt-Tiny',
    ((96, 192, 384, 768), (3, 3, 27, 3)): 'ConvNeXt-Small',
    ((128, 256, 512, 1024), (3, 3, 27, 3)): 'ConvNeXt-Base',
    ((192, 384, 768, 1536), (3, 3, 27, 3)): 'ConvNeXt-Large',
    ((256, 512, 1024, 2048), (3, 3, 27, 3)): 'ConvNeXt-XLarge',
}


class ConversionError(Exception):
    """The conversion was refused; the message says why."""


def variant_name(arch: Architecture) -> str:
    return VARIANTS.get((tuple(arch.dims), tuple(arch.depths)), 'ConvNeXt (custom size)')


def log(msg: str) -> None:
    print(f'convert: {msg}', file=sys.stderr, flush=True)


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b))) if a.shape == b.shape else float('inf')


def describe(ck: LoadedCheckpoint) -> dict:
    return {'sha256': ck.sha256, 'layout': ck.layout, 'prefix': ck.prefix, 'variant': variant_name(ck.arch),
            'dims': ck.arch.dims, 'depths': ck.arch.depths, 'classes': ck.arch.num_classes, 'ignoredObjects': ck.ignored_objects}


def inspect(path: Path, *, prefix: str | None = None, ignore: list[str] | None = None) -> dict:
    """What a checkpoint holds, or why it cannot be converted (convert.py --inspect)."""
    try:
        ck = load_checkpoint(path, prefix=prefix, ignore=ignore)
    except CheckpointError as e:
        log(f'{path}: refused: {e}')
        return {'file': str(path), 'ok': False, 'error': str(e)}
    log(f'{path}: {ck.layout} names, prefix {ck.prefix!r}, {ck.arch.describe()} ({variant_name(ck.arch)})')
    return {'file': str(path), 'ok': True, **describe(ck)}


def check_parity(onnx_path: Path, model: torch.nn.Module, crop: int, tolerance: float = PARITY_TOLERANCE) -> dict:
    """PyTorch vs onnxruntime-node on the same inputs; raises ConversionError past `tolerance`."""
    x = parity_inputs(crop)
    want = torch_logits(model, x)
    got = run_onnx_node(onnx_path, x)
    d = max_abs(want, got)
    dp = max_abs(softmax(want), softmax(got))
    log(f'parity fp32: {x.shape[0]} inputs, max |Δlogit| = {d:.3g} (limit {tolerance:g}), max |Δp| = {dp:.3g}')
    if not d <= tolerance:
        raise ConversionError(f'parity check failed: onnxruntime and PyTorch logits differ by {d:.3g} '
                              f'(> {tolerance:g}) on the same inputs; nothing was written')
    return {'inputs': int(x.shape[0]), 'maxAbsLogit': d, 'maxAbsP': dp, 'tolerance': tolerance}


def check_fp16(onnx_path: Path, model: torch.nn.Module, crop: int) -> dict:
    """The fp16 variant against PyTorch fp32: reports |Δp| and label agreement; its probe logits
    must sit well inside the tolerance its manifest gives the browser (FP16_CHECK_TOLERANCE: onnxruntime's
    CPU EP runs only some ops in fp16 and casts around the rest, so it rounds less than WebGPU)."""
    x = parity_inputs(crop)
    want = torch_logits(model, x)
    got = run_onnx_node(onnx_path, x)
    d = max_abs(want, got)
    p_want, p_got = softmax(want), softmax(got)
    dp = max_abs(p_want, p_got)
    agree = float(np.mean(p_want.argmax(1) == p_got.argmax(1)))
    probe_d = max_abs(want[-PROBE_BATCH:], got[-PROBE_BATCH:])
    limit = FP16_CHECK_TOLERANCE
    log(f'fp16 vs PyTorch fp32: max |Δlogit| = {d:.3g}, max |Δp| = {dp:.3g}, labels agree {agree:.0%}, '
        f'probe |Δlogit| = {probe_d:.3g} (limit {limit:g})')
    if not probe_d <= limit:
        raise ConversionError(f'the fp16 variant is too far from PyTorch: probe logits differ by {probe_d:.3g} (> {limit:g})')
    return {'inputs': int(x.shape[0]), 'maxAbsLogit': d, 'maxAbsP': dp, 'labelAgreement': agree}


def choose_preset(args: argparse.Namespace, ck: LoadedCheckpoint) -> dict:
    """The preset (labels, preprocessing, sources) for this checkpoint, with the command line's
    overrides applied and recorded in its sources."""
    name = args.preset
    if name == 'auto':
        name = 'laion-realfake' if ck.looks_published() else 'torchvision'
        why = ('laid out as the published checkpoint (Lightning, timm names, two classes)' if name == 'laion-realfake'
               else f'not laid out as the published checkpoint ({ck.container or "bare"} state_dict, {ck.layout} names, '
                    f'{ck.arch.num_classes} classes)')
        log(f'preset {name}: {why}')
    chosen = preset(name)
    pre = chosen['preprocessing']
    label_flags = []
    for key, flag, value in (('labels', 'labels', args.labels), ('generatedIndex', 'generated-index', args.generated_index)):
        if value is not None and value != chosen[key]:
            chosen[key] = value
            label_flags.append(f"--{flag} {','.join(value) if isinstance(value, list) else value}")
    if label_flags:
        chosen['sources']['labels'] = f"set on the command line ({', '.join(label_flags)}), not the {name} preset's"
    changed = []
    for flag, value, where in (('resize-mode', args.resize_mode, ('resize', 'mode')), ('resize', args.resize, ('resize', 'size')),
                               ('interpolation', args.interpolation, ('resize', 'interpolation'))):
        if value is not None and pre['resize'][where[1]] != value:
            pre['resize'][where[1]] = value
            changed.append(f'--{flag} {value}')
    if args.crop is not None and args.crop != pre['centerCrop']:
        pre['centerCrop'] = args.crop
        changed.append(f'--crop {args.crop}')
    if args.library is not None and args.library != pre['library']:
        pre['library'] = args.library
        changed.append(f'--library {args.library}')
    if changed:
        chosen['sources']['preprocessing'] = f"the {name} preset changed by {', '.join(changed)} on the command line"
    return chosen


def convert(args: argparse.Namespace) -> dict:
    """Runs the conversion tools/convert.py's arguments describe; returns its summary."""
    started = time.monotonic()
    out = (args.out or REPO / 'models' / args.id).resolve()
    out16 = out.with_name(out.name + '-fp16')
    out8 = out.with_name(out.name + '-int8')
    for d in [out] + ([out16] if args.fp16 else []) + ([out8] if args.int8 else []):
        if d in FIXTURE_DIRS:
            raise ConversionError(f'refusing to write into models/{d.name}, a committed test model')
        if d.exists() and not args.force:
            raise ConversionError(f'{d} already exists (pass --force to replace it)')

    ck: LoadedCheckpoint = load_checkpoint(args.checkpoint, prefix=args.prefix, ignore=args.ignore)
    variant = variant_name(ck.arch)
    if ck.ignored_objects:
        log(f"ignored pickled objects that are not tensors (never called): {', '.join(ck.ignored_objects)}")
    log(f'{args.checkpoint.name}: {ck.layout} names, prefix {ck.prefix!r}, {ck.arch.describe()} ({variant})')
    chosen = choose_preset(args, ck)
    labels = chosen['labels']
    if ck.arch.num_classes != len(labels):
        raise ConversionError(f'the checkpoint\'s head has {ck.arch.num_classes} classes but the labels name '
                              f'{len(labels)} ({",".join(labels)}): pass --labels with {ck.arch.num_classes} names')
    crop = int(chosen['preprocessing']['centerCrop'])
    probe = probe_logits(ck.model, crop)
    common = dict(
        version=args.version or ck.sha256[:12],
        fixture=False,
        description=(f'{variant}: {ck.arch.describe()}, converted by tools/convert.py from a {ck.layout}-named '
                     f'checkpoint' + (f' (key prefix "{ck.prefix}")' if ck.prefix else '')),
        origin=args.origin or args.checkpoint.name,
        source_sha256=ck.sha256,
        preset=chosen,
        probe=probe,
    )
    name = args.name or f'{args.checkpoint.name} ({variant})'
    summary: dict = {'checkpoint': str(args.checkpoint), **describe(ck), 'models': []}

    with tempfile.TemporaryDirectory(prefix='rfl-convert-') as scratch:
        fp32 = Path(scratch) / 'model.onnx'
        t0 = time.monotonic()
        export_onnx(ck.model, fp32, crop)
        log(f'exported ONNX opset 17 in {time.monotonic() - t0:.1f} s ({fp32.stat().st_size / 1e6:.1f} MB)')
        summary['parity'] = check_parity(fp32, ck.model, crop, args.parity_tolerance)
        if args.fp16:
            fp16 = Path(scratch) / 'model-fp16.onnx'
            try:
                n = convert_to_fp16(fp32, fp16)
            except ValueError as e:  # e.g. a weight beyond fp16's range
                raise ConversionError(f'cannot make the fp16 variant: {e}') from e
            log(f"fp16 variant: {n['initializers']} initializers and {n['constants']} constants as fp16, computing in fp16 "
                f"({fp16.stat().st_size / 1e6:.1f} MB)")
            summary['fp16'] = check_fp16(fp16, ck.model, crop)
        if args.int8:
            int8 = Path(scratch) / 'model-int8.onnx'
            try:
                summary['int8'] = make_int8(fp32, int8, probe=probe, preprocessing=chosen['preprocessing'],
                                            generated_index=int(chosen['generatedIndex']), photos_dir=PHOTOS_DIR, log=log)
            except ValueError as e:
                raise ConversionError(f'cannot make the int8 variant: {e}') from e

        # Everything is checked: only now does anything appear under the output folder(s).
        with staged_dir(out, replace=args.force) as d32:
            shutil.move(str(fp32), d32 / 'model.onnx')
            m32 = build_manifest(model_id=args.id, name=name, onnx_path=d32 / 'model.onnx', precision='fp32', **common)
            (d32 / 'manifest.json').write_text(dump_json(m32))
            summary['models'].append({'id': args.id, 'dir': str(out), 'precision': 'fp32', 'bytes': m32['onnx']['bytes'],
                                      'sha256': m32['onnx']['sha256']})
            if args.fp16:
                with staged_dir(out16, replace=args.force) as d16:
                    shutil.move(str(fp16), d16 / 'model.onnx')
                    m16 = build_manifest(model_id=args.id + '-fp16', name=name + ' fp16', onnx_path=d16 / 'model.onnx',
                                         precision='fp16', variant_of=args.id, **common)
                    (d16 / 'manifest.json').write_text(dump_json(m16))
                summary['models'].append({'id': args.id + '-fp16', 'dir': str(out16), 'precision': 'fp16',
                                          'bytes': m16['onnx']['bytes'], 'sha256': m16['onnx']['sha256']})
            if args.int8:
                with staged_dir(out8, replace=args.force) as d8:
                    shutil.move(str(int8), d8 / 'model.onnx')
                    m8 = build_manifest(model_id=args.id + '-int8', name=name + ' int8', onnx_path=d8 / 'model.onnx',
                                        precision='int8', variant_of=args.id, agreement=summary['int8']['agreement'], **common)
                    (d8 / 'manifest.json').write_text(dump_json(m8))
                summary['models'].append({'id': args.id + '-int8', 'dir': str(out8), 'precision': 'int8',
                                          'bytes': m8['onnx']['bytes'], 'sha256': m8['onnx']['sha256']})
    summary['seconds'] = round(time.monotonic() - started, 2)
    for m in summary['models']:
        log(f"wrote {m['dir']} ({m['precision']}, {m['bytes']} bytes, sha256 {m['sha256']})")
    return summary
