"""README.md's tables of names are the registries' (python -m trainlab.tables README.md)."""

from pathlib import Path

from trainlab import tables

README = Path(__file__).parent.parent / "README.md"


def test_readme_tables_are_up_to_date():
    text = README.read_text()
    assert text == tables.update(text), "README.md is stale: run python -m trainlab.tables README.md"
    for name, table in tables.TABLES.items():  # every table is in the README, filled in
        assert f"<!-- table:{name} -->\n{table()}\n<!-- /table:{name} -->" in text, name


def test_a_registered_name_shows_up_in_its_table():
    from trainlab.optim import OPTIMIZERS

    block = tables.TABLES["optimizers"]()
    assert all(f"| `{name}` |" in block for name in OPTIMIZERS)
    assert "| `adadelta` | " in block and " | 1 | 1 |" in block.split("`adadelta`")[1].splitlines()[0]
