"""DNS record values: one canonical text per value, for inventory input and for what servers return.

A ``dns.record`` spec holds its values in DNS presentation form, normalised so a value the
inventory gives and the same value read back from BIND, PowerDNS or Route 53 compare equal:

- A / AAAA: the address (IPv6 compressed, lower case);
- CNAME, NS, PTR (and an alias target): an absolute, lower-case name (a trailing dot is added:
  names in the inventory are always absolute, never relative to the zone);
- MX ``<preference> <host>``; SRV ``<priority> <weight> <port> <target>``;
- CAA ``<flags> <tag> "<value>"``;
- TXT: the text as quoted character-strings of at most 255 bytes each (``"` and ``\\`` escaped,
  other bytes outside printable ASCII as ``\\DDD``). A TXT value is ONE text: the strings a server
  returns are joined and cut again at 255 bytes, so a record another tool split elsewhere reads
  as the same text.

No DNS library: the inventory and compiler layers use it, providers too.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import StringConstraints

PLAIN_TYPES = ("A", "AAAA", "CNAME", "ALIAS", "TXT", "MX", "SRV", "CAA", "NS", "PTR")
NAME_TYPES = ("CNAME", "NS", "PTR", "ALIAS")
TXT_CHUNK = 255
ALIAS_SELF = "self"  # ``alias:self:<target>``: an alias whose target is in the record's own zone
_LABEL = re.compile(r"^(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)$")
_CAA_TAG = re.compile(r"^[a-z0-9]{1,15}$")


# a record value is kept exactly as written: a TXT's leading or trailing blanks are part of its text
RawText = Annotated[str, StringConstraints(strip_whitespace=False)]


class ValueProblem(ValueError):
    """A value that is not valid for its type; ``path`` is the sub-field (e.g. ``("preference",)``)."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


# ----- names ------------------------------------------------------------------------------------
def dns_name(text: str, what: str = "name", *, root_ok: bool = False) -> str:
    """An absolute lower-case DNS name, or :class:`ValueProblem`."""
    name = str(text).strip().lower()
    if name == "." and root_ok:
        return "."
    if not name or name == ".":
        raise ValueProblem(f"the {what} is empty")
    body = name[:-1] if name.endswith(".") else name
    if len(body) > 253:
        raise ValueProblem(f"the {what} '{text}' is longer than 253 characters")
    for label in body.split("."):
        if not _LABEL.match(label):
            raise ValueProblem(f"the {what} '{text}' is not a DNS name (label '{label}': letters, digits, '-' "
                               "and '_', 1 to 63 characters each)")
    return body + "."


def _u16(value: Any, what: str, path: str, top: int = 65535) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ValueProblem(f"the {what} must be a number from 0 to {top} (got {value!r})", (path,)) from None
    if not 0 <= n <= top:
        raise ValueProblem(f"the {what} must be from 0 to {top} (got {n})", (path,))
    return n


# ----- presentation form ------------------------------------------------------------------------
def txt_escape(data: bytes) -> str:
    out = []
    for b in data:
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


def txt_chunks(data: bytes) -> str:
    """``"chunk" "chunk"``: the text in quoted strings of at most 255 bytes."""
    parts = [data[i:i + TXT_CHUNK] for i in range(0, len(data), TXT_CHUNK)] or [b""]
    return " ".join(f'"{txt_escape(p)}"' for p in parts)


def tokens(text: str) -> list[bytes]:
    """Presentation form -> its fields (quoted or not), escapes resolved."""
    out: list[bytes] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        quoted = text[i] == '"'
        if quoted:
            i += 1
        buf = bytearray()
        while i < n:
            ch = text[i]
            if quoted and ch == '"':
                i += 1
                break
            if not quoted and ch.isspace():
                break
            if ch == "\\" and i + 1 < n:
                if text[i + 1:i + 4].isdigit() and len(text[i + 1:i + 4]) == 3:
                    buf.append(int(text[i + 1:i + 4]) & 0xFF)
                    i += 4
                else:
                    buf += text[i + 1].encode()
                    i += 2
                continue
            buf += ch.encode()
            i += 1
        out.append(bytes(buf))
    return out


# ----- canonical values -------------------------------------------------------------------------
def canonical(rtype: str, text: str) -> str:
    """The canonical form of a value in presentation form (as a server returns it).

    Raises :class:`ValueProblem` if it does not parse; see :func:`canonical_or_raw`.
    """
    rtype = rtype.upper()
    if rtype == "TXT":
        return txt_chunks(b"".join(tokens(text)))
    if rtype == "CAA":
        parts = tokens(text)
        if len(parts) != 3:
            raise ValueProblem("a CAA value is '<flags> <tag> \"<value>\"', e.g. '0 issue \"letsencrypt.org\"'")
        return _caa(parts[0].decode(), parts[1].decode(), parts[2].decode("utf-8", "replace"))
    return from_inventory(rtype, text)


@functools.lru_cache(maxsize=1 << 16)
def canonical_or_raw(rtype: str, text: str) -> str:
    """:func:`canonical`, or the text unchanged when it does not parse (a type this tool does not know).

    Memoised: a large inventory repeats the same few endpoints in tens of thousands of records, and
    parsing each (``ipaddress``) was the largest part of compiling them."""
    if rtype.upper() not in PLAIN_TYPES:
        return text
    try:
        return canonical(rtype, text)
    except ValueProblem:
        return text


def from_inventory(rtype: str, value: Any) -> str:
    """The canonical value of what an inventory's ``values`` list holds (TXT: the plain text)."""
    rtype = rtype.upper()
    if rtype in ("MX", "SRV", "CAA") and isinstance(value, Mapping):
        value = _from_mapping(rtype, value)
    elif isinstance(value, Mapping | list):
        raise ValueProblem(f"a {rtype} value is a string")
    text = str(value).strip() if rtype != "TXT" else str(value)
    if rtype == "A":
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise ValueProblem(f"'{text}' is not an IPv4 address (an A record; IPv6 goes in AAAA)") from None
    if rtype == "AAAA":
        try:
            if "%" in text:
                raise ValueError(text)
            return str(ipaddress.IPv6Address(text))
        except ValueError:
            raise ValueProblem(f"'{text}' is not an IPv6 address (an AAAA record; IPv4 goes in A)") from None
    if rtype in NAME_TYPES:
        return dns_name(text, {"CNAME": "canonical name", "NS": "name server", "PTR": "pointer target",
                               "ALIAS": "alias target"}[rtype])
    if rtype == "MX":
        parts = text.split()
        if len(parts) != 2:
            raise ValueProblem(f"an MX value needs a preference and a mail host, like '10 mail.example.com.' "
                               f"(got {text!r})")
        pref = _u16(parts[0], "MX preference", "preference")
        return f"{pref} {dns_name(parts[1], 'mail host', root_ok=True)}"
    if rtype == "SRV":
        parts = text.split()
        if len(parts) != 4:
            raise ValueProblem(f"an SRV value needs priority, weight, port and target, like "
                               f"'10 5 5060 sip.example.com.' (got {text!r})")
        nums = [_u16(p, w, w) for p, w in zip(parts[:3], ("priority", "weight", "port"), strict=True)]
        return " ".join(str(n) for n in nums) + " " + dns_name(parts[3], "SRV target", root_ok=True)
    if rtype == "CAA":
        parts = text.split(None, 2)
        if len(parts) != 3:
            raise ValueProblem(f"a CAA value needs flags, a tag and a value, like '0 issue \"letsencrypt.org\"' "
                               f"(got {text!r})")
        raw = parts[2]
        val = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
        return _caa(parts[0], parts[1], val)
    if rtype == "TXT":
        data = text.encode("utf-8")
        if len(data) > 4000:
            raise ValueProblem(f"a TXT value of {len(data)} bytes is too long (at most 4000)")
        return txt_chunks(data)
    raise ValueProblem(f"record type {rtype} is not supported (types: {', '.join(PLAIN_TYPES)})")


def _caa(flags: str, tag: str, value: str) -> str:
    f = _u16(flags, "CAA flags", "flags", 255)
    t = tag.strip().lower()
    if not _CAA_TAG.match(t):
        raise ValueProblem(f"the CAA tag '{tag}' must be 1 to 15 letters or digits (issue, issuewild, iodef)",
                           ("tag",))
    if not value:
        raise ValueProblem("the CAA value is empty", ("value",))
    return f'{f} {t} "{txt_escape(value.encode("utf-8"))}"'


def _from_mapping(rtype: str, value: Mapping[str, Any]) -> str:
    fields = {"MX": ("preference", "exchange"), "SRV": ("priority", "weight", "port", "target"),
              "CAA": ("flags", "tag", "value")}[rtype]
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ValueProblem(f"unknown field '{unknown[0]}' (a {rtype} value has {', '.join(fields)})", (unknown[0],))
    missing = [f for f in fields if value.get(f) in (None, "") and not (rtype == "CAA" and f == "flags")]
    if missing:
        raise ValueProblem(f"a {rtype} value needs {', '.join(fields)}: '{missing[0]}' is missing", (missing[0],))
    if rtype == "CAA":
        return _caa(str(value.get("flags", 0)), str(value["tag"]), str(value["value"]))
    return " ".join(str(value[f]) for f in fields)


def plain_text(rtype: str, value: str) -> str:
    """What an inventory's ``values`` holds for a canonical value (TXT: the joined text)."""
    if rtype.upper() == "TXT":
        return b"".join(tokens(value)).decode("utf-8", "replace")
    return value
