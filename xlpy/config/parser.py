"""The xl config language: grammars/xl.lark driven the way libxlutil reads files.

The Lark LALR parser is built once per process (or loaded from a per-user
cache, see `_load_parser`). It runs with an inline transformer, so settings are
recorded as each assignment is reduced, exactly when libxlutil stores them.

A valid file takes one pass. When anything is wrong, the file is parsed again
token by token to find every error, recovering at the next newline as
libxlutil's `error NEWLINE` rule does, and the first error is raised as a
`ConfigSyntaxError`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from xlpy.config.errors import ConfigReadError, ConfigSyntaxError
from xlpy.config.values import Atom, ConfigFile, ListValue, Setting
from xlpy.diagnostics import Diagnostic, Severity

#: libxlutil (bison, YYMAXDEPTH 10000) runs out of stack at this many nested `[`.
MAX_LIST_DEPTH = 4996
#: Larger files are refused outright: no domain config comes near this.
MAX_FILE_BYTES = 16 * 1024 * 1024

# Error codes (see xlpy/config/rules.py).
LEXICAL, SYNTAX, ESCAPE, APPEND_MISMATCH, TOO_DEEP, NUL_IN_STRING = (
    "S001", "S002", "S003", "S004", "S005", "S006",
)
OCTAL_DROPPED, DROPPED_AT_EOF = "S101", "S102"

_SIMPLE_ESCAPES = {
    '"': '"', "'": "'", "\\": "\\",
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
}

# Bison's names for the tokens, in its token-number order (for messages).
_TOKEN_NAMES = {
    "$END": "$end", "IDENT": "IDENT", "STRING": "STRING", "NUMBER": "NUMBER",
    "_NL": "NEWLINE", "PLUSEQ": "+=", "EQUALS": "'='", "_SEMI": "';'",
    "LSQB": "'['", "_RSQB": "']'", "_COMMA": "','",
}
_TOKEN_ORDER = list(_TOKEN_NAMES)
_PYTHON_CHARS = set("+-.():")


class _Sink:
    """What one parse collects; reset before each parse (the parser is shared)."""

    def __init__(self, filename: str, length: int) -> None:
        self.filename = filename
        self.length = length
        self.settings: list[Setting] = []
        self.effective: dict = {}
        self.errors: list[tuple[int, int, str, str, bool]] = []  # line, col, code, msg, lexical
        self.notes: list[Diagnostic] = []
        self.depth = 0
        self.looks_like_python = False

    def error(self, line: int, column: int, code: str, message: str, lexical: bool = False) -> None:
        self.errors.append((line, column, code, message, lexical))


class _TooDeep(Exception):
    pass


_state = threading.local()


def _sink() -> _Sink:
    return _state.sink


# -- what happens as tokens are lexed and rules reduced ----------------------


def _on_lexical_error(tok):
    sink = _sink()
    text = tok.value
    if text[0] in _PYTHON_CHARS:
        sink.looks_like_python = True
    if len(text) == 1 and tok.end_pos == sink.length:
        # libxlutil's lexer reports a bad character only once it has seen the
        # input after it; a single one that ends the file is silently dropped.
        sink.notes.append(Diagnostic(
            DROPPED_AT_EOF, Severity.WARNING,
            f"`{_shown(text)}' at the very end of the file is silently ignored by xl; remove it",
            sink.filename, tok.line, tok.column,
        ))
        return tok
    sink.error(tok.line, tok.column, LEXICAL, _lexical_message(text), lexical=True)
    return tok


def _on_open_bracket(tok):
    sink = _sink()
    sink.depth += 1
    if sink.depth > MAX_LIST_DEPTH:
        sink.error(
            tok.line, tok.column, TOO_DEEP,
            f"lists nested more than {MAX_LIST_DEPTH} deep (xl runs out of parser stack: memory exhausted)",
        )
        raise _TooDeep()
    return tok


def _on_close_bracket(tok):
    _sink().depth -= 1
    return tok


def _atom(children):
    tok = children[0]
    if tok.type == "NUMBER":
        return Atom(tok.value, tok.line, tok.column)
    return Atom(_dequote(tok), tok.line, tok.column)


def _list(children):
    lsqb = children[0]
    return ListValue(children[1:], lsqb.line, lsqb.column)


def _assignment(children):
    ident, op, value = children
    sink = _sink()
    name = ident.value
    setting = Setting(name, op.value, value, value.line, value.column)
    sink.settings.append(setting)
    previous = sink.effective.get(name)
    if op.value == "+=" and previous is not None:
        if isinstance(previous, ListValue) != isinstance(value, ListValue):
            sink.error(
                value.line, value.column, APPEND_MISMATCH,
                "can't add [list] to \"string\" or vice versa",
            )
            return setting
        if isinstance(value, ListValue):
            value = ListValue([*previous, *value], value.line, value.column)
        else:
            value = Atom(previous + value, value.line, value.column)
    sink.effective[name] = value
    return setting


def _dequote(tok) -> str:
    """A quoted string's text, unescaped with libxlutil's rules and quirks."""
    raw = tok.value[1:-1]
    sink = _sink()
    if "\x00" in raw:
        sink.error(tok.line, tok.column, NUL_IN_STRING,
                   "NUL byte inside a quoted string (xl aborts on this file)")
        return raw.replace("\x00", "")
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        ch = raw[i + 1]  # the lexer guarantees a character after a backslash
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
            i += 2
        elif ch == "x":
            sink.error(tok.line, tok.column, ESCAPE,
                       f"near `{_shown(tok.value)}': invalid digit after backslash hexnumerical "
                       "character escape in quoted string (xl rejects every \\x escape; "
                       "write the character itself)")
            return "".join(out)
        elif ch.isdigit() and ch.isascii():
            # libxlutil reads up to three more characters in base 10, needs at
            # least two digits, and then drops the value: nothing is emitted.
            digits = 0
            while digits < 3 and i + 2 + digits < len(raw) and raw[i + 2 + digits] in "0123456789":
                digits += 1
            if digits < 2:
                sink.error(tok.line, tok.column, ESCAPE,
                           f"near `{_shown(tok.value)}': invalid digit after backslash octalnumerical "
                           "character escape in quoted string")
                return "".join(out)
            escape = raw[i : i + 2 + digits]
            sink.notes.append(Diagnostic(
                OCTAL_DROPPED, Severity.WARNING,
                f"escape `{escape}' is dropped: xl reads numeric escapes wrongly and "
                "emits nothing for them; write the character itself",
                sink.filename, tok.line, tok.column + 1 + i,
            ))
            i += 2 + digits
        else:
            sink.error(tok.line, tok.column, ESCAPE,
                       f"near `{_shown(tok.value)}': invalid character after backslash in quoted string")
            return "".join(out)
    return "".join(out)


def _shown(text: str) -> str:
    """Text for a message: control characters made visible."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _lexical_message(text: str) -> str:
    first = text[0]
    hint = ""
    if first == "\r":
        hint = " (CRLF line endings: xl accepts only LF; convert the file)"
    elif first == "#":
        hint = " (a comment on the last line needs a newline after it)"
    elif first.isalpha() and first.isupper() or first == "_":
        hint = " (keys are lowercase letters, digits, '.' and '_', starting with a letter)"
    elif first in "-+" and text[1:2].isdigit():
        hint = " (write a negative number as a string, e.g. \"-1\")"
    elif first == "\x00":
        hint = " (NUL byte)"
    elif first.isspace():
        hint = " (only spaces and tabs separate tokens)"
    return f"lexical error near `{_shown(text)}'{hint}"


# -- building and caching the parser ------------------------------------------

_CALLBACKS = {"LEXERR": _on_lexical_error, "LSQB": _on_open_bracket, "_RSQB": _on_close_bracket}
_parser_lock = threading.Lock()
_parser = None


def _grammar_text() -> str:
    here = Path(__file__).resolve().parent.parent / "grammars" / "xl.lark"
    return here.read_text()


def _transformer():
    from lark import Transformer

    class Build(Transformer):
        atom = staticmethod(_atom)
        list = staticmethod(_list)
        assignment = staticmethod(_assignment)

        def start(self, children):
            return None

    return Build()


def _cache_path(grammar: str) -> Path | None:
    """A per-user cache file for the built parser, or None if none is safe.

    The file is a pickle, so it is only used from a directory that this user
    owns and nobody else can write (never a shared, predictable /tmp name).
    """
    import hashlib

    import lark

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = Path(base) / "xlpy"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = directory.stat()
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    digest = hashlib.sha256(f"{lark.__version__}\0{grammar}".encode()).hexdigest()[:16]
    return directory / f"xl-grammar-{digest}.lark"


def _load_parser():
    """Load the built parser from the user's cache, or build it (and cache it)."""
    import io

    from lark import Lark

    grammar = _grammar_text()
    hooks = dict(transformer=_transformer(), lexer_callbacks=_CALLBACKS)
    cache = None if os.environ.get("XLPY_NO_GRAMMAR_CACHE") else _cache_path(grammar)
    if cache is not None and cache.is_file():
        try:
            st = cache.stat()
            if st.st_uid == os.getuid() and not st.st_mode & 0o022:
                with open(cache, "rb") as f:
                    return Lark.__new__(Lark)._load(f, **hooks)
        except Exception:  # a stale or damaged cache is rebuilt below
            pass
    if cache is None:
        return Lark(grammar, parser="lalr", lexer="basic", **hooks)
    # Saved without the hooks (they are code, not data) and loaded back with them.
    built = io.BytesIO()
    Lark(grammar, parser="lalr", lexer="basic").save(built)
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(built.getvalue())
        os.replace(tmp, cache)
    except OSError:
        tmp.unlink(missing_ok=True)
    built.seek(0)
    return Lark.__new__(Lark)._load(built, **hooks)


def get_parser():
    """The process's one Lark parser, built on first use."""
    global _parser
    if _parser is None:
        with _parser_lock:
            if _parser is None:
                _parser = _load_parser()
    return _parser


# -- parsing -------------------------------------------------------------------


def parse(text: str, filename: str = "<string>") -> ConfigFile:
    """Parse config text as libxlutil does; raises ConfigSyntaxError if xl would reject it."""
    sink = _run(text, filename)
    return ConfigFile(filename, sink.settings, sink.notes, text, 0, sink.effective)


def parse_bytes(data: bytes, filename: str = "<string>") -> ConfigFile:
    """Parse raw file contents. libxlutil is 8-bit clean: bytes that are not
    UTF-8 are kept (as surrogate escapes) inside strings."""
    return parse(data.decode("utf-8", "surrogateescape"), filename)


def read_config_text(path: str | os.PathLike) -> str:
    """A config file's text, or a one-line ConfigReadError."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise ConfigReadError(name, None, None, "is a directory, not a config file") from None
    except OSError as e:
        raise ConfigReadError(name, None, None, f"cannot read config file: {e.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigReadError(
            name, None, None, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not an xl config"
        )
    return data.decode("utf-8", "surrogateescape")


def parse_file(path: str | os.PathLike, overrides: list[str] | None = None) -> ConfigFile:
    """Read and parse a config file (with xl's command-line overrides, if any)."""
    text = read_config_text(path)
    if overrides:
        return parse_with_overrides(text, os.fspath(path), overrides)
    return parse(text, os.fspath(path))


def parse_with_overrides(text: str, filename: str, overrides: list[str]) -> ConfigFile:
    """xl's `KEY=VALUE` arguments: appended after the file text and parsed with it."""
    if not overrides:
        return parse(text, filename)
    head = text + "\n"
    first_line = head.count("\n") + 1
    combined = head + "".join(f"{o}\n" for o in overrides)
    try:
        sink = _run(combined, filename)
    except ConfigSyntaxError as e:
        if e.line is not None and e.line >= first_line and e.line - first_line < len(overrides):
            bad = overrides[e.line - first_line]
            message = e.message
            raise ConfigSyntaxError(
                "command line", 1, e.column, f"in setting `{bad}': {message}", e.code, e.errors
            ) from None
        raise
    return ConfigFile(filename, sink.settings, sink.notes, text, first_line, sink.effective)


def _run(text: str, filename: str) -> _Sink:
    from lark.exceptions import UnexpectedInput

    parser = get_parser()
    sink = _state.sink = _Sink(filename, len(text))
    try:
        try:
            parser.parse(text)
            failed = bool(sink.errors)
        except (UnexpectedInput, _TooDeep):
            failed = True
        if failed:
            _raise_all_errors(parser, text, filename)
        return sink
    finally:
        _state.sink = None


def _raise_all_errors(parser, text: str, filename: str) -> None:
    """Parse again token by token, recovering at newlines, and raise the first error."""
    from lark.exceptions import UnexpectedToken

    sink = _state.sink = _Sink(filename, len(text))
    tokens = []
    try:
        for tok in parser.lex(text):
            tokens.append(tok)
    except _TooDeep:
        pass
    except Exception as e:  # the lexer cannot fail on this grammar, but never hide it
        sink.error(1, 1, LEXICAL, f"lexical error: {e}", lexical=True)

    interactive = parser.parse_interactive()
    skipping = False
    for tok in tokens:
        if skipping:
            if tok.type == "_NL":
                skipping = False
                interactive = parser.parse_interactive()
            continue
        try:
            interactive.feed_token(tok)
        except UnexpectedToken as e:
            sink.error(tok.line, tok.column, SYNTAX, _syntax_message(tok.type, tok.value, e.expected))
            if tok.type == "_NL":
                interactive = parser.parse_interactive()
            else:
                skipping = True
    if not skipping and sink.depth <= MAX_LIST_DEPTH:
        try:
            interactive.feed_eof(tokens[-1] if tokens else None)
        except UnexpectedToken as e:
            # Reported where the last token ends, as libxlutil does.
            last = tokens[-1] if tokens else None
            line, column = (last.line, last.column + len(last.value.rstrip("\n"))) if last else (1, 1)
            sink.error(line, column, SYNTAX, _syntax_message("$END", "", e.expected))

    errors = _reported(sink.errors)
    if not errors:  # the first pass failed, so the second must have found why
        errors = [(1, 1, SYNTAX, "syntax error")]
    line, column, code, message = errors[0]
    if sink.looks_like_python:
        message += " (this file looks like Python: xl no longer supports Python configs)"
    raise ConfigSyntaxError(filename, line, column, message, code, errors)


def _reported(errors) -> list[tuple[int, int, str, str]]:
    """Errors in file order. As in libxlutil, a syntax error is not reported
    on a line that already had a lexical error (the lexer's dropped text is
    usually what confused the parser)."""
    lexical_lines = {e[0] for e in errors if e[4]}
    return [
        (line, column, code, message)
        for line, column, code, message, lexical in sorted(errors, key=lambda e: (e[0], e[1]))
        if lexical or code != SYNTAX or line not in lexical_lines
    ]


def _syntax_message(token_type: str, value: str, expected) -> str:
    unexpected = _TOKEN_NAMES.get(token_type, token_type)
    if token_type == "$END":
        near = "end of file"
    elif token_type == "_NL" and value.startswith("\n"):
        near = "<newline>"
    else:
        near = f"`{_shown(value.rstrip())}'"
    names = [_TOKEN_NAMES[t] for t in _TOKEN_ORDER if t in expected]
    message = f"syntax error near {near}: unexpected {unexpected}"
    if names and len(names) <= 4:
        message += ", expecting " + " or ".join(names)
    return message
