"""DDL text as tokens with a read position, the parser's lowest layer (ddl_model, ddl_columns,
ddl_statements, ddl_alter and history_start read statements through it)."""

from __future__ import annotations

import re


class Unfollowable(Exception):
    """A DDL the model cannot apply exactly (its text is in the message)."""


_TOKEN = re.compile(r"`(?:[^`]|``)*`|'(?:[^'\\]|''|\\.)*'|\"(?:[^\"\\]|\"\"|\\.)*\"|[\w$.]+|[(),=;]|\S", re.S)
_COMMENT = re.compile(r"/\*.*?\*/|(?:--\s|#)[^\n]*", re.S)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(_COMMENT.sub(" ", text))


def ident(token: str) -> str:
    return token[1:-1].replace("``", "`") if token.startswith("`") else token


def charset_of_collation(collation: str) -> str:
    return collation.split("_", 1)[0]


def normal_charset(name: str) -> str:
    name = ident(name.strip("'\"")).lower()
    return "utf8mb3" if name == "utf8" else name


class Cursor:
    """Tokens of one statement with a read position."""

    def __init__(self, toks: list[str], text: str) -> None:
        self.toks = toks
        self.i = 0
        self.text = text

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else ""

    def word(self, ahead: int = 0) -> str:
        tok = self.peek(ahead)
        return "" if tok.startswith("`") else tok.upper()

    def take(self) -> str:
        tok = self.peek()
        if not tok:
            raise Unfollowable("unexpected end of statement")
        self.i += 1
        return tok

    def accept(self, *words: str) -> bool:
        """Consume the words when they come next (case-insensitive, unquoted)."""
        if all(self.word(k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise Unfollowable(f"expected {' '.join(words)} near {self.peek()!r}")

    def group(self) -> list[str]:
        """The tokens inside the parenthesised group that starts here (consumed)."""
        if self.peek() != "(":
            raise Unfollowable(f"expected ( near {self.peek()!r}")
        depth, start = 0, self.i
        while True:
            tok = self.take()
            depth += tok == "("
            depth -= tok == ")"
            if depth == 0:
                return self.toks[start + 1 : self.i - 1]

    def skip_value(self) -> None:
        """A DEFAULT-like value: a literal, a word (optionally called with arguments) or a group."""
        if self.peek() == "(":
            self.group()
            return
        if self.peek() in ("-", "+"):
            self.take()
        self.take()
        if self.peek() == "(":
            self.group()

    def at_end(self) -> bool:
        return self.i >= len(self.toks) or self.peek() in (",", ";")


def split_commas(toks: list[str]) -> list[list[str]]:
    """Top-level comma-separated parts of a token list."""
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in toks:
        depth += tok == "("
        depth -= tok == ")"
        if tok == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


def qualified_name(cur: Cursor, default: str) -> tuple[str, str]:
    first = ident(cur.take())
    if cur.peek() == "." or cur.peek().startswith("."):
        tok = cur.take()
        second = ident(cur.take() if tok == "." else tok[1:])
        return first, second
    if "." in first and not cur.toks[cur.i - 1].startswith("`"):
        schema, _, table = first.partition(".")
        return schema, table
    return default, first


def charset_option(cur: Cursor) -> str | None:
    """``[DEFAULT] CHARACTER SET|CHARSET [=] x`` or ``[DEFAULT] COLLATE [=] x`` at the cursor, else None."""
    start = cur.i
    cur.accept("DEFAULT")
    if cur.accept("CHARACTER", "SET") or cur.accept("CHARSET"):
        cur.accept("=")
        return normal_charset(cur.take())
    if cur.accept("COLLATE"):
        cur.accept("=")
        return normal_charset(cur.take()).split("_", 1)[0]
    cur.i = start
    return None
