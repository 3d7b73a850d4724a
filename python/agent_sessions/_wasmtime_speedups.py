"""Faster value conversion for wasmtime-py's component calls.

wasmtime-py (50.x) re-reads a type's cases, fields and element types from
the C API every time it converts a value, and decides whether a variant is
tagged by walking every case again for every value. A type object describes
an immutable WIT type, so each property is computed once per type object
here and kept on it. Only attributes that exist are patched; with another
wasmtime-py version this does nothing it cannot do safely.

On top of that, the values this package's calls move (strings, integers,
booleans, a `result` whose ok case is one of those, and the constant
settings record) are converted with a few ctypes calls each instead of
wasmtime-py's generic walk (`call`, and the host-function callback below);
errors and every other type still take the generic path.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable
from typing import Any

from wasmtime import _ffi as ffi
from wasmtime.component import Variant, _func, _types
from wasmtime.component._enter import enter_wasm as _enter_wasm

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

# Strings, `result<string, _>` and `bool`/`u64` results, the values this
# package's calls move, are converted here with a few ctypes operations
# instead of wasmtime-py's generic walk (the same ownership rules: a string
# read from wasmtime is freed after the copy; a lowered parameter is freed
# after the call).
_STRING = ffi.WASMTIME_COMPONENT_STRING.value
_RECORD = ffi.WASMTIME_COMPONENT_RECORD.value
_RESULT = ffi.WASMTIME_COMPONENT_RESULT.value
_BOOL = ffi.WASMTIME_COMPONENT_BOOL.value
_U32 = ffi.WASMTIME_COMPONENT_U32.value
_U64 = ffi.WASMTIME_COMPONENT_U64.value
_VARIANT = ffi.WASMTIME_COMPONENT_VARIANT.value


def _take_string(value: Any, field: str = "") -> str:
    vec = getattr(value, field) if field else value.of.string
    text = ctypes.string_at(vec.data, vec.size).decode("utf-8") if vec.size else ""
    ffi.wasm_byte_vec_delete(ctypes.byref(vec))
    return text


def _put_string(value: Any, text: str) -> None:
    data = text.encode("utf-8")
    value.kind = _STRING
    vec = value.of.string
    ffi.wasm_byte_vec_new_uninitialized(ctypes.byref(vec), len(data))
    if data:
        ctypes.memmove(vec.data, data, len(data))


def _put_ok_string(value: Any, text: str) -> None:
    inner = ffi.wasmtime_component_val_t()
    _put_string(inner, text)
    value.kind = _RESULT
    value.of.result.is_ok = True
    value.of.result.val = ffi.wasmtime_component_val_new(ctypes.byref(inner))


_LOWER_KINDS = {"String": _STRING, "U32": _U32, "U64": _U64, "Bool": _BOOL}
_LIFT_KINDS = {"String": _STRING, "U64": _U64, "Bool": _BOOL}


def _plan(func: Any, store: Any) -> tuple[list[int], Any] | None:
    """Parameter kinds and the result type of an export this module can call
    directly: scalar and string parameters, a `result` of string, u64 or bool."""
    try:
        return func.__dict__["_agent_sessions_plan"]  # type: ignore[no-any-return]
    except KeyError:
        pass
    function_type = func.type(store)
    kinds = [_LOWER_KINDS.get(type(ty).__name__) for _, ty in function_type.params]
    result = function_type.result
    plan = None
    if (
        None not in kinds
        and type(result) is getattr(_types, "ResultType", None)
        and type(result.ok).__name__ in _LIFT_KINDS
    ):
        plan = ([k for k in kinds if k is not None], result)
    func.__dict__["_agent_sessions_plan"] = plan
    return plan


def _error(space: Any, result_type: Any) -> Any:
    """The error of a `result`: `Variant(case, text)` for a variant case
    with a string payload, anything else the generic way."""
    pointer = space.of.result.val
    inner = pointer.contents if pointer else None
    if inner is None or inner.kind != _VARIANT:
        return result_type.convert_from_c(space)
    variant = inner.of.variant
    payload = variant.val
    if not payload or payload.contents.kind != _STRING:
        return result_type.convert_from_c(space)
    tag = _take_string(inner.of.variant, "discriminant")
    text = _take_string(payload.contents)
    for value, owner in ((payload.contents, payload), (inner, pointer)):
        value.kind = _BOOL
        value.of.boolean = False
        ffi.wasmtime_component_val_delete(owner)
    return Variant(tag, text)


def call(func: Any, store: Any, *params: Any) -> Any:
    """`func(store, *params)`, converting strings, integers, booleans and an
    ok result directly; anything else (an error result) the generic way."""
    plan = _plan(func, store)
    if plan is None:
        return func(store, *params)
    kinds, result_type = plan
    if len(params) != len(kinds):
        raise TypeError(f"wrong number of parameters provided: given {len(params)}, expected {len(kinds)}")
    count = len(params)
    lowered = (ffi.wasmtime_component_val_t * count)()
    n = 0
    try:
        for kind, value in zip(kinds, params, strict=True):
            slot = lowered[n]
            if kind == _STRING:
                if type(value) is not str:
                    raise TypeError("expected string type")
                _put_string(slot, value)
            elif kind == _BOOL:
                slot.kind = _BOOL
                slot.of.boolean = bool(value)
            else:
                if type(value) is not int:
                    raise TypeError("expected int type")
                slot.kind = kind
                if kind == _U32:
                    slot.of.u32 = value
                else:
                    slot.of.u64 = value
            n += 1
        space = ffi.wasmtime_component_val_t()
        function = ctypes.byref(func._func)
        context = store._context()
        output = ctypes.byref(space)
        _enter_wasm(lambda: ffi.wasmtime_component_func_call(function, context, lowered, n, output, 1))
        result = space.of.result
        if space.kind != _RESULT:
            return result_type.convert_from_c(space)
        if not result.is_ok:
            return _error(space, result_type)
        pointer = result.val
        inner = pointer.contents
        kind = inner.kind
        if kind == _STRING:
            value = _take_string(inner)
        elif kind == _BOOL:
            value = bool(inner.of.boolean)
        else:
            value = int(inner.of.u64)
        inner.kind = _BOOL
        inner.of.boolean = False
        ffi.wasmtime_component_val_delete(pointer)
        return value
    finally:
        for i in range(n):
            ffi.wasmtime_component_val_delete(ctypes.byref(lowered[i]))


try:
    from wasmtime import _ffi as _ffi_module
    from wasmtime.component import _linker
    from wasmtime.component._enter import catch_exceptions as _catch_exceptions

    #: Registrations served without wasmtime-py's store context, once their
    #: types are known: (lowered constant record or None, function, result type).
    _DIRECT: dict[int, tuple[Any, Any, Any]] = {}

    def _reraise(error: Exception, _store: Any) -> None:
        raise error

    @_ffi_module.wasmtime_component_func_callback_t
    def _fast_func_impl(idx, context, ty_raw, args, nargs, results, nresults):  # type: ignore[no-untyped-def]
        key = idx or 0
        direct = _DIRECT.get(key)
        if direct is not None:
            raw, function, result_type = direct
            try:
                if raw is not None:
                    results[0].kind = _RECORD
                    ffi.wasmtime_component_valrecord_copy(
                        ctypes.byref(results[0].of.record), ctypes.byref(raw.of.record)
                    )
                    return 0
                result = function(None, *[_take_string(args[i]) for i in range(nargs)])
                if type(result) is str:
                    _put_ok_string(results[0], result)
                    return 0
            except Exception as error:
                return _catch_exceptions(context, functools.partial(_reraise, error))
            return _catch_exceptions(context, lambda store: result_type.convert_to_c(store, result, results))

        def run(store: Any) -> None:
            types = _HOST_FUNCTION_TYPES.get(key)
            if types is None:
                with _types.FuncType._from_ptr(ty_raw, owner=store) as function_type:
                    # The parameter and result types are owned copies.
                    types = _HOST_FUNCTION_TYPES[key] = (function_type.params, function_type.result)
            param_types, result_type = types
            function = _linker.FUNCTIONS.get(key)
            constant = getattr(function, "constant_record", None)
            if constant is not None and not param_types and type(result_type) is _types.RecordType:
                # A constant record (settings): lowered once, copied per call.
                value = ffi.wasmtime_component_val_t()
                result_type.convert_to_c(store, constant, ctypes.pointer(value))
                _DIRECT[key] = (value, None, result_type)
                results[0].kind = _RECORD
                ffi.wasmtime_component_valrecord_copy(ctypes.byref(results[0].of.record), ctypes.byref(value.of.record))
                return
            values = [ty.convert_from_c(args[i]) for (_, ty), i in zip(param_types, range(nargs), strict=True)]
            if (
                all(type(ty) is _types.String for _, ty in param_types)
                and type(result_type) is _types.ResultType
                and type(result_type.ok) is _types.String
            ):
                _DIRECT[key] = (None, function, result_type)
            result = function(store, *values)
            if result_type is not None:
                result_type.convert_to_c(store, result, results)

        return _catch_exceptions(context, run)

    _original_func_finalize = _linker.func_finalize

    @ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    def _fast_func_finalize(idx):  # type: ignore[no-untyped-def]
        _HOST_FUNCTION_TYPES.pop(idx or 0, None)
        raw = _DIRECT.pop(idx or 0, (None,))[0]
        if raw is not None:
            ffi.wasmtime_component_valrecord_delete(ctypes.byref(raw.of.record))
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
