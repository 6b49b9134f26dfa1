"""Reads a ConvNeXt classifier checkpoint in the layouts real checkpoints come in and builds the
matching torchvision ConvNeXt module (docs/ARCHITECTURE.md, "Model files and the manifest").

Accepted layouts:
  - a bare state_dict, or one under `state_dict` (PyTorch Lightning), `model` (fastai's
    `learn.save`), `model_state_dict` or `module`;
  - key names behind one common prefix (Lightning's `model.`, `net.`, `module.`, ...);
  - torchvision names (`features.N...`, `classifier.{0,2}`) or timm names (`stem.{0,1}`,
    `stages.S.downsample.{0,1}`, `stages.S.blocks.J.{conv_dw,norm,mlp.fc1,mlp.fc2,gamma}`,
    `head.{norm,fc}`), which map one to one onto torchvision's (timm's `gamma` [C] is
    torchvision's `layer_scale` [C,1,1]).
The widths and depths of the four stages and the number of classes are read from the tensors, so
the same code loads ConvNeXt-Large and the small test models. Anything it cannot place is refused
with the offending key names, in the checkpoint's own spelling.
"""
from __future__ import annotations

import json
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models.convnext import CNBlockConfig, ConvNeXt

from .files import sha256_file


class CheckpointError(Exception):
    """A checkpoint that cannot be converted; the message says why, naming keys."""


# Where a ConvNeXt's weights begin, where a checkpoint keeps them, and their names in timm and
# torchvision: one data file, which the extension's own checkpoint reader reads too.
_KEYS = json.loads((Path(__file__).resolve().parents[2] / 'src/detector/checkpoint/convnext-keys.json').read_text())
_ANCHORS = tuple(_KEYS['anchors'])
_STATE_DICT_KEYS = tuple(_KEYS['stateDictKeys'])
_BLOCK_PARTS = dict(_KEYS['timmBlockParts'])
_TORCHVISION_RE = re.compile(_KEYS['torchvisionKey'])


class _Inert:
    """Stands in for every object a checkpoint pickles besides tensors and plain containers
    (Lightning's hyper-parameter containers, optimiser state, numpy scalars, and anything hostile):
    it is never called, so loading a checkpoint cannot run code from it. Only the tensors are used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    # Subclasses of dict or list (Lightning's AttributeDict holding the hyper-parameters) are
    # filled by SETITEMS / APPENDS after they are built: accept and drop the items.
    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass


# The globals a tensor checkpoint needs (torch.load maps storage classes itself).
_ALLOWED_GLOBALS = {
    ('torch._utils', '_rebuild_tensor_v2'), ('torch._utils', '_rebuild_tensor'), ('torch._utils', '_rebuild_parameter'),
    ('torch._utils', '_rebuild_parameter_with_state'), ('torch', 'Size'),
    ('collections', 'OrderedDict'), ('builtins', 'set'), ('builtins', 'frozenset'),
}


class _SafeUnpickler(pickle.Unpickler):
    replaced: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        _SafeUnpickler.replaced.add(f'{module}.{name}')
        return _Inert


class _SafePickle:
    Unpickler = _SafeUnpickler
    load = pickle.load


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def read_checkpoint(path: Path) -> Any:
    """torch.load on the CPU with an unpickler that rebuilds only tensors and plain containers:
    every other object becomes an inert placeholder (a checkpoint from the internet must not run
    code). torch 1.13's own weights_only mode refuses floats, which every Lightning file holds."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such file')
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f'{path}: the file is empty')
    with open(path, 'rb') as f:
        head = f.read(4)
    if head == b'PK\x03\x04' and not zipfile.is_zipfile(path):
        raise CheckpointError(f'{path}: truncated or corrupt ({size} bytes): a PyTorch zip archive without its '
                              'central directory, e.g. a download that stopped early')
    try:
        return _safe_torch_load(path)
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a damaged file makes the unpickler raise
        raise CheckpointError(f'{path}: not a readable PyTorch checkpoint (truncated or corrupt?): {_first_line(e)}') from e


def _safe_torch_load(path: Path) -> Any:
    """torch.load's own reading code with _SafePickle. (torch 1.13's torch.load ignores its
    pickle_module argument unless weights_only, and weights_only refuses floats, which every
    Lightning checkpoint holds; so the reader is called directly.)"""
    ser = torch.serialization
    args = {'encoding': 'utf-8'}
    _SafeUnpickler.replaced.clear()
    with open(path, 'rb') as f:
        if ser._is_zipfile(f):
            with ser._open_zipfile_reader(f) as zf:
                if ser._is_torchscript_zip(zf):
                    raise CheckpointError(f'{path}: a TorchScript archive, not a checkpoint: convert the original '
                                          'state_dict / Lightning checkpoint instead')
                return ser._load(zf, 'cpu', _SafePickle, **args)
        return ser._legacy_load(f, 'cpu', _SafePickle, **args)


def _is_tensor_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def find_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """The tensor dictionary inside a checkpoint object (bare, Lightning, fastai, ...)."""
    return _find_state_dict(obj)[0]


def _find_state_dict(obj: Any) -> tuple[dict[str, torch.Tensor], str | None]:
    """The tensor dictionary and the top-level key holding it (None: the file is the dictionary)."""
    if _is_tensor_dict(obj):
        return dict(obj), None
    if isinstance(obj, dict):
        for key in _STATE_DICT_KEYS:
            inner = obj.get(key)
            # Lightning: {'state_dict': ..., 'epoch': ...}; fastai's learn.save: {'model': ..., 'opt': ...}.
            if isinstance(inner, dict):
                tensors = {str(k): v for k, v in inner.items() if isinstance(v, torch.Tensor)}
                if tensors:
                    return tensors, key
        keys = ', '.join(sorted(map(str, obj))[:12])
        raise CheckpointError(f'found no state_dict: the top-level keys are {keys}')
    raise CheckpointError(f'found no state_dict: the file holds a {type(obj).__name__}, not a dict of tensors')


def _listing(what: str, names: list[str], limit: int = 12) -> str:
    shown = ', '.join(names[:limit])
    return f"{what}: {shown}{f' ... and {len(names) - limit} more' if len(names) > limit else ''}"


def _find_prefix(keys: list[str], prefix: str | None) -> str:
    if prefix is not None:
        return prefix
    found = sorted({k[: -len(a)] for k in keys for a in _ANCHORS if k.endswith(a) and (k == a or k[: -len(a)].endswith('.'))})
    if not found:
        raise CheckpointError(_listing(
            f'found no ConvNeXt stem (a key ending in "features.0.0.weight" or "stem.0.weight") among the {len(keys)} keys',
            keys, limit=8))
    if len(found) > 1:
        raise CheckpointError(f'several models in one checkpoint (key prefixes {found}); choose one with --prefix')
    return found[0]


def timm_to_torchvision(name: str) -> str | None:
    """torchvision's name for a timm ConvNeXt parameter, or None."""
    if m := re.fullmatch(r'stem\.([01])\.(weight|bias)', name):
        return f'features.0.{m[1]}.{m[2]}'
    if m := re.fullmatch(r'stages\.([123])\.downsample\.([01])\.(weight|bias)', name):
        return f'features.{2 * int(m[1])}.{m[2]}.{m[3]}'
    if m := re.fullmatch(r'stages\.([0-3])\.blocks\.(\d+)\.gamma', name):
        return f'features.{2 * int(m[1]) + 1}.{m[2]}.layer_scale'
    if m := re.fullmatch(r'stages\.([0-3])\.blocks\.(\d+)\.(conv_dw|norm|mlp\.fc1|mlp\.fc2)\.(weight|bias)', name):
        return f'features.{2 * int(m[1]) + 1}.{m[2]}.{_BLOCK_PARTS[m[3]]}.{m[4]}'
    if m := re.fullmatch(r'head\.(norm|fc)\.(weight|bias)', name):
        return f"classifier.{0 if m[1] == 'norm' else 2}.{m[2]}"
    return None


def torchvision_to_timm(name: str) -> str:
    """The inverse of timm_to_torchvision, for messages about a timm checkpoint."""
    if m := re.fullmatch(r'features\.0\.([01])\.(\w+)', name):
        return f'stem.{m[1]}.{m[2]}'
    if m := re.fullmatch(r'features\.([246])\.([01])\.(\w+)', name):
        return f'stages.{int(m[1]) // 2}.downsample.{m[2]}.{m[3]}'
    if m := re.fullmatch(r'features\.([1357])\.(\d+)\.layer_scale', name):
        return f'stages.{int(m[1]) // 2}.blocks.{m[2]}.gamma'
    if m := re.fullmatch(r'features\.([1357])\.(\d+)\.(block\.\d)\.(\w+)', name):
        part = {v: k for k, v in _BLOCK_PARTS.items()}.get(m[3], m[3])
        return f'stages.{int(m[1]) // 2}.blocks.{m[2]}.{part}.{m[4]}'
    if m := re.fullmatch(r'classifier\.([02])\.(\w+)', name):
        return f"head.{'norm' if m[1] == '0' else 'fc'}.{m[2]}"
    return name


@dataclass
class PlacedWeights:
    """Weights under torchvision names, with the checkpoint's own name for each (for messages)."""
    tensors: dict[str, torch.Tensor]
    original: dict[str, str]
    layout: str  # 'torchvision' or 'timm'
    prefix: str

    def spell(self, torchvision_name: str) -> str:
        """A torchvision name as this checkpoint would spell it."""
        if torchvision_name in self.original:
            return self.original[torchvision_name]
        return self.prefix + (torchvision_to_timm(torchvision_name) if self.layout == 'timm' else torchvision_name)


def place_weights(state: dict[str, torch.Tensor], prefix: str | None = None, ignore: list[str] | None = None) -> PlacedWeights:
    ignore_res = [re.compile(p) for p in ignore or []]
    keys = [k for k in state if not any(r.search(k) for r in ignore_res)]
    pre = _find_prefix(keys, prefix)
    tensors: dict[str, torch.Tensor] = {}
    original: dict[str, str] = {}
    unplaced: list[str] = []
    layouts: set[str] = set()
    for key in keys:
        name = key[len(pre):] if key.startswith(pre) else None
        target = None
        if name is not None and _TORCHVISION_RE.fullmatch(name):
            target = name
            layouts.add('torchvision')
        elif name is not None and (target := timm_to_torchvision(name)):
            layouts.add('timm')
        if target is None:
            unplaced.append(key)
            continue
        t = state[key]
        if not t.is_floating_point():
            raise CheckpointError(f'{key} holds {t.dtype} values; a ConvNeXt weight is a floating-point tensor')
        if target.endswith('layer_scale') and t.dim() == 1:
            t = t.reshape(-1, 1, 1)  # timm gamma [C] -> torchvision layer_scale [C,1,1]
        tensors[target] = t.detach().to(torch.float32)
        original[target] = key
    if unplaced:
        raise CheckpointError(_listing(f'could not place {len(unplaced)} key(s) of the checkpoint', unplaced)
                              + ' (drop keys that are not part of the model with --ignore REGEX)')
    if len(layouts) > 1:
        raise CheckpointError(f'the checkpoint mixes timm and torchvision key names under the prefix {pre!r}')
    return PlacedWeights(tensors, original, layouts.pop(), pre)


@dataclass
class Architecture:
    dims: list[int]
    depths: list[int]
    num_classes: int

    def describe(self) -> str:
        return f"ConvNeXt dims {'/'.join(map(str, self.dims))}, depths {'/'.join(map(str, self.depths))}, {self.num_classes} classes"


def infer_architecture(w: PlacedWeights) -> Architecture:
    dims: list[int] = []
    depths: list[int] = []
    for stage in range(4):
        blocks = sorted({int(m[1]) for k in w.tensors if (m := re.fullmatch(rf'features\.{2 * stage + 1}\.(\d+)\.block\.0\.weight', k))})
        if not blocks:
            raise CheckpointError(f'missing keys: stage {stage} has no blocks (no depthwise conv weight '
                                  f"{w.spell(f'features.{2 * stage + 1}.0.block.0.weight')})")
        dw = w.tensors[f'features.{2 * stage + 1}.{blocks[0]}.block.0.weight']
        if dw.dim() != 4:
            raise CheckpointError(f"{w.spell(f'features.{2 * stage + 1}.{blocks[0]}.block.0.weight')} has shape "
                                  f'{list(dw.shape)}; a depthwise conv weight is [C, 1, k, k]')
        dims.append(int(dw.shape[0]))
        depths.append(blocks[-1] + 1)
    head_name = w.spell('classifier.2.weight')
    head = w.tensors.get('classifier.2.weight')
    if head is None:
        raise CheckpointError(f'missing keys: found no classifier head weight ({head_name})')
    if head.dim() != 2:
        raise CheckpointError(f'{head_name} has shape {list(head.shape)}; the classifier head weight must be [classes, {dims[-1]}]')
    num_classes = int(head.shape[0])
    if num_classes < 2:
        raise CheckpointError(f'{head_name} has shape {list(head.shape)}: {num_classes} output(s); a classifier needs at least 2')
    return Architecture(dims, depths, num_classes)


def build_module(arch: Architecture) -> ConvNeXt:
    setting = [CNBlockConfig(d, arch.dims[i + 1] if i < 3 else None, n) for i, (d, n) in enumerate(zip(arch.dims, arch.depths))]
    return ConvNeXt(setting, stochastic_depth_prob=0.0, num_classes=arch.num_classes)


def load_into(model: nn.Module, w: PlacedWeights) -> None:
    """Strict load, with messages in the checkpoint's own key names."""
    expected = model.state_dict()
    missing = [w.spell(k) for k in expected if k not in w.tensors]
    unexpected = [w.original[k] for k in w.tensors if k not in expected]
    wrong = [f'{w.original[k]} {list(w.tensors[k].shape)} (the model needs {list(v.shape)})'
             for k, v in expected.items() if k in w.tensors and w.tensors[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(_listing(f'missing {len(missing)} key(s)', missing))
    if unexpected:
        problems.append(_listing(f'could not place {len(unexpected)} key(s)', unexpected))
    if wrong:
        problems.append(_listing(f'{len(wrong)} tensor(s) of the wrong shape', wrong, limit=6))
    if problems:
        raise CheckpointError('; '.join(problems))
    model.load_state_dict(w.tensors, strict=True)


@dataclass
class LoadedCheckpoint:
    model: ConvNeXt
    arch: Architecture
    layout: str
    prefix: str
    sha256: str
    # Pickled classes / functions that were replaced by inert placeholders (not tensors).
    ignored_objects: list[str]
    # The top-level key holding the state_dict ('state_dict' in a Lightning checkpoint), or None.
    container: str | None = None

    def looks_published(self) -> bool:
        """Laid out as LAION's published realfake file: a Lightning checkpoint of a two-class timm ConvNeXt."""
        return self.container == 'state_dict' and self.layout == 'timm' and self.arch.num_classes == 2


def load_checkpoint(path: Path, *, prefix: str | None = None, ignore: list[str] | None = None) -> LoadedCheckpoint:
    """The checkpoint as an eval-mode torchvision ConvNeXt; raises CheckpointError with the reason."""
    state, container = _find_state_dict(read_checkpoint(path))
    placed = place_weights(state, prefix, ignore)
    arch = infer_architecture(placed)
    model = build_module(arch)
    load_into(model, placed)
    for name, t in model.state_dict().items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f'{placed.spell(name)} holds NaN or infinite values')
    return LoadedCheckpoint(model.eval(), arch, placed.layout, placed.prefix, sha256_file(Path(path)),
                            sorted(_SafeUnpickler.replaced), container)
