"""The rulebook templates that ship with StarLevel (docs/schemes.md): one TOML file each in
``starlevel/rulebooks``, listed here in the order of the schemes page."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from starlevel.domain.rulebook import Rulebook, parse_rulebook

__all__ = ["TEMPLATE_NAMES", "TemplateInfo", "is_template", "list_templates", "template_rulebook", "template_text"]

TEMPLATE_NAMES: tuple[str, ...] = (
    "default", "scorecard-80-20", "ecommerce-kpi", "star-standard", "tenure-track", "fee-collection",
    "lowest-item", "mall-three-star", "annual-july", "reception-quarterly", "after-sales-deduction",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    name: str
    source: str
    summary_zh: str
    summary_en: str
    name_zh: str
    name_en: str

    def summary(self, lang: str) -> str:
        return self.summary_zh if lang == "zh" else self.summary_en


def is_template(name: str) -> bool:
    return name in TEMPLATE_NAMES


def template_text(name: str) -> str:
    """The TOML text of a template (``KeyError`` for an unknown name)."""
    if name not in TEMPLATE_NAMES:
        raise KeyError(name)
    return resources.files("starlevel").joinpath("rulebooks", f"{name}.toml").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def template_rulebook(name: str) -> Rulebook:
    """A template parsed and validated (version 0)."""
    return parse_rulebook(tomllib.loads(template_text(name)))


def list_templates() -> list[TemplateInfo]:
    out = []
    for name in TEMPLATE_NAMES:
        rb = template_rulebook(name)
        out.append(TemplateInfo(name, rb.source or "002 + 003 + 004 + 001", rb.summary_zh or "默认星级阶梯（docs/ladder.md）",
                                rb.summary_en or "The default star ladder (docs/ladder.md)", rb.name_zh, rb.name_en))  # fmt: skip
    return out
