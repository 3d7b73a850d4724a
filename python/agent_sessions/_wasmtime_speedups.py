"""Memoised type introspection for wasmtime-py's component values.

wasmtime-py (50.x) re-reads a type's cases, fields and element types from
the C API every time it converts a value, and decides whether a variant is
tagged by walking every case again for every value: about 85% of a
`get_session` call went there (1.7 ms of 2 ms). A type object describes an
immutable WIT type, so each property is computed once per type object here
and kept on it. Only attributes that exist are patched; with another
wasmtime-py version this does nothing it cannot do safely.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any

from wasmtime.component import _func, _types

_PATCHED = "_agent_sessions_memoised"


def _memoise_property(cls: type, name: str) -> None:
    original = cls.__dict__.get(name)
    if not isinstance(original, property) or original.fget is None:
        return
    compute = original.fget
    slot = f"_agent_sessions_{name}"

    def cached(self: Any) -> Any:
        try:
            return self.__dict__[slot]
        except KeyError:
            value = self.__dict__[slot] = compute(self)
            return value

    setattr(cls, name, property(cached, doc=original.__doc__))


def _memoise_method(cls: type, name: str) -> None:
    original: Callable[..., Any] | None = cls.__dict__.get(name)
    if not callable(original):
        return
    slot = f"_agent_sessions_{name}"

    def cached(self: Any) -> Any:
        try:
            return self.__dict__[slot]
        except KeyError:
            value = self.__dict__[slot] = original(self)
            return value

    cached.__doc__ = original.__doc__
    setattr(cls, name, cached)


def _memoise_func_type() -> None:
    original = _func.Func.__dict__.get("type")
    if not callable(original):
        return

    def cached(self: Any, store: Any) -> Any:
        # A function's type never changes; Func objects live with their store.
        try:
            return self.__dict__["_agent_sessions_type"]
        except KeyError:
            value = self.__dict__["_agent_sessions_type"] = original(self, store)
            return value

    _func.Func.type = cached  # type: ignore[method-assign]


def install() -> None:
    if getattr(_types, _PATCHED, False):
        return
    for cls_name, names in {
        "FuncType": ("params", "result"),
        "ListType": ("element",),
        "RecordType": ("fields",),
        "TupleType": ("elements",),
        "VariantType": ("cases",),
        "EnumType": ("names",),
        "OptionType": ("payload",),
        "ResultType": ("ok", "err"),
        "FlagsType": ("names",),
    }.items():
        cls = getattr(_types, cls_name, None)
        if cls is None:
            continue
        for name in names:
            _memoise_property(cls, name)
    for cls_name in ("VariantType", "OptionType", "ResultType"):
        cls = getattr(_types, cls_name, None)
        if cls is not None:
            _memoise_method(cls, "_cases")
    variant_like = getattr(_types, "VariantLikeType", None)
    if variant_like is not None:
        _memoise_method(variant_like, "_tagged")
    _memoise_func_type()
    setattr(_types, _PATCHED, True)


# Host functions: wasmtime-py's callback builds the function's parameter and
# result types afresh from the C API on every call from the guest. The type
# of a registered function never changes, so this callback reads them once
# per registration (keyed by the registration's slab index, forgotten when
# wasmtime finalises it). It is used only for the functions this package
# registers (see `registering_host_functions`).
_HOST_FUNCTION_TYPES: dict[int, tuple[list[tuple[str, Any]], Any]] = {}

try:
    from wasmtime import _ffi as _ffi_module
    from wasmtime.component import _linker
    from wasmtime.component._enter import catch_exceptions as _catch_exceptions

    @_ffi_module.wasmtime_component_func_callback_t
    def _fast_func_impl(idx, context, ty_raw, args, nargs, results, nresults):  # type: ignore[no-untyped-def]
        def run(store: Any) -> None:
            key = idx or 0
            types = _HOST_FUNCTION_TYPES.get(key)
            if types is None:
                with _types.FuncType._from_ptr(ty_raw, owner=store) as function_type:
                    # The parameter and result types are owned copies.
                    types = _HOST_FUNCTION_TYPES[key] = (function_type.params, function_type.result)
            param_types, result_type = types
            function = _linker.FUNCTIONS.get(key)
            values = [ty.convert_from_c(args[i]) for (_, ty), i in zip(param_types, range(nargs), strict=True)]
            result = function(store, *values)
            if result_type is not None:
                result_type.convert_to_c(store, result, results)

        return _catch_exceptions(context, run)

    _original_func_finalize = _linker.func_finalize

    @ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    def _fast_func_finalize(idx):  # type: ignore[no-untyped-def]
        _HOST_FUNCTION_TYPES.pop(idx or 0, None)
        return _original_func_finalize(idx)

    _FAST_CALLBACKS_AVAILABLE = hasattr(_linker, "func_impl") and hasattr(_linker, "FUNCTIONS")
except (ImportError, AttributeError):  # another wasmtime-py layout: keep its own
    _FAST_CALLBACKS_AVAILABLE = False


_REGISTRATION_LOCK = threading.Lock()


class registering_host_functions:
    """Within this block, `LinkerInstance.add_func` registers functions with
    the cached-type callback above (one thread at a time)."""

    def __enter__(self) -> None:
        _REGISTRATION_LOCK.acquire()
        if _FAST_CALLBACKS_AVAILABLE:
            self._saved = (_linker.func_impl, _linker.func_finalize)
            _linker.func_impl = _fast_func_impl
            _linker.func_finalize = _fast_func_finalize

    def __exit__(self, *exc: object) -> None:
        try:
            if _FAST_CALLBACKS_AVAILABLE:
                _linker.func_impl, _linker.func_finalize = self._saved
        finally:
            _REGISTRATION_LOCK.release()
