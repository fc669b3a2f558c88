"""Files that ship inside installed packages (scikit-learn's digits, scikit-image's photos), found without importing
the package: importing sklearn or skimage took 1.5 s of a training job's start."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(package: str, *parts: str) -> Path:
    """The path of ``parts`` inside the installed top-level ``package``."""
    spec = importlib.util.find_spec(package)  # (finding a top-level package does not run it)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"{package} is not installed")
    return Path(spec.origin).parent.joinpath(*parts)
