"""Reference pipeline for Realfake Lens: PIL + torchvision + PyTorch (Debian's python3-* packages).

The TypeScript detector core (src/detector/) is tested against this package, so it must stay the
plain, obvious torchvision recipe the model was trained with.
"""
