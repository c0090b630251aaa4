"""The `stances:` and `rules:` sections.

Query strings (`match`, cues, target terms) are only typed here; whether they
parse is checked by the loader's reference phase with the real query parser.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from monitor.config.durations import Duration
from monitor.config.schema_base import Id, Language, NonEmptyStr, StrictModel, config_error

Severity = Literal["low", "medium", "high"]


class Cue(StrictModel):
    """One cue of a stance: a query, and how much a hit counts (negative: counts against)."""

    query: NonEmptyStr
    weight: float = Field(1.0, ge=-5, le=5)

    @model_validator(mode="before")
    @classmethod
    def _plain_string(cls, data: Any) -> Any:
        # A cue is usually written as a bare query string; weight then defaults.
        if isinstance(data, str):
            return {"query": data}
        if not isinstance(data, dict):
            raise config_error(
                f"expected a query, or {{query: ..., weight: ...}}, got {type(data).__name__}"
            )
        return data


class Stance(StrictModel):
    """What a stance rule can ask for: cue lexicons per language, and optionally a target."""

    # One target (PRODUCT.md's form, key "target"), or several keyed ones:
    target_terms: dict[Language, list[NonEmptyStr]] | None = None
    targets: dict[Id, dict[Language, list[NonEmptyStr]]] | None = None  # {us: {en: [...]}}
    negators: dict[Language, list[NonEmptyStr]] | None = None  # None: the built-in lists
    window: int = Field(10, ge=1, le=100)  # words between a cue and its target
    reported_weight: float = Field(0.25, ge=0, le=1)  # what a cue in reported speech counts
    cues: dict[Language, list[Cue]] = Field(min_length=1)


class StanceCondition(StrictModel):
    label: str  # a key of `stances:`
    min_score: float = Field(0.5, ge=0, le=1)
    # A target key of the stance (us, israel; "target" for target_terms): the
    # score of the cues near that target alone must reach min_score.
    target: str | None = None


class MentionsCondition(StrictModel):
    """Exactly one form: ``{any: [ids]}``, ``{all: [ids]}`` or ``{group, at_least, omits}``."""

    any: list[str] | None = Field(None, min_length=1)
    all: list[str] | None = Field(None, min_length=1)
    group: str | None = None
    at_least: int = Field(1, ge=1)  # how many of the group must be mentioned
    omits: str | None = None  # ...while this one is not

    @model_validator(mode="after")
    def _one_form(self) -> MentionsCondition:
        forms = [name for name in ("any", "all", "group") if getattr(self, name) is not None]
        if len(forms) != 1:
            given = " and ".join(forms) if forms else "none of them"
            raise config_error(f"give exactly one of 'any', 'all' or 'group' (got {given})")
        group_only = [key for key in ("at_least", "omits") if key in self.model_fields_set]
        if forms != ["group"] and group_only:
            raise config_error(f"'{group_only[0]}' goes with 'group', not with '{forms[0]}'")
        return self


class StanceShiftCondition(StrictModel):
    """A leader's statement takes the opposite stance of his previous one within a window."""

    between: list[str] = Field(min_length=2, max_length=2)  # two stance labels, opposites
    window: Duration = timedelta(days=7)
    min_score: float = Field(0.6, ge=0, le=1)  # what counts as taking a stance


class ReactionCondition(StrictModel):
    """A statement that answers a leader: ``reacts_to: ID`` or ``{leader: ID, window: 1d}``."""

    leader: str
    window: Duration = timedelta(days=1)

    @model_validator(mode="before")
    @classmethod
    def _plain_id(cls, data: Any) -> Any:
        return {"leader": data} if isinstance(data, str) else data


class Rule(StrictModel):
    id: Id
    match: NonEmptyStr | None = None  # a query of the keyword language
    stance: StanceCondition | None = None
    mentions: MentionsCondition | None = None
    stance_shift: StanceShiftCondition | None = None
    # Replies to or quotes a statement of the leader, within the window:
    reply_to_leader: ReactionCondition | None = None
    # ...or names the leader, within the window of one of his statements:
    reacts_to: ReactionCondition | None = None
    leaders: list[str] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    languages: list[Language] = Field(default_factory=list)
    severity: Severity = "medium"
    notify: list[str] = Field(default_factory=lambda: ["console"])
    enabled: bool = True

    @model_validator(mode="after")
    def _has_condition(self) -> Rule:
        if not any(getattr(self, name) is not None for name in CONDITIONS):
            raise config_error(
                "a rule needs at least one of " + ", ".join(f"'{name}'" for name in CONDITIONS)
            )
        return self


# Every condition a rule may have; all that it has must hold.
CONDITIONS = ("match", "stance", "mentions", "stance_shift", "reply_to_leader", "reacts_to")
