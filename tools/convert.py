#!/usr/bin/env python3
"""Converts a ConvNeXt classifier checkpoint (e.g. LAION's realfake) into the extension's model
format: models/<id>/model.onnx (fp32, opset 17, dynamic batch) + manifest.json, checked on the way.

  /usr/bin/python3 tools/convert.py CHECKPOINT [--id realfake] [--fp16] [--int8] [options]

Accepted checkpoints (tools/realfake_ref/checkpoint.py): a bare state_dict or a PyTorch-Lightning /
fastai checkpoint holding one, with any common key prefix (`model.`, `net.`, ...), in timm names
(`stem.0`, `stages.N.blocks.M`, `head.fc`, `head.norm`, `gamma`) or torchvision names
(`features.N`, `classifier.2`, `layer_scale`). The stage widths/depths and the number of classes
are read from the tensors; keys that cannot be placed are named in the error.

Parity is part of the conversion: the same random inputs (and the manifest's probe input) go
through PyTorch and through the exported ONNX run by onnxruntime-node (tools/run_onnx.mjs); logits
must agree to 1e-4 or nothing is written. With --fp16 an fp16 variant is also written as <id>-fp16
(every weight and activation fp16 but the final classifier layer's, which stay float32,
computing in fp16 where the backend can, e.g. WebGPU with shader-f16; float32 input and output as before; its manifest names <id> in "variantOf"), after
checking its logits and probabilities against PyTorch. With --int8 an int8 variant is also written as
<id>-int8 (tools/realfake_ref/int8.py: MatMul/Gemm weights int8 per output channel, activations
quantised at run time; about a quarter of the size), after checking its probe logits against PyTorch;
its agreement with the fp32 model (max |Δp|, labels at 0.5) on the photographs in test/fixtures/photos
and synthetic pictures is measured and stored in its manifest ("agreement"). Output folders are written under a temporary name and renamed into place at the end: a
failed or interrupted conversion leaves nothing in models/.

Labels and preprocessing come from a preset, stored in the manifest with where each fact comes from
(--preset; tools/realfake_ref/defaults.py):
  laion-realfake  the published model, read from its own code: labels real,fake (index 1 = generated),
                  both sides resized to 256 with OpenCV's INTER_LINEAR, centre crop 224, albumentations'
                  Normalize (ImageNet mean/std). The default for a file laid out as the published one
                  (a Lightning checkpoint of a two-class timm ConvNeXt).
  torchvision     labels real,fake, Resize(256) on the shorter side with PIL's bilinear filter, CenterCrop(224),
                  ToTensor + Normalize: the default for any other checkpoint.
--labels, --generated-index, --resize-mode, --resize, --crop, --interpolation and --library override
single facts of the preset (the manifest says so).

--inspect CHECKPOINT... only reads each file and prints its layout and architecture, or why it
would be refused (exit status 1 if any would be), without exporting anything.

Exit status: 0 converted, 1 refused (unreadable checkpoint, keys it cannot place, parity failure),
2 bad arguments. --json prints a summary (paths, architecture, parity numbers) on stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Only the torch-free constants here: bad arguments are answered before torch is imported.
from realfake_ref.defaults import FIXTURE_FOLDER, FIXTURE_ID, PARITY_TOLERANCE, PRESETS  # noqa: E402

ID_RE = re.compile(r'^[a-z0-9][a-z0-9._-]{0,63}$')  # as parseManifest (src/detector/manifest.ts)
RESERVED_IDS = {FIXTURE_FOLDER, FIXTURE_ID}  # the committed test model


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('checkpoint', type=Path, nargs='+', help='the checkpoint file (.ckpt, .pth, .pt, .bin); several with --inspect')
    ap.add_argument('--inspect', action='store_true',
                    help='only read each checkpoint and say what it holds (layout, architecture) or why it cannot be converted')
    ap.add_argument('--id', default='realfake', help='model id: lowercase letters, digits, . _ - (default: realfake)')
    ap.add_argument('--out', type=Path, help='output folder (default: models/<id>); must not exist unless --force')
    ap.add_argument('--force', action='store_true', help='replace an existing output folder')
    ap.add_argument('--name', help='display name (default: "<checkpoint file name> (<variant>)")')
    ap.add_argument('--version', help='model version (default: the first 12 hex digits of the checkpoint SHA-256)')
    ap.add_argument('--origin', help="where the weights came from, e.g. a URL (default: the checkpoint's file name)")
    ap.add_argument('--preset', choices=['auto', *sorted(PRESETS)], default='auto',
                    help='labels and preprocessing (default auto: laion-realfake for a file laid out as the published '
                         'checkpoint, else torchvision)')
    ap.add_argument('--labels', help="class names in output order, comma-separated (default: the preset's: real,fake)")
    ap.add_argument('--generated-index', type=int,
                    help='index into --labels of the class meaning "generated" (default: the preset\'s: 1)')
    ap.add_argument('--resize-mode', choices=['shorter-side', 'square'],
                    help='square: both sides to N (laion-realfake); shorter-side: torchvision Resize(N)')
    ap.add_argument('--resize', type=int, help="resize size N (default: the preset's, 256)")
    ap.add_argument('--interpolation', choices=['opencv-linear', 'bilinear'],
                    help="opencv-linear: cv2.resize INTER_LINEAR (laion-realfake); bilinear: PIL's, antialiased")
    ap.add_argument('--library', choices=['albumentations', 'torchvision'],
                    help="whose CenterCrop offsets and Normalize arithmetic (laion-realfake: albumentations)")
    ap.add_argument('--crop', type=int, help="center crop and input size (default: the preset's, 224)")
    ap.add_argument('--fp16', action='store_true', help='also write an fp16-compute variant as <id>-fp16 (about half the size)')
    ap.add_argument('--int8', action='store_true',
                    help='also write an int8 variant as <id>-int8 (about a quarter of the size), with its measured agreement')
    ap.add_argument('--prefix', help='the key prefix to strip (default: found from the stem weight)')
    ap.add_argument('--ignore', action='append', metavar='REGEX', help='drop checkpoint keys matching REGEX (repeatable)')
    ap.add_argument('--parity-tolerance', type=float, default=PARITY_TOLERANCE,
                    help='largest |logit difference| allowed between PyTorch and onnxruntime (default and maximum: 1e-4)')
    ap.add_argument('--json', action='store_true', help='print a JSON summary on stdout')
    args = ap.parse_args(argv)
    if len(args.checkpoint) > 1 and not args.inspect:
        ap.error('give one checkpoint (several only with --inspect)')
    if not args.inspect:
        args.checkpoint = args.checkpoint[0]
    if args.labels is not None:
        args.labels = [s.strip() for s in args.labels.split(',')]
    if (not ID_RE.match(args.id) or args.id in RESERVED_IDS or (args.fp16 and not ID_RE.match(args.id + '-fp16'))
            or (args.int8 and not ID_RE.match(args.id + '-int8'))):
        ap.error(f'--id {args.id!r}: use lowercase letters, digits, ".", "_" or "-" (at most 64), '
                 f'not the test fixture\'s ({", ".join(sorted(RESERVED_IDS))})')
    if args.labels is not None and (len(args.labels) < 2 or not all(args.labels) or len(set(args.labels)) != len(args.labels)):
        ap.error(f'--labels {",".join(args.labels)!r}: give at least two distinct, non-empty names')
    n_labels = len(args.labels) if args.labels is not None else 2
    if args.generated_index is not None and not 0 <= args.generated_index < n_labels:
        ap.error(f'--generated-index {args.generated_index} does not index into the labels ({n_labels} names)')
    if not 0 < args.parity_tolerance <= PARITY_TOLERANCE:
        ap.error(f'--parity-tolerance must be in (0, {PARITY_TOLERANCE:g}]: it can be made stricter, not looser')
    crop = args.crop if args.crop is not None else 224
    if crop < 32 or (args.resize if args.resize is not None else 256) < crop:
        ap.error('--crop must be at least 32 and --resize at least --crop')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from realfake_ref.checkpoint import CheckpointError
    from realfake_ref.convert import ConversionError, convert, inspect

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.inspect:
        results = [inspect(path, prefix=args.prefix, ignore=args.ignore) for path in args.checkpoint]
        if args.json:
            print(json.dumps({'checkpoints': results}, indent=2))
        return 0 if all(r['ok'] for r in results) else 1
    try:
        summary = convert(args)
    except (CheckpointError, ConversionError, FileExistsError) as e:
        print(f'convert: error: {e}', file=sys.stderr)
        return 1
    except RuntimeError as e:  # the export failed, or onnxruntime-node could not load or run it
        print(f'convert: error: {e}', file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
