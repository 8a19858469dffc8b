"""`tallenne import manifest`: calls described in JSON Lines or CSV, each WAV checked, sealed
and written once; every bad input refused with its reason while the rest go in."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support import audit_rows, require, wav_bytes
from webapp.extensions import db
from webapp.importers import wav
from webapp.models import Call
from webapp.storage import storage


def _stereo(seconds: float = 1.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00\xff\xff" * int(8000 * seconds))
    return out.getvalue()


def _fmt(tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16) -> bytes:
    block = channels * bits // 8
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    return b"fmt " + struct.pack("<I", len(body)) + body


def _riff(*chunks: bytes, kind: bytes = b"WAVE") -> bytes:
    body = kind + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _data(payload: bytes, declared: int | None = None) -> bytes:
    size = len(payload) if declared is None else declared
    return b"data" + struct.pack("<I", size) + payload


AUDIO = b"\x10\x00" * 8000  # one second of 8 kHz 16-bit mono
BAD_WAVS = {
    "mp3.wav": (b"ID3\x03\x00" + bytes(2000), "not a WAV file"),
    "riff-not-wave.wav": (_riff(_fmt(), _data(AUDIO), kind=b"AVI "), "not a WAV file"),
    "truncated-fmt.wav": (  # the file ends inside its fmt chunk
        _riff(b"LIST" + struct.pack("<I", 40) + bytes(40), _fmt()[:12]),
        "broken WAV",
    ),
    "empty.wav": (b"", "empty"),
    "header-only.wav": (_riff(_fmt(), _data(b"")), "empty"),
    "no-channels.wav": (_riff(_fmt(channels=0), _data(AUDIO)), "broken WAV"),
    "rate-zero.wav": (_riff(_fmt(rate=0), _data(AUDIO)), "sample rate of 0 Hz"),
    "broken-gsm.wav": (_riff(_fmt(tag=0x31), _data(AUDIO)), "GSM 6.10 audio that SoX could not"),
    "float16.wav": (_riff(_fmt(tag=3, bits=16), _data(AUDIO)), "floating point"),
    "no-data.wav": (
        _riff(_fmt(), b"LIST" + struct.pack("<I", 4) + b"INFO" + bytes(200)),
        "broken WAV",
    ),
    "odd-chunk-unpadded.wav": (
        _riff(_fmt(), b"junk" + struct.pack("<I", 3) + b"abc", _data(AUDIO)),
        "broken WAV",
    ),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    base = tmp_path / "export"
    (base / "2026/11/30").mkdir(parents=True)
    (base / "2026/11/30/a.wav").write_bytes(wav_bytes(2.0))
    (base / "2026/11/30/b.wav").write_bytes(_stereo(1.5))
    # A data chunk that claims 4 GiB where one second is present: the bytes decide.
    (base / "2026/11/30/liar.wav").write_bytes(_riff(_fmt(), _data(AUDIO, declared=0xFFFFFFFF)))
    for name, (data, _reason) in BAD_WAVS.items():
        (base / name).write_bytes(data)
    return base


def _csv(
    folder: Path,
    rows: list[str],
    header: str = "id,started_at,service,direction,agent,phone,secret,recording",
) -> Path:
    path = folder / "calls.csv"
    path.write_text("\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")
    return path


GOOD = [
    "1701.1,2026-11-30T09:15:00+02:00,600,in,aino,040 123 4567,false,2026/11/30/a.wav",
    "1701.2,2026-11-30T07:20:00Z,620,out,eero,,,2026/11/30/b.wav",
    "1701.3,2026-11-30T10:00:00+02:00,600,in,,+358 40 765 4321,true,2026/11/30/liar.wav",
]


def _imported(external_id: str) -> Call | None:
    return db.session.scalar(sa.select(Call).where(Call.external_id == external_id))


def test_a_manifest_imports_sealed_calls_once(runner, world, folder) -> None:
    path = _csv(folder, GOOD)
    result = runner.invoke(args=["import", "manifest", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported 3 calls" in result.output and "rejected 0" in result.output
    assert "Storage: 0 orphan files, 0 calls without a file, 0 empty recordings." in result.output

    first, second, third = (_imported(f"1701.{n}") for n in (1, 2, 3))
    assert first.agent.username == "aino" and first.direction == "in"
    assert first.started_at.isoformat() == "2026-11-30T07:15:00+00:00"
    assert first.phone_e164 == "+358401234567" and first.customer_id == world.customer.id
    assert first.duration_s == 2 and first.recording_sealed_key is not None
    audio = b"".join(storage().read_range(first.recording, 0, first.recording_bytes))
    assert audio == (folder / "2026/11/30/a.wav").read_bytes()  # a clean WAV stays as it was
    assert second.service.code == "620" and second.phone_e164 is None and second.duration_s == 2
    assert third.phone_secret and third.phone_e164 is None  # the digits are never kept
    assert third.duration_s == 1  # from the bytes present, not the 4 GiB the header claims
    fixed = b"".join(storage().read_range(third.recording, 0, third.recording_bytes))
    with wave.open(io.BytesIO(fixed)) as w:
        assert w.getnframes() == 8000
    assert hashlib.sha256(fixed).hexdigest() == third.recording_sha256
    event = audit_rows(action="import.manifest")[-1]
    assert json.loads(event.detail) == {"imported": 3, "skipped": 0, "rejected": 0}

    again = runner.invoke(args=["import", "manifest", str(path)])
    assert again.exit_code == 0 and "Imported 0 calls" in again.output
    assert "skipped 3 already there" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).where(Call.external_id.like("1701.%"))) == 3


def test_json_lines_too(runner, world, folder) -> None:
    path = folder / "calls.jsonl"
    rows = [
        {
            "id": "j1",
            "started_at": "2026-11-30T09:15:00+02:00",
            "service": "600",
            "direction": "in",
            "agent": "aino",
            "secret": True,
            "phone": "0401234567",
            "recording": "2026/11/30/a.wav",
        },
        {
            "id": "j2",
            "started_at": "2026-11-30T09:16:00+02:00",
            "service": "600",
            "direction": "in",
            "recording": "2026/11/30/b.wav",
            "colour": "blue",
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    result = runner.invoke(args=["import", "manifest", str(path)])
    assert result.exit_code == 1
    assert "Imported 1 calls" in result.output
    assert "line 2: unknown field 'colour'" in result.output
    assert "line 3: not JSON" in result.output
    assert _imported("j1").phone_secret and _imported("j1").phone_e164 is None


@pytest.mark.app_config(IMPORT_MAX_BYTES=20_000)
def test_every_bad_row_is_rejected_with_its_reason_and_the_rest_go_in(runner, world, folder):
    (folder / "big.wav").write_bytes(wav_bytes(2.0))  # 32 kB, over this test's limit
    (folder / "small.wav").write_bytes(wav_bytes(0.5))
    (folder.parent / "outside.wav").write_bytes(wav_bytes(0.5))
    rows = ["1701.2,2026-11-30T07:20:00Z,620,out,eero,,,small.wav"]
    expected = {}
    cases = [
        (f"2026-11-30T08:00:00Z,600,in,,,,{name}", reason)
        for name, (_d, reason) in BAD_WAVS.items()
    ]
    cases += [
        (
            "2026-11-30T08:00:00Z,999,in,,,,2026/11/30/a.wav",
            "service: no service with the code '999'",
        ),
        ("2026-11-30T08:00:00Z,600,in,nobody,,,2026/11/30/a.wav", "agent: no user named 'nobody'"),
        ("2026-11-30T08:00:00,600,in,,,,2026/11/30/a.wav", "no UTC offset"),
        ("30.11.2026 8:00,600,in,,,,2026/11/30/a.wav", "not an ISO 8601 time"),
        ("2026-11-30T08:00:00Z,600,sideways,,,,2026/11/30/a.wav", "direction: must be in or out"),
        ("2026-11-30T08:00:00Z,600,in,,12,,2026/11/30/a.wav", "phone: not a phone number"),
        ("2026-11-30T08:00:00Z,600,in,,,maybe,2026/11/30/a.wav", "secret: must be true or false"),
        ("2026-11-30T08:00:00Z,600,in,,,,../outside.wav", "inside the manifest's folder"),
        ("2026-11-30T08:00:00Z,600,in,,,,/etc/passwd", "inside the manifest's folder"),
        ("2026-11-30T08:00:00Z,600,in,,,,nowhere.wav", "cannot be read"),
        ("2026-11-30T08:00:00Z,600,in,,,,big.wav", "larger than the limit of 20,000 bytes"),
        ("2026-11-30T08:00:00Z,600,in,,,,", "recording: missing"),
        ("2026-11-30T08:00:00Z,600,in,,,x\x00y,2026/11/30/a.wav", "NUL"),
        ("2026-11-30T08:00:00Z,600,in,,,2026/11/30/a.wav", "7 fields where the header has 8"),
    ]
    for n, (fields, reason) in enumerate(cases, start=2):
        rows.append(f"bad.{n},{fields}")
        expected[n + 1] = reason  # line numbers: the header is line 1
    result = runner.invoke(args=["import", "manifest", str(_csv(folder, rows))])
    assert result.exit_code == 1
    assert "Imported 1 calls" in result.output and f"rejected {len(cases)}" in result.output
    said = dict(
        (int(line.split(":")[0].split()[-1]), line.split(":", 1)[1])
        for line in result.output.splitlines()
        if line.strip().startswith("line ")
    )
    assert sorted(said) == sorted(expected)
    for line, reason in expected.items():
        assert reason in said[line], (line, said[line])
    # Nothing half-written: one call, one sealed file.
    assert [
        c.external_id
        for c in db.session.scalars(sa.select(Call).where(Call.external_id.is_not(None)))
    ] == ["1701.2"]
    files = [p for p in Path(storage().files.root).rglob("*") if p.is_file()]
    calls = db.session.scalar(sa.select(sa.func.count(Call.id)))
    assert len(files) == calls


@pytest.mark.parametrize(
    "content, says",
    [
        (b'id,started_at,service,direction,recording\r\n1,"2026-11-30,600,in,a.wav\r\n', "line"),
        (b"id,started_at,service,direction,recording,colour\r\n", "unknown: colour"),
        (b"id,started_at,service,recording\r\n", "missing: direction"),
        (
            b"id,started_at,service,direction,recording\r\n1,x,600,in,J\xe4rvinen.wav\r\n",
            "not UTF-8",
        ),
        (b"", "empty"),
    ],
)
def test_a_broken_file_imports_nothing_and_says_why(runner, world, folder, content, says) -> None:
    path = folder / "calls.csv"
    path.write_bytes(content)
    result = runner.invoke(args=["import", "manifest", str(path)])
    assert result.exit_code == 1
    assert says in result.output and "nothing was imported" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).where(Call.external_id.is_not(None))) == 0


def test_a_dry_run_checks_and_imports_nothing(runner, world, folder) -> None:
    result = runner.invoke(args=["import", "manifest", "--dry-run", str(_csv(folder, GOOD))])
    assert result.exit_code == 0 and "Would import 3 calls" in result.output
    assert _imported("1701.1") is None and audit_rows(action="import.manifest") == []


def test_a_utf8_bom_from_excel_is_fine(runner, world, folder) -> None:
    path = folder / "calls.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _csv(folder, GOOD[:1]).read_bytes())
    assert runner.invoke(args=["import", "manifest", str(path)]).exit_code == 0
    assert _imported("1701.1") is not None


@pytest.mark.parametrize("name", sorted(BAD_WAVS))
def test_the_wav_reader_names_what_is_wrong(name: str) -> None:
    data, reason = BAD_WAVS[name]
    with pytest.raises(wav.BadRecording, match=reason):
        wav.read(data, limit=10**7)


def test_gsm_from_asterisk_is_decoded_into_pcm(runner, world, folder, tmp_path) -> None:
    """Asterisk's wav49, made by SoX from a PCM recording: imported as 16-bit PCM that plays."""
    require(shutil.which("sox") is not None, "sox is not installed (Debian sox)")
    source = tmp_path / "pcm.wav"
    source.write_bytes(wav_bytes(2.0))
    subprocess.run(["sox", str(source), "-e", "gsm-full-rate", str(folder / "gsm.wav")], check=True)
    assert (folder / "gsm.wav").read_bytes()[20:22] == b"\x31\x00"  # the format tag: GSM
    row = "g1,2026-11-30T09:15:00+02:00,600,in,aino,,,gsm.wav"
    result = runner.invoke(args=["import", "manifest", str(_csv(folder, [row]))])
    assert result.exit_code == 0, result.output
    call = _imported("g1")
    audio = b"".join(storage().read_range(call.recording, 0, call.recording_bytes))
    with wave.open(io.BytesIO(audio)) as w:
        assert (w.getsampwidth(), w.getframerate(), w.getnchannels()) == (2, 8000, 1)
        assert abs(w.getnframes() - 16000) <= 160  # GSM frames are 160 samples
    assert call.duration_s == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_import_killed_halfway_leaves_nothing_half_written(app, world, folder, runner) -> None:
    """`kill -9` in the middle of a real run, then a re-run and a repair: every call once, each
    with its recording, and no file without its call."""
    rows = [f"k{i},2026-11-30T08:00:00Z,600,in,,,,2026/11/30/a.wav" for i in range(1500)]
    path = _csv(folder, rows)
    env = {
        **os.environ,
        "TALLENNE_TESTING": "true",
        "TALLENNE_SECRET_KEY": "test-secret",
        "TALLENNE_DATABASE_URL": app.config["DATABASE_URL"],
        "TALLENNE_STORAGE_DIR": app.config["STORAGE_DIR"],
        "TALLENNE_AUDIT_CHECKPOINT_FILE": app.config["AUDIT_CHECKPOINT_FILE"],
    }
    tallenne = str(Path(sys.executable).with_name("tallenne"))
    run = subprocess.Popen(
        [tallenne, "import", "manifest", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    imported = lambda: db.session.scalar(  # noqa: E731
        sa.select(sa.func.count()).where(Call.external_id.like("k%"))
    )
    deadline = time.monotonic() + 60
    while imported() < 200 and time.monotonic() < deadline:
        db.session.rollback()
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    db.session.rollback()
    halfway = imported()
    assert 200 <= halfway < 1500

    again = runner.invoke(args=["import", "manifest", str(path)])
    assert again.exit_code == 0, again.output
    assert f"skipped {halfway} already there" in again.output
    runner.invoke(args=["storage", "check", "--repair", "--grace-minutes", "0"])
    clean = runner.invoke(args=["storage", "check", "--audio", "--grace-minutes", "0"])
    assert clean.exit_code == 0, clean.output
    assert "The storage and the calls agree." in clean.output
    assert imported() == 1500
    files = [p for p in Path(app.config["STORAGE_DIR"]).rglob("*") if p.is_file()]
    assert len(files) == db.session.scalar(sa.select(sa.func.count(Call.id)))
