"""File helpers shared by the tools: hashing, the JSON style of manifests, and all-or-nothing
output folders (written under a temporary name next to the destination, renamed into place at the
end, removed on any failure)."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def dump_json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + '\n'


@contextlib.contextmanager
def staged_dir(dest: Path, *, replace: bool = False) -> Iterator[Path]:
    """Yields an empty temporary folder beside `dest` (same file system, so the final rename is
    atomic). When the block ends normally it becomes `dest`; on any exception (Ctrl-C included)
    it is deleted and `dest` is left as it was. An existing `dest` is an error unless `replace`."""
    dest = Path(dest)
    if dest.exists() and not replace:
        raise FileExistsError(f'{dest} already exists (pass --force to replace it)')
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{dest.name}.partial-', dir=dest.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would be odd for a model folder
    try:
        yield tmp
        old = None
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f'.{dest.name}.old-', dir=dest.parent))
            dest.rename(old / 'previous')
        try:
            tmp.rename(dest)
        except BaseException:
            if old is not None:
                (old / 'previous').rename(dest)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
