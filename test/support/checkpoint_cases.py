#!/usr/bin/env python3
"""Checkpoints for the TypeScript checkpoint reader's tests (test/tools/checkpoint-reader.test.ts),
written by PyTorch, and what PyTorch reads back from each.

  /usr/bin/python3 test/support/checkpoint_cases.py write OUTDIR
      writes, beside tools/make_test_checkpoint.py's layouts in OUTDIR, the cases below
  /usr/bin/python3 test/support/checkpoint_cases.py add-adam LIGHTNING.ckpt OUT.ckpt
      writes OUT.ckpt: LIGHTNING.ckpt with Adam's state and custom hyper-parameters (as adam below)
  /usr/bin/python3 test/support/checkpoint_cases.py report [--safe] FILE...
      prints JSON: for each file, the state_dict torch.load finds (key, dtype, shape, stride,
      contiguity and the SHA-256 of the values as numpy gives them), or the error; with --safe
      read by the converter's restricted loader instead (for hostile files)

Cases (one small ConvNeXt, lightning-timm.ckpt from make_test_checkpoint.py as the source):
  fp16          a Lightning checkpoint whose weights are float16
  mixed-dtypes  a bare timm state_dict with float16, bfloat16, float64 and int64 tensors
  adam          a Lightning checkpoint with a real Adam optimizer state (exp_avg tensors of every
                weight), a custom hyper-parameter class and Lightning's AttributeDict (a dict
                subclass, filled by SETITEMS after it is built)
  reversed      a bare state_dict whose keys, and so its storages, are saved in reverse order
  shared        a bare state_dict whose tensors view one storage (slices, a transposed view)
  zip64         lightning-timm re-zipped by Python's zipfile with force_zip64 (zip64 local headers)
  deflated      lightning-timm re-zipped with ZIP_DEFLATED entries
  one-storage   a Lightning checkpoint whose weights are all views into one flat storage
  eval-global   a Lightning checkpoint whose hyper-parameters unpickle by calling builtins.eval
                (it would create OUTDIR/EVAL-PAYLOAD-RAN)
"""
from __future__ import annotations

import hashlib
import json
import types
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'tools'))

import torch  # noqa: E402

from realfake_ref.checkpoint import find_state_dict, read_checkpoint  # noqa: E402


class HyperParameters:
    """A user's own hyper-parameter class, as LightningModule.save_hyperparameters pickles it."""

    def __init__(self, lr: float, arch: str) -> None:
        self.lr = lr
        self.arch = arch


class AttributeDict(dict):
    """Stands in for lightning's AttributeDict (a dict subclass, pickled by its class name)."""


# Pickled under Lightning's module name (the pickler checks the name imports: a stand-in module).
AttributeDict.__module__ = 'pytorch_lightning.utilities.parsing'
for _name in (['pytorch_lightning', 'pytorch_lightning.utilities', 'pytorch_lightning.utilities.parsing']):
    sys.modules.setdefault(_name, types.ModuleType(_name))
sys.modules['pytorch_lightning.utilities.parsing'].AttributeDict = AttributeDict  # type: ignore[attr-defined]


class EvalPayload:
    """Unpickling this calls builtins.eval, which would create `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"__import__('pathlib').Path({str(self.marker)!r}).touch()",))


def rezip(src: Path, dst: Path, compression: int = zipfile.ZIP_STORED, force_zip64: bool = False) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w') as zout:
        for info in zin.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            entry.compress_type = compression
            with zout.open(entry, 'w', force_zip64=force_zip64) as f:
                f.write(zin.read(info.filename))


def with_adam(ck: dict) -> dict:
    """A Lightning checkpoint as training leaves it: Adam's state after one step (exp_avg and
    exp_avg_sq beside every weight, as in LAION's published file) and custom hyper-parameters."""
    params = [torch.nn.Parameter(v.clone()) for v in ck['state_dict'].values()]
    opt = torch.optim.Adam(params, lr=1e-3)
    for p in params:
        p.grad = p.detach() * 2
    opt.step()
    adam = dict(ck)
    adam['optimizer_states'] = [opt.state_dict()]
    adam['hyper_parameters'] = AttributeDict(lr=1e-3, custom=HyperParameters(1e-3, 'convnext_large'))
    adam['custom'] = HyperParameters(2e-4, 'x')
    return adam


def write(out: Path) -> None:
    ck = torch.load(out / 'lightning-timm.ckpt')
    timm = {k[len('model.'):]: v for k, v in ck['state_dict'].items()}

    fp16 = dict(ck)
    fp16['state_dict'] = {k: v.half() for k, v in ck['state_dict'].items()}
    torch.save(fp16, out / 'fp16.ckpt')

    mixed = {k: v.half() if i % 3 == 0 else v.bfloat16() if i % 3 == 1 else v.double() for i, (k, v) in enumerate(timm.items())}
    mixed['step'] = torch.tensor([7, 8, 9], dtype=torch.int64)
    torch.save(mixed, out / 'mixed-dtypes.ckpt')

    torch.save(with_adam(ck), out / 'adam.ckpt')

    torch.save(dict(reversed(list(timm.items()))), out / 'reversed.ckpt')

    base = torch.arange(64, dtype=torch.float32) / 7
    grid = base.reshape(8, 8)
    torch.save({'first': base[:16], 'second': base[16:40].reshape(4, 6), 'whole': base, 'grid': grid,
                'transposed': grid.t(), 'column': grid[:, 3], 'other': torch.ones(5)}, out / 'shared.ckpt')

    flat = torch.cat([v.reshape(-1) for v in timm.values()])
    views, at = {}, 0
    for k, v in timm.items():
        views[f'model.{k}'] = flat[at:at + v.numel()].view(v.shape)
        at += v.numel()
    one = dict(ck)
    one['state_dict'] = views
    torch.save(one, out / 'one-storage.ckpt')

    rezip(out / 'lightning-timm.ckpt', out / 'zip64.ckpt', force_zip64=True)
    rezip(out / 'lightning-timm.ckpt', out / 'deflated.ckpt', compression=zipfile.ZIP_DEFLATED)

    hostile = dict(ck)
    hostile['hyper_parameters'] = {'lr': 1e-4, 'payload': EvalPayload(out / 'EVAL-PAYLOAD-RAN')}
    torch.save(hostile, out / 'eval-global.ckpt')


def value_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


DTYPES = {torch.float32: 'float32', torch.float16: 'float16', torch.bfloat16: 'bfloat16', torch.float64: 'float64',
          torch.int64: 'int64', torch.int32: 'int32', torch.int16: 'int16', torch.int8: 'int8', torch.uint8: 'uint8',
          torch.bool: 'bool'}


def report(path: Path, safe: bool) -> dict:
    try:
        # --safe: torch.load's own reading code with every global but tensors inert (hostile files).
        state = find_state_dict(read_checkpoint(path) if safe else torch.load(path))
    except Exception as e:  # noqa: BLE001
        return {'error': str(e)}
    return {'tensors': [{'key': k, 'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'stride': list(t.stride()),
                         'contiguous': t.is_contiguous(), 'sha256': hashlib.sha256(value_bytes(t)).hexdigest()}
                        for k, t in state.items()]}


def main() -> int:
    if sys.argv[1] == 'write':
        write(Path(sys.argv[2]))
    elif sys.argv[1] == 'add-adam':
        torch.save(with_adam(torch.load(sys.argv[2])), sys.argv[3])
    else:
        safe = sys.argv[2] == '--safe'
        print(json.dumps({p: report(Path(p), safe) for p in sys.argv[3 if safe else 2:]}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
