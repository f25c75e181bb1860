"""Issue 22, the ``.vec`` paragraph: one reader, one header check whatever the options.

``embeddings.vecio.load_vec`` checks the header's word count against every row of the file, also
when ``max_vocab`` (``--max-vocab`` of xdomain-ubli / xdomain-wordsim, the grid) reads only the
first rows: a truncated or concatenated file is the same one-line error with or without it.
"""
from __future__ import annotations

import pytest

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.embeddings.vecio import load_vec


def _vec(path, header, n_rows):
    rows = "".join(f"w{i} {i} {i + 1}\n" for i in range(n_rows))
    path.write_text(f"{header}\n{rows}", encoding="utf-8")
    return path


@pytest.mark.parametrize("max_vocab", [None, 1, 3, 10])
def test_header_checked_against_all_rows_whatever_max_vocab(tmp_path, max_vocab):
    short = _vec(tmp_path / "short.vec", "5 2", 4)   # header says 5, 4 rows (truncated file)
    long = _vec(tmp_path / "long.vec", "3 2", 5)     # header says 3, 5 rows (concatenated)
    for path, n_rows, n_header in ((short, 4, 5), (long, 5, 3)):
        with pytest.raises(UserError) as err:
            load_vec(path, max_vocab=max_vocab)
        assert str(err.value) == (f"{path}: header says {n_header} words but the file has "
                                  f"{n_rows} rows")


def test_max_vocab_reads_the_first_rows_of_a_good_file(tmp_path):
    good = _vec(tmp_path / "good.vec", "4 2", 4)
    (tmp_path / "trail.vec").write_text(good.read_text() + "\n\n", encoding="utf-8")
    for path in (good, tmp_path / "trail.vec"):  # trailing blank lines are not rows
        wv = load_vec(path, max_vocab=2)
        assert wv.words == ["w0", "w1"] and wv.vectors.tolist() == [[0, 1], [1, 2]]
        assert len(load_vec(path)) == 4
