"""FEEL, the expression language of Camunda Forms' hide conditions: a deliberately small, safe subset.

Own tokenizer and recursive-descent parser, no ``eval``: a form uploaded by anyone who may deploy cannot
run code through its conditions. A condition outside the subset fails when the form is loaded (deploy
time), never silently at run time; see :func:`compile_feel` for what is supported.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "MAX_FEEL_LENGTH",
    "FeelExpression",
    "FeelSyntaxError",
    "compile_feel",
    "evaluate_feel",
    "is_number",
]


class FeelSyntaxError(ValueError):
    """A FEEL expression outside the supported subset, or malformed; ``position`` is 0-based."""

    def __init__(self, message: str, expression: str, position: int) -> None:
        self.expression = expression
        self.position = position
        super().__init__(f"{message} at column {position + 1} in FEEL expression {expression!r}")


# ---------------------------------------------------------------------------------------------
# FEEL subset: tokenizer, parser, evaluator
# ---------------------------------------------------------------------------------------------

NUMBER_TEXT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_UNDEFINED: Any = object()  # a name that is not in the context (distinct from a null value)

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<num>\d+(?:\.\d+)?|\.\d+)
    |(?P<str>"(?:[^"\\]|\\.)*")
    |(?P<op><=|>=|!=|\*\*|[=<>+\-*/])
    |(?P<punct>\.\.|[()\[\],.])
    |(?P<name>[^\W\d]\w*)
    """,
    re.VERBOSE,
)

# FEEL built-in names contain spaces; they are recognised only directly before "(".
_MULTIWORD_RE = re.compile(
    r"(is\s+defined|is\s+empty|list\s+contains|string\s+length|upper\s+case|lower\s+case"
    r"|starts\s+with|ends\s+with)(?=\s*\()"
)

_KEYWORDS = frozenset({"and", "or", "true", "false", "null", "in", "between", "if", "then", "else"})

# name -> (min args, max args or None for variadic); checked when the expression is compiled so
# that a typo in a hide condition fails at deploy time instead of silently never hiding.
_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "not": (1, 1),
    "is defined": (1, 1),
    "is empty": (1, 1),
    "list contains": (2, 2),
    "count": (1, 1),
    "sum": (1, None),
    "min": (1, None),
    "max": (1, None),
    "abs": (1, 1),
    "string length": (1, 1),
    "upper case": (1, 1),
    "lower case": (1, 1),
    "contains": (2, 2),
    "starts with": (2, 2),
    "ends with": (2, 2),
    "string": (1, 1),
    "number": (1, 1),
}

_STRING_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class _Token:
    kind: str  # num, str, op, punct, name, eof
    value: Any
    pos: int


def _unescape(body: str, expression: str, pos: int) -> str:
    def repl(match: re.Match[str]) -> str:
        esc = match.group(1)
        if esc.startswith("u") and len(esc) == 5:
            return chr(int(esc[1:], 16))
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        raise FeelSyntaxError(f"unknown escape \\{esc}", expression, pos + match.start())

    return _STRING_ESCAPE_RE.sub(repl, body)


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(expression):
        multi = _MULTIWORD_RE.match(expression, pos)
        if multi:
            tokens.append(_Token("name", " ".join(multi.group(1).split()), pos))
            pos = multi.end()
            continue
        match = _TOKEN_RE.match(expression, pos)
        if match is None:
            if expression[pos] == '"':
                raise FeelSyntaxError("unterminated string", expression, pos)
            raise FeelSyntaxError(f"unexpected character {expression[pos]!r}", expression, pos)
        kind = match.lastgroup
        text = match.group()
        if kind == "num":
            tokens.append(_Token("num", float(text) if "." in text else int(text), pos))
        elif kind == "str":
            tokens.append(_Token("str", _unescape(text[1:-1], expression, pos + 1), pos))
        elif kind != "ws":
            tokens.append(_Token(str(kind), text, pos))
        pos = match.end()
    tokens.append(_Token("eof", None, len(expression)))
    return tokens


# AST nodes are plain tuples: ("lit", v), ("var", name), ("path", node, name), ("index", node, i),
# ("list", items), ("call", fname, args), ("neg", x), ("arith", op, l, r), ("cmp", op, l, r),
# ("and", l, r), ("or", l, r), ("in", x, tests), ("between", x, lo, hi), ("if", c, a, b).


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.index = 0

    # -- token helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.index]

    def _advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _is(self, kind: str, value: Any = None) -> bool:
        return self.tok.kind == kind and (value is None or self.tok.value == value)

    def _accept(self, kind: str, value: Any = None) -> bool:
        if self._is(kind, value):
            self.index += 1
            return True
        return False

    def _expect(self, kind: str, value: Any, what: str) -> None:
        if not self._accept(kind, value):
            self._fail(f"expected {what}")

    def _fail(self, message: str) -> Any:
        token = self.tok
        found = "end of expression" if token.kind == "eof" else repr(str(token.value))
        raise FeelSyntaxError(f"{message}, found {found}", self.expression, token.pos)

    # -- grammar (lowest precedence first)
    def parse(self) -> tuple:
        if self.tok.kind == "eof":
            self._fail("empty expression")
        node = self._expression()
        if self.tok.kind != "eof":
            self._fail("unexpected token")
        return node

    def _expression(self) -> tuple:
        if self._accept("name", "if"):
            cond = self._expression()
            self._expect("name", "then", "'then'")
            then = self._expression()
            self._expect("name", "else", "'else'")
            return ("if", cond, then, self._expression())
        return self._disjunction()

    def _disjunction(self) -> tuple:
        node = self._conjunction()
        while self._accept("name", "or"):
            node = ("or", node, self._conjunction())
        return node

    def _conjunction(self) -> tuple:
        node = self._comparison()
        while self._accept("name", "and"):
            node = ("and", node, self._comparison())
        return node

    def _comparison(self) -> tuple:
        node = self._additive()
        if self.tok.kind == "op" and self.tok.value in ("=", "!=", "<", "<=", ">", ">="):
            op = self._advance().value
            return ("cmp", op, node, self._additive())
        if self._accept("name", "between"):
            low = self._additive()
            self._expect("name", "and", "'and' in 'between'")
            return ("between", node, low, self._additive())
        if self._accept("name", "in"):
            if self._accept("punct", "("):
                tests = [self._additive()]
                while self._accept("punct", ","):
                    tests.append(self._additive())
                self._expect("punct", ")", "')'")
                return ("in", node, tuple(tests))
            return ("in", node, (self._additive(),))
        return node

    def _additive(self) -> tuple:
        node = self._multiplicative()
        while self.tok.kind == "op" and self.tok.value in ("+", "-"):
            op = self._advance().value
            node = ("arith", op, node, self._multiplicative())
        return node

    def _multiplicative(self) -> tuple:
        node = self._unary()
        while self.tok.kind == "op" and self.tok.value in ("*", "/"):
            op = self._advance().value
            node = ("arith", op, node, self._unary())
        return node

    def _unary(self) -> tuple:
        if self._accept("op", "-"):
            return ("neg", self._unary())
        node = self._postfix()
        if self._accept("op", "**"):
            return ("arith", "**", node, self._unary())
        return node

    def _postfix(self) -> tuple:
        node = self._primary()
        while True:
            if self._accept("punct", "."):
                if self.tok.kind != "name" or self.tok.value in _KEYWORDS:
                    self._fail("expected a name after '.'")
                node = ("path", node, self._advance().value)
            elif self._accept("punct", "["):
                node = ("index", node, self._expression())
                self._expect("punct", "]", "']'")
            else:
                return node

    def _primary(self) -> tuple:
        token = self.tok
        if token.kind in ("num", "str"):
            self._advance()
            return ("lit", token.value)
        if self._accept("punct", "("):
            node = self._expression()
            self._expect("punct", ")", "')'")
            return node
        if self._accept("punct", "["):
            items: list[tuple] = []
            if not self._accept("punct", "]"):
                items.append(self._expression())
                while self._accept("punct", ","):
                    items.append(self._expression())
                self._expect("punct", "]", "']' or ','")
            return ("list", tuple(items))
        if token.kind == "name":
            name = token.value
            if name in ("true", "false"):
                self._advance()
                return ("lit", name == "true")
            if name == "null":
                self._advance()
                return ("lit", None)
            if name in _KEYWORDS:
                self._fail("expected a value")
            self._advance()
            if self._is("punct", "("):
                return self._call(name, token)
            return ("var", name)
        return self._fail("expected a value")

    def _call(self, name: str, token: _Token) -> tuple:
        if name not in _FUNCTIONS:
            raise FeelSyntaxError(f"unsupported function {name!r}", self.expression, token.pos)
        self._advance()  # "("
        args: list[tuple] = []
        if not self._accept("punct", ")"):
            args.append(self._expression())
            while self._accept("punct", ","):
                args.append(self._expression())
            self._expect("punct", ")", "')' or ','")
        low, high = _FUNCTIONS[name]
        if len(args) < low or (high is not None and len(args) > high):
            raise FeelSyntaxError(
                f"function {name!r} takes {low if low == high else f'at least {low}'} argument(s), "
                f"got {len(args)}",
                self.expression,
                token.pos,
            )
        if name == "is defined" and args[0][0] not in ("var", "path", "index"):
            raise FeelSyntaxError("'is defined' needs a variable", self.expression, token.pos)
        return ("call", name, tuple(args))


def parse_number_text(text: str) -> int | float | None:
    stripped = text.strip()
    if not NUMBER_TEXT_RE.fullmatch(stripped):
        return None
    if re.fullmatch(r"[+-]?\d+", stripped):
        # Python refuses to convert more than 4,300 digits to int; as a float such a number is simply too large.
        return int(stripped) if len(stripped) <= 400 else None
    number = float(stripped)
    return number if math.isfinite(number) else None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str | None:
    """FEEL type family of a Python value; None for types FEEL cannot compare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "context"
    return None


def _feel_equal(left: Any, right: Any) -> bool | None:
    """FEEL ``=``: null equals only null; different types are not comparable (null)."""
    if left is None or right is None:
        return left is None and right is None
    kind = _kind(left)
    if kind is None or kind != _kind(right):
        return None
    if kind == "list":
        if len(left) != len(right):
            return False
        results = [_feel_equal(a, b) for a, b in zip(left, right, strict=True)]
        return None if None in results else all(results)
    if kind == "context":
        if set(left) != set(right):
            return False
        results = [_feel_equal(left[k], right[k]) for k in left]
        return None if None in results else all(results)
    return bool(left == right)


def _feel_compare(op: str, left: Any, right: Any) -> bool | None:
    if op == "=":
        return _feel_equal(left, right)
    if op == "!=":
        equal = _feel_equal(left, right)
        return None if equal is None else not equal
    kind = _kind(left)
    if kind not in ("number", "string") or kind != _kind(right):
        return None  # FEEL: ordering across types or with null is null, not an error
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


# FEEL numbers are decimals: compute with Decimal so 0.1 + 0.2 = 0.3 holds, and turn overflow
# (e.g. 10 ** 99999999) into null instead of a huge computation.
_DECIMAL_CONTEXT = decimal.Context(prec=34, Emax=9999, Emin=-9999, traps=[decimal.Overflow])


def _to_decimal(value: int | float) -> Decimal:
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _from_decimal(value: Decimal) -> int | float | None:
    if not value.is_finite():
        return None
    if value == value.to_integral_value() and value.adjusted() < 18:
        return int(value)
    result = float(value)
    return result if math.isfinite(result) else None


# A hide condition is evaluated on every submission, against text petitioners type: `a + a + a ...` over a
# long answer copies ever longer strings (400 terms over 100 KB took 40 s). Longer text is null, as FEEL's
# other failures are; with MAX_FEEL_LENGTH this bounds the copying of one evaluation to about 100 MB.
MAX_FEEL_TEXT = 100_000
MAX_FEEL_LENGTH = 2_000


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right if len(left) + len(right) <= MAX_FEEL_TEXT else None
    if not (is_number(left) and is_number(right)):
        return None
    a, b = _to_decimal(left), _to_decimal(right)
    ctx = _DECIMAL_CONTEXT
    try:
        if op == "+":
            return _from_decimal(ctx.add(a, b))
        if op == "-":
            return _from_decimal(ctx.subtract(a, b))
        if op == "*":
            return _from_decimal(ctx.multiply(a, b))
        if op == "/":
            return None if b == 0 else _from_decimal(ctx.divide(a, b))
        if b != b.to_integral_value() or abs(b) > 10_000:
            return None  # only modest integer exponents
        return _from_decimal(ctx.power(a, b))
    except (ArithmeticError, ValueError):
        return None


def _and(left: Any, right: Any) -> bool | None:
    if left is False or right is False:
        return False
    if left is True and right is True:
        return True
    return None


def _or(left: Any, right: Any) -> bool | None:
    if left is True or right is True:
        return True
    if left is False and right is False:
        return False
    return None


def _call_builtin(name: str, args: list[Any]) -> Any:
    first = args[0]
    if name == "not":
        return (not first) if isinstance(first, bool) else None
    if name == "is defined":
        return first is not _UNDEFINED
    first = None if first is _UNDEFINED else first
    if name in ("sum", "min", "max"):
        items = list(first) if len(args) == 1 and isinstance(first, list | tuple) else args
        if not items or not all(is_number(i) for i in items):
            return None if name != "sum" or items else 0
        if name == "sum":
            total: Any = 0
            for item in items:
                total = _arith("+", total, item)
            return total
        return min(items) if name == "min" else max(items)
    if name == "list contains":
        if not isinstance(first, list | tuple):
            return None
        return any(_feel_equal(item, args[1]) is True for item in first)
    if name == "count":
        return len(first) if isinstance(first, list | tuple) else None
    if name == "is empty":
        return len(first) == 0 if isinstance(first, list | tuple) else None
    if name == "abs":
        return abs(first) if is_number(first) else None
    if name == "string":
        if first is None:
            return None
        if isinstance(first, bool):
            return "true" if first else "false"
        return first if isinstance(first, str) else str(first)
    if name == "number":
        return parse_number_text(first) if isinstance(first, str) else None
    if not isinstance(first, str):
        return None
    if name == "string length":
        return len(first)
    if name == "upper case":
        return first.upper()
    if name == "lower case":
        return first.lower()
    second = args[1]
    if not isinstance(second, str):
        return None
    if name == "contains":
        return second in first
    if name == "starts with":
        return first.startswith(second)
    return first.endswith(second)  # "ends with"


def _member(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name, _UNDEFINED)
    if isinstance(value, list | tuple):  # FEEL: a path on a list maps over its items
        return [None if (v := _member(item, name)) is _UNDEFINED else v for item in value]
    return _UNDEFINED


def _evaluate(node: tuple, context: Mapping[str, Any]) -> Any:
    """Evaluate an AST node; a missing variable yields _UNDEFINED (callers treat it as null)."""
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "var":
        return context.get(node[1], _UNDEFINED)
    if tag == "path":
        return _member(_value(node[1], context), node[2])
    if tag == "index":
        base, idx = _value(node[1], context), _value(node[2], context)
        # FEEL list indexes are 1-based; negative ones count from the end. Filters are not supported.
        if not isinstance(base, list | tuple) or not isinstance(idx, int) or isinstance(idx, bool):
            return None
        position = idx - 1 if idx > 0 else len(base) + idx
        return base[position] if idx != 0 and 0 <= position < len(base) else None
    if tag == "list":
        return [_value(item, context) for item in node[1]]
    if tag == "call":
        name = node[1]
        args = [_evaluate(arg, context) for arg in node[2]]
        if name != "is defined":
            args = [None if a is _UNDEFINED else a for a in args]
        return _call_builtin(name, args)
    if tag == "neg":
        operand = _value(node[1], context)
        return _arith("-", 0, operand) if is_number(operand) else None
    if tag == "arith":
        return _arith(node[1], _value(node[2], context), _value(node[3], context))
    if tag == "cmp":
        return _feel_compare(node[1], _value(node[2], context), _value(node[3], context))
    if tag == "and":
        return _and(_value(node[1], context), _value(node[2], context))
    if tag == "or":
        return _or(_value(node[1], context), _value(node[2], context))
    if tag == "in":
        subject = _value(node[1], context)
        results = []
        for test in node[2]:
            candidate = _value(test, context)
            if isinstance(candidate, list | tuple):
                results.append(any(_feel_equal(subject, item) is True for item in candidate))
            else:
                results.append(_feel_equal(subject, candidate))
        return True if True in results else (None if None in results else False)
    if tag == "between":
        subject = _value(node[1], context)
        return _and(
            _feel_compare(">=", subject, _value(node[2], context)),
            _feel_compare("<=", subject, _value(node[3], context)),
        )
    if tag == "if":
        # FEEL: anything but true takes the else branch
        return _value(node[2] if _value(node[1], context) is True else node[3], context)
    raise AssertionError(f"unknown FEEL node {tag!r}")  # pragma: no cover - parser bug


def _value(node: tuple, context: Mapping[str, Any]) -> Any:
    result = _evaluate(node, context)
    return None if result is _UNDEFINED else result


@dataclass(frozen=True)
class FeelExpression:
    """A compiled FEEL expression (the text after form-js's leading ``=``)."""

    source: str
    _ast: tuple = field(repr=False, compare=False)

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """Evaluate against variables; errors in FEEL are values (null), never exceptions."""
        return _value(self._ast, context)


def compile_feel(expression: str) -> FeelExpression:
    """Compile the supported FEEL subset; raises FeelSyntaxError for anything else.

    Supported: number/string/boolean/null literals, list literals ``[a, b]``, names with
    ``a.b`` paths and 1-based ``list[1]`` indexes, ``+ - * / **``, ``= != < <= > >=``,
    ``and``/``or`` (three-valued), ``x in [..]``/``x in (a, b)``, ``x between a and b``,
    ``if c then a else b`` and the functions in ``_FUNCTIONS`` (``not``, ``is defined``,
    ``list contains``, ``count``, ``string length``, ...). Unknown functions, filters, ranges,
    ``for``/``some``/``every`` and date literals are rejected, so a hide condition that this
    server could not evaluate fails when the form is loaded instead of never hiding.
    """
    try:
        ast = _Parser(expression).parse()
    except RecursionError:
        raise FeelSyntaxError("expression nested too deeply", expression, 0) from None
    if len(expression) > MAX_FEEL_LENGTH:
        raise FeelSyntaxError(
            f"expression longer than {MAX_FEEL_LENGTH} characters", expression, MAX_FEEL_LENGTH
        )
    return FeelExpression(expression, ast)


def evaluate_feel(expression: str, context: Mapping[str, Any]) -> Any:
    """Compile and evaluate in one step (tests, one-off checks)."""
    return compile_feel(expression).evaluate(context)
