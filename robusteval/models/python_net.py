"""``python`` adapter: your own architecture, ``function: "module:function"`` returning a ``torch.nn.Module``.

Module resolution: if the protocol folder (``base_dir``) holds ``module.py`` (``a.b`` → ``a/b.py``, or a
package ``module/__init__.py``), that file is loaded by path under a private module name derived from its path
and content, so two protocols' ``net.py`` never shadow each other or an installed module; the protocol folder
is on ``sys.path`` only while the file executes, so it can import its sibling files (those are cached in
``sys.modules`` under their plain names, as any import). Otherwise ``module`` is imported normally (an
installed package). The function is called with ``kwargs``; an optional ``checkpoint`` is a state dict read
with ``torch.load(weights_only=True)``. The module is code, trusted like the protocol; the checkpoint is not.
"""

from __future__ import annotations

__all__ = ["PythonNetwork", "load_function", "local_module_file", "module_origin"]

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from robusteval.models.base import ADAPTERS, TorchSegmenter, check_settings_params, checkpoint_sha256, resolve
from robusteval.models.monai_net import load_weights

if TYPE_CHECKING:  # torch is imported where a network is built or run: listing and validating stay quick
    import torch

OWN_KEYS = {"function", "kwargs", "checkpoint"}


def _split(spec: object) -> tuple[str, str]:
    """``("module", "attr")`` of ``"module:attr"`` (both may be dotted); ValueError naming params.function."""
    module, sep, attr = str(spec).partition(":")
    ok = bool(sep) and all(p.isidentifier() for p in [*module.split("."), *attr.split(".")])
    if not ok:
        raise ValueError(f"params.function: expected 'module:function' (e.g. 'mynet:build'), got {spec!r}")
    return module, attr


def local_module_file(module: str, base_dir: Path | None) -> Path | None:
    """``base_dir/<module as path>.py``, else ``base_dir/<module as path>/__init__.py``, if it exists."""
    if base_dir is None:
        return None
    rel = Path(*module.split("."))
    for path in (base_dir / rel.with_suffix(".py"), base_dir / rel / "__init__.py"):
        if path.is_file():
            return path
    return None


def _load_file(path: Path, module: str, base_dir: Path) -> ModuleType:
    source = path.read_bytes()
    key = hashlib.sha256(str(path.resolve()).encode() + b"\0" + source).hexdigest()[:16]
    unique = f"_robusteval_user_{key}_{module.replace('.', '_')}"
    if unique in sys.modules:  # same file, same content: reuse (keeps class identity between models)
        return sys.modules[unique]
    package = path.name == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        unique, path, submodule_search_locations=[str(path.parent)] if package else None
    )
    if spec is None or spec.loader is None:
        raise ValueError(f"params.function: cannot load {path} as a Python module")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[unique] = mod
    entry = str(base_dir.resolve())
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[unique]
        raise
    finally:
        if added and entry in sys.path:  # by value: the module may have edited sys.path itself
            sys.path.remove(entry)
    return mod


def module_origin(module: str, base_dir: Path | None) -> Path | None:
    """The file ``module`` resolves to: the local file, else the imported module's file, else (not imported
    yet) the installed top-level package's, found without running any code; None when nothing resolves."""
    local = local_module_file(module, base_dir)
    if local is not None:
        return local
    loaded = sys.modules.get(module)
    if loaded is not None:
        file = getattr(loaded, "__file__", None)
        return Path(file) if file else None
    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin not in (None, "built-in", "frozen") else None


def _importable(module: str) -> bool:
    """Whether ``module``'s top-level package is installed (found without importing anything)."""
    top = module.split(".")[0]
    try:
        return top in sys.modules or importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def load_function(spec: str, base_dir: Path | None) -> Callable[..., Any]:
    """Import ``"module:function"`` (see the module docstring for resolution) and return the callable."""
    module, attr = _split(spec)
    local = local_module_file(module, base_dir)
    try:
        if local is not None and base_dir is not None:
            mod = _load_file(local, module, base_dir)
        else:
            mod = importlib.import_module(module)
    except Exception as exc:
        raise ValueError(f"params.function: importing {module!r} failed: {type(exc).__name__}: {exc}") from None
    obj: Any = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"params.function: {module!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"params.function: {spec!r} is a {type(obj).__name__}, not callable")
    return obj  # type: ignore[no-any-return]


class PythonNetwork(TorchSegmenter):
    doc = "Your own architecture: 'module:function' returning a torch.nn.Module (+ kwargs, checkpoint)."

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        if "function" not in params:
            raise ValueError("params.function ('module:function' returning a torch.nn.Module) is required")
        module, _ = _split(params["function"])
        if local_module_file(module, base_dir) is None and not _importable(module):
            where = f"{base_dir}/{module.replace('.', '/')}.py" if base_dir is not None else "a local file"
            raise ValueError(f"params.function: module {module!r} is neither {where} nor an importable module")
        if not isinstance(params.get("kwargs", {}), dict):
            raise ValueError("params.kwargs: expected a mapping of keyword arguments")
        if "checkpoint" in params and not resolve(params["checkpoint"], base_dir).is_file():
            raise ValueError(f"params.checkpoint: file not found: {resolve(params['checkpoint'], base_dir)}")
        check_settings_params(params, "python", OWN_KEYS)

    @classmethod
    def referenced_files(cls, params: dict[str, Any], base_dir: Path | None) -> list[Path]:
        """The module's file when it is local (not the files it imports, nor an installed package) and the
        checkpoint."""
        files = []
        local = local_module_file(_split(params["function"])[0], base_dir)
        if local is not None:
            files.append(local)
        if "checkpoint" in params:
            files.append(resolve(params["checkpoint"], base_dir))
        return files

    def build(self) -> torch.nn.Module:
        import torch

        fn = load_function(str(self.params["function"]), self.base_dir)
        net = fn(**dict(self.params.get("kwargs", {})))
        if not isinstance(net, torch.nn.Module):
            raise ValueError(
                f"model {self.name}: {self.params['function']} returned a {type(net).__name__}, not a torch.nn.Module"
            )
        if "checkpoint" in self.params:
            load_weights(net, resolve(self.params["checkpoint"], self.base_dir), self.name)
        return net

    def fingerprint(self) -> str:
        """Params + the content of :meth:`referenced_files` + the installed module's file when not local."""
        h = hashlib.sha256(super().fingerprint().encode())
        files = self.referenced_files(self.params, self.base_dir)
        origin = module_origin(_split(self.params["function"])[0], self.base_dir)
        if origin is not None and origin.is_file() and origin not in files:
            files.append(origin)
        for path in files:
            h.update(checkpoint_sha256(path).encode())
        return h.hexdigest()


ADAPTERS.add("python", PythonNetwork)
