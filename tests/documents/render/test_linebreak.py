"""Chinese line breaking on its own: widths in, line spans out."""

from __future__ import annotations

from documents.render.linebreak import break_lines, may_break


def lines_of(text: str, first: int, rest: int) -> list[str]:
    widths = [0.5 if c.isascii() else 1.0 for c in text]
    return [text[s:e] for s, e in break_lines(text, widths, lambda n: first if n == 0 else rest)]


def test_greedy_on_ideographs() -> None:
    assert lines_of("一二三四五六七八九十", 4, 4) == ["一二三四", "五六七八", "九十"]
    assert lines_of("一二三四五六七八九十", 2, 4) == ["一二", "三四五六", "七八九十"]


def test_closing_punctuation_pulls_a_character_down() -> None:
    assert lines_of("一二三四，五六", 4, 4) == ["一二三", "四，五六"]
    assert lines_of("一二三四。”五六", 4, 4) == ["一二三", "四。”五", "六"]


def test_opening_punctuation_goes_down_with_its_word() -> None:
    assert lines_of("一二三（四）五", 4, 4) == ["一二三", "（四）五"]
    assert lines_of("一二三“四”", 4, 4) == ["一二三", "“四”"]


def test_latin_words_and_paired_marks_stay_whole() -> None:
    assert lines_of("一二三ABCD", 4, 4) == ["一二三", "ABCD"]
    assert lines_of("一二三——四", 4, 4) == ["一二三", "——四"]
    assert not may_break("2026", 2) and may_break("年2", 1)


def test_a_line_without_any_allowed_break_is_cut_where_full() -> None:
    assert lines_of("，，，，，，", 4, 4) == ["，，，，", "，，"]
    assert lines_of("ABCDEFGHIJKL", 2, 2) == ["ABCD", "EFGH", "IJKL"]
