"""``Component``: the base of every registered module, with automatic ``to_config``.

Convention: **every constructor argument is stored as an attribute of the same name**, holding
the resolved value (a child component holds the built module). ``to_config`` then reads the
signature and writes a JSON-safe dict (child components as their own configs, tuples as lists)
such that ``faconv.build(m.to_config())`` rebuilds the same architecture.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from torch import nn

from faconv.errors import ConfigError

__all__ = ["Component", "SpatialComponent"]


def _to_json(value: Any, where: str) -> Any:
    if isinstance(value, Component):
        return value.to_config()
    if isinstance(value, (tuple, list, nn.ModuleList)):
        return [_to_json(v, where) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_json(v, where) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where} is {value}, which JSON cannot hold")
        return value
    raise ConfigError(
        f"{where} holds a {type(value).__qualname__}, which is not JSON-safe; store the "
        "constructor argument itself (a number, string, list or component)"
    )


class Component(nn.Module):
    """Base class of registered components (mixers, gates, attention, cells, layers)."""

    registry_name: ClassVar[str | None] = None
    registry_kind: ClassVar[str | None] = None

    @property
    def owner(self) -> str:
        """How errors name this component: its registry kind and name (``"mixer 'dilated_dw'"``),
        or its class name when it is not registered."""
        if self.registry_name is None:
            return type(self).__qualname__
        return f"{self.registry_kind} {self.registry_name!r}"

    def config_arguments(self) -> list[str]:
        """Constructor argument names, in signature order."""
        params = inspect.signature(type(self).__init__).parameters
        return [
            n
            for n, p in params.items()
            if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def to_config(self) -> dict[str, Any]:
        """JSON-safe config: ``{"type": registered name, **constructor arguments}``."""
        if self.registry_name is None:
            raise ConfigError(
                f"{type(self).__qualname__} is not registered, so it has no config type; "
                "register it with @faconv.register(kind, name)"
            )
        cfg: dict[str, Any] = {"type": self.registry_name}
        for name in self.config_arguments():
            if not hasattr(self, name):
                raise ConfigError(
                    f"{type(self).__qualname__} does not store its constructor argument "
                    f"{name!r} as an attribute; to_config needs it (or override to_config)"
                )
            cfg[name] = _to_json(getattr(self, name), f"{type(self).__qualname__}.{name}")
        return cfg

    def extra_repr(self) -> str:
        parts = []
        for name in self.config_arguments():
            value = getattr(self, name, None)
            if isinstance(value, nn.Module) or value is None:
                continue
            parts.append(f"{name}={value!r}")
        return ", ".join(parts)


class SpatialComponent(Component):
    """Base of components that look at the domain (mixers, global attention): they declare the
    domain kinds they support in ``domains``, are called as ``module(x, domain)``, and check the
    domain's kind before every call (a clear error instead of a shape error inside torch)."""

    domains: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        from faconv.domains.base import domain_kind_pre_hook

        self.register_forward_pre_hook(domain_kind_pre_hook)
