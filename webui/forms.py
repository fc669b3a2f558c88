"""Forms generated from a task's config dataclass: the config is the contract between tab and job.

A tab lays out the fields it shows with ``form.field(name)`` (label, default, choices, bounds and help
come from the field's ``opt()``; keyword arguments override the look), or ``form.add(name, component)``
for a field that needs its own widget. ``form.submit`` wires a button: the handler receives every
form value and the extra inputs by name, and Gradio's validator shows a bad value next to its field
before the handler runs. ``form.config(values, **derived)`` builds the validated config the job gets.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Callable

import gradio as gr

from common.errors import ConfigError
from training.config import config_from_values

from .i18n import form_label


class ConfigForm:
    def __init__(self, cls: type):
        self.cls = cls
        self.fields = {f.name: f for f in dataclasses.fields(cls)}
        self.hints = typing.get_type_hints(cls)
        self.components: dict[str, gr.components.Component] = {}
        self.defaults = cls()

    def field(self, name: str, widget: type | None = None, **look: Any) -> gr.components.Component:
        """A component for config field ``name``, made from its type and metadata (``widget``: gr.Radio or
        gr.Slider where a dropdown or a number box would be the default)."""
        f, kind = self.fields[name], self.hints[name]
        meta, value = f.metadata, getattr(self.defaults, name)
        label, info = form_label(self.cls, name)  # the config's English, translated in the browser
        look = {"label": label, "info": info, "value": value, **look}
        choices, suggest = meta.get("choices"), meta.get("suggest")
        if widget is not None:  # a Radio or a Slider instead of the generated widget, from the same metadata
            extra = {"choices": list(choices or suggest or [])} if widget is gr.Radio else \
                {"minimum": meta.get("min"), "maximum": meta.get("max")} if widget is gr.Slider else {}
            component = widget(**{**{k: v for k, v in extra.items() if v is not None}, **look})
        elif kind is bool:
            component = gr.Checkbox(**look)
        elif choices is not None or suggest is not None or "choices" in look:  # (a tab may narrow the choices)
            # The registries are torch-free (hub_models.catalog): the full list is there when the page is built.
            look.setdefault("choices", list(choices or suggest or []))
            # Any typed value reaches the config's check, which names what is wrong next to the field (Gradio's own
            # refusal is a bare HTTP 400); suggestions allow other values by design (timm:<any architecture>).
            look.setdefault("allow_custom_value", True)
            component = gr.Dropdown(**look)
        elif kind in (int, float):
            bounds = {"minimum": meta.get("min"), "maximum": meta.get("max")}
            component = gr.Number(precision=0 if kind is int else None,
                                  **{k: v for k, v in bounds.items() if v is not None}, **look)
        else:
            component = gr.Textbox(**look)
        return self.add(name, component)

    def add(self, name: str, component: gr.components.Component) -> gr.components.Component:
        """Use ``component`` for config field ``name``."""
        if name not in self.fields:
            raise TypeError(f"{self.cls.__name__} has no field {name!r}")
        self.components[name] = component
        return component

    def config(self, values: dict[str, Any], deep: bool = True, **derived: Any) -> Any:
        """The validated config from the form's ``values`` (other names ignored) and ``derived`` fields
        (the dataset a data picker chose, the hub...)."""
        return config_from_values(self.cls, {**{k: v for k, v in values.items() if k in self.fields}, **derived},
                                  deep)

    def validator(self, **values: Any) -> list[dict]:
        """Gradio's validator: a bad value's message next to its field, before the handler runs."""
        bad: dict[str, str] = {}
        try:
            self.config(values, deep=False)  # Gradio runs it unqueued: no library imports (check_deep) here
        except ConfigError as e:
            bad[e.field] = str(e)
        return [gr.validate(name not in bad, bad.get(name, "")) for name in values]

    def submit(self, button: gr.Button, fn: Callable[..., Any], outputs: Any, *, api_name: str,
               extra: dict[str, gr.components.Component] | None = None, **kw: Any) -> Any:
        """``button`` calls ``fn(**values)``: the form's fields and ``extra`` inputs, by name."""
        inputs = {**self.components, **(extra or {})}
        return button.click(fn, None, outputs, inputs_kwargs=inputs, validator=self.validator, api_name=api_name,
                            **kw)
