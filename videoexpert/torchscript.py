"""Read the tensors of a TorchScript archive (OpenAI's CLIP `ViT-L-14.pt`) without running anything from it.

The release's CLIP file is a TorchScript zip, which `torch.load(weights_only=True)` refuses and `torch.jit.load`
would open by compiling and running the archive's `code/` (as `clip.load` does). We need only its weights, and the
layout makes that possible without either:

    ViT-L-14/data.pkl         pickle of the module tree: each module is `__torch__.<path> <Class>` built with
                              NEWOBJ and given a dict of its attributes (parameters, buffers, flags, submodules)
    ViT-L-14/data/<key>       raw little-endian bytes of one storage, referenced from data.pkl by persistent id
                              ('storage', torch.HalfStorage, '<key>', 'cuda:0', numel)
    ViT-L-14/code/, constants.pkl, version, byteorder   TorchScript source and constants: never read

`data.pkl` is unpickled by `_ArchiveUnpickler`, whose `find_class` answers only an allow-list (the tensor rebuild
function, storage types, OrderedDict and TorchScript's list/type-tag helpers, each replaced by our own inert
version) and turns every `__torch__.*` class into an inert placeholder that only records the state it is given.
Any other global (`os.system`, `builtins.eval`, ...) stops the read with a `CheckpointError`. Tensors are first
recorded as `_TensorRef`s and materialised from `data/` only for the names asked for, so reading the vision tower
does not read the text tower. Walking the placeholders' attributes gives the names `Module.state_dict()` would
(`visual.conv1.weight`, `visual.transformer.resblocks.0.attn.in_proj_weight`, ...).
"""

from __future__ import annotations

import io
import logging
import pickle
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import CheckpointError

logger = logging.getLogger(__name__)

# storage classes named in persistent ids -> element dtype (typed storages, as TorchScript and torch.save write them)
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


class _Inert:
    """Base of every object the unpickler hands to pickle: BUILD on it is refused, so a crafted pickle cannot set
    attributes on our markers or helpers (only placeholders accept state, see `_ScriptObject`). Subclasses must not
    be `dataclass(slots=True, frozen=True)`: that adds a `__setstate__` of its own, which would accept any state."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError(f"refused to set the state of {type(self).__name__}")


@dataclass(frozen=True, eq=False)
class _StorageType(_Inert):
    """Stands for `torch.<X>Storage` in a persistent id; only its dtype is used."""

    name: str
    dtype: torch.dtype


@dataclass(frozen=True, eq=False)
class _StorageRef(_Inert):
    """One `data/<key>` record: read only when a tensor that uses it is materialised."""

    key: str
    dtype: torch.dtype
    numel: int


@dataclass(frozen=True, eq=False)
class _TensorRef(_Inert):
    """What `_rebuild_tensor_v2` would build: a strided view of a storage, kept as plain numbers until needed."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class _SafeCall(_Inert):
    """An allow-listed global: callable by REDUCE, but an object (not a function) so BUILD cannot modify it."""

    __slots__ = ("name", "fn")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "fn", fn)

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


class _ScriptObject:
    """Placeholder for a `__torch__.*` class (a TorchScript module): records the attribute dict pickle gives it.
    It has no behaviour, so nothing in the archive's code can run through it."""

    def __init__(self, *args: Any) -> None:  # REDUCE on the class: arguments kept, not interpreted
        self._args = args

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                    backward_hooks: Any = None, metadata: Any = None) -> _TensorRef:
    """Our `torch._utils._rebuild_tensor_v2`: checks the numbers and that the view lies inside its storage.
    Backward hooks and metadata are dropped (torch would attach them)."""
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError("a tensor whose storage is not an archive record")
    size, stride = tuple(size), tuple(stride)
    if (not isinstance(offset, int) or len(size) != len(stride)
            or not all(isinstance(v, int) and v >= 0 for v in (offset, *size, *stride))):
        raise pickle.UnpicklingError(f"a tensor with invalid geometry (offset {offset!r}, size {size}, "
                                     f"stride {stride})")
    if all(size) and offset + sum((n - 1) * s for n, s in zip(size, stride)) >= storage.numel:
        raise pickle.UnpicklingError(f"a tensor of size {size} reaches past its storage of {storage.numel} elements")
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None, *rest: Any) -> Any:
    if not isinstance(data, _TensorRef):
        raise pickle.UnpicklingError("a parameter that is not a tensor")
    return data


def _ordered_dict(*args: Any) -> dict:
    if args:  # torch writes OrderedDict() (empty backward hooks); anything else is not ours to build
        raise pickle.UnpicklingError("OrderedDict with arguments")
    return {}


def _identity(value: Any, *type_tag: Any) -> Any:  # torch.jit._pickle.build_*list / restore_type_tag
    return value


_ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): _ordered_dict,
    **{("torch.jit._pickle", name): _identity for name in
       ("build_intlist", "build_doublelist", "build_boollist", "build_tensorlist", "restore_type_tag")},
}


class _ArchiveUnpickler(pickle.Unpickler):
    """Unpickles `data.pkl` with nothing importable: `find_class` answers from the allow-list above, builds a
    placeholder class for `__torch__.*`, and refuses the rest."""

    def __init__(self, file: io.BytesIO, records: set[str], prefix: str) -> None:
        super().__init__(file)
        self._records, self._prefix = records, prefix
        self._classes: dict[str, type] = {}
        self._storages: dict[str, _StorageRef] = {}
        self.refused: str | None = None

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            qualified = f"{module}.{name}"
            if qualified not in self._classes:  # one class per name, so shared types stay recognisable
                self._classes[qualified] = type(name, (_ScriptObject,), {"__module__": module, "__qualname__": name})
            return self._classes[qualified]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        if (module, name) in _ALLOWED:
            return _SafeCall(f"{module}.{name}", _ALLOWED[module, name])
        self.refused = f"{module}.{name}"
        raise pickle.UnpicklingError(f"refused global {module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)
                and isinstance(pid[2], str) and isinstance(pid[4], int) and pid[4] >= 0):
            raise pickle.UnpicklingError(f"unsupported persistent id {str(pid)[:80]}")
        _, kind, key, _location, numel = pid  # the location (e.g. 'cuda:0') is ignored: everything loads on CPU
        if f"{self._prefix}data/{key}" not in self._records:
            raise pickle.UnpicklingError(f"storage record data/{key} is missing")
        ref = self._storages.get(key)
        if ref is None:
            ref = self._storages[key] = _StorageRef(key, kind.dtype, numel)
        elif ref.dtype != kind.dtype:
            raise pickle.UnpicklingError(f"storage data/{key} is used with two dtypes")
        return ref


def first_line(e: BaseException) -> str:
    """An exception's first line: torch's and pickle's messages run to paragraphs; a user needs one line."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def unpickling_reason(e: BaseException) -> str:
    """The reason inside `torch.load(weights_only=True)`'s refusal, in one line. Its message opens with advice to
    retry with weights_only=False, which is exactly wrong for an untrusted file, and closes with a docs link."""
    lines = []
    for line in str(e).splitlines():
        line = line.strip().split("WeightsUnpickler error:")[-1].strip()
        if line and not line.startswith(("Weights only load failed", "Check the documentation")):
            lines.append(line)
    return " ".join(lines) or first_line(e)


def _archive_prefix(names: list[str]) -> str | None:
    """The folder holding data.pkl (`ViT-L-14/`), as torch's reader finds it: one top-level folder."""
    for name in names:
        parts = name.split("/")
        if len(parts) == 2 and parts[1] == "data.pkl":
            return parts[0] + "/"
    return None


def is_torchscript_archive(path: str | Path) -> bool:
    """True for a zip with `<name>/data.pkl` and `<name>/constants.pkl` (torch's own test for TorchScript)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    prefix = _archive_prefix(names)
    return prefix is not None and f"{prefix}constants.pkl" in names


@dataclass
class ArchiveContents:
    """What a TorchScript archive holds that we use: its tensors and the class of each module, by attribute path."""

    tensors: dict[str, torch.Tensor]   # state-dict name -> tensor (CPU, stored dtype)
    modules: dict[str, str]            # module path ('' for the root) -> TorchScript class ('__torch__.x.QuickGELU')


def _walk(obj: Any, path: str, tensors: dict[str, _TensorRef], modules: dict[str, str], seen: set[int]) -> None:
    """Collect tensors by attribute path, as `Module.state_dict()` names them, and each module's class name;
    non-tensor attributes (flags, ints, None) are skipped."""
    if isinstance(obj, _ScriptObject):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        cls = type(obj)
        modules[path.rstrip(".")] = f"{cls.__module__}.{cls.__qualname__}"
        obj = obj.__dict__.get("_state")
    if not isinstance(obj, dict):
        return
    for key, value in obj.items():
        if not isinstance(key, str):
            continue
        if isinstance(value, _TensorRef):
            tensors[path + key] = value
        elif isinstance(value, (_ScriptObject, dict)):
            _walk(value, f"{path}{key}.", tensors, modules, seen)


def _materialise(zf: zipfile.ZipFile, prefix: str, ref: _TensorRef, cache: dict[str, torch.Tensor],
                 file_name: str) -> torch.Tensor:
    """The tensor `ref` describes; each storage record is read once (straight into tensor memory) and shared."""
    storage = ref.storage
    flat = cache.get(storage.key)
    if flat is None:
        itemsize = torch.empty((), dtype=storage.dtype).element_size()
        info = zf.getinfo(f"{prefix}data/{storage.key}")
        if info.file_size != storage.numel * itemsize:
            raise CheckpointError(f"{file_name}: storage data/{storage.key} holds {info.file_size} bytes, "
                                  f"expected {storage.numel} x {itemsize}")
        raw = torch.empty(info.file_size, dtype=torch.uint8)
        with zf.open(info) as f:
            if f.readinto(memoryview(raw.numpy())) != info.file_size:
                raise CheckpointError(f"{file_name}: storage data/{storage.key} is truncated")
        flat = raw.view(storage.dtype)
        cache[storage.key] = flat
    return flat.as_strided(ref.size, ref.stride, ref.offset)


def read_torchscript_state_dict(path: str | Path, prefix: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a TorchScript archive by state-dict name (only those starting with `prefix`, if given)."""
    return read_torchscript(path, prefix).tensors


def read_torchscript(path: str | Path, prefix: str | None = None) -> ArchiveContents:
    """The tensors of a TorchScript archive by state-dict name (only those starting with `prefix`, if given; the
    others are never read from disk), on CPU in their stored dtypes, and its module classes.

    Raises `CheckpointError` (one line, naming the file but not its folder) when the file is not such an archive,
    is damaged, or its pickle asks for anything outside the allow-list."""
    path = Path(path)
    name = path.name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(f"{name} is not a TorchScript archive (not a zip file)") from e
    with zf:
        names = zf.namelist()
        root = _archive_prefix(names)
        if root is None:
            raise CheckpointError(f"{name} is a zip file but not a PyTorch archive: no <name>/data.pkl inside")
        byteorder = zf.read(f"{root}byteorder").decode().strip() if f"{root}byteorder" in names else "little"
        if byteorder != "little":
            raise CheckpointError(f"{name} was written on a {byteorder}-endian machine; only little-endian is read")
        unpickler = _ArchiveUnpickler(io.BytesIO(zf.read(f"{root}data.pkl")), set(names), root)
        try:
            tree = unpickler.load()
        except CheckpointError:
            raise
        except Exception as e:  # UnpicklingError from our checks, and any malformed-pickle error of pickle itself
            if unpickler.refused:
                raise CheckpointError(f"{name}: refused to load, its pickle asks for {unpickler.refused}, which is "
                                      f"not a tensor; the file may contain code, it was not run") from e
            raise CheckpointError(f"{name}: cannot read its data.pkl ({type(e).__name__}: {first_line(e)})") from e
        refs: dict[str, _TensorRef] = {}
        modules: dict[str, str] = {}
        _walk(tree, "", refs, modules, set())
        if not refs:
            raise CheckpointError(f"{name} holds no tensors")
        wanted = {k: v for k, v in refs.items() if prefix is None or k.startswith(prefix)}
        cache: dict[str, torch.Tensor] = {}
        try:
            state = {k: _materialise(zf, root, v, cache, name) for k, v in wanted.items()}
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:  # bad CRC, truncated or corrupt records
            raise CheckpointError(f"{name} is damaged: {first_line(e)}") from e
    logger.debug("read %d of %d tensors from %s", len(state), len(refs), name)
    return ArchiveContents(state, modules)


def load_state_dict_file(path: Path, not_what: str = "a plain tensor checkpoint") -> dict[str, torch.Tensor]:
    """A plain PyTorch checkpoint (`torch.save` of a state dict, possibly under "state_dict") read with
    `weights_only=True`; anything else is refused in one line: "{name} is {not_what} (refused to unpickle: ...)"."""
    name = Path(path).name
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{name} is {not_what} (refused to unpickle: {unpickling_reason(e)})") from e
    except OSError as e:
        raise CheckpointError(f"cannot read {name}: {first_line(e)}") from e
    except Exception as e:  # bytes that are no pickle at all: the unpickler fails with whatever opcode it met
        raise CheckpointError(f"{name} is {not_what} ({type(e).__name__}: {first_line(e)})") from e
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                               for k, v in loaded.items()):
        raise CheckpointError(f"{name} does not hold a state dict of tensors (found {type(loaded).__name__})")
    return loaded
