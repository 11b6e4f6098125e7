"""`record`: a frozen dataclass that is quicker to make.

The switchboard, the ACD, the IVR and the boards speak in small frozen dataclasses (events,
commands, actions), a few dozen per call. A frozen dataclass's generated `__init__` sets each
field through `object.__setattr__`, which costs about as much as everything else the
constructor does; `record` keeps the dataclass exactly as `@dataclass(frozen=True)` makes it
(fields, defaults, default factories, equality, hash, repr, immutability once made,
`dataclasses.replace`, pickling) and only gives it an `__init__` that fills the new
instance's `__dict__` directly. Classes with `__post_init__`, slots, keyword-only or
init=False fields (or a field named like the generated code's locals) keep the dataclass's
own `__init__`.
"""

import dataclasses

_FACTORY = object()  # a default factory's field left out: call the factory


def record(cls):
    """`@dataclass(frozen=True)` with a quicker `__init__` (see the module doc)."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or "__slots__" in cls.__dict__ \
            or any(not f.init or f.kw_only or f.name in ("self", "fill", "_FACTORY")
                   or f.name.startswith(("_default_", "_factory_")) for f in fields):
        return cls
    names = {"_FACTORY": _FACTORY}
    params, setup, values = ["self"], [], []
    for i, f in enumerate(fields):
        if f.default is not dataclasses.MISSING:
            names[f"_default_{i}"] = f.default
            params.append(f"{f.name}=_default_{i}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory_{i}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            setup.append(f"    if {f.name} is _FACTORY:\n        {f.name} = _factory_{i}()\n")
        else:
            params.append(f.name)
        values.append(f"    fill[{f.name!r}] = {f.name}\n")
    source = (f"def __init__({', '.join(params)}):\n" + "".join(setup)
              + "    fill = self.__dict__\n" + "".join(values))
    exec(source, names)  # noqa: S102 - source built above from the field names only
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init
    return cls
