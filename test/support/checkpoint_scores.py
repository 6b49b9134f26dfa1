#!/usr/bin/env python3
"""PyTorch's scores of pictures by a checkpoint, with the published preset's preprocessing (the
reference for the in-browser checkpoint import's badges).

  /usr/bin/python3 test/support/checkpoint_scores.py CHECKPOINT IMAGE...
      JSON on stdout: {image: pGenerated}, the checkpoint loaded by the converter's restricted
      loader (tools/realfake_ref/checkpoint.py) into torchvision's ConvNeXt, the pictures through
      tools/realfake_ref/pipeline.py with the laion-realfake preset.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'tools'))

import torch  # noqa: E402

from realfake_ref.checkpoint import load_checkpoint  # noqa: E402
from realfake_ref.defaults import preset  # noqa: E402
from realfake_ref.pipeline import load_pixels, preprocess  # noqa: E402


@torch.no_grad()
def main() -> int:
    ck = load_checkpoint(Path(sys.argv[1]))
    model = ck.model.eval()
    p = preset('laion-realfake')
    batch = torch.stack([preprocess(load_pixels(img), p['preprocessing']) for img in sys.argv[2:]])
    probs = torch.softmax(model(batch).to(torch.float64), dim=1)[:, p['generatedIndex']]
    print(json.dumps({img: float(v) for img, v in zip(sys.argv[2:], probs)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
