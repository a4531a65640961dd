"""The user's own callables, named by an import path ``package.module:callable``.

A config can name the user's code where it names a built-in (``model.name``, ``data.name``):
``"mymodels:make_net"``, or ``"mypkg.nets:Net.small"`` for a dotted attribute path after the
colon (the same syntax as a ``console_scripts`` entry point). :func:`load_callable` imports it,
:func:`call_user` calls it; every mistake is a one-line :class:`~trainlab.errors.UserError` that
names the config key and the value.

The current working directory is importable, as with ``python -m``: :func:`load_callable`
inserts it at the front of ``sys.path`` the first time it imports from that directory, and
leaves it there. At the front, so that the user's module wins over an installed one of the same
name (as ``python -m`` does); left there, because the user's module may import its neighbours
later (inside the callable), and worker processes started with ``spawn`` re-import it on
unpickling with the parent's ``sys.path``.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from .errors import UserError

FORM = "package.module:callable (a module path, a colon, a callable's name, dotted if nested)"


def is_import_path(name: object) -> bool:
    """Whether ``name`` is an import path ``package.module:callable`` (a string with a colon)
    rather than a registered name."""
    return isinstance(name, str) and ":" in name


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def _importable_cwd() -> None:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:  # "" is the cwd itself (python -c, REPL)
        sys.path.insert(0, cwd)


def _parts(path: str, key: str) -> tuple[str, list[str]]:
    """(module, attribute names) of ``path``, or the UserError of a malformed one."""
    module, colon, attribute = path.partition(":") if isinstance(path, str) else ("", "", "")
    names = attribute.split(".")
    if (
        not colon
        or ":" in attribute
        or not all(p.isidentifier() for p in module.split(".") + names)
    ):
        raise UserError(f"{key} = {path!r}: expected {FORM}")
    return module, names


def _import(module: str, key: str, path: str):
    _importable_cwd()
    importlib.invalidate_caches()  # a module written since the interpreter started
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        # the module (or a package above it) itself missing, not an import inside it
        if e.name is not None and (module == e.name or module.startswith(e.name + ".")):
            raise UserError(
                f"{key} = {path!r}: module {e.name!r} not found (searched the "
                f"current directory {os.getcwd()} and sys.path)"
            ) from e
        raise UserError(f"{key} = {path!r}: importing {module!r} raised {_first_line(e)}") from e
    except Exception as e:  # SyntaxError, an ImportError or any error in its top-level code
        raise UserError(f"{key} = {path!r}: importing {module!r} raised {_first_line(e)}") from e


def _describe(obj: Any, module: str, done: list[str]) -> str:
    if not done:
        where = getattr(obj, "__file__", None)
        return f"module {module!r}" + (f" ({where})" if where else "")
    return repr(f"{module}:{'.'.join(done)}")


def load_callable(path: str, key: str) -> Callable:
    """The callable ``path`` = ``"package.module:attr[.attr...]"`` names: the module imported
    (the current directory importable, see the module docstring), then each attribute looked up
    in turn. ``key`` is the config key that gave ``path``, for the error messages: a malformed
    path, a module not found, an error raised while importing it (its first line quoted), an
    attribute missing, or a value that is not callable are each a one-line UserError."""
    module, names = _parts(path, key)
    obj: Any = _import(module, key, path)
    for i, name in enumerate(names):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            owner = _describe(obj, module, names[:i])
            names_there = [
                n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n, None))
            ]
            close = difflib.get_close_matches(name, names_there, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UserError(f"{key} = {path!r}: {owner} has no attribute {name!r}{hint}") from None
        except Exception as e:  # a module-level __getattr__ or a property that fails
            raise UserError(f"{key} = {path!r}: looking up {name!r} raised {_first_line(e)}") from e
    if not callable(obj):
        raise UserError(
            f"{key} = {path!r}: names an object of type {type(obj).__name__!r}, "
            "which is not callable; expected a function or a class"
        )
    return obj


def _path_of(fn: Callable) -> str:
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return f"{module}:{name}" if module and name else repr(fn)


def call_user(fn: Callable, key: str, path: str | None = None, /, **kwargs) -> Any:
    """``fn(**kwargs)``; an exception it raises becomes the one-line UserError
    ``{key} = {path!r}: raised {type}: {first line of its message}`` (chained, so the Python
    API keeps the traceback). KeyboardInterrupt and SystemExit propagate unchanged. ``path``:
    the import path ``fn`` was loaded from (default ``fn.__module__:fn.__qualname__``). The
    first three parameters are positional-only, so the user's keyword arguments may use any
    name, ``path`` included."""
    try:
        return fn(**kwargs)
    except Exception as e:
        raise UserError(f"{key} = {path or _path_of(fn)!r}: raised {_first_line(e)}") from e


__all__ = ["call_user", "is_import_path", "load_callable"]
