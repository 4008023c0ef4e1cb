"""Header lines as they go on the wire: folded, and RFC 2047-encoded where text needs it.

Every line stays within 998 octets (RFC 5322 2.1.1), and within 78 characters
wherever the text can be folded there. Text that is not ASCII, or that holds
"=?", is written as encoded-words: RFC 2047 leaves making them to encoders, so a
value that merely looks like one ("=?utf-8?q?…?=") is the sender's literal text,
and encoding it makes readers show exactly that rather than its decoding.
Structured values (List-Unsubscribe, References, …) are never encoded: the composer
accepts them only in ASCII and only when they fold (see `fits`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from email.charset import Charset
from email.header import Header

from emailconfig.delivery import Address

CRLF = "\r\n"
MAX_LINE = 78  # RFC 5322 2.1.1: SHOULD
MAX_LINE_OCTETS = 998  # RFC 5322 2.1.1: MUST
MAX_ENCODED_WORD = 75  # RFC 2047 2
# A display name's words, encoded or not, fit after "Reply-To: " on a 78-character line.
_PHRASE_WORD = 68
_UTF8 = Charset("utf-8")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # atext, RFC 5322 3.2.3
# Characters that make an ASCII display name a quoted-string, as email.utils.formataddr has
# them; two spaces in a row would otherwise be read back as one.
_NEEDS_QUOTES = re.compile(r'[][\\()<>@,:;".]|  ')


def header(name: str, words: Sequence[str]) -> str:
    """`name: words…` joined by single spaces, folded before a word where a line would pass
    78 characters. Never right after the colon: parsers read that fold as a leading space
    of an unstructured value. A word is never split, and an empty one (two spaces) is
    never a fold point, so no line is only whitespace."""
    lines, line = [], f"{name}: {words[0]}"
    for word in words[1:]:
        if word and len(line) + 1 + len(word) > MAX_LINE:
            lines.append(line)
            line = f" {word}"
        else:
            line = f"{line} {word}"
    lines.append(line)
    return CRLF.join(lines)


def fits(name: str, words: Sequence[str], width: int = MAX_LINE_OCTETS) -> bool:
    """Whether `header` keeps every line within `width`: the first word follows the name."""
    first, *rest = words
    return len(name) + 2 + len(first) <= width and all(1 + len(word) <= width for word in rest)


def text(name: str, value: str, *, width: int = MAX_LINE_OCTETS) -> str:
    """An unstructured header (Subject, X-…): literal when it is ASCII without "=?" and
    folds within `width`, else encoded as a whole."""
    words = value.split(" ")
    if value.isascii() and "=?" not in value and fits(name, words, width):
        return header(name, words)
    return header(name, _encoded_words(value, header_name=name))


def is_structured(name: str) -> bool:
    """Whether an extra header is one of the structured ones an app may set (List-…,
    References, …) rather than its own X-… text."""
    return not name.lower().startswith("x-")


def structured(name: str, value: str) -> str:
    """A structured header the composer checked (ASCII, `fits`): folded at its spaces."""
    return header(name, value.split(" "))


def addresses(name: str, items: Iterable[Address]) -> str:
    """A From, To, Cc or Reply-To header, folded between the words of names and addresses."""
    words: list[str] = []
    for address in items:
        if words:
            words[-1] += ","
        words += [*_phrase(address.name), f"<{address.email}>"] if address.name else [address.email]
    return header(name, words)


def _phrase(name: str) -> list[str]:
    """A display name's words: atoms or a quoted-string when it is plain ASCII, else atoms
    where they can be and encoded-words for the runs of words between them.

    Encoding only the runs that need it keeps encoded-words few: Python before 3.13.x
    (gh-128110) and other parsers put a space between adjacent encoded-words of a name.
    """
    words = name.split(" ")
    if name.isascii() and "=?" not in name and all(len(w) <= _PHRASE_WORD for w in words):
        if _NEEDS_QUOTES.search(name):
            return ('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"').split(" ")
        return words
    if "  " in name:
        return _encoded_words(name, max_word=_PHRASE_WORD)
    phrase: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:  # the empty word ends the last run
        if word and (not _ATOM.fullmatch(word) or "=?" in word or len(word) > _PHRASE_WORD):
            run.append(word)
            continue
        if run:
            phrase += _encoded_words(" ".join(run), max_word=_PHRASE_WORD)
            run = []
        if word:
            phrase.append(word)
    return phrase


def _encoded_words(
    value: str, *, header_name: str = "", max_word: int = MAX_ENCODED_WORD
) -> list[str]:
    """RFC 2047 encoded-words for the whole value, none longer than `max_word` (at most 75).

    Decoders drop the whitespace between adjacent encoded-words, so they may be folded
    anywhere; the standard library sizes the first one to follow `header_name`. In a
    display name their Q encoding keeps to the characters a phrase allows (RFC 2047 5(3)),
    as the standard library's does.
    """
    word = _UTF8.header_encode(value)  # one word, as most values need: several times faster
    if len(word) <= max_word - (len(header_name) + 2 if header_name else 0):
        return [word]
    encoded = Header(value, _UTF8, header_name=header_name or None).encode(
        linesep=CRLF, maxlinelen=max_word
    )
    return encoded.split()
