"""Bad input is refused at trigger time with one clear error (every store)."""

from __future__ import annotations

import pytest

from conveyor import ArgumentsError, ConfigurationError, Conveyor


def test_wrong_arguments_are_refused_when_triggered(app: Conveyor) -> None:
    @app.job
    def resize(path: str, width: int = 100, meta: object = None) -> None: ...

    with pytest.raises(ArgumentsError, match=r"job 'resize' cannot be called .*'path'.*"
                       r"it takes \(path: .*, width: .* = 100\)"):
        resize().run_now()  # resize() alone is valid: a chain hands it the path
    with pytest.raises(ArgumentsError, match="unexpected keyword argument 'height'"):
        resize("a.png", height=3)
    assert app.count() == 0


def test_arguments_error_is_a_type_error(app: Conveyor) -> None:
    @app.job
    def one(a: int) -> None: ...

    with pytest.raises(TypeError):
        one(1, 2)


def test_text_search_treats_percent_and_underscore_literally(app: Conveyor) -> None:
    @app.job
    def note(text: str) -> None: ...

    for text in ("100%", "1000", "a_b", "axb"):
        note(text).run_now()
    assert app.count(text="100%") == 1
    assert app.count(text="a_b") == 1
    assert app.count(text="0") == 2


def test_blank_store_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="invalid store URL ''; accepted: sqlite:///"):
        Conveyor("")
