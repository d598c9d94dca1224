"""Reading labelled history from CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.classifier import HistoryError, LabelledCase, read_history_csv


def test_reads_the_needed_columns_and_ignores_others(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "\ufeffid,title,description,squad,priority\n"
        '1,Card declined,"my card, again",payments,P2\n'
        "2,,no title here,checkout,P3\n",
        encoding="utf-8",
    )
    assert read_history_csv(path) == [
        LabelledCase("Card declined", "my card, again", "payments"),
        LabelledCase("", "no title here", "checkout"),
    ]


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("id,text,squad\n1,hello,payments\n")
    with pytest.raises(HistoryError) as info:
        read_history_csv(path)
    assert info.value.code == "history_invalid"
    assert "title" in str(info.value) and "description" in str(info.value)
    assert "squad" not in str(info.value).split("missing column(s)")[1].split(";")[0]


def test_missing_or_binary_file(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="cannot read"):
        read_history_csv(tmp_path / "nope.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"title,description,squad\n\xff\xfe\x00bad")
    with pytest.raises(HistoryError, match="UTF-8"):
        read_history_csv(binary)
