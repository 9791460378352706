"""Grammar text helpers: quoting, free text without markers, and embedding xgrammar's schema grammars.

xgrammar's JSON-schema converter prints a grammar whose start rule is ``root``. To put one grammar per tool
into a single Kimi grammar, every rule name gets a per-tool prefix. GBNF (llama.cpp) has the same
rule syntax as xgrammar's EBNF except the lookahead assertions ``(= ...)``, which only narrow what
xgrammar's converter already accepts, so they are removed for GBNF.
"""

from __future__ import annotations

import re

__all__ = [
    "GBNF_JSON_STRING",
    "TEXT_EXCLUDES",
    "builtins",
    "embed_rules",
    "quote",
    "strip_lookaheads",
    "text_rules",
    "to_gbnf",
]

#: What free text (content, reasoning) may not contain: every Kimi special token starts with ``<|``;
#: ``<think>``, ``</think>`` and the bracket spellings are markers to the parser in text mode.
TEXT_EXCLUDES = ("<|", "<think>", "</think>", "[BOS]", "[EOS]", "[EOT]", "[UNK]", "[PAD]")


def _class_char(ch: str) -> str:
    # \\u with its fixed four digits: xgrammar reads \\x greedily (\\x5bE is U+05BE)
    return ch if ch.isalnum() else f"\\u{ord(ch):04x}"


def text_rules(excludes: tuple[str, ...] = TEXT_EXCLUDES, name: str = "text") -> str:
    """Rules for text that contains none of ``excludes``, written with stars and classes (no recursion),
    so engines match long texts in linear time.

    A trie of the excluded words: the text is runs free of their first characters, each followed by a
    piece that starts with one and goes down the trie until a character leaves it (then a free run again)
    or the piece ends (the next character starts a new piece, or the text ends). Exact because no
    excluded word has one of those first characters after its start.
    """
    firsts = sorted({w[0] for w in excludes})
    assert all(c not in firsts for w in excludes for c in w[1:]), "a first character inside a word"
    free = "[^" + "".join(_class_char(c) for c in firsts) + "]*"
    rules: list[str] = []
    counter = [0]

    def node(prefix: str) -> str:
        counter[0] += 1
        rule = f"{name}_{counter[0]}"
        children = sorted({w[len(prefix)] for w in excludes if w.startswith(prefix) and len(w) > len(prefix)})
        alts = ["[^" + "".join(_class_char(c) for c in firsts + children) + "] " + free]
        for c in children:
            if prefix + c in excludes:
                continue  # the word would be complete: not allowed
            alts.append(f"{quote(c)} {node(prefix + c)}")
        rules.append(f"{rule} ::= ({' | '.join(alts)})?")
        return rule

    pieces = " | ".join(f"{quote(c)} {node(c)}" for c in firsts)
    return "\n".join([f"{name} ::= {free} ({pieces})*", *rules]) + "\n"


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(s: str) -> str:
    """A string literal both dialects read the same way (controls as ``\\u00HH``)."""
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _skip_literal(text: str, i: int, close: str) -> int:
    """Index just past the string or class that starts at ``text[i]`` and ends with ``close``."""
    i += 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == close:
            return i + 1
        i += 1
    return n


def _skip_call(text: str, i: int) -> int:
    """Index just past the parenthesised argument list that starts at ``text[i]``."""
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in '"[':
            i = _skip_literal(text, i, '"' if c == '"' else "]")
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


_BUILTIN = re.compile(r"\b([A-Z][A-Za-z]*)\(")
#: GBNF for the characters of any JSON string: what ``Regex(..., json_string=true)`` (a pattern on a
#: string's characters, between its quotes) becomes there.
GBNF_JSON_STRING = (
    'gbnf_string_chars ::= ([^"\\\\\\x00-\\x1f] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4}))*'
)


def builtins(grammar: str) -> list[str]:
    """The builtin calls (``Regex(...)``…) in an xgrammar grammar, outside literals; GBNF has none."""
    found: list[str] = []
    i = 0
    n = len(grammar)
    while i < n:
        c = grammar[i]
        if c in '"[':
            i = _skip_literal(grammar, i, '"' if c == '"' else "]")
            continue
        m = _BUILTIN.match(grammar, i)
        if m and (i == 0 or not _is_name_char(grammar[i - 1])):
            k = _skip_call(grammar, m.end() - 1)
            found.append(grammar[i:k])
            i = k
            continue
        i += 1
    return found


def _is_name_char(c: str) -> bool:
    return c.isalnum() or c in "_-."


def embed_rules(grammar: str, prefix: str, keep: frozenset[str] = frozenset()) -> tuple[str, str]:
    """Prefix every rule name of an xgrammar-printed grammar; returns (rules text, new name of ``root``).

    Rule names are the identifiers left of ``::=``; references are identifiers in the bodies outside
    string literals and character classes. Names in ``keep`` are shared rules and stay as they are.
    """
    out: list[str] = []
    i = 0
    n = len(grammar)
    while i < n:
        c = grammar[i]
        if c == '"':
            j = _skip_literal(grammar, i, '"')
            out.append(grammar[i:j])
            i = j
        elif c == "[":
            j = _skip_literal(grammar, i, "]")
            out.append(grammar[i:j])
            i = j
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and _is_name_char(grammar[j]):
                j += 1
            if j < n and grammar[j] == "(":  # a builtin such as Regex("...", json_string=true): verbatim
                k = _skip_call(grammar, j)
                out.append(grammar[i:k])
                i = k
                continue
            name = grammar[i:j]
            out.append(name if name in keep else prefix + name)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out), prefix + "root"


def strip_lookaheads(grammar: str) -> str:
    """Remove xgrammar's lookahead assertions ``(= ...)`` (not GBNF syntax)."""
    out: list[str] = []
    i = 0
    n = len(grammar)
    while i < n:
        c = grammar[i]
        if c == '"':
            j = _skip_literal(grammar, i, '"')
            out.append(grammar[i:j])
            i = j
        elif c == "[":
            j = _skip_literal(grammar, i, "]")
            out.append(grammar[i:j])
            i = j
        elif c == "(" and grammar.startswith("(=", i):
            depth = 0
            j = i
            while j < n:
                d = grammar[j]
                if d == '"':
                    j = _skip_literal(grammar, j, '"')
                    continue
                if d == "[":
                    j = _skip_literal(grammar, j, "]")
                    continue
                if d == "(":
                    depth += 1
                elif d == ")":
                    depth -= 1
                    if depth == 0:
                        j += 1
                        break
                j += 1
            while out and out[-1] == " ":
                out.pop()
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


_EMPTY_FIRST = re.compile(r'\(""\s*\|\s*')
_REPEAT = re.compile(r"\{(\d+),\s*(-?\d+)\}")
_GBNF_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
#: The escapes llama.cpp's grammar parser reads besides \x, \u and \U.
_GBNF_SIMPLE = frozenset('trn\\"[]')


def _gbnf_escape(m: re.Match[str]) -> str:
    body = m.group(1)
    if len(body) > 1 or body in _GBNF_SIMPLE:
        return m.group(0)
    return f"\\u{ord(body) if body != '0' else 0:04x}"


def to_gbnf(grammar: str) -> str:
    """xgrammar EBNF as GBNF: no lookaheads, ``{m, -1}`` as ``*``/``+``/``{m,}``, escapes llama.cpp does not
    read (``\\0``, ``\\-``, ``\\/``…) as ``\\u00HH``, and
    ``-`` for ``_`` in rule names (llama.cpp's names are letters, digits and hyphens)."""

    def repeat(m: re.Match[str]) -> str:
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < 0:
            return "*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}"
        return f"{{{lo},{hi}}}"

    out: list[str] = []
    text = strip_lookaheads(grammar)
    i = 0
    n = len(text)
    while i < n:  # rewrite outside string literals only (classes hold no braces that matter)
        c = text[i]
        if c in '"[':
            j = _skip_literal(text, i, '"' if c == '"' else "]")
            out.append(_GBNF_ESCAPE.sub(_gbnf_escape, text[i:j]))
            i = j
            continue
        j = i
        while j < n and text[j] not in '"[':
            j += 1
        out.append(_REPEAT.sub(repeat, text[i:j]).replace("_", "-"))
        i = j
    return _optional_groups("".join(out))


def _optional_groups(text: str) -> str:
    """``("" | X | Y)`` as ``(X | Y)?``: the same language, without empty alternatives."""
    out: list[str] = []
    closers: list[bool] = []  # per open parenthesis: whether its group becomes optional
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in '"[':
            j = _skip_literal(text, i, '"' if c == '"' else "]")
            out.append(text[i:j])
            i = j
        elif c == "(":
            m = _EMPTY_FIRST.match(text, i)
            closers.append(m is not None)
            out.append("(")
            i = m.end() if m else i + 1
        elif c == ")":
            out.append(")?" if closers and closers.pop() else ")")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)
