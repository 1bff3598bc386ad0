"""The CPU reader on ONNX Runtime: a model folder's own ``model.onnx``, else an export made once into the cache.

Everything read here has proven itself first (``assistant.core.onnx_cache``): a shipped ``model.onnx`` must be
recorded as exported from the folder's current weights, a cache entry must carry its key and checksums. An export
or an int8 quantization is made under its key's lock, and anything that fails to export or to load falls back to
torch with one line saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.core import onnx_cache
from assistant.core.errors import ModelUnavailableError, first_line
from assistant.core.onnx_cache import Digests, OnnxBundle
from assistant.core.reader import Reader, WindowSettings

if TYPE_CHECKING:
    import torch

    from assistant.core.model_loading import Notify


def open_bundle(bundle: OnnxBundle, model_path: Path, ref: str, window: WindowSettings | None, prepack: bool) -> Reader:
    """A reader of ``model_path`` (the bundle's graph, or its int8 one) with the bundle's tokenizer."""
    from assistant.core.backends import OnnxBackend
    from assistant.core.tokenizer import JsonTokenizer

    onnx_cache.check_graph_files(model_path)
    backend = OnnxBackend(model_path, bundle.max_positions, prepack=prepack)
    tokenizer = JsonTokenizer.from_directory(bundle.directory, bundle.pad_token_id)
    return Reader(backend, tokenizer, name=ref, window=window)


def onnx_reader(
    ref: str,
    local: Path | None,
    quantize: bool,
    window: WindowSettings | None,
    cache_dir: Path | None,
    notify: Notify,
    prepack: bool,
) -> Reader | None:
    """The ONNX reader of ``ref`` (``local``: its folder, if on disk); None when it ships no ``model.onnx`` and there
    is no cache to export into (the caller then reads with torch)."""
    from assistant.core.model_loading import hub_snapshot, load_pretrained, torch_reader

    root = onnx_cache.cache_root(cache_dir)
    digests = Digests(root)
    shipped = onnx_cache.shipped_bundle(local, digests) if local is not None else None
    if shipped is not None:
        model_path = _shipped_model(shipped, quantize, root, digests, notify)
        try:
            return open_bundle(shipped, model_path, ref, window, prepack)
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            reason = first_line(exc)
            raise ModelUnavailableError(f"{model_path} could not be loaded by onnxruntime: {reason}.") from None
    if root is None:
        if cache_dir is not None:
            notify("fallback", f"{cache_dir / 'onnx'} is not a cache folder this program made; reading with torch.")
        return None
    loaded = None
    if local is None:  # a hub model not downloaded yet: the torch loader fetches it, then it is on disk
        loaded = load_pretrained(ref)
        local = hub_snapshot(ref)
        if local is None:
            return torch_reader(ref, "cpu", quantize, window, loaded)
    return _cached_reader(ref, local, quantize, window, root, digests, notify, loaded, prepack)


def _cached_reader(
    ref: str,
    local: Path,
    quantize: bool,
    window: WindowSettings | None,
    root: Path,
    digests: Digests,
    notify: Notify,
    loaded: tuple[Any, torch.nn.Module] | None,
    prepack: bool,
) -> Reader:
    """Read from the cached export of ``local``, making it first if needed; torch if that fails."""
    from assistant.core import onnx_export
    from assistant.core.model_loading import torch_reader

    key = onnx_cache.model_key(local, digests)
    entry = root / key
    bundle = onnx_cache.verified_entry(entry, key, digests)
    if bundle is None:
        loaded = loaded or _load(local)  # before any notice: a bad model fails in one line
        try:
            bundle = _export(ref, loaded, root, key, digests, notify)
        except onnx_export.ExportError as exc:
            notify("fallback", f"The ONNX export of {ref} failed ({exc}); answering with torch instead.")
            return torch_reader(ref, "cpu", quantize, window, loaded)
    try:
        model_path = _cached_int8(bundle, key, root, digests, ref, notify) if quantize else bundle.model
    except onnx_export.ExportError as exc:
        notify("fallback", f"The ONNX export of {ref} failed ({exc}); answering with torch instead.")
        return torch_reader(ref, "cpu", quantize, window, loaded)
    try:
        return open_bundle(bundle, model_path, ref, window, prepack)
    except Exception as exc:  # an entry that checked out but does not load: drop it, torch this time
        onnx_cache.discard(entry)
        notify("fallback", f"The ONNX export of {ref} is unusable ({first_line(exc)}); answering with torch instead.")
        return torch_reader(ref, "cpu", quantize, window, loaded)


def _load(local: Path) -> tuple[Any, torch.nn.Module]:
    from assistant.core.model_loading import load_pretrained

    return load_pretrained(str(local))


def _waiting(notify: Notify, what: str) -> Any:
    return lambda: notify("progress", f"Waiting for another process that is {what}...")


def _export(
    ref: str, loaded: tuple[Any, torch.nn.Module], root: Path, key: str, digests: Digests, notify: Notify
) -> OnnxBundle:
    """The export of ``key``, made under its lock unless another process made it meanwhile."""
    from assistant.core import onnx_export

    entry = root / key
    with onnx_cache.entry_lock(root, key, _waiting(notify, f"exporting {ref} to ONNX")):
        bundle = onnx_cache.verified_entry(entry, key, digests)
        if bundle is not None:
            return bundle
        notify("progress", f"Exporting {ref} to ONNX for fast CPU answers (once; cached in {root})...")
        return onnx_export.export_reader(loaded[1], loaded[0], entry, key, digests)


def _cached_int8(bundle: OnnxBundle, key: str, root: Path, digests: Digests, ref: str, notify: Notify) -> Path:
    """The entry's ``model.int8.onnx``, quantized (once, under the entry's lock) and recorded if it is not yet."""
    from assistant.core import onnx_export

    if bundle.int8_verified:
        return bundle.int8
    with onnx_cache.entry_lock(root, key, _waiting(notify, f"quantizing {ref}")):
        again = onnx_cache.verified_entry(bundle.directory, key, digests)
        if again is not None and again.int8_verified:
            return again.int8
        if again is None:
            raise onnx_export.ExportError("the cached export changed while it was being quantized")
        notify("progress", f"Quantizing the ONNX export of {ref} to int8 (once)...")
        onnx_export.quantize_model(bundle.model, bundle.int8)
        onnx_cache.record_entry(bundle.directory, key, onnx_cache.entry_meta(bundle.directory), digests)
    return bundle.int8


def _shipped_model(shipped: OnnxBundle, quantize: bool, root: Path | None, digests: Digests, notify: Notify) -> Path:
    """The shipped ``model.onnx``, or for int8 its recorded ``model.int8.onnx`` or one quantized into the cache."""
    from assistant.core import onnx_export

    if not quantize:
        return shipped.model
    if shipped.int8_verified:
        return shipped.int8  # the trainer's (--export-int8), recorded with the model.onnx it was made from
    if root is None:
        notify("fallback", f"{shipped.directory} has no model.int8.onnx and no cache to make one in; reading in fp32.")
        return shipped.model
    key = onnx_cache.model_key(shipped.directory, digests)
    entry = root / f"shipped-{key}"
    target = entry / onnx_cache.INT8_FILE
    try:
        with onnx_cache.entry_lock(root, entry.name, _waiting(notify, f"quantizing {shipped.directory}")):
            if onnx_cache.verified_entry(entry, key, digests, required=onnx_cache.INT8_FILE) is None:
                notify("progress", f"Quantizing the ONNX export of {shipped.directory} to int8 (once)...")
                entry.mkdir(parents=True, exist_ok=True)
                onnx_export.quantize_model(shipped.model, target)
                onnx_cache.record_entry(entry, key, {}, digests)
    except (onnx_export.ExportError, OSError) as exc:
        notify("fallback", f"int8 quantization failed ({first_line(exc)}); reading {shipped.directory} in fp32.")
        return shipped.model
    return target
