"""Recordings at rest: sealed in segments, each recording under its own data key, the data keys
wrapped by master keys from a file; ranges decrypt only their segments; tampering of every kind
is refused; `tallenne keys rotate` moves the data keys without touching the audio."""

from __future__ import annotations

import hashlib
import os
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import current_app

from tests.support import audit_rows, key_files, login, wav_bytes
from webapp import create_app
from webapp.config import ConfigurationError
from webapp.storage import EncryptedStorage, Recording, RecordingDamaged, sealed, storage
from webapp.storage.directory import Directory
from webapp.storage.keys import KeyFileError, KeyRing, KeyUnavailable

SEGMENT = 4096  # the smallest the format allows: many segments from little audio
WHEN = datetime(2026, 6, 1, 9, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> EncryptedStorage:
    return EncryptedStorage(Directory(tmp_path / "rec"), KeyRing({"k1": os.urandom(32)}), SEGMENT)


def _put(store: EncryptedStorage, data: bytes) -> Recording:
    stored = store.put(data, WHEN)
    return Recording(stored.key, stored.sealed_key, stored.key_id)


def _read(store: EncryptedStorage, recording: Recording, start: int, stop: int) -> bytes:
    return b"".join(store.read_range(recording, start, stop))


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 5])
def test_what_goes_in_comes_out_whole_and_in_any_range(store, size: int) -> None:
    data = random.Random(size).randbytes(size)
    stored = store.put(data, WHEN)
    recording = Recording(stored.key, stored.sealed_key, stored.key_id)
    assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert store.size(recording) == size
    assert _read(store, recording, 0, size) == data
    rng = random.Random(1)
    for _ in range(50):
        start = rng.randrange(size + 1)
        stop = rng.randrange(start, size + 1)
        assert _read(store, recording, start, stop) == data[start:stop]
    path = store.files.path(stored.key)
    assert path.stat().st_size == sealed.sealed_size(size, SEGMENT)


def test_no_plaintext_reaches_the_disk(store, tmp_path: Path) -> None:
    data = wav_bytes(3.0)
    _put(store, data)
    files = [p for p in (tmp_path / "rec").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].suffix == ".tln"  # nothing left aside
    on_disk = files[0].read_bytes()
    assert b"RIFF" not in on_disk and b"WAVE" not in on_disk
    # Not a window of the audio anywhere, and no more structure than noise.
    assert data[1000:1032] not in on_disk
    assert len(set(on_disk[sealed.HEADER.size :])) > 250


def test_a_range_decrypts_only_the_segments_it_covers(store, monkeypatch) -> None:
    data = random.Random(2).randbytes(100 * SEGMENT)
    recording = _put(store, data)
    opened: list[int] = []
    original = sealed.Layout.open

    def counting(self, data_key, name, index, ciphertext):
        opened.append(index)
        return original(self, data_key, name, index, ciphertext)

    monkeypatch.setattr(sealed.Layout, "open", counting)
    end = len(data)
    assert _read(store, recording, end - 100, end) == data[-100:]
    assert opened == [99]
    opened.clear()
    assert (
        _read(store, recording, 5 * SEGMENT - 1, 6 * SEGMENT + 1)
        == data[5 * SEGMENT - 1 :][: SEGMENT + 2]
    )
    assert opened == [4, 5, 6]


def _tamper(store: EncryptedStorage, recording: Recording, change) -> None:
    path = store.files.path(recording.key)
    path.write_bytes(change(bytearray(path.read_bytes())))


def _segment(i: int) -> slice:
    start = sealed.HEADER.size + i * (SEGMENT + sealed.TAG)
    return slice(start, start + SEGMENT + sealed.TAG)


def _flip(byte: int):
    def change(data: bytearray) -> bytearray:
        data[byte] ^= 1
        return data

    return change


def _swap_first_two(data: bytearray) -> bytearray:
    first, second = bytes(data[_segment(0)]), bytes(data[_segment(1)])
    data[_segment(0)], data[_segment(1)] = second, first
    return data


@pytest.mark.parametrize(
    "change",
    [
        _flip(sealed.HEADER.size + 10),  # a bit of the first segment
        _flip(sealed.HEADER.size - 1),  # the header's nonce prefix
        _flip(5),  # the header's segment size
        _swap_first_two,
    ],
    ids=["bit in a segment", "nonce prefix", "segment size", "segments swapped"],
)
def test_tampering_is_refused_before_any_audio(store, change) -> None:
    recording = _put(store, random.Random(3).randbytes(4 * SEGMENT))
    _tamper(store, recording, change)
    with pytest.raises(RecordingDamaged):
        store.read_range(recording, 0, 100)


def test_a_damaged_later_segment_stops_the_stream(store) -> None:
    data = random.Random(4).randbytes(4 * SEGMENT)
    recording = _put(store, data)
    _tamper(store, recording, _flip(_segment(2).start + 3))
    chunks = store.read_range(recording, 0, len(data))
    assert next(chunks) == data[:SEGMENT]
    assert next(chunks) == data[SEGMENT : 2 * SEGMENT]
    with pytest.raises(RecordingDamaged):
        next(chunks)


def test_a_dropped_last_segment_shows_in_the_size_and_the_tail(store) -> None:
    data = random.Random(5).randbytes(3 * SEGMENT + 100)
    recording = _put(store, data)
    _tamper(store, recording, lambda d: d[: _segment(3).start])
    assert store.size(recording) == 3 * SEGMENT != len(data)  # the call's stored size differs
    with pytest.raises(RecordingDamaged):  # segment 2 was not sealed as the last one
        _read(store, recording, 2 * SEGMENT, 3 * SEGMENT)


def test_one_recordings_file_or_key_does_not_open_another(store) -> None:
    first = _put(store, random.Random(6).randbytes(2 * SEGMENT))
    second = _put(store, random.Random(7).randbytes(2 * SEGMENT))
    copy = store.files.path(first.key).read_bytes()
    store.files.path(second.key).write_bytes(copy)
    with pytest.raises(RecordingDamaged):
        store.read_range(second, 0, 10)
    moved_key = second._replace(sealed_key=first.sealed_key)  # the first's key, moved over
    with pytest.raises(RecordingDamaged):
        store.read_range(moved_key, 0, 10)


def test_a_recording_stored_before_encryption_still_plays(store) -> None:
    data = wav_bytes(1.0)
    store.files.write("2026/05/old.wav", [data])
    legacy = Recording("2026/05/old.wav", None, None)
    assert store.size(legacy) == len(data)
    assert _read(store, legacy, 10, 2000) == data[10:2000]


def test_the_key_file_is_read_newest_last(tmp_path: Path) -> None:
    path = tmp_path / "master_keys"
    path.write_text(f"# rotated yearly\n2025 {'aa' * 32}\n\n2026 {'bb' * 32}  # now\n")
    ring = KeyRing.from_file(path)
    assert ring.current == "2026" and "2025" in ring
    wrapped, key_id = ring.wrap(b"k" * 32, "x.tln")
    assert key_id == "2026" and ring.unwrap(wrapped, key_id, "x.tln") == b"k" * 32
    with pytest.raises(KeyUnavailable):
        ring.unwrap(wrapped, key_id, "y.tln")
    with pytest.raises(KeyUnavailable):
        ring.unwrap(wrapped, "2024", "x.tln")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "no master key"),
        (f"k1 {'aa' * 31}\n", "line 1"),
        ("k1 not-hex\n", "line 1"),
        (f"k/1 {'aa' * 32}\n", "line 1"),
        (f"k1 {'aa' * 32}\nk1 {'bb' * 32}\n", "line 2 repeats"),
    ],
)
def test_a_bad_key_file_is_refused_saying_where(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "master_keys"
    path.write_text(text)
    with pytest.raises(KeyFileError, match=problem):
        KeyRing.from_file(path)


def test_start_up_needs_the_master_key_file_and_names_it(tmp_path: Path) -> None:
    settings = {
        "SECRET_KEY": "x",
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "AUDIT_KEY_FILE": key_files(tmp_path)["AUDIT_KEY_FILE"],
    }
    with pytest.raises(ConfigurationError, match="TALLENNE_MASTER_KEY_FILE is not set"):
        create_app(settings)
    (tmp_path / "keys").write_text("short 00\n")
    with pytest.raises(ConfigurationError, match=r"TALLENNE_MASTER_KEY_FILE .*line 1"):
        create_app({**settings, "MASTER_KEY_FILE": str(tmp_path / "keys")})
    (tmp_path / "keys").write_text(f"2026-12 {'cd' * 32}\n")
    app = create_app({**settings, "MASTER_KEY_FILE": str(tmp_path / "keys")})
    assert app.config["MASTER_KEYS"].current == "2026-12"


def test_a_damaged_recording_is_refused_with_no_audio_and_audited(world, login_as) -> None:
    call = world.calls["aino"]
    path = storage().files.path(call.recording_key)
    data = bytearray(path.read_bytes())
    data[sealed.HEADER.size + 5] ^= 1  # same length: only the tag can tell
    path.write_bytes(data)
    response = login_as("aino").get(f"/calls/{call.id}/audio", headers={"Range": "bytes=0-99"})
    assert response.status_code == 500 and b"RIFF" not in response.data
    event = audit_rows(action="recording.integrity_failed")[-1]
    assert (event.outcome, event.object_id) == ("failed", str(call.id))


def test_rotation_rewraps_every_data_key_and_leaves_the_audio_alone(app, world, runner) -> None:
    calls = list(world.calls.values())
    old = storage().keys
    files = {c.id: storage().files.path(c.recording_key) for c in calls}
    before = {i: (p.read_bytes(), p.stat().st_mtime_ns) for i, p in files.items()}
    new_key = os.urandom(32)
    both = KeyRing({old.current: old._keys[old.current], "2027": new_key})
    for each in (current_app, app):  # the command's app and the one that serves
        each.extensions["tallenne.storage"].keys = both

    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert f"{len(calls)} data keys re-wrapped by master key '2027'" in result.output
    for call in calls:
        current_app.extensions["sqlalchemy"].session.refresh(call)
        assert call.recording_key_id == "2027"
    assert {i: (p.read_bytes(), p.stat().st_mtime_ns) for i, p in files.items()} == before
    event = audit_rows(action="keys.rotate")[-1]
    assert event.outcome == "allowed" and '"rewrapped":' in event.detail

    # The old master key can go: every recording still plays, byte for byte.
    only_new = KeyRing({"2027": new_key})
    for each in (current_app, app):
        each.extensions["tallenne.storage"].keys = only_new
    client = app.test_client()
    assert login(client, "aino").status_code == 302
    call = world.calls["aino"]
    assert client.get(f"/calls/{call.id}/audio").data == world.audio[call.id]
    again = runner.invoke(args=["keys", "rotate"])
    assert again.exit_code == 0 and "0 data keys re-wrapped" in again.output


def _aged(path: Path, hours: float = 2) -> None:
    old = path.stat().st_mtime - hours * 3600
    os.utime(path, (old, old))


def test_storage_check_finds_leftovers_and_repairs_what_it_can(app, world, runner) -> None:
    store = storage()
    assert runner.invoke(args=["storage", "check"]).exit_code == 0

    orphan = store.files.path("2026/05/orphan.tln")
    partial = store.files.path("2026/05/cut.tln.part")
    fresh = store.files.path("2026/05/being-written.tln")
    for path in (orphan, partial, fresh):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"TLNE leftover")
    _aged(orphan)
    _aged(partial)
    plain_audio = wav_bytes(1.0)
    plain_call = world.add_call("old", "aino")
    store.delete(plain_call.recording)
    store.files.write("2026/05/plain.wav", [plain_audio])
    plain_call.recording_key, plain_call.recording_sealed_key = "2026/05/plain.wav", None
    plain_call.recording_bytes = len(plain_audio)
    plain_call.recording_sha256 = hashlib.sha256(plain_audio).hexdigest()
    lost = world.add_call("lost", "eero")
    store.delete(lost.recording)
    current_app.extensions["sqlalchemy"].session.commit()

    result = runner.invoke(args=["storage", "check"])
    assert result.exit_code == 1
    assert f"1 calls whose recording file is missing: {lost.id}" in result.output
    assert (
        f"1 recordings stored plain, before encryption (--repair seals them): {plain_call.id}"
        in (result.output)
    )
    assert "1 files that no call names (--repair removes them): 2026/05/orphan.tln" in result.output
    assert "2026/05/cut.tln.part" in result.output and "being-written" not in result.output
    assert orphan.exists() and partial.exists()

    repaired = runner.invoke(args=["storage", "check", "--repair"])
    assert repaired.exit_code == 1  # the lost recording needs a person
    assert "2 leftover files removed, 1 plain recordings sealed" in repaired.output
    assert not orphan.exists() and not partial.exists() and fresh.exists()
    current_app.extensions["sqlalchemy"].session.refresh(plain_call)
    assert plain_call.recording_key.endswith(".tln") and plain_call.recording_sealed_key
    assert not store.files.path("2026/05/plain.wav").exists()
    assert _read(store, plain_call.recording, 0, len(plain_audio)) == plain_audio
    event = audit_rows(action="storage.check")[-1]
    assert event.outcome == "failed" and '"repaired_sealed":1' in event.detail

    again = runner.invoke(args=["storage", "check", "--grace-minutes", "0"])
    assert "being-written" in again.output  # past its grace, it is a leftover too


@pytest.mark.parametrize("name", ["../outside.tln", "2026/../../outside.tln", "/etc/passwd"])
def test_a_key_cannot_reach_outside_the_storage(store, name: str) -> None:
    with pytest.raises(ValueError, match="escapes"):
        store.files.path(name)
    assert store.files.path("2026/05/a.tln") == store.files.root.absolute() / "2026/05/a.tln"


def test_storage_check_audio_decrypts_and_hashes_every_recording(world, runner) -> None:
    call = world.calls["eero"]
    path = storage().files.path(call.recording_key)
    data = bytearray(path.read_bytes())
    data[-5] ^= 1  # the size stays: only decrypting tells
    path.write_bytes(data)
    assert runner.invoke(args=["storage", "check"]).exit_code == 0
    result = runner.invoke(args=["storage", "check", "--audio"])
    assert result.exit_code == 1
    assert (
        f"calls whose audio is not what was stored (decrypted and hashed: damaged): {call.id}"
        in (result.output)
    )
