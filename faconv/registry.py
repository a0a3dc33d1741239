"""Component registries and ``build``: from a name or a nested config dict to a module.

One :class:`Registry` per kind of component (``MIXERS``, ``GATES``, ``ATTENTION``, ``CELLS``,
``LAYERS``). A component class registers itself with ``@MIXERS.register("name")``; ``build``
turns a spec into a module:

* an ``nn.Module`` is returned as is;
* a registered class or a registered name is built with its defaults;
* a dict ``{"type": name, **kwargs}`` is built with those keyword arguments. Nested components
  are nested dicts.

The *parent* decides the wiring (channel counts) and passes it as ``context``; a config value
that disagrees with the context raises. Unknown keys, missing arguments and unknown names raise
:class:`~faconv.errors.ConfigError` naming the problem and the valid choices. A config never
names an import path: only registered components can be built, so loading a config runs no
code that was not already imported.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from torch import nn

from faconv.errors import ConfigError

__all__ = ["Registry", "build", "list_components", "normalize_name", "registries"]

_T = TypeVar("_T", bound=type)

#: The reserved config keys: the component type and the faconv version that wrote the config.
RESERVED_KEYS = ("type", "faconv_version")


def normalize_name(name: str) -> str:
    """Registry lookup key: lower case, with ``-``, ``_`` and spaces ignored (as PyG resolvers)."""
    return re.sub(r"[-_\s]", "", name).lower()


def did_you_mean(word: str, choices: list[str]) -> str:
    """``" Did you mean 'a', 'b'?"`` for the choices close to ``word`` (typos), else ``""``."""
    near = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""


def _jsonable(value: Any) -> Any:
    """Normalise a config value the way ``to_config`` writes it (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class Registry:
    """Name → class table for one kind of component.

    Args:
        kind (str): the kind's name, used in messages (``"mixer"``, ``"gate"``, ...).
        base (type): every registered class must subclass it.

    Example:
        >>> from faconv import MIXERS
        >>> "dilated_dw" in MIXERS
        True
    """

    def __init__(self, kind: str, base: type) -> None:
        self.kind = kind
        self.base = base
        self._classes: dict[str, type] = {}  # canonical name -> class
        self._lookup: dict[str, str] = {}  # normalized name or alias -> canonical name
        _REGISTRIES[kind] = self

    def register(
        self, name: str | None = None, *, aliases: tuple[str, ...] = (), override: bool = False
    ) -> Callable[[_T], _T]:
        """Class decorator that registers a component under ``name`` (and ``aliases``).

        Raises:
            ConfigError: if the name is taken (unless ``override=True``) or the class does not
                subclass this registry's base class.
        """

        def decorator(cls: _T) -> _T:
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise ConfigError(
                    f"cannot register {cls!r} as a {self.kind}: it must subclass "
                    f"{self.base.__module__}.{self.base.__qualname__}"
                )
            canonical = name or cls.__name__
            keys = [normalize_name(canonical), *(normalize_name(a) for a in aliases)]
            if not override:
                for key in keys:
                    if key in self._lookup:
                        owner = self._classes[self._lookup[key]]
                        raise ConfigError(
                            f"{self.kind} name {key!r} is already registered to "
                            f"{owner.__module__}.{owner.__qualname__}; pass override=True to "
                            "replace it"
                        )
            self._classes[canonical] = cls
            for key in keys:
                self._lookup[key] = canonical
            cls.registry_name = canonical
            cls.registry_kind = self.kind
            return cls

        return decorator

    def unregister(self, name: str) -> type:
        """Remove the component registered under ``name`` (and its aliases); returns its
        class. For temporary registrations (tests, notebooks)."""
        cls = self.get(name)
        canonical = self._lookup[normalize_name(name)]
        del self._classes[canonical]
        for key in [k for k, v in self._lookup.items() if v == canonical]:
            del self._lookup[key]
        return cls

    def get(self, name: str) -> type:
        """The class registered under ``name`` (normalized); raises listing the valid names."""
        if not isinstance(name, str):
            raise ConfigError(f"a {self.kind} type must be a string, got {name!r}")
        key = normalize_name(name)
        if key not in self._lookup:
            names = self.names()
            raise ConfigError(
                f"unknown {self.kind} {name!r}.{did_you_mean(name, names)} "
                f"Valid {self.kind} types: {', '.join(names) or '(none registered)'}"
            )
        return self._classes[self._lookup[key]]

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted canonical names matching the fnmatch ``pattern``."""
        return sorted(n for n in self._classes if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_name(name) in self._lookup

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"Registry(kind={self.kind!r}, names={self.names()})"

    def build(self, spec: Any, **context: Any) -> nn.Module:
        """Build a component of this kind from ``spec``; ``context`` is the parent's wiring.

        Shapes:
            - input: a spec (module, class, name or ``{"type": name, ...}`` dict).
            - output: an ``nn.Module`` subclassing this registry's base.
        """
        if isinstance(spec, nn.Module):
            if not isinstance(spec, self.base):
                raise ConfigError(
                    f"expected a {self.kind} ({self.base.__qualname__}), got "
                    f"{type(spec).__qualname__}"
                )
            _check_module_context(spec, context, self.kind)
            return spec
        if isinstance(spec, type):
            if spec not in self._classes.values():
                raise ConfigError(
                    f"{spec.__qualname__} is not a registered {self.kind}; register it with "
                    f"@faconv.register({self.kind!r}, name)"
                )
            return _instantiate(spec, {}, context, self.kind)
        if isinstance(spec, str):
            return _instantiate(self.get(spec), {}, context, self.kind)
        if isinstance(spec, Mapping):
            kwargs = dict(spec)
            if "type" not in kwargs:
                raise ConfigError(
                    f"a {self.kind} config dict needs a 'type' key; valid types: "
                    f"{', '.join(self.names())}"
                )
            cls = self.get(kwargs.pop("type"))
            kwargs.pop("faconv_version", None)
            return _instantiate(cls, kwargs, context, self.kind)
        raise ConfigError(
            f"cannot build a {self.kind} from {type(spec).__qualname__} ({spec!r}); give a "
            f"registered name, a {{'type': name, ...}} dict or a module"
        )


def _check_module_context(module: nn.Module, context: Mapping[str, Any], kind: str) -> None:
    """A pre-built module must agree with the wiring the parent asks for."""
    for key, want in context.items():
        if hasattr(module, key) and _jsonable(getattr(module, key)) != _jsonable(want):
            raise ConfigError(
                f"the {kind} module {type(module).__qualname__} has {key}="
                f"{getattr(module, key)!r} but its parent needs {key}={want!r}"
            )


def _instantiate(
    cls: type, kwargs: dict[str, Any], context: Mapping[str, Any], kind: str
) -> nn.Module:
    params = inspect.signature(cls.__init__).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    valid = [n for n, p in params.items() if n != "self" and p.kind is not p.VAR_KEYWORD]
    label = f"{kind} {cls.registry_name!r}"
    for key, want in context.items():
        if key not in params and not accepts_any:
            raise ConfigError(
                f"{label} ({cls.__qualname__}) must accept the argument {key!r}: a {kind} is "
                f"wired by its parent with {', '.join(context)}"
            )
        if key in kwargs and _jsonable(kwargs[key]) != _jsonable(want):
            raise ConfigError(
                f"{label}: config sets {key}={kwargs[key]!r} but its parent requires {key}={want!r}"
            )
        kwargs[key] = want
    if not accepts_any:
        for key in kwargs:
            if key not in params or key == "self":
                raise ConfigError(
                    f"unknown key {key!r} for {label}.{did_you_mean(key, valid)} "
                    f"Valid keys: {', '.join(valid)}"
                )
    missing = [
        n
        for n in valid
        if params[n].default is inspect.Parameter.empty
        and params[n].kind is not inspect.Parameter.VAR_POSITIONAL
        and n not in kwargs
    ]
    if missing:
        raise ConfigError(f"{label} is missing required argument(s): {', '.join(missing)}")
    return cls(**kwargs)


_REGISTRIES: dict[str, Registry] = {}


def registries() -> dict[str, Registry]:
    """All registries by kind."""
    return dict(_REGISTRIES)


def _registry(kind: str) -> Registry:
    if kind not in _REGISTRIES:
        raise ConfigError(f"unknown component kind {kind!r}; valid kinds: {', '.join(_REGISTRIES)}")
    return _REGISTRIES[kind]


def list_components(kind: str, pattern: str = "*") -> list[str]:
    """Registered names of one kind (``"mixer"``, ``"gate"``, ``"attention"``, ``"cell"``,
    ``"layer"``), filtered by an fnmatch ``pattern``."""
    return _registry(kind).names(pattern)


def register(kind: str, name: str | None = None, **kwargs: Any) -> Callable[[_T], _T]:
    """``@faconv.register("mixer", "my_mixer")``: register a user component of ``kind``."""
    return _registry(kind).register(name, **kwargs)


def build(spec: Any, kind: str | None = None, **context: Any) -> nn.Module:
    """Build any registered component from a name, a config dict or a class.

    Args:
        spec: a registered name, a ``{"type": name, ...}`` dict (nested components as nested
            dicts), a registered class, or a module (returned as is).
        kind (str, optional): the registry to look in. Without it the name is looked up in every
            registry and must be unambiguous.
        **context: wiring arguments (for example ``channels``) that the parent decides.

    Example:
        >>> import faconv
        >>> cell = faconv.build({"type": "fa_convlstm", "in_channels": 7, "hidden_channels": 32})
        >>> faconv.build(cell.to_config()).to_config() == cell.to_config()
        True
    """
    if kind is not None:
        return _registry(kind).build(spec, **context)
    if isinstance(spec, nn.Module):
        return spec
    if isinstance(spec, type):
        owner = getattr(spec, "registry_kind", None)
        if owner is None:
            raise ConfigError(f"{spec.__qualname__} is not a registered component")
        return _registry(owner).build(spec, **context)
    name = spec.get("type") if isinstance(spec, Mapping) else spec
    if not isinstance(name, str):
        raise ConfigError(
            f"cannot build from {spec!r}: give a registered name or a {{'type': name}} dict"
        )
    kinds = [k for k, reg in _REGISTRIES.items() if name in reg]
    if not kinds:
        every = sorted(n for reg in _REGISTRIES.values() for n in reg.names())
        raise ConfigError(
            f"unknown component type {name!r}.{did_you_mean(name, every)} Registered: "
            + "; ".join(f"{k}: {', '.join(r.names())}" for k, r in _REGISTRIES.items())
        )
    if len(kinds) > 1:
        raise ConfigError(f"{name!r} is registered as {kinds}; pass kind= to choose")
    return _REGISTRIES[kinds[0]].build(spec, **context)
