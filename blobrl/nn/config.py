"""Network configuration: one frozen record, built by the project config from ``network:``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ARCHS = ("mlp", "transformer")
VALUE_HEADS = ("tricks", "direct")
SCORINGS = ("blob", "oh_hell")


@dataclass(frozen=True)
class NetworkConfig:
    """Which network to build and how big.

    ``arch`` picks the body: ``mlp`` (a residual MLP over the flat information state; fast on a
    CPU, the default) or ``transformer`` (one token per card, per relative seat and one global
    token). The ``hidden``/``blocks`` fields size the MLP; ``embed`` .. ``dropout`` size the
    transformer. Fields of the other architecture are ignored.

    ``value_head`` picks how seat values are made: ``tricks`` predicts each seat's remaining
    trick count and derives the value for ``scoring`` (set from ``run.scoring`` by the run
    config); ``direct`` regresses the values with a sigmoid head.
    """

    arch: Literal["mlp", "transformer"] = "mlp"
    value_head: Literal["tricks", "direct"] = "tricks"
    scoring: Literal["blob", "oh_hell"] = "blob"
    # mlp
    hidden: int = 256  # width of the residual stream
    blocks: int = 3  # residual blocks (each LayerNorm -> Linear -> ReLU -> Linear)
    # transformer
    embed: int = 256  # token width
    layers: int = 6  # encoder layers
    heads: int = 8  # attention heads; must divide ``embed``
    ff_mult: int = 4  # feed-forward width = ff_mult * embed
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"network.arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.value_head not in VALUE_HEADS:
            raise ValueError(
                f"network.value_head must be one of {', '.join(VALUE_HEADS)}, "
                f"got {self.value_head!r}"
            )
        if self.scoring not in SCORINGS:
            raise ValueError(
                f"network.scoring must be one of {', '.join(SCORINGS)}, got {self.scoring!r}"
            )
        for name, low in (
            ("hidden", 1),
            ("blocks", 0),
            ("embed", 1),
            ("layers", 1),
            ("heads", 1),
            ("ff_mult", 1),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"network.{name} must be an integer, got {value!r}")
            if value < low:
                raise ValueError(f"network.{name} must be >= {low}, got {value}")
        if self.embed % self.heads != 0:
            raise ValueError(
                f"network.heads must divide network.embed, got embed={self.embed}, "
                f"heads={self.heads}"
            )
        if not isinstance(self.dropout, int | float) or isinstance(self.dropout, bool):
            raise ValueError(f"network.dropout must be a number, got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"network.dropout must be in [0, 1), got {self.dropout}")

    @classmethod
    def from_section(
        cls, section: Mapping[str, Any] | None, weights: Mapping[str, Any] | None = None
    ) -> NetworkConfig:
        """The config stored with a checkpoint (unknown keys ignored). A checkpoint written
        before trick-count heads existed has no ``value_head``; its weights tell which it is."""
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in (section or {}).items() if k in known}
        if "value_head" not in fields and weights is not None and "value_out.weight" in weights:
            fields["value_head"] = "direct"
        return cls(**fields)
