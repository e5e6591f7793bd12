"""``Protector``, ``OperationHandle`` and ``ProgressIterator`` with the exact method
signatures of the real extension's stubs (``_protector.pyi``), generated from them, with no
engine behind them: tests use ``mock.create_autospec`` of these, so a call the real module
would refuse (an unknown keyword, a missing argument) fails the test.

``Protector.from_token`` / ``Protector(...)`` open the scenario engine of ``scenario`` when
``PROTECTOR_FAKE_SCENARIO`` names a scenario file (the tests that run the real ``openstack``
command in a subprocess); otherwise they refuse.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

_STUBS = Path(__file__).resolve().parents[4] / "python" / "protector" / "_protector.pyi"


def _signature_only(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    args = node.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        arg.annotation = None
    if args.vararg:
        args.vararg.annotation = None
    if args.kwarg:
        args.kwarg.annotation = None
    name = "__init__" if node.name == "__new__" else node.name
    if node.name == "__new__":
        args.args[0].arg = "self"
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    decorators = "".join(
        f"@{ast.unparse(d)}\n" for d in node.decorator_list if ast.unparse(d) != "final"
    )
    body = "raise NotImplementedError" if name != "__init__" else "_refuse()"
    if name == "from_token":
        body = "return _open('from_token', locals())"
    return f"{decorators}{prefix} {name}({ast.unparse(args)}):\n    {body}\n"


def _classes() -> dict[str, type]:
    tree = ast.parse(_STUBS.read_text(encoding="utf-8"))
    out: dict[str, type] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            source = "".join(
                _signature_only(item)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
            namespace: dict[str, Any] = {"_refuse": _refuse, "_open": _open}
            exec(compile(source or "pass\n", str(_STUBS), "exec"), namespace)  # noqa: S102
            members = {
                k: v for k, v in namespace.items() if k not in ("_refuse", "_open", "__builtins__")
            }
            out[node.name] = type(node.name, (), members)
    return out


def _refuse() -> None:
    raise NotImplementedError("the fake protector module has no engine: use a scenario or a mock")


def _open(how: str, arguments: dict[str, Any]) -> Any:
    from . import scenario

    return scenario.open_engine(how, {k: v for k, v in arguments.items() if k != "self"})


_CLASSES = _classes()
Protector = _CLASSES["Protector"]
OperationHandle = _CLASSES["OperationHandle"]
ProgressIterator = _CLASSES["ProgressIterator"]
