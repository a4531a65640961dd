"""Import paths for the user's own callables (trainlab.imports): modules written into a fresh
current directory, loaded as ``python -m`` would find them, and every mistake one line."""

import sys
import textwrap

import pytest

from trainlab.errors import UserError
from trainlab.imports import call_user, is_import_path, load_callable


def _under(module, root: str) -> bool:
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and file.startswith(root)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """``write(name, source)``: a module ``name`` (``pkg.__init__`` for a package) in a fresh
    current directory. Afterwards sys.path and sys.modules are as they were: nothing leaks into
    other tests."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))

    def write(name: str, source: str = "") -> str:
        file = tmp_path.joinpath(*name.split(".")).with_suffix(".py")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(textwrap.dedent(source))
        return name

    yield write
    root = str(tmp_path)
    for name in [n for n, m in sys.modules.items() if _under(m, root)]:
        del sys.modules[name]
    for place in [p for p in sys.path_importer_cache if str(p).startswith(root)]:
        del sys.path_importer_cache[place]


SOURCE = """
    VALUE = 3

    def make_data(n=2, scale=1.0):
        return [scale] * n

    def boom(**kwargs):
        raise ValueError("two\\nlines")

    def stop():
        raise KeyboardInterrupt

    def leave():
        raise SystemExit(3)

    def echo(**kwargs):
        return kwargs

    class Net:
        def __init__(self, width=4):
            self.width = width

        @classmethod
        def factory(cls, width=8):
            return cls(width)

        class Inner:
            @staticmethod
            def build():
                return "inner"
"""


def test_is_import_path():
    assert is_import_path("mymod:make") and is_import_path("pkg.mod:Class.factory")
    assert not is_import_path("mlp") and not is_import_path(None) and not is_import_path(3)


def test_loads_functions_classes_and_dotted_attributes_from_the_current_directory(user_module):
    user_module("tl_user_mod", SOURCE)
    assert load_callable("tl_user_mod:make_data", "data.name")(n=3) == [1.0, 1.0, 1.0]
    assert load_callable("tl_user_mod:Net", "model.name")().width == 4
    assert load_callable("tl_user_mod:Net.factory", "model.name")().width == 8
    assert load_callable("tl_user_mod:Net.Inner.build", "model.name")() == "inner"
    user_module("tl_user_pkg.__init__")
    user_module("tl_user_pkg.nets", "def make():\n    return 'from a package'\n")
    assert load_callable("tl_user_pkg.nets:make", "model.name")() == "from a package"


def test_the_current_directory_is_added_to_sys_path_once_at_the_front(user_module, tmp_path):
    user_module("tl_user_mod", SOURCE)
    sys.path[:] = [p for p in sys.path if p not in ("", str(tmp_path))]
    load_callable("tl_user_mod:make_data", "data.name")
    load_callable("tl_user_mod:Net", "model.name")
    assert sys.path[0] == str(tmp_path) and sys.path.count(str(tmp_path)) == 1


def test_a_module_of_the_current_directory_shadows_an_installed_one(user_module, tmp_path):
    # as with python -m: a same-named module elsewhere on sys.path loses to the current directory's
    user_module("tl_user_mod", SOURCE)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "tl_user_mod.py").write_text("def make_data():\n    return 'other'\n")
    sys.path.append(str(tmp_path / "other"))
    assert load_callable("tl_user_mod:make_data", "data.name")() == [1.0, 1.0]


@pytest.mark.parametrize(
    "path",
    [
        "tl_user_mod",
        ":make_data",
        "tl_user_mod:",
        "a:b:c",
        "tl_user_mod:Net..factory",
        ".tl_user_mod:make_data",
        "my mod:make",
        "tl_user_mod:make-data",
    ],
)
def test_a_malformed_path_is_one_line(path):
    with pytest.raises(UserError) as e:
        load_callable(path, "model.name")
    assert str(e.value) == (
        f"model.name = {path!r}: expected package.module:callable (a module "
        "path, a colon, a callable's name, dotted if nested)"
    )


def test_a_missing_module_is_not_found(user_module, tmp_path):
    with pytest.raises(
        UserError,
        match=r"^data.name = 'tl_absent_mod:make': module "
        r"'tl_absent_mod' not found \(searched the current "
        r"directory .* and sys.path\)$",
    ):
        load_callable("tl_absent_mod:make", "data.name")
    user_module("tl_user_pkg.__init__")
    with pytest.raises(UserError, match=r"module 'tl_user_pkg.absent' not found"):
        load_callable("tl_user_pkg.absent:make", "data.name")


@pytest.mark.parametrize(
    "source, error",
    [
        (
            "import tl_no_such_dependency\n",
            "ModuleNotFoundError: No module named 'tl_no_such_dependency'",
        ),
        (
            "from os import no_such_name\n",
            "ImportError: cannot import name 'no_such_name' from 'os'",
        ),
        ("raise ValueError('bad setting\\nmore detail')\n", "ValueError: bad setting"),
        ("def f(:\n", "SyntaxError: "),
    ],
)
def test_an_error_inside_the_users_module_is_quoted_not_called_not_found(
    user_module, source, error
):
    user_module("tl_user_mod", source)
    with pytest.raises(UserError) as e:
        load_callable("tl_user_mod:make", "data.name")
    message = str(e.value)
    assert (
        message.startswith(
            f"data.name = 'tl_user_mod:make': importing 'tl_user_mod' raised {error}"
        )
        and "\n" not in message
        and "not found" not in message
    )


def test_a_missing_attribute_names_its_owner_and_a_close_name(user_module, tmp_path):
    user_module("tl_user_mod", SOURCE)
    file = tmp_path / "tl_user_mod.py"
    with pytest.raises(UserError) as e:
        load_callable("tl_user_mod:mak_data", "data.name")
    assert str(e.value) == (
        f"data.name = 'tl_user_mod:mak_data': module 'tl_user_mod' ({file}) "
        "has no attribute 'mak_data'; did you mean 'make_data'?"
    )
    with pytest.raises(UserError) as e:
        load_callable("tl_user_mod:Net.Inner.nope", "model.name")
    assert str(e.value) == (
        "model.name = 'tl_user_mod:Net.Inner.nope': 'tl_user_mod:Net.Inner' has no attribute 'nope'"
    )


def test_a_value_that_is_not_callable(user_module):
    user_module("tl_user_mod", SOURCE)
    with pytest.raises(UserError) as e:
        load_callable("tl_user_mod:VALUE", "model.name")
    assert str(e.value) == (
        "model.name = 'tl_user_mod:VALUE': names an object of type 'int', "
        "which is not callable; expected a function or a class"
    )


def test_call_user_passes_every_keyword_through(user_module):
    user_module("tl_user_mod", SOURCE)
    echo = load_callable("tl_user_mod:echo", "data.name")
    # fn, key and path are positional-only: the user's callable may take keywords of these names
    assert call_user(echo, "data.name", "tl_user_mod:echo", path="p", key="k", fn=1, n=2) == {
        "path": "p",
        "key": "k",
        "fn": 1,
        "n": 2,
    }
    assert call_user(load_callable("tl_user_mod:make_data", "data.name"), "data.name", n=1) == [1.0]


def test_call_user_turns_an_exception_into_one_line(user_module):
    user_module("tl_user_mod", SOURCE)
    boom = load_callable("tl_user_mod:boom", "data.name")
    with pytest.raises(UserError) as e:
        call_user(boom, "data.name", "tl_user_mod:boom", n=3)
    assert str(e.value) == "data.name = 'tl_user_mod:boom': raised ValueError: two"
    assert isinstance(e.value.__cause__, ValueError)  # the Python API keeps the traceback
    with pytest.raises(
        UserError,
        match=r"^model.name = 'tl_user_mod:Net.factory': raised "
        r"TypeError: .*unexpected keyword argument 'depth'$",
    ):
        call_user(load_callable("tl_user_mod:Net.factory", "model.name"), "model.name", depth=2)


def test_call_user_lets_interrupts_and_exits_through(user_module):
    user_module("tl_user_mod", SOURCE)
    with pytest.raises(KeyboardInterrupt):
        call_user(load_callable("tl_user_mod:stop", "data.name"), "data.name")
    with pytest.raises(SystemExit):
        call_user(load_callable("tl_user_mod:leave", "data.name"), "data.name")


def test_nothing_leaks_into_the_next_test():
    assert "tl_user_mod" not in sys.modules and "tl_user_pkg" not in sys.modules
    assert not any("pytest-of-" in str(p) for p in sys.path)  # pytest's tmp_path folders
