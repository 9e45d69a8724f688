"""Which augmentations run with which parameters: ``AugmentationConfig`` (one set, every
augmentation) and ``AugmentationPolicy`` (a default set plus per-language overrides), both
round-tripping through the JSON the pipeline passes to the AudioAugmenter."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

from audio.augment.base import AugmentationParams
from audio.augment.registry import REGISTRY, unknown_name

PER_LANGUAGE_KEY = "per_language"


@dataclasses.dataclass(frozen=True)
class AugmentationConfig:
    """Parameters of every registered augmentation, keyed by name.

    JSON form (``to_dict``/``from_dict``) is ``{name: {field: value}}``. In ``from_dict``
    omitted augmentations and fields take their defaults; set ``p`` to 0 to disable one.
    Unknown augmentation or field names raise ``ValueError`` so typos are not ignored.
    """

    params: tuple = ()

    def __post_init__(self) -> None:
        given = {}
        for item in self.params:
            if not isinstance(item, AugmentationParams) or item.name not in REGISTRY:
                raise ValueError(f"not the parameters of a registered augmentation: {item!r}")
            if item.name in given:
                raise ValueError(f"parameters for {item.name!r} given twice")
            given[item.name] = item
        # Canonical order and completeness: registry order, defaults for the rest.
        full = tuple(given.get(name, params_type()) for name, params_type in REGISTRY.items())
        object.__setattr__(self, "params", full)

    def __getitem__(self, name: str) -> Any:
        for item in self.params:
            if item.name == name:
                return item
        raise ValueError(unknown_name(name))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.params)

    def replace(self, name: str, **changes: Any) -> AugmentationConfig:
        """Copy with some fields of one augmentation changed, e.g. ``replace("high_pass", p=0)``."""
        new = dataclasses.replace(self[name], **changes)
        return AugmentationConfig(tuple(new if item.name == name else item for item in self.params))

    def only(self, name: str) -> AugmentationConfig:
        """Copy where ``name`` always applies (p=1) and every other augmentation never does."""
        self[name]  # raises on unknown names
        return AugmentationConfig(
            tuple(dataclasses.replace(item, p=1.0 if item.name == name else 0.0) for item in self.params)
        )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-able ``{name: {field: value}}`` with every augmentation and field."""
        return {item.name: dataclasses.asdict(item) for item in self.params}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]] | None) -> AugmentationConfig:
        """Inverse of ``to_dict``; missing entries take defaults, unknown names raise."""
        data = data or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"augmentation config must be a mapping, got {type(data).__name__}")
        params = []
        for name, fields in data.items():
            if name not in REGISTRY:
                raise ValueError(unknown_name(name))
            params_type = REGISTRY[name]
            if not isinstance(fields, Mapping):
                raise ValueError(f"{name}: expected a mapping of parameters, got {fields!r}")
            known = {f.name for f in dataclasses.fields(params_type)}
            unknown = sorted(set(fields) - known)
            if unknown:
                raise ValueError(f"{name}: unknown parameter(s) {unknown}; known: {sorted(known)}")
            params.append(params_type(**fields))
        return cls(tuple(params))

    def to_json(self) -> str:
        """JSON string for a TFX execution property."""
        return json.dumps(self.to_dict(), sort_keys=False)

    @classmethod
    def from_json(cls, text: str | None) -> AugmentationConfig:
        """Inverse of ``to_json``; an empty string or None gives the defaults."""
        return cls.from_dict(json.loads(text) if text else None)


@dataclasses.dataclass(frozen=True)
class AugmentationPolicy:
    """Default augmentation parameters plus per-language (class-conditional) overrides.

    JSON form: the ``AugmentationConfig`` dict, optionally with ``"per_language": {language:
    {name: {field: value}}}``. An override changes only the fields it names, on top of the
    default, so ``{"Chinese": {"pitch_scale": {"p": 0}}}`` turns pitch scaling off for
    Chinese (a tonal language, where a pitch contour carries meaning) and keeps everything else.
    """

    default: AugmentationConfig = AugmentationConfig()
    overrides: tuple = ()   # ((language, {name: {field: value}}), ...), sorted by language

    def __post_init__(self) -> None:
        for _language, override in self.overrides:
            self._merged(override)   # validates names and values now, not on the first example

    def _merged(self, override: Mapping[str, Mapping[str, Any]]) -> AugmentationConfig:
        data = self.default.to_dict()
        for name, fields in override.items():
            if name not in REGISTRY:
                raise ValueError(unknown_name(name))
            if not isinstance(fields, Mapping):
                raise ValueError(f"{name}: expected a mapping of parameters, got {fields!r}")
            data[name] = {**data[name], **fields}
        return AugmentationConfig.from_dict(data)

    @property
    def languages(self) -> list[str]:
        return [language for language, _ in self.overrides]

    def for_language(self, language: str | None) -> AugmentationConfig:
        """The parameters for examples of ``language``: the default unless overridden."""
        for name, override in self.overrides:
            if name == language:
                return self._merged(override)
        return self.default

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.default.to_dict()
        if self.overrides:
            data[PER_LANGUAGE_KEY] = {language: dict(override) for language, override in self.overrides}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AugmentationPolicy:
        data = dict(data or {})
        per_language = data.pop(PER_LANGUAGE_KEY, None) or {}
        if not isinstance(per_language, Mapping):
            raise ValueError(f"{PER_LANGUAGE_KEY} must map a language to overrides, got {per_language!r}")
        overrides = tuple(sorted((str(k), json.loads(json.dumps(v))) for k, v in per_language.items()))
        return cls(AugmentationConfig.from_dict(data), overrides)
