"""What every call checks of its input text, before any KG work: ``Engine``, the CLI and the service share it."""

from __future__ import annotations

from kgnlu.types import InputError

MAX_CHARS = 100_000


def check_text(text, what: str = "text", empty_ok: bool = True) -> str:
    """Reject what cannot be text (bytes, NULs) and what is too long, with one-line errors; and,
    unless ``empty_ok``, an empty or blank text ("text is empty": what link and extract refuse)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{what} is not UTF-8 (byte {e.start})") from None
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, not {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise InputError(f"{what} has {len(text)} characters; the limit is {MAX_CHARS} (split it into sentences)")
    if "\x00" in text:
        raise InputError(f"{what} contains NUL bytes: binary data, not text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate: how Python keeps bytes that were not UTF-8
        raise InputError(f"{what} is not valid Unicode (a lone surrogate at character {e.start}: "
                         f"bytes that were not UTF-8?)") from None
    if not empty_ok and not text.strip():
        raise InputError(f"{what} is empty")
    return text


def check_pair(premise, hypothesis, where: str = "") -> tuple[str, str]:
    """The pair as text, or an ``InputError`` (prefixed by ``where``): not text, too long, empty."""
    try:
        premise, hypothesis = check_text(premise, "premise"), check_text(hypothesis, "hypothesis")
    except InputError as e:
        raise InputError(f"{where}{e}") from None
    empty = [name for name, t in (("premise", premise), ("hypothesis", hypothesis)) if not t.strip()]
    if empty:  # "premise is empty", as a text is ("text is empty")
        raise InputError(f"{where}{' and '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty")
    return premise, hypothesis


__all__ = ["MAX_CHARS", "check_pair", "check_text"]
