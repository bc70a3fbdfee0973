"""The public API: every name documented, with an example that runs as a doctest."""

import inspect

import pytest

import lstmlab as ll


@pytest.mark.parametrize("name", ll.__all__)
def test_public_name_has_numpydoc_with_example(name):
    doc = inspect.getdoc(getattr(ll, name))
    assert doc, f"{name} has no docstring"
    assert "Examples\n--------" in doc and ">>>" in doc, f"{name} has no Examples section"


def test_all_names_exist_and_are_unique():
    assert len(set(ll.__all__)) == len(ll.__all__)
    for name in ll.__all__:
        assert hasattr(ll, name)


def test_py_typed_is_shipped():
    import pathlib

    assert (pathlib.Path(ll.__file__).parent / "py.typed").exists()
