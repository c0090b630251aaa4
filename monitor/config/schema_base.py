"""What every part of the schema shares: the strict base model and the small value types."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.utils import parseaddr
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


def config_error(message: str) -> PydanticCustomError:
    """A validation error whose text is shown to the user as is.

    The message goes through the context, not the template, so braces in it
    (``${VAR}``) are not taken for placeholders.
    """
    return PydanticCustomError("config", "{message}", {"message": message})


class StrictModel(BaseModel):
    """Frozen, and an unknown key is an error rather than silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        # `key:` with nothing after it, or `${VAR:-}` with VAR empty, arrives as None;
        # for a key that has a default this means "use the default".
        if not isinstance(data, dict):
            return data
        return {
            key: value
            for key, value in data.items()
            if not (value is None and key in cls.model_fields and not _required(cls, key))
        }


def _required(model: type[BaseModel], key: str) -> bool:
    return model.model_fields[key].is_required()


def _checked(check: Callable[[str], str | None], message: str) -> AfterValidator:
    """An AfterValidator from a function returning the cleaned value, or None if invalid."""

    def validate(value: str) -> str:
        cleaned = check(value)
        if cleaned is None:
            raise config_error(message.format(value=value))
        return cleaned

    return AfterValidator(validate)


# At most 100 characters: ids are stored in columns of that size.
_ID = re.compile(r"[a-z0-9_-]{1,100}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]+")
_ATTRIBUTE = re.compile(r"[A-Za-z_:][-A-Za-z0-9_:.]*")


def _id(value: str) -> str | None:
    return value if _ID.fullmatch(value) else None


def _language(value: str) -> str | None:
    return value if _LANGUAGE.fullmatch(value) else None


def _non_empty(value: str) -> str | None:
    return value if value.strip() else None


def _http_url(value: str) -> str | None:
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def _proxy_url(value: str) -> str | None:
    parts = urlsplit(value)
    return value if parts.scheme and parts.hostname else None


def _email(value: str) -> str | None:
    # Accepts "Name <addr@host>" too; only the address part is checked.
    _name, address = parseaddr(value)
    return value if address and _EMAIL.fullmatch(address) else None


def _selector(value: str) -> str | None:
    """``css``, ``css@attr`` or ``@attr``: the attribute, when given, must be a name."""
    if not value.strip():
        return None
    if "@" not in value:
        return value
    css, _at, attribute = value.rpartition("@")
    if css and not css.strip():
        return None
    return value if _ATTRIBUTE.fullmatch(attribute) else None


Id = Annotated[
    str,
    _checked(_id, "{value!r} is not a valid id (use up to 100 lowercase letters, digits, - and _)"),
]
Language = Annotated[
    str, _checked(_language, "{value!r} is not a language code (use 2 or 3 letters: ar, en)")
]
NonEmptyStr = Annotated[str, _checked(_non_empty, "must not be empty")]
HttpUrl = Annotated[
    str, _checked(_http_url, "{value!r} is not an http(s) URL (e.g. https://example.org/feed)")
]
ProxyUrl = Annotated[
    str, _checked(_proxy_url, "{value!r} is not a proxy URL (e.g. http://proxy.local:3128)")
]
EmailAddress = Annotated[
    str, _checked(_email, "{value!r} is not an email address (e.g. analysts@example.org)")
]
Selector = Annotated[
    str,
    _checked(_selector, "{value!r} is not a selector (write 'css', 'css@attribute' or '@attr')"),
]
