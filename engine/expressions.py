"""The one safe evaluator for every expression a diagram contains.

SpiffWorkflow evaluates gateway conditions, timer expressions and input mappings with Python's ``eval`` and
full builtins, so anyone allowed to deploy a BPMN file could run arbitrary code on the server. Every
expression the engine evaluates goes through :func:`compile_expression` instead: the text (plain Python or
Camunda's JUEL ``${...}``) is parsed, checked against an allow-list of syntax, compiled once, and evaluated
without builtins, with only the registered functions it calls in reach.

What an expression may build is bounded too (items per value, items per evaluation, integer bits): every
repetition, concatenation and display that can grow runs through a guard that checks the size first, and
the parts whose size the text alone decides are run through the same guards at deploy, so a diagram that
would exceed a bound whatever the process data is refused before it is stored.
"""

from __future__ import annotations

import ast
import copy
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import CodeType
from typing import Any, Literal, NamedTuple

__all__ = ["Expression", "ExpressionError", "ExpressionKind", "compile_expression"]

ExpressionKind = Literal["condition", "timer", "value"]

MAX_EXPRESSION_LENGTH = 2_000
MAX_STRING_CONSTANT_LENGTH = 10_000
# Bounds our own recursive checker (and CPython's compiler) well below the interpreter's recursion limit.
MAX_NESTING_DEPTH = 100
# `'x' * n` and `[0] * n` are the remaining ways to allocate without bound once `**` is gone.
MAX_REPEATED_LENGTH = 1_000_000
# Comparing or hashing a value walks every item it reaches, in C and holding the GIL, so no alarm can stop it:
# `[[0]*10**6]*10**6 == ...` is a million references to one list, a 10**12-step comparison. Every value an
# expression builds is therefore counted item by item (a list shared n times counts n times) before it is built.
MAX_VALUE_ITEMS = 1_000_000
# ... and so is everything one evaluation builds, so a chain of values each under the bound stays cheap too.
MAX_BUILT_ITEMS = 4_000_000
# Case numbers, amounts and day counts fit in 64 bits; multiplying huge integers is quadratic work.
MAX_INTEGER_BITS = 4_096


class ExpressionError(Exception):
    """Raised for an expression that is refused or cannot be parsed. .expression holds the source text,
    .reason a short English message (e.g. "attribute access '__class__' is not allowed",
    "call of unregistered function 'open'", "syntax error at column 5"), stable for logs and tests;
    .message the Chinese text for designers and officials where there is one (the size bounds), else None."""

    def __init__(self, expression: str, reason: str, message: str | None = None) -> None:
        # All go to Exception.args so the error survives pickling (the scheduler runs in other processes).
        super().__init__(expression, reason, message)
        self.expression = expression
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason} in expression {self.expression!r}"


# --------------------------------------------------------------------------------------------------------
# Tokenizer: only used to find Camunda's `${...}` and translate JUEL inside it without touching strings.


class _Token(NamedTuple):
    kind: str  # "ws", "str", "num", "name" or "op"
    text: str
    pos: int  # offset in the (stripped) source


_TOKEN_RE = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<str>'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?)  # unterminated: runs to the end, parse reports it
    | (?P<num>\d\w*(?:\.\w*)?|\.\d\w*)                 # so `1e5` or `0x1f` never yield a keyword
    | (?P<name>[^\W\d]\w*)
    | (?P<op>&&|\|\||!=|==|<=|>=|\S)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokenize(text: str) -> list[_Token]:
    return [_Token(m.lastgroup or "op", m.group(), m.start()) for m in _TOKEN_RE.finditer(text)]


_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())


def _matching(source: str, tokens: list[_Token], start: int, stop: int) -> int:
    """Index of the bracket closing tokens[start], searching below `stop`."""
    expected: list[str] = []
    for i in range(start, stop):
        text = tokens[i].text if tokens[i].kind == "op" else ""
        if text in _OPENERS:
            expected.append(_OPENERS[text])
        elif text in _CLOSERS:
            if text != expected.pop():
                raise ExpressionError(source, f"unbalanced '{text}' at column {tokens[i].pos + 1}")
            if not expected:
                return i
    raise ExpressionError(source, f"unbalanced '{tokens[start].text}' at column {tokens[start].pos + 1}")


# JUEL words and their Python spelling; `not` and `empty` are prefix operators handled separately.
_JUEL_WORDS = {
    "true": "True",
    "false": "False",
    "null": "None",
    "and": "and",
    "or": "or",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "div": "/",
    "mod": "%",
}
_JUEL_EMPTY_TEST = " in (None, '', [], {}))"


class _Piece(NamedTuple):
    text: str
    pos: int  # where in the source it came from, to report syntax errors in the designer's columns
    verbatim: bool


class _JuelTranslator:
    def __init__(self, source: str, tokens: list[_Token]) -> None:
        self.source = source
        self.tokens = tokens

    def _significant(self, i: int, stop: int) -> int:
        while i < stop and self.tokens[i].kind == "ws":
            i += 1
        return i

    def _previous_text(self, i: int, start: int) -> str:
        i -= 1
        while i >= start and self.tokens[i].kind == "ws":
            i -= 1
        return self.tokens[i].text if i >= start else ""

    def _is_prefix(self, i: int, start: int, stop: int) -> bool:
        token = self.tokens[i]
        if token.kind == "op":
            return token.text == "!"
        if token.kind != "name" or self._previous_text(i, start) == ".":
            return False
        if token.text == "empty":
            return True
        if token.text == "not":
            # Python's `not in` and `is not` are binary operators, not JUEL's prefix `not`.
            following = self._significant(i + 1, stop)
            nxt = self.tokens[following].text if following < stop else ""
            return nxt != "in" and self._previous_text(i, start) != "is"
        return False

    def _operand_end(self, operator: _Token, i: int, stop: int) -> int:
        """End of a JUEL unary operand: prefix operators, one primary, then `.name`, `[..]`, `(..)`."""
        i = self._significant(i, stop)
        while i < stop and (self._is_prefix(i, i, stop) or self.tokens[i].text in ("-", "+")):
            i = self._significant(i + 1, stop)
        token = self.tokens[i] if i < stop else None
        if token is not None and token.kind == "op" and token.text in _OPENERS:
            i = _matching(self.source, self.tokens, i, stop) + 1
        elif token is not None and token.kind in ("name", "num", "str"):
            i += 1
        else:
            raise ExpressionError(
                self.source, f"missing operand after '{operator.text}' at column {operator.pos + 1}"
            )
        while True:
            j = self._significant(i, stop)
            if j >= stop or self.tokens[j].kind != "op":
                return i
            if self.tokens[j].text in ("(", "["):
                i = _matching(self.source, self.tokens, j, stop) + 1
            elif self.tokens[j].text == ".":
                k = self._significant(j + 1, stop)
                if k >= stop or self.tokens[k].kind != "name":
                    return i
                i = k + 1
            else:
                return i

    def translate(self, start: int, stop: int) -> list[_Piece]:
        pieces: list[_Piece] = []
        i = start
        while i < stop:
            token = self.tokens[i]
            if self._is_prefix(i, start, stop):
                # JUEL's `!`, `not` and `empty` bind tighter than comparisons (`!a == b` is `(!a) == b`),
                # Python's `not` does not, so the operand is parenthesised explicitly.
                end = self._operand_end(token, i + 1, stop)
                inner = self.translate(i + 1, end)
                if token.text == "empty":
                    pieces += [
                        _Piece("(", token.pos, False),
                        *inner,
                        _Piece(_JUEL_EMPTY_TEST, token.pos, False),
                    ]
                else:
                    pieces += [_Piece("(not ", token.pos, False), *inner, _Piece(")", token.pos, False)]
                i = end
                continue
            if token.kind == "op" and token.text in ("&&", "||"):
                pieces.append(_Piece(" and " if token.text == "&&" else " or ", token.pos, False))
            elif token.kind == "name" and token.text in _JUEL_WORDS and self._previous_text(i, start) != ".":
                pieces.append(_Piece(_JUEL_WORDS[token.text], token.pos, False))
            else:
                pieces.append(_Piece(token.text, token.pos, True))
            i += 1
        return pieces


def _unwrap_juel(source: str, text: str) -> list[_Piece] | None:
    """Pieces of the Python translation if `text` is one `${...}` / `#{...}` block, else None."""
    if not text.startswith(("${", "#{")):
        return None
    tokens = _tokenize(text)
    close = _matching(source, tokens, 1, len(tokens))
    if close != len(tokens) - 1:
        raise ExpressionError(source, "expression must be a single ${...} block")
    pieces = _JuelTranslator(source, tokens).translate(2, close)
    if not "".join(p.text for p in pieces).strip():
        raise ExpressionError(source, "empty expression")
    return pieces


# --------------------------------------------------------------------------------------------------------
# ISO-8601 timer values as designers type them into timeDuration / timeCycle / timeDate, unquoted.

_NUM = r"\d+(?:[.,]\d+)?"
_DURATION = (
    rf"P(?=\d|T\d)(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)
_DATETIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
_INTERVAL = rf"(?:{_DATETIME}/{_DATETIME}|{_DATETIME}/{_DURATION}|{_DURATION}/{_DATETIME})"
_ISO_TIMER_RE = re.compile(rf"{_DURATION}|{_DATETIME}|{_INTERVAL}|R\d*/(?:{_DURATION}|{_INTERVAL})")


# --------------------------------------------------------------------------------------------------------
# The allow-list checker.

_ALLOWED_NODES: frozenset[type[ast.AST]] = frozenset(
    {
        ast.Expression,
        ast.BoolOp,
        ast.And,
        ast.Or,
        ast.BinOp,
        ast.Add,
        ast.Sub,
        ast.Mult,
        ast.Div,
        ast.FloorDiv,
        ast.Mod,
        ast.UnaryOp,
        ast.Not,
        ast.USub,
        ast.UAdd,
        ast.Compare,
        ast.Eq,
        ast.NotEq,
        ast.Lt,
        ast.LtE,
        ast.Gt,
        ast.GtE,
        ast.In,
        ast.NotIn,
        ast.Is,
        ast.IsNot,
        ast.Name,
        ast.Load,
        ast.Constant,
        ast.List,
        ast.Tuple,
        ast.Set,
        ast.Dict,
        ast.Subscript,
        ast.Slice,
        ast.IfExp,
        ast.Call,
        ast.keyword,
    }
)
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_OPERATOR_BASES = (ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


class _Checker(ast.NodeTransformer):
    """Refuses everything outside the allow-list and turns `a.b` into the mapping lookup `a['b']`."""

    def __init__(self, source: str, functions: frozenset[str]) -> None:
        self.source = source
        self.functions = functions
        self.names: set[str] = set()
        self.calls: set[str] = set()
        self.depth = 0

    def refuse(self, reason: str) -> ExpressionError:
        return ExpressionError(self.source, reason)

    def visit(self, node: ast.AST) -> Any:
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            raise self.refuse("expression is nested too deeply")
        try:
            return super().visit(node)
        finally:
            self.depth -= 1

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if type(node) not in _ALLOWED_NODES:
            what = "operator " if isinstance(node, _OPERATOR_BASES) else ""
            raise self.refuse(f"{what}{type(node).__name__} is not allowed")
        return super().generic_visit(node)

    def check_name(self, name: str) -> None:
        # Underscore names are the door to __builtins__, __import__, __class__ and friends.
        if name.startswith("_"):
            raise self.refuse(f"name '{name}' is not allowed")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        self.check_name(node.id)
        if not isinstance(node.ctx, ast.Load):
            raise self.refuse(f"{type(node.ctx).__name__} is not allowed")
        self.names.add(node.id)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if type(node.value) not in _CONSTANT_TYPES:
            raise self.refuse(f"constant of type {type(node.value).__name__} is not allowed")
        if isinstance(node.value, str) and len(node.value) > MAX_STRING_CONSTANT_LENGTH:
            raise self.refuse(f"string constant longer than {MAX_STRING_CONSTANT_LENGTH} characters")
        if isinstance(node.value, int) and node.value.bit_length() > MAX_INTEGER_BITS:
            raise _TooLarge(
                f"integer constant of more than {MAX_INTEGER_BITS} bits",
                f"整数常量超过 {MAX_INTEGER_BITS} 位二进制",
            ).refusal(self.source)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr.startswith("_"):
            raise self.refuse(f"attribute access '{node.attr}' is not allowed")
        if not isinstance(node.ctx, ast.Load):
            raise self.refuse(f"{type(node.ctx).__name__} is not allowed")
        # Process data is JSON-like, so `petition.kind` means petition['kind']; getattr is never reached.
        lookup = ast.Subscript(value=self.visit(node.value), slice=ast.Constant(node.attr), ctx=ast.Load())
        return ast.copy_location(lookup, node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("__"):
            raise self.refuse(f"subscript key '{key.value}' is not allowed")
        return self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        if any(key is None for key in node.keys):
            raise self.refuse("dict unpacking (**) is not allowed")
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        if isinstance(func, ast.Name):
            self.check_name(func.id)
            if func.id not in self.functions:
                raise self.refuse(f"call of unregistered function '{func.id}'")
            self.calls.add(func.id)
        elif isinstance(func, ast.Attribute):
            raise self.refuse(f"call of attribute '{func.attr}' is not allowed")
        else:
            raise self.refuse(f"call of {type(func).__name__} is not allowed")
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.refuse("keyword argument unpacking (**) is not allowed")
            self.check_name(keyword.arg)
        # The callee is left alone: it is a function name, not a variable the expression reads.
        node.args = [self.visit(arg) for arg in node.args]
        node.keywords = [self.visit(keyword) for keyword in node.keywords]
        return node


# Run-time guards the checked tree is rewired to; their names start with `_`, so no expression can name them.
# Each checks the size of what an operation would build BEFORE running it: once a C-level repetition,
# comparison or hash has started, it holds the GIL and nothing (no alarm, no other request) gets a turn.


class _TooLarge(ValueError):
    """A size bound was hit; .message says so in Chinese for the designer or the official."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.message = message

    def refusal(self, source: str, kind: str = "") -> ExpressionError:
        return ExpressionError(source, f"{kind}{self}", f"表达式过大：{self.message}")


class _Budget:
    """What one evaluation may still build, in items (see _items)."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_BUILT_ITEMS

    def take(self, items: int) -> None:
        if items > MAX_VALUE_ITEMS:
            raise _TooLarge(
                f"value of more than {MAX_VALUE_ITEMS} items", f"构造的值超过 {MAX_VALUE_ITEMS} 项"
            )
        self.left -= items
        if self.left < 0:
            raise _TooLarge(
                f"more than {MAX_BUILT_ITEMS} items built in one evaluation",
                f"一次求值构造的数据合计超过 {MAX_BUILT_ITEMS} 项",
            )


# Values that count as one item. Tuples of types, not `str | bytes`: isinstance is several times slower with
# a union, and these checks run on every `+` and `*` of every condition.
_SCALARS = frozenset({int, float, bool, type(None)})
_STRINGS = (str, bytes)
_SEQUENCES = (str, bytes, list, tuple)
_CONTAINERS = (dict, list, tuple, set, frozenset)


def _items(value: Any, limit: int) -> int:
    """Items `value` reaches, at least what a comparison or a hash of it walks: a container counts its elements
    plus what those reach, a string its characters, a shared value as often as it is referenced. Stops counting
    once past `limit`, so a huge value costs little more than the bound."""
    if isinstance(value, _STRINGS):
        return len(value) or 1
    if not isinstance(value, _CONTAINERS):
        return 1
    if len(value) > limit:
        return len(value)  # already past the bound on its elements alone
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    # Process data is mostly flat lists of numbers or strings: count those in C, item by item only the rest.
    types = set(map(type, value))
    if types <= _SCALARS:
        return len(value) or 1
    if types <= {str}:
        return len(value) + sum(map(len, value))
    total = len(value)
    for item in value:
        if type(item) not in _SCALARS:
            total += _items(item, limit - total)
            if total > limit:
                break
    return total


def _multiply(budget: _Budget, left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INTEGER_BITS:
            raise _TooLarge(
                f"integer of more than {MAX_INTEGER_BITS} bits", f"整数超过 {MAX_INTEGER_BITS} 位二进制"
            )
        return left * right
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, _SEQUENCES) and isinstance(count, int):
            if len(sequence) * count > MAX_REPEATED_LENGTH:
                raise _TooLarge(
                    f"repetition longer than {MAX_REPEATED_LENGTH} items",
                    f"重复产生的序列超过 {MAX_REPEATED_LENGTH} 项",
                )
            if count > 0 and sequence:
                budget.take(count * _items(sequence, MAX_VALUE_ITEMS // count))
    return left * right


def _add(budget: _Budget, left: Any, right: Any) -> Any:
    # Concatenation: `x + x + x ...` copies ever longer values, so each result is paid for like a repetition.
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        if isinstance(left, _STRINGS):  # text needs no walk (and text + list fails below anyway)
            budget.take(len(left) + len(right))
        else:
            first = _items(left, MAX_VALUE_ITEMS - len(right))  # stop as soon as the sum is past the bound
            budget.take(first + _items(right, MAX_VALUE_ITEMS - first))
    return left + right


def _display(budget: _Budget, value: Any) -> Any:
    # `[x, x, x]` holds process data several times over; what is made only of constants is bounded by the text.
    budget.take(_items(value, MAX_VALUE_ITEMS))
    return value


def _modulo(left: Any, right: Any) -> Any:
    # `'%0999999999d' % 1` allocates a gigabyte; nobody formats strings in a gateway condition.
    if isinstance(left, str | bytes):
        raise TypeError("string formatting with '%' is not allowed")
    return left % right


_GUARDS: dict[str, Callable[..., Any]] = {
    "_pf_multiply": _multiply,
    "_pf_add": _add,
    "_pf_display": _display,
    "_pf_modulo": _modulo,
}
_BUDGET = "_pf_budget"
# Operators whose result can outgrow their operands; the others (-, /, //) cannot.
_GUARDED_OPERATORS: dict[type[ast.operator], tuple[str, bool]] = {
    ast.Mult: ("_pf_multiply", True),
    ast.Add: ("_pf_add", True),
    ast.Mod: ("_pf_modulo", False),
}


def _is_literal(node: ast.AST | None) -> bool:
    """A constant, or a display of constants: its size is fixed by the text, so it needs no run-time check."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Dict):
        return all(_is_literal(part) for part in (*node.keys, *node.values))
    return isinstance(node, ast.List | ast.Tuple | ast.Set) and all(_is_literal(item) for item in node.elts)


def _guarded(helper: str, args: list[ast.expr], node: ast.expr, budget: bool) -> ast.expr:
    if budget:
        args = [ast.Name(_BUDGET, ast.Load()), *args]
    return ast.copy_location(ast.Call(func=ast.Name(helper, ast.Load()), args=args, keywords=[]), node)


class _Guard(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        guard = _GUARDED_OPERATORS.get(type(node.op))
        if guard is None:
            return node
        return _guarded(guard[0], [node.left, node.right], node, guard[1])

    def visit_display(self, node: ast.expr) -> ast.AST:
        self.generic_visit(node)
        return node if _is_literal(node) else _guarded("_pf_display", [node], node, True)

    visit_List = visit_Tuple = visit_Set = visit_Dict = visit_display


def _building_parts(node: ast.AST) -> Iterator[ast.expr]:
    """The arithmetic in `node` that reads no variable and calls no function: its size is known at deploy."""
    if isinstance(node, ast.BinOp) and not any(isinstance(n, ast.Name | ast.Call) for n in ast.walk(node)):
        yield node
        return
    for child in ast.iter_child_nodes(node):
        yield from _building_parts(child)


def _check_sizes(source: str, tree: ast.Expression) -> None:
    """Refuse at deploy what breaks a size bound whatever the process data: run each constant part through the
    run-time guards (comparisons are never run here, only what builds values)."""
    budget = _Budget()
    for part in _building_parts(tree.body):
        guarded = _Guard().visit(ast.Expression(body=copy.deepcopy(part)))
        code = compile(ast.fix_missing_locations(guarded), "<expression>", "eval")
        try:
            eval(code, {"__builtins__": {}, **_GUARDS, _BUDGET: budget})
        except _TooLarge as error:
            raise error.refusal(source) from None
        except Exception:
            pass  # anything else (`1 / 0` in a branch never taken) is the run time's to report


# --------------------------------------------------------------------------------------------------------
# Public API.


class _Variables(Mapping[str, Any]):
    """The locals an expression sees: only the names it was checked to read.

    Anything else raises KeyError, so eval falls through to the globals (the called functions) and then to
    the empty builtins; process data can therefore never shadow a function or a guard.
    """

    __slots__ = ("_names", "_variables")

    def __init__(self, variables: Mapping[str, Any], names: frozenset[str]) -> None:
        self._variables = variables
        self._names = names

    def __getitem__(self, key: str) -> Any:
        if key not in self._names:
            raise KeyError(key)
        return self._variables[key]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._names if name in self._variables)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
class Expression:
    """A checked, compiled expression; build it with :func:`compile_expression`."""

    source: str  # text as written in the BPMN file
    python: str  # normalised Python source that was checked
    names: frozenset[str]  # variable names it reads (not function names)
    calls: frozenset[str]  # registered functions it calls; evaluate() needs each of them
    kind: ExpressionKind
    _code: CodeType = field(repr=False, compare=False)
    # No builtins, the guards the code calls, and a placeholder for the budget each evaluation gets anew.
    _globals: Mapping[str, Any] = field(repr=False, compare=False)

    def evaluate(
        self, variables: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None
    ) -> Any:
        """Evaluate against process variables; every failure is raised as ExpressionError."""
        provided = functions or {}
        for name in sorted(self.calls):
            if name not in provided:
                raise ExpressionError(self.source, f"function '{name}' is not provided")
        scope = dict(self._globals)
        if _BUDGET in scope:
            scope[_BUDGET] = _Budget()
        scope.update((name, provided[name]) for name in self.calls)
        try:
            return eval(self._code, scope, _Variables(variables, self.names))
        except ExpressionError:
            raise
        except _TooLarge as error:
            # Reads like the other run-time failures ("TypeError: ..."), as the engine's logs have always shown.
            raise error.refusal(self.source, "ValueError: ") from error
        except NameError as error:
            if error.name in self.names:
                raise ExpressionError(self.source, f"unknown variable '{error.name}'") from error
            raise ExpressionError(self.source, f"NameError: {error}") from error
        except KeyError as error:
            key = error.args[0] if error.args else None
            raise ExpressionError(self.source, f"missing key {key!r}") from error
        except Exception as error:
            raise ExpressionError(self.source, f"{type(error).__name__}: {error}") from error

    # Code objects cannot be pickled or usefully copied; the expression is immutable, so recompile or share.
    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.source, self.calls, self.kind))

    def __copy__(self) -> Expression:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Expression:
        return self


def compile_expression(
    source: str, functions: Iterable[str] = (), *, kind: ExpressionKind = "value"
) -> Expression:
    """Check and compile `source`; `functions` are the names it may call. Raises ExpressionError."""
    if not isinstance(source, str):
        raise TypeError(f"expression source must be str, not {type(source).__name__}")
    if isinstance(functions, str):
        raise TypeError("functions must be a collection of names, not a single string")
    if kind not in ("condition", "timer", "value"):
        raise ValueError(f"unknown expression kind {kind!r}")
    return _compile(source, frozenset(functions), kind)


def _restore(source: str, calls: frozenset[str], kind: ExpressionKind) -> Expression:
    return compile_expression(source, calls, kind=kind)


@functools.lru_cache(maxsize=4096)
def _compile(source: str, functions: frozenset[str], kind: ExpressionKind) -> Expression:
    # The engine compiles on every gateway it passes; identical arguments give the identical Expression.
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(source, f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    text = source.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise ExpressionError(source, "empty expression")

    if kind == "timer" and _ISO_TIMER_RE.fullmatch(text):
        tree = ast.Expression(body=ast.Constant(text))
    else:
        juel = _unwrap_juel(source, text)
        # Past the last piece is the closing `}` of a JUEL block, or the end of plain text.
        end = len(text) - 1 if juel else len(text)
        tree = _parse(source, text, juel or [_Piece(text, 0, True)], end)

    checker = _Checker(source, functions)
    try:
        tree = checker.visit(tree)
    except RecursionError:
        raise ExpressionError(source, "expression is nested too deeply") from None
    both = checker.names & checker.calls
    if both:
        raise ExpressionError(source, f"name '{min(both)}' is used both as a function and as a variable")
    tree = ast.fix_missing_locations(tree)
    _check_sizes(source, tree)
    python = ast.unparse(tree)
    code = compile(ast.fix_missing_locations(_Guard().visit(tree)), "<expression>", "eval")
    return Expression(
        source=source,
        python=python,
        names=frozenset(checker.names),
        calls=frozenset(checker.calls),
        kind=kind,
        _code=code,
        _globals={
            "__builtins__": {},
            **{name: _GUARDS.get(name) for name in code.co_names if name in _GUARDS or name == _BUDGET},
        },
    )


def _parse(source: str, text: str, pieces: list[_Piece], end: int) -> ast.Expression:
    python = "".join(piece.text for piece in pieces)
    try:
        # The parentheses let an expression span lines, as BPMN text often does.
        return ast.parse(f"(\n{python}\n)", mode="eval")
    except SyntaxError as error:
        raise ExpressionError(source, _syntax_error_reason(text, python, pieces, end, error)) from None
    except (ValueError, RecursionError, MemoryError) as error:
        raise ExpressionError(source, f"syntax error: {error}") from None


def _syntax_error_reason(text: str, python: str, pieces: list[_Piece], end: int, error: SyntaxError) -> str:
    """Report where the designer's text is wrong, mapping back through the JUEL translation."""
    lines = python.split("\n")
    lineno = (error.lineno or 1) - 1  # line 1 of what was parsed is our opening parenthesis
    if lineno < 1:
        offset = 0
    elif lineno > len(lines):
        offset = len(python)
    else:
        column = min(max((error.offset or 1) - 1, 0), len(lines[lineno - 1]))
        offset = sum(len(line) + 1 for line in lines[: lineno - 1]) + column
    position = end
    start = 0
    for piece in pieces:
        if offset < start + len(piece.text):
            position = piece.pos + (offset - start if piece.verbatim else 0)
            break
        start += len(piece.text)
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    if "\n" in text:
        return f"syntax error at line {line}, column {column}"
    return f"syntax error at column {column}"


# An argument of a call that is not written as a constant (see literal_calls).
NOT_LITERAL = object()


def literal_calls(source: str, functions: Iterable[str]) -> list[tuple[str, tuple[Any, ...]]]:
    """The calls of ``functions`` in ``source`` with their positional arguments, each the constant written
    there or ``NOT_LITERAL`` (a variable, another call), so deploy can check what the text alone decides
    (``unitGroup(responsibleUnit, 'boss')``: an unknown position). Raises ExpressionError like compiling."""
    wanted = frozenset(functions)
    tree = ast.parse(compile_expression(source, wanted).python.strip(), mode="eval")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in wanted:
            args = tuple(a.value if isinstance(a, ast.Constant) else NOT_LITERAL for a in node.args)
            found.append((node.func.id, args))
    return found
