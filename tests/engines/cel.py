"""The subset of CEL that Flux health expressions use (``cel-python`` is not installed).

Evaluated as fluxcd/pkg runtime/cel/expression.go does: the expression is parsed without
declarations and run against the object's top-level fields (``status``, ``metadata``, ``spec``...).
Semantics kept from the CEL spec (google/cel-spec doc/langdef.md): selecting a missing field is an
error, ``has(a.b)`` tests presence, ``&&``/``||`` are commutative and absorb an error when the other
side decides (``false && error`` is false), ``==`` across unrelated types is false (heterogeneous
equality), ``string()``/``int()`` convert, ``size()``, ``in``, ``?:``, and the ``exists``/``all``
macros and ``startsWith``/``endsWith``/``contains`` string methods.
"""

import re

_TOKEN = re.compile(r"""\s*(?:(?P<number>\d+\.\d+|\d+)u?|(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]]))""", re.VERBOSE)


class CelError(Exception):
    """An evaluation error (a missing field, a type mismatch): Flux reports the object's status as Unknown."""


def _tokens(text: str) -> list[tuple[str, object]]:
    found, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match:
            raise SyntaxError(f"cannot parse CEL at {text[position:]!r}")
        position = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "number":
            value = float(value) if "." in value else int(value)
        elif kind == "string":
            value = bytes(value[1:-1], "utf-8").decode("unicode_escape")
        found.append((kind, value))
    return found + [("end", None)]


class _Parser:
    """Recursive descent over CEL's precedence: ?:, ||, &&, relations, + -, * / %, unary, member."""

    def __init__(self, text: str) -> None:
        self.tokens, self.at = _tokens(text), 0

    def peek(self, *values) -> bool:
        kind, value = self.tokens[self.at]
        return kind == "op" and value in values

    def take(self, value=None):
        kind, token = self.tokens[self.at]
        if value is not None and (kind != "op" or token != value):
            raise SyntaxError(f"expected {value!r}, found {token!r}")
        self.at += 1
        return kind, token

    def parse(self):
        tree = self.conditional()
        if self.tokens[self.at][0] != "end":
            raise SyntaxError(f"unexpected {self.tokens[self.at][1]!r}")
        return tree

    def conditional(self):
        test = self.binary(0)
        if self.peek("?"):
            self.take("?")
            then = self.conditional()
            self.take(":")
            return ("?:", test, then, self.conditional())
        return test

    LEVELS = (("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int):
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek(*self.LEVELS[level]) or ("in" in self.LEVELS[level] and self.tokens[self.at] == ("name", "in")):
            _, op = self.take()
            left = (op, left, self.binary(level + 1))
        return left

    def unary(self):
        if self.peek("!", "-"):
            _, op = self.take()
            return ("unary" + op, self.unary())
        return self.member()

    def arguments(self) -> list:
        self.take("(")
        found = []
        while not self.peek(")"):
            found.append(self.conditional())
            if not self.peek(")"):
                self.take(",")
        self.take(")")
        return found

    def member(self):
        kind, value = self.take()
        if kind in ("number", "string"):
            node = ("literal", value)
        elif kind == "name" and value in ("true", "false", "null"):
            node = ("literal", {"true": True, "false": False, "null": None}[value])
        elif kind == "name" and self.peek("("):
            node = ("call", value, self.arguments())
        elif kind == "name":
            node = ("name", value)
        elif (kind, value) == ("op", "("):
            node = self.conditional()
            self.take(")")
        elif (kind, value) == ("op", "["):
            elements = []
            while not self.peek("]"):
                elements.append(self.conditional())
                if not self.peek("]"):
                    self.take(",")
            self.take("]")
            node = ("list", elements)
        else:
            raise SyntaxError(f"unexpected {value!r}")
        while self.peek(".", "["):
            if self.take()[1] == ".":
                _, name = self.take()
                node = ("method", node, name, self.arguments()) if self.peek("(") else ("select", node, name)
            else:
                node = ("index", node, self.conditional())
                self.take("]")
        return node


def _equal(a, b) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, numbers) and isinstance(b, numbers):
        return a == b
    return type(a) is type(b) and a == b


def _evaluate(node, scope: dict):
    op = node[0]
    if op == "literal":
        return node[1]
    if op == "name":
        if node[1] not in scope:
            raise CelError(f"no such attribute: {node[1]}")
        return scope[node[1]]
    if op == "select":
        target = _evaluate(node[1], scope)
        if not isinstance(target, dict) or node[2] not in target:
            raise CelError(f"no such key: {node[2]}")
        return target[node[2]]
    if op == "index":
        target, index = _evaluate(node[1], scope), _evaluate(node[2], scope)
        try:
            return target[index]
        except (KeyError, IndexError, TypeError) as error:
            raise CelError(f"no such key: {index!r}") from error
    if op in ("&&", "||"):
        decisive = op == "||"  # the value that decides alone
        results = []
        for side in node[1:]:
            try:
                value = _evaluate(side, scope)
            except CelError as error:
                value = error
            if value is decisive:
                return decisive
            results.append(value)
        for value in results:
            if isinstance(value, CelError):
                raise value
            if not isinstance(value, bool):
                raise CelError(f"no such overload: {op} on {value!r}")
        return not decisive
    if op == "?:":
        test = _evaluate(node[1], scope)
        if not isinstance(test, bool):
            raise CelError("?: needs a bool")
        return _evaluate(node[2] if test else node[3], scope)
    if op == "unary!":
        value = _evaluate(node[1], scope)
        if not isinstance(value, bool):
            raise CelError("! needs a bool")
        return not value
    if op == "unary-":
        return -_evaluate(node[1], scope)
    if op == "list":
        return [_evaluate(e, scope) for e in node[1]]
    if op == "call":
        return _call(node[1], node[2], scope)
    if op == "method":
        return _method(node[1], node[2], node[3], scope)
    left, right = _evaluate(node[1], scope), _evaluate(node[2], scope)
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "in":
        return any(_equal(left, v) for v in right) if isinstance(right, list) else left in right
    try:
        return {"<": lambda: left < right, "<=": lambda: left <= right, ">": lambda: left > right,
                ">=": lambda: left >= right, "+": lambda: left + right, "-": lambda: left - right,
                "*": lambda: left * right, "/": lambda: left // right if isinstance(left, int) else left / right,
                "%": lambda: left % right}[op]()
    except TypeError as error:
        raise CelError(f"no such overload: {op}") from error


def _call(name: str, arguments: list, scope: dict):
    if name == "has":
        (target,) = arguments
        if target[0] != "select":
            raise SyntaxError("has() needs a field selection")
        parent = _evaluate(target[1], scope)
        if not isinstance(parent, dict):
            raise CelError("has() on a non-map")
        return target[2] in parent
    values = [_evaluate(a, scope) for a in arguments]
    if name == "size":
        return len(values[0])
    if name == "string":
        value = values[0]
        return {True: "true", False: "false"}[value] if isinstance(value, bool) else str(value)
    if name == "int":
        try:
            return int(values[0])
        except (TypeError, ValueError) as error:
            raise CelError(f"int() of {values[0]!r}") from error
    raise CelError(f"unknown function {name}")


def _method(target_node, name: str, arguments: list, scope: dict):
    target = _evaluate(target_node, scope)
    if name in ("exists", "all"):
        variable, predicate = arguments[0][1], arguments[1]
        results = [_evaluate(predicate, {**scope, variable: item}) for item in target]
        return any(r is True for r in results) if name == "exists" else all(r is True for r in results)
    values = [_evaluate(a, scope) for a in arguments]
    methods = {"startsWith": lambda: target.startswith(values[0]), "endsWith": lambda: target.endswith(values[0]),
               "contains": lambda: values[0] in target, "size": lambda: len(target)}
    if name not in methods:
        raise CelError(f"unknown method {name}")
    return methods[name]()


def evaluate(expression: str, obj: dict):
    """The value of ``expression`` over ``obj``'s top-level fields; CelError when evaluation fails."""
    return _evaluate(_Parser(expression).parse(), obj)
