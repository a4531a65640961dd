"""The docs' tables of names are the registries' (python -m trainlab.tables, in the repository
root).

A table may sit in README.md or in any page under docs/; every such file is checked.
"""

from pathlib import Path

import pytest

from trainlab import tables

ROOT = Path(__file__).parent.parent
FILES = tables.markdown_files(ROOT)


def test_the_files_with_tables_are_found():
    assert ROOT / "README.md" in FILES
    assert any(tables.names(path.read_text()) for path in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_s_tables_are_up_to_date(path):
    text = path.read_text()
    assert tables.problems(text) == [], path
    assert text == tables.update(text), f"{path} is stale: run python -m trainlab.tables"


def test_every_table_is_in_some_file_filled_in():
    texts = [path.read_text() for path in FILES]
    for name, table in tables.TABLES.items():
        block = f"<!-- table:{name} -->\n{table()}\n<!-- /table:{name} -->"
        assert any(block in text for text in texts), f"table {name!r} is in no file"


def test_a_registered_name_shows_up_in_its_table():
    from trainlab.optim import OPTIMIZERS

    block = tables.TABLES["optimizers"]()
    assert all(f"| `{name}` |" in block for name in OPTIMIZERS)
    assert "| `adadelta` | " in block
    assert " | 1 | 1 |" in block.split("`adadelta`")[1].splitlines()[0]


def test_markers_are_lines_of_their_own_and_must_name_a_table_and_close():
    quoted = "Put a table between `<!-- table:NAME -->` and `<!-- /table:NAME -->`.\n"
    assert tables.names(quoted) == [] and tables.update(quoted) == quoted
    with pytest.raises(ValueError, match="names no table"):
        tables.update("<!-- table:nonesuch -->\n<!-- /table:nonesuch -->\n")
    with pytest.raises(ValueError, match="has no"):
        tables.update("<!-- table:losses -->\nold\n")


def test_the_command_rewrites_or_only_checks(tmp_path, capsys):
    page = tmp_path / "page.md"
    stale = "# A page\n\n<!-- table:losses -->\nold\n<!-- /table:losses -->\n"
    page.write_text(stale)
    assert tables.main(["--check", str(page)]) == 1
    assert page.read_text() == stale and "page.md" in capsys.readouterr().err
    assert tables.main([str(page)]) == 0
    assert tables.TABLES["losses"]() in page.read_text()
    assert tables.main(["--check", str(page)]) == 0


def test_by_default_the_command_reads_readme_and_every_docs_page(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    for name in ("README.md", "docs/a.md", "docs/sub/b.md", "docs/notes.txt", "other.md"):
        (tmp_path / name).write_text("text\n")
    found = [p.relative_to(tmp_path).as_posix() for p in tables.markdown_files(tmp_path)]
    assert found == ["README.md", "docs/a.md", "docs/sub/b.md"]
