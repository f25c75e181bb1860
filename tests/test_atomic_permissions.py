"""common/atomic.py (issue 13, kind 8): results get the permissions a plain ``open`` would give
(0o666 less the umask; an existing file's own mode), and stay atomic: fsync, rename, no temp
file left on error."""
from __future__ import annotations

import os
import stat

import pytest

from fairseq_xdomain.common.atomic import atomic_open, current_umask, write_json, write_text


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture()
def umask():
    """Set the process umask for one test and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_get_the_umask_permissions(tmp_path, umask, mask, expected):
    umask(mask)
    assert current_umask() == mask
    write_text(tmp_path / "r.txt", "x\n")
    write_json(tmp_path / "sub" / "r.json", {"a": 1})
    with atomic_open(tmp_path / "r.bin", "wb") as handle:
        handle.write(b"\x00")
    plain = tmp_path / "plain.txt"
    with open(plain, "w") as handle:
        handle.write("x\n")
    for name in ("r.txt", "sub/r.json", "r.bin"):
        assert _mode(tmp_path / name) == expected == _mode(plain), name


def test_replacing_a_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "shared.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    write_json(path, {"b": 2})
    assert _mode(path) == 0o640 and '"b": 2' in path.read_text()


def test_still_atomic_fsynced_and_clean_on_error(tmp_path, monkeypatch):
    path = tmp_path / "r.txt"
    write_text(path, "old\n")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    with pytest.raises(RuntimeError):
        with atomic_open(path) as handle:
            handle.write("half")
            assert path.read_text() == "old\n"  # nothing under the final name yet
            raise RuntimeError("killed")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]  # no temporary left
    write_text(path, "new\n")
    assert path.read_text() == "new\n" and synced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]
