"""The grammar text helpers (``constrain/ebnf.py``): GBNF whose JSON strings cannot hold a marker's start."""

from __future__ import annotations

from kimi_toolparse.constrain.ebnf import no_marker_start_in_strings

CHAR = 'c ::= [^"\\\\] | "\\\\" e'
ESCAPE = 'e ::= ["\\\\/bfnrt]'


def _rule(grammar: str, name: str) -> str:
    return next(line for line in grammar.splitlines() if line.startswith(f"{name} ::="))


def test_an_uncounted_string_takes_a_lt_only_before_another_character() -> None:
    out = no_marker_start_in_strings("\n".join(['s ::= "\\"" c* "\\""', CHAR, ESCAPE]))
    assert _rule(out, "c") == 'c ::= ([^"\\\\\\u003c] | "<"+ [^"\\\\\\u003c\\u007c]) | "\\\\" e'


def test_a_counted_character_is_one_character_so_it_takes_no_raw_lt() -> None:
    """A length limit counts characters: the unit repeated {m,n} times stays one character, whether the
    rule is counted by name, inside a counted group, or used by a counted rule."""
    for string in (
        's ::= "\\"" c{0,12} "\\""',
        's ::= "\\"" (c){0,12} "\\""',
        's ::= "\\"" (x | c){0,12} "\\""',
    ):
        out = no_marker_start_in_strings("\n".join([string, CHAR, ESCAPE, 'x ::= "a"']))
        assert _rule(out, "c") == 'c ::= [^"\\\\\\u003c] | "\\\\" e', string
    used = no_marker_start_in_strings("\n".join(['s ::= "\\"" (d){0,3} "\\""', "d ::= c", CHAR, ESCAPE]))
    assert '"<"+' not in _rule(used, "c")
