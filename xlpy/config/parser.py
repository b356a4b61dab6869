"""The xl config language: grammars/xl.lark driven the way libxlutil reads files.

The Lark LALR parser is built once per process (or loaded from a per-user
cache, see `_load_parser`). It runs with an inline transformer, so settings are
recorded as each assignment is reduced, exactly when libxlutil stores them.

A valid file takes one pass. When anything is wrong, the file is parsed again
token by token the way bison runs libxlutil's grammar (its error recovery,
default reductions and one-error-per-line rule), so the `ConfigSyntaxError`
raised lists the errors xl would print, and carries xl's exact report.
"""

from __future__ import annotations

import os
import re
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
    "LSQB": "'['", "RSQB": "']'", "_COMMA": "','",
}
_PYTHON_CHARS = set("+-.():")
# What C strtoul(s, &end, 10) reads: blanks, a sign, digits.
_NUMERIC_ESCAPE = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")


class _Error:
    """One error, as xlpy words it and as libxlutil prints it."""

    __slots__ = ("line", "column", "code", "message", "lexical", "raw_line", "xl_line", "xl_near", "xl_message")

    def __init__(self, line, column, code, message, lexical, raw_line, xl_text, xl_message):
        self.line, self.column, self.code, self.message = line, column, code, message
        self.lexical = lexical
        # libxlutil's own numbers: the lexer's line when the error was seen
        # (one past a newline token), the line it prints and its `near' text.
        self.raw_line = raw_line
        self.xl_near, back = _xl_near(xl_text)
        self.xl_line = raw_line - back
        self.xl_message = xl_message


def _xl_near(text: str) -> tuple[str, int]:
    """libxlutil's `near ...` for the scanner's current text, and how many
    lines it subtracts (a token ending in a newline is reported a line early)."""
    back = 0
    if text.endswith("\n"):
        text, back = text[:-1], 1
        if not text:
            return "<newline>", back
    text = text.rstrip(" \t")
    if not text:
        return "", back
    return "`" + text.split("\x00", 1)[0] + "'", back


class _Sink:
    """What one parse collects; reset before each parse (the parser is shared).

    Errors are kept as libxlutil reports them: in the order it meets them, an
    error dropped when its line is not past the last lexical error's line.
    Errors found by the lexer wait in `pending` until the parser has used the
    token before them, because bison reduces a finished assignment (and may
    report a `+=` mismatch) before it asks the lexer for the next token.
    """

    def __init__(self, filename: str, text: str, first_pass: bool = False) -> None:
        self.first_pass = first_pass
        self.filename = filename
        self.text = text
        self.length = len(text)
        self.settings: list[Setting] = []
        self.effective: dict = {}
        self.errors: list[_Error] = []
        self.pending: list[_Error] = []
        self.failed = False
        self.lexerr_line = -1
        self.notes: list[Diagnostic] = []
        self.strings: dict[int, str] = {}
        self.previous = None  # the token fed before the current one (bison's yytext at a reduction)
        self.lexerr_end = -1  # where the last lexical error's text ends
        self.dropped_at_eof = ""
        self.depth = 0
        self.skipping = False
        self.looks_like_python = False

    def lexer_error(self, error: _Error) -> None:
        self.failed = True
        if self.first_pass:
            raise _Failed()
        self.pending.append(error)

    def flush(self) -> None:
        for error in self.pending:
            self.commit(error)
        self.pending.clear()

    def commit(self, error: _Error) -> None:
        self.failed = True
        if self.first_pass:
            raise _Failed()
        if error.raw_line <= self.lexerr_line:
            return
        self.errors.append(error)
        if error.lexical:
            self.lexerr_line = error.raw_line


class _TooDeep(Exception):
    pass


class _Failed(Exception):
    """Ends the first pass at its first error: the error pass says what it is."""


_state = threading.local()


def _sink() -> _Sink:
    return _state.sink


# -- what happens as tokens are lexed and rules reduced ----------------------


def _on_lexical_error(tok):
    sink = _sink()
    text = tok.value
    if text[0] in _PYTHON_CHARS:
        sink.looks_like_python = True
    # A lone bad character takes the blank or newline after it into
    # libxlutil's error text; a newline is counted first, so that error (and
    # the newline token) sit on the next line for its "one error per line".
    lone = len(text) == 1 and len(text.encode("utf-8", "surrogateescape")) == 1  # flex reads bytes
    after = sink.text[tok.end_pos : tok.end_pos + 1] if lone else ""
    if lone and not after:
        # A single bad character that ends the file is silently dropped: the
        # lexer reports it only once it has seen what follows.
        sink.notes.append(Diagnostic(
            DROPPED_AT_EOF, Severity.WARNING,
            f"`{_shown(text)}' at the very end of the file is silently ignored by xl; remove it",
            sink.filename, tok.line, tok.column,
        ))
        sink.dropped_at_eof = text
        return tok
    raw_line = tok.line + (after == "\n")
    if after == "\n":
        sink.lexerr_end = tok.end_pos
    message = _lexical_message(text, _follows_equals(sink.text, tok.start_pos))
    sink.lexer_error(_Error(tok.line, tok.column, LEXICAL, message, True,
                            raw_line, text + after, "lexical error"))
    return tok


def _on_string(tok):
    # libxlutil unquotes a string as it lexes it, so its escape errors come
    # before anything the parser finds at that token.
    sink = _sink()
    # After any error libxlutil no longer unquotes (nor checks) strings.
    sink.strings[tok.start_pos] = tok.value[1:-1] if sink.failed else _dequote(tok, sink)
    return tok


def _on_open_bracket(tok):
    sink = _sink()
    if sink.skipping:
        return tok
    sink.depth += 1
    if sink.depth > MAX_LIST_DEPTH:
        raise _TooDeep(_Error(
            tok.line, tok.column, TOO_DEEP,
            f"lists nested more than {MAX_LIST_DEPTH} deep (xl runs out of parser stack: memory exhausted)",
            False, tok.line, tok.value, "memory exhausted",
        ))
    return tok


def _on_close_bracket(tok):
    sink = _sink()
    if not sink.skipping:
        sink.depth -= 1
    return tok


def _atom(children):
    tok = children[0]
    if tok.type == "NUMBER":
        return Atom(tok.value, tok.line, tok.column)
    return Atom(_sink().strings[tok.start_pos], tok.line, tok.column)


def _list(children):
    lsqb = children[0]
    return ListValue(children[1:-1], lsqb.line, lsqb.column)


def _assignment(children):
    ident, op, value = children
    sink = _sink()
    name = ident.value
    setting = Setting(name, op.value, value, value.line, value.column)
    sink.settings.append(setting)
    previous = sink.effective.get(name)
    if op.value == "+=" and previous is not None:
        if isinstance(previous, ListValue) != isinstance(value, ListValue):
            if not sink.errors:  # libxlutil stops combining values after any error
                # Reported where bison is: at the value's last token.
                last = sink.previous
                line, column, text = (
                    (last.line, last.column, last.value) if last is not None else (value.line, value.column, "")
                )
                sink.commit(_Error(line, column, APPEND_MISMATCH,
                                   "can't add [list] to \"string\" or vice versa", True, line, text,
                                   "can't add [list] to \"string\" or vice versa"))
            return setting
        if isinstance(value, ListValue):
            value = ListValue([*previous, *value], value.line, value.column)
        else:
            value = Atom(previous + value, value.line, value.column)
    sink.effective[name] = value
    return setting


def _escape_error(tok, sink, message: str, hint: str = "") -> None:
    human = message.replace("backlash", "backslash")  # libxlutil's own typo stays in its message only
    sink.lexer_error(_Error(tok.line, tok.column, ESCAPE, f"near `{_shown(tok.value)}': {human}{hint}",
                            True, tok.line, tok.value, message))


def _dequote(tok, sink) -> str:
    """A quoted string's text, unescaped with libxlutil's rules and quirks."""
    raw = tok.value[1:-1]
    if "\x00" in raw:
        sink.lexer_error(_Error(tok.line, tok.column, NUL_IN_STRING,
                                "NUL byte inside a quoted string (xl aborts on this file)", True,
                                tok.line, tok.value, "NUL byte in a quoted string: xl aborts"))
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
            _escape_error(tok, sink, "invalid digit after backslash hexnumerical character escape in quoted string",
                          " (xl rejects every \\x escape; write the character itself)")
            return "".join(out)
        elif "0" <= ch <= "7":
            # libxlutil hands the next three characters to strtoul in base 10,
            # wants it to use at least two of them, and drops the value:
            # nothing is emitted.
            m = _NUMERIC_ESCAPE.match(raw[i + 2 : i + 5])
            if m is None or m.end() < 2:
                _escape_error(tok, sink, "invalid digit after backslash octalnumerical character escape in quoted string")
                return "".join(out)
            escape = raw[i : i + 2 + m.end()]
            sink.notes.append(Diagnostic(
                OCTAL_DROPPED, Severity.WARNING,
                f"escape `{_shown(escape)}' is dropped: xl reads numeric escapes wrongly and "
                "emits nothing for them; write the character itself",
                sink.filename, tok.line, tok.column + 1 + i,
            ))
            i += 2 + m.end()
        else:
            _escape_error(tok, sink, "invalid character after backlash in quoted string")
            return "".join(out)
    return "".join(out)


def _shown(text: str) -> str:
    """Text for a message: control characters made visible, and bytes that
    are not UTF-8 (kept as surrogate escapes) shown as \\xNN."""
    return "".join(
        ch if ch.isprintable()
        else f"\\x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF
        else repr(ch)[1:-1]
        for ch in text
    )


def _lexical_message(text: str, is_value: bool = False) -> str:
    first = text[0]
    hint = ""
    if first == "\r":
        hint = " (CRLF line endings: xl accepts only LF; convert the file)"
    elif first == "#":
        hint = " (a comment on the last line needs a newline after it)"
    elif is_value and (first.isalpha() or first == "_"):
        hint = f" (a string value needs quotes: \"{_shown(text)}\")"
    elif first.isalpha() and first.isupper() or first == "_":
        hint = " (keys are lowercase letters, digits, '.' and '_', starting with a letter)"
    elif first in "-+" and text[1:2].isdigit():
        hint = " (write a negative number as a string, e.g. \"-1\")"
    elif first == "\x00":
        hint = " (NUL byte)"
    elif first.isspace():
        hint = " (only spaces and tabs separate tokens)"
    return f"lexical error near `{_shown(text)}'{hint}"


def _follows_equals(text: str, pos: int) -> bool:
    """Whether `pos` is where a value starts: after `=`, `+=`, `[` or `,` on its line."""
    return text[text.rfind("\n", 0, pos) + 1 : pos].rstrip(" \t")[-1:] in ("=", "[", ",")


# -- building and caching the parser ------------------------------------------

_CALLBACKS = {
    "LEXERR": _on_lexical_error, "STRING": _on_string, "LSQB": _on_open_bracket, "RSQB": _on_close_bracket,
}
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
    combined = head + "".join(f"{o}\n" for o in overrides) + "\n"
    try:
        sink = _run(combined, filename)
    except ConfigSyntaxError as e:
        if e.line is not None and e.line >= first_line and e.line - first_line < len(overrides):
            bad = overrides[e.line - first_line]
            message = e.message
            raise ConfigSyntaxError(
                "command line", 1, e.column, f"in setting `{bad}': {message}", e.code, e.errors, e.xl_report
            ) from None
        raise
    return ConfigFile(filename, sink.settings, sink.notes, text, first_line, sink.effective, list(overrides))


def _run(text: str, filename: str) -> _Sink:
    from lark.exceptions import UnexpectedInput

    parser = get_parser()
    sink = _state.sink = _Sink(filename, text, first_pass=True)
    try:
        try:
            parser.parse(text)
            failed = sink.failed
        except (UnexpectedInput, _TooDeep, _Failed):
            failed = True
        if failed:
            _raise_all_errors(parser, text, filename)
        return sink
    finally:
        _state.sink = None


def _raise_all_errors(parser, text: str, filename: str) -> None:
    """Parse again token by token as bison does, and raise the first error.

    After a syntax error bison drops tokens up to the next newline and goes
    on, and it stays quiet about further syntax errors until three tokens
    have been shifted since (its yyerrstatus); both are reproduced so that
    `errors` is the list libxlutil prints.
    """
    from lark.exceptions import UnexpectedToken

    sink = _state.sink = _Sink(filename, text)
    interactive = parser.parse_interactive()
    quiet = 0
    last = None
    tokens = parser.lex(text)
    while True:
        try:
            tok = next(tokens)
        except StopIteration:
            break
        except _TooDeep as deep:
            sink.flush()
            sink.commit(deep.args[0])
            return _raise_first(sink)
        if sink.skipping:
            sink.flush()
            if tok.type == "_NL":
                sink.skipping, sink.depth, quiet = False, 0, 2
                interactive = parser.parse_interactive()
        else:
            try:
                interactive.feed_token(tok)
            except UnexpectedToken as e:
                # Brackets open before this token (the lexer has counted it).
                depth = sink.depth - (tok.type == "LSQB") + (tok.type == "RSQB")
                whole_file = _expecting(e.expected, depth) == "$end"
                if whole_file:
                    # Bison reduced the finished assignment (storing it, or
                    # refusing its +=) before it even read this token.
                    try:
                        interactive.feed_eof(tok)
                    except UnexpectedToken:
                        pass
                sink.flush()
                if not quiet:
                    sink.commit(_syntax_error(tok, e.expected, depth))
                if whole_file:
                    # Bison has reduced the whole file: no state on its stack
                    # can take the error, so it gives up here.
                    return _raise_first(sink)
                if tok.type == "_NL":
                    sink.depth, quiet = 0, 2
                    interactive = parser.parse_interactive()
                else:
                    sink.skipping, quiet = True, 3
            else:
                sink.flush()
                quiet = max(quiet - 1, 0)
        sink.previous = last = tok
    if not sink.skipping and last is not None:
        try:
            interactive.feed_eof(last)
        except UnexpectedToken as e:
            sink.flush()
            if not quiet:
                sink.commit(_eof_error(text, last, e.expected, sink.depth))
    sink.flush()
    _raise_first(sink)


def _raise_first(sink: _Sink) -> None:
    errors = sink.errors or [_Error(1, 1, SYNTAX, "syntax error", False, 1, "", "syntax error")]
    first = errors[0]
    message = first.message
    report = "".join(
        f"{sink.filename}:{e.xl_line}: config parsing error near {e.xl_near}: {e.xl_message}\n" for e in errors
    )
    if sink.looks_like_python:
        message += " (this file looks like Python: xl no longer supports Python configs)"
        report += _PYTHON_WARNING
    raise ConfigSyntaxError(
        sink.filename, first.line, first.column, message, first.code,
        [(e.line, e.column, e.code, e.message) for e in errors], report,
    )


_PYTHON_WARNING = (
    "warning: Config file looks like it contains Python code.\n"
    "warning:  Arbitrary Python is no longer supported.\n"
    "warning:  See https://wiki.xen.org/wiki/PythonInXlConfig\n"
)


def _syntax_error(tok, expected, depth: int) -> _Error:
    unexpected = _TOKEN_NAMES.get(tok.type, tok.type)
    if tok.type == "_NL" and tok.value == "\n":
        near = "<newline>"
    else:
        near = f"`{_shown(tok.value.rstrip())}'"
    hint = ""
    if tok.type == "IDENT" and _follows_equals(_sink().text, tok.start_pos):
        hint = f" (a string value needs quotes: \"{tok.value}\")"
    raw_line = _raw_line(tok)
    return _Error(tok.line, tok.column, SYNTAX,
                  f"syntax error near {near}: {_unexpected(unexpected, expected, depth)}{hint}",
                  False, raw_line, tok.value, f"syntax error, {_unexpected(unexpected, expected, depth)}")


def _raw_line(tok) -> int:
    """The line libxlutil's lexer gives a token: its own, except a newline
    that ends a lexical error, which comes after the error counted it."""
    if tok.type == "_NL" and tok.start_pos == _sink().lexerr_end:
        return tok.line + 1
    return tok.line


def _eof_error(text: str, last, expected, depth: int) -> _Error:
    # Reported where the last token ends; libxlutil keeps the last token's line.
    line, column = last.line, last.column + len(last.value.rstrip("\n"))
    raw_line = _raw_line(last)
    error = _Error(line, column, SYNTAX, f"syntax error near end of file: {_unexpected('$end', expected, depth)}",
                   False, raw_line, "", f"syntax error, {_unexpected('$end', expected, depth)}")
    # The scanner's text at the end is empty, or the lone character dropped there.
    error.xl_near, error.xl_line = "`" + _sink().dropped_at_eof.split("\x00")[0] + "'", raw_line
    return error


def _unexpected(name: str, expected, depth: int) -> str:
    return f"unexpected {name}, expecting {_expecting(expected, depth)}"


def _expecting(expected, depth: int) -> str:
    """Bison's `expecting ...` list. Bison makes a state's most common
    reduction its default and detects an error only once no default
    applies, so it lists the tokens of the state it has reduced to, which
    is decided by where in a statement the error is."""
    if depth > 0:  # anywhere inside a list
        return "']'"
    if "IDENT" in expected:  # at the start of a statement
        return "$end or IDENT or NEWLINE or ';'"
    if "EQUALS" in expected:  # after a key
        return "+= or '='"
    if "LSQB" in expected:  # after `=` or `+=`
        return "STRING or NUMBER or '['"
    return "$end"  # after a whole assignment
