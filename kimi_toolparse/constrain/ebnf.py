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
    "no_marker_start_in_strings",
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


_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]')


def quote(s: str) -> str:
    """A string literal both dialects read the same way (controls as ``\\u00HH``)."""
    if _NEEDS_ESCAPE.search(s) is None:
        return '"' + s + '"'
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(0)) or f"\\u{ord(m.group(0)):04x}", s) + '"'


#: One token of an xgrammar or GBNF grammar: a string literal, a character class, a name, a lookahead's
#: opening, a parenthesis, or a run of anything else. Grammars are rewritten token by token, not by character.
_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|\[(?:[^\]\\]|\\.)*\]|[A-Za-z_][A-Za-z0-9_.-]*|\(=|[()]|[^"\[A-Za-z_()]+|.',
    re.DOTALL,
)
_LITERAL_START = frozenset('"[')


def _is_name(token: str) -> bool:
    return token[0].isalpha() or token[0] == "_"


def _call_end(tokens: list[str], i: int) -> int:
    """Index just past the parenthesised group whose opening token is ``tokens[i]``."""
    depth = 0
    for j in range(i, len(tokens)):
        t = tokens[j]
        if t in ("(", "(="):
            depth += 1
        elif t == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(tokens)


#: GBNF for the characters of any JSON string: what ``Regex(..., json_string=true)`` (a pattern on a
#: string's characters, between its quotes) becomes there.
GBNF_JSON_STRING = (
    'gbnf_string_chars ::= ([^"\\\\\\x00-\\x1f] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4}))*'
)


def builtins(grammar: str) -> list[str]:
    """The builtin calls (``Regex(...)``…) in an xgrammar grammar; GBNF has none."""
    tokens = _TOKEN.findall(grammar)
    found: list[str] = []
    i = 0
    while i < len(tokens):
        if _is_name(tokens[i]) and i + 1 < len(tokens) and tokens[i + 1] == "(":
            end = _call_end(tokens, i + 1)
            found.append("".join(tokens[i:end]))
            i = end
        else:
            i += 1
    return found


def embed_rules(grammar: str, prefix: str, keep: frozenset[str] = frozenset()) -> tuple[str, str]:
    """Prefix every rule name of an xgrammar-printed grammar; returns (rules text, new name of ``root``).

    Rule names are the names left of ``::=``; references are names in the bodies outside string
    literals and character classes, and outside builtin calls such as ``Regex("...", json_string=true)``.
    Names in ``keep`` are shared rules and stay as they are.
    """
    tokens = _TOKEN.findall(grammar)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if _is_name(t):
            if i + 1 < len(tokens) and tokens[i + 1] == "(":  # a builtin call: verbatim
                end = _call_end(tokens, i + 1)
                out.extend(tokens[i:end])
                i = end
                continue
            out.append(t if t in keep else prefix + t)
        else:
            out.append(t)
        i += 1
    return "".join(out), prefix + "root"


def strip_lookaheads(grammar: str) -> str:
    """Remove xgrammar's lookahead assertions ``(= ...)`` (not GBNF syntax)."""
    tokens = _TOKEN.findall(grammar)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] == "(=":
            if out and out[-1].endswith(" ") and out[-1][0] not in _LITERAL_START:
                out[-1] = out[-1].rstrip(" ")
            i = _call_end(tokens, i)
        else:
            out.append(tokens[i])
            i += 1
    return "".join(out)


_REPEAT = re.compile(r"\{(\d+),\s*(-?\d+)\}")
_GBNF_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
#: The escapes llama.cpp's grammar parser reads besides \x, \u and \U.
_GBNF_SIMPLE = frozenset('trn\\"[]')
_EMPTY_ALTERNATIVE = re.compile(r"\s*\|\s*")


def _gbnf_escape(m: re.Match[str]) -> str:
    body = m.group(1)
    if len(body) > 1 or body in _GBNF_SIMPLE:
        return m.group(0)
    return f"\\u{ord(body) if body != '0' else 0:04x}"


def _repeat(m: re.Match[str]) -> str:
    low, high = int(m.group(1)), int(m.group(2))
    if high < 0:
        return "*" if low == 0 else "+" if low == 1 else f"{{{low},}}"
    return f"{{{low},{high}}}"


def no_marker_start_in_strings(grammar: str) -> str:
    """GBNF whose JSON strings cannot hold ``<|`` (where every Kimi special token's text starts).

    llama.cpp matches a character class against a token's text, special tokens included, so a JSON string
    could otherwise take ``<|tool_call_end|>`` whole. Each negated class that excludes ``"`` (a JSON
    string's characters) becomes ``([^...<] | "<"+ [^...<|])``: a run of ``<`` must be followed by a
    character that is neither ``|`` nor another ``<``; a ``<`` right before the closing quote or a
    backslash escape is then written ``\\u003c`` (the same JSON value). Where the class repeats a counted
    number of times (``{m,n}``, a length limit, on it or on a group around it) one unit must stay one
    character, so there it becomes ``[^...<]`` and every ``<`` is written ``\\u003c``."""
    rules = [(line.split("::=", 1)[0].strip(), _TOKEN.findall(line)) for line in grammar.split("\n")]
    marks = [_counted(tokens) for _, tokens in rules]
    # the rules used with a count (``name{0,12}``, or inside ``( ... ){0,12}``), and every rule they use
    uses = {name: {t for t in tokens if _NAME.fullmatch(t)} for name, tokens in rules}
    todo = [
        t
        for (_, tokens), m in zip(rules, marks, strict=True)
        for t, c in zip(tokens, m, strict=True)
        if c and _NAME.fullmatch(t)
    ]
    counted_rules: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in counted_rules:
            counted_rules.add(name)
            todo.extend(uses.get(name, ()))
    lt, bar = _class_char("<"), _class_char("|")
    out = []
    for (name, tokens), m in zip(rules, marks, strict=True):
        everywhere = name in counted_rules
        for i, t in enumerate(tokens):
            if t.startswith("[^") and '"' in t:
                counted = everywhere or m[i]
                tokens[i] = f"{t[:-1]}{lt}]" if counted else f'({t[:-1]}{lt}] | "<"+ {t[:-1]}{lt}{bar}])'
        out.append("".join(tokens))
    return "\n".join(out)


#: A rule name.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _counted(tokens: list[str]) -> list[bool]:
    """Per token of a rule: whether it is repeated a counted number of times (``{m,n}`` right after it, or
    after a group around it)."""
    counted = [False] * len(tokens)
    opened: list[int] = []
    for i, t in enumerate(tokens):
        follows = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t in ("(", "(="):
            opened.append(i)
        elif t == ")" and opened:
            start = opened.pop()
            if follows.startswith("{"):
                counted[start : i + 1] = [True] * (i + 1 - start)
        elif follows.startswith("{"):
            counted[i] = True
    return counted


def to_gbnf(grammar: str) -> str:
    """xgrammar EBNF as GBNF: no lookaheads, ``{m, -1}`` as ``*``/``+``/``{m,}``, escapes llama.cpp does not
    read (``\\0``, ``\\-``, ``\\/``…) as ``\\u00HH``, ``("" | X)`` as ``(X)?`` (no empty alternatives), and
    ``-`` for ``_`` in rule names (llama.cpp's names are letters, digits and hyphens)."""
    tokens = _TOKEN.findall(strip_lookaheads(grammar))
    out: list[str] = []
    optional: list[bool] = []  # per open parenthesis: whether its group lost an empty first alternative
    i = 0
    n = len(tokens)
    while i < n:
        t = tokens[i]
        if t == "(":
            empty_first = (
                i + 2 < n
                and tokens[i + 1] == '""'
                and _EMPTY_ALTERNATIVE.fullmatch(tokens[i + 2]) is not None
            )
            optional.append(empty_first)
            out.append("(")
            i += 3 if empty_first else 1
            continue
        if t == ")":
            out.append(")?" if optional and optional.pop() else ")")
        elif t[0] in _LITERAL_START:
            out.append(_GBNF_ESCAPE.sub(_gbnf_escape, t))
        elif _is_name(t):
            out.append(t.replace("_", "-"))
        else:
            out.append(_REPEAT.sub(_repeat, t))
        i += 1
    return "".join(out)
