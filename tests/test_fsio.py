"""importobot.fsio: the one open helper (repository content vs operator-named files)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from importobot.fsio import FileRefused, read_content, read_operator_file


def test_content_reads_a_regular_file(tmp_path: Path) -> None:
    f = tmp_path / "a.env"
    f.write_bytes(b"X=1\n")
    assert read_content(str(f), 100) == b"X=1\n"


@pytest.mark.parametrize("target", ["/dev/zero", "/etc/hostname"])
def test_content_never_follows_a_symlink(tmp_path: Path, target: str) -> None:
    link = tmp_path / "z.env"
    link.symlink_to(target)
    with pytest.raises(FileRefused) as info:
        read_content(str(link), 10 * 1024 * 1024)
    assert info.value.reason == "symlink"


def _fifo(tmp_path: Path) -> Path:
    fifo = tmp_path / "f.env"
    os.mkfifo(fifo)
    return fifo


def _returns_quickly(fn: object, *args: object) -> BaseException | None:
    """Run fn(*args) in a thread; fail the test if it has not returned within 5 s."""
    box: list[BaseException | None] = []

    def run() -> None:
        try:
            fn(*args)  # type: ignore[operator]
            box.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(5)
    if t.is_alive():
        # Unblock the reader so the daemon thread can end, then fail.
        pytest.fail("the read blocked on a FIFO")
    return box[0]


def test_content_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    exc = _returns_quickly(read_content, str(_fifo(tmp_path)), 100)
    assert isinstance(exc, FileRefused) and exc.reason == "special"


def test_operator_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    exc = _returns_quickly(read_operator_file, str(_fifo(tmp_path)))
    assert isinstance(exc, FileRefused) and exc.reason == "special"


def test_content_directory_and_missing(tmp_path: Path) -> None:
    with pytest.raises(FileRefused) as info:
        read_content(str(tmp_path), 100)
    assert info.value.reason == "directory"
    with pytest.raises(FileRefused) as info:
        read_content(str(tmp_path / "nope"), 100)
    assert info.value.reason == "missing"


def test_size_limit_reads_at_most_the_limit(tmp_path: Path) -> None:
    f = tmp_path / "big"
    f.write_bytes(b"x" * 101)
    with pytest.raises(FileRefused) as info:
        read_content(str(f), 100)
    assert info.value.reason == "too-large"
    assert read_content(str(f), 101) == b"x" * 101


def test_operator_file_follows_kubernetes_style_links(tmp_path: Path) -> None:
    data = tmp_path / "..2026_11_30"
    data.mkdir()
    (data / "keys").write_bytes(b"k\n")
    os.chmod(data / "keys", 0o600)
    (tmp_path / "..data").symlink_to(data.name)
    (tmp_path / "keys").symlink_to("..data/keys")
    assert read_operator_file(str(tmp_path / "keys"), secret=True) == b"k\n"


def test_operator_file_refuses_dev_zero_and_directories(tmp_path: Path) -> None:
    link = tmp_path / "z"
    link.symlink_to("/dev/zero")
    with pytest.raises(FileRefused) as info:
        read_operator_file(str(link))
    assert info.value.reason == "special"
    with pytest.raises(FileRefused) as info:
        read_operator_file(str(tmp_path))
    assert info.value.reason == "directory"


def test_secret_file_must_not_be_group_writable(tmp_path: Path) -> None:
    f = tmp_path / "pin"
    f.write_bytes(b"1234")
    os.chmod(f, 0o620)
    with pytest.raises(FileRefused) as info:
        read_operator_file(str(f), secret=True)
    assert info.value.reason == "unsafe"
    assert "1234" not in str(info.value)
    os.chmod(f, 0o600)
    assert read_operator_file(str(f), secret=True) == b"1234"


def test_message_escapes_control_characters_in_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileRefused) as info:
        read_content(str(tmp_path / "a\nFORGED"), 10)
    assert "\n" not in str(info.value)
