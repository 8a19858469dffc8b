"""Every format that Asterisk, FreePBX and call recorders write, made by SoX at test time, read
into an honest PCM WAV of its true length; recordings cut off mid-call keep the audio there is;
only what nothing here decodes is refused, by name."""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import wave
from array import array
from pathlib import Path

import pytest

from tests.support import require, wav_bytes
from webapp.importers import decoding, wav

LIMIT = 10**8
SOX = "SoX is not installed (apt-get install sox)"
SUBFORMAT_TAIL = bytes.fromhex("000000001000800000aa00389b71")


@pytest.fixture(scope="session")
def made(tmp_path_factory):
    """A function from SoX's options for a one-second 440 Hz tone to the file SoX writes."""
    require(shutil.which("sox") is not None, SOX)
    folder = tmp_path_factory.mktemp("formats")

    def make(options: str, suffix: str = ".wav", channels: int = 1, rate: int = 8000) -> Path:
        path = folder / f"{options.replace(' ', '_') or 'plain'}.{channels}{suffix}"
        if not path.exists():
            tone = "sine 440 sine 660" if channels == 2 else "sine 440"
            command = f"sox -n -r {rate} -c {channels} {options} {path} synth 1 {tone} vol 0.5"
            subprocess.run(command.split(), check=True, capture_output=True)
        return path

    return make


def _by_sox(path: Path, *source: str) -> bytes:
    """SoX's own decode of ``path`` into raw 16-bit little-endian samples."""
    command = ["sox", "-D", *source, str(path), "-t", "raw", "-e", "signed", "-b", "16", "-L", "-"]
    return subprocess.run(command, check=True, capture_output=True).stdout


def _frames(audio: wav.Audio) -> tuple[int, bytes]:
    with wave.open(io.BytesIO(audio.wav)) as w:
        assert (w.getnchannels(), w.getframerate()) == (audio.channels, audio.rate)
        assert w.getcomptype() == "NONE"
        frames = w.readframes(w.getnframes() + 1)
        assert len(frames) == w.getnframes() * w.getnchannels() * w.getsampwidth()
        assert abs(audio.seconds - w.getnframes() / w.getframerate()) < 1e-9
        return w.getsampwidth(), frames


def _rms(samples: bytes, width: int) -> float:
    if width == 1:
        values = [b - 128 for b in samples]
        full = 128
    else:
        values = array("h", samples)
        full = 32768
    return math.sqrt(sum(v * v for v in values) / len(values)) / full


def _extensible(plain: bytes) -> bytes:
    """The WAV ``plain`` with its fmt chunk rewritten as WAVE_FORMAT_EXTENSIBLE."""
    tag, channels, rate, rate_bytes, block, bits = struct.unpack_from("<HHIIHH", plain, 20)
    body = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate_bytes, block, bits)
    body += struct.pack("<HHI", 22, bits, (1 << channels) - 1)
    body += struct.pack("<H", tag) + SUBFORMAT_TAIL
    at = 20 + int.from_bytes(plain[16:20], "little")
    rest = b"WAVE" + b"fmt " + struct.pack("<I", len(body)) + body + plain[at:]
    return b"RIFF" + struct.pack("<I", len(rest)) + rest


def _data_at(data: bytes) -> int:
    """Where the data chunk's size field is."""
    return data.index(b"data") + 4


def _with_sizes(data: bytes, size: int) -> bytes:
    fixed = bytearray(data)
    fixed[4:8] = fixed[_data_at(data) : _data_at(data) + 4] = struct.pack("<I", size)
    return bytes(fixed)


WAVS = [  # SoX's options, channels, bytes a sample kept
    ("-e signed -b 16", 1, 2),
    ("-e unsigned -b 8", 1, 1),
    ("-e u-law", 1, 2),
    ("-e u-law", 2, 2),
    ("-e a-law", 1, 2),
    ("-e a-law", 2, 2),
    ("-e gsm-full-rate", 1, 2),
    ("-e ima-adpcm", 1, 2),
    ("-e ima-adpcm", 2, 2),
    ("-e ms-adpcm", 1, 2),
    ("-e signed -b 24", 1, 2),
    ("-e signed -b 24", 2, 2),
    ("-e signed -b 32", 1, 2),
    ("-e floating-point -b 32", 1, 2),
    ("-e floating-point -b 32", 2, 2),
    ("-e floating-point -b 64", 1, 2),
]


@pytest.mark.parametrize(("options", "channels", "width"), WAVS)
def test_every_wav_becomes_pcm_of_its_true_length(made, options, channels, width) -> None:
    audio = wav.read(made(options, channels=channels).read_bytes(), LIMIT)
    kept, frames = _frames(audio)
    assert (audio.channels, audio.rate, kept) == (channels, 8000, width)
    assert abs(audio.seconds - 1.0) < 0.03
    assert _rms(frames, width) > 0.1  # a tone at half of full scale, not silence


@pytest.mark.parametrize("encoding", ["ima-adpcm", "ms-adpcm"])
def test_adpcm_ends_where_its_fact_chunk_says_not_at_its_last_block(made, encoding) -> None:
    audio = wav.read(made(f"-e {encoding}").read_bytes(), LIMIT)
    assert audio.seconds == 1.0  # 8000 frames, where SoX decodes 8080 from the blocks


@pytest.mark.parametrize("bits", [24, 32])
def test_sox_writes_wide_pcm_as_extensible_and_its_subformat_decides(made, bits) -> None:
    path = made(f"-e signed -b {bits}")
    assert path.read_bytes()[20:22] == b"\xfe\xff"
    _width, frames = _frames(wav.read(path.read_bytes(), LIMIT))
    theirs = array("h", _by_sox(path))
    assert len(frames) == 2 * len(theirs)
    assert max(abs(a - b) for a, b in zip(array("h", frames), theirs, strict=True)) <= 1


@pytest.mark.parametrize(
    "options", ["-e u-law", "-e a-law", "-e floating-point -b 32", "-e signed -b 16"]
)
def test_extensible_g711_float_and_pcm_read_as_their_plain_tags(made, options) -> None:
    plain = made(options).read_bytes()
    audio = wav.read(_extensible(plain), LIMIT)
    assert audio == wav.read(plain, LIMIT)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("law", ["u-law", "a-law"])
def test_g711_is_decoded_as_sox_decodes_it(made, law, channels) -> None:
    path = made(f"-e {law}", channels=channels)
    _width, frames = _frames(wav.read(path.read_bytes(), LIMIT))
    assert frames == _by_sox(path)


RAW = [  # how SoX writes it, the extension Asterisk gives it, the rate
    ("-t ul", ".ulaw", 8000),
    ("-t ul", ".ul", 8000),
    ("-t ul", ".mu", 8000),
    ("-t al", ".alaw", 8000),
    ("-t al", ".al", 8000),
    ("-t gsm", ".gsm", 8000),
    ("-t sln", ".sln", 8000),
    ("-t raw -e signed -b 16 -L", ".sln16", 16000),
    ("-t vox", ".vox", 8000),
]


@pytest.mark.parametrize(("options", "suffix", "rate"), RAW)
def test_headerless_files_are_read_by_their_extension(made, options, suffix, rate) -> None:
    path = made(options, suffix, rate=rate)
    audio = wav.read(path.read_bytes(), LIMIT, suffix=suffix.upper())
    width, frames = _frames(audio)
    assert (audio.channels, audio.rate, width) == (1, rate, 2)
    assert abs(audio.seconds - 1.0) < 0.03
    assert _rms(frames, width) > 0.1
    if suffix in (".ulaw", ".alaw"):
        assert frames == _by_sox(path, "-t", suffix[1:3], "-r", "8000", "-c", "1")


def test_a_riff_file_is_read_as_wav_whatever_its_extension(made) -> None:
    data = made("-e gsm-full-rate").read_bytes()
    assert wav.read(data, LIMIT, suffix=".WAV") == wav.read(data, LIMIT, suffix=".ulaw")


CUT_OFF = [  # SoX's options, bytes of one whole frame or block
    ("-e u-law", 1),
    ("-e signed -b 16", 2),
    ("-e gsm-full-rate", 65),  # wav49: two GSM frames, 320 samples, in 65 bytes
]


@pytest.mark.parametrize("size", [0, 0xFFFFFFFF])
@pytest.mark.parametrize(("options", "block"), CUT_OFF)
def test_a_recorder_cut_off_mid_call_keeps_the_audio_there_is(made, options, block, size) -> None:
    """Asterisk's format_wav.c writes the sizes as 0 and fixes them on close; a stream writes
    0xFFFFFFFF. Neither header is true; the bytes are."""
    whole = made(options).read_bytes()
    expected = wav.read(whole, LIMIT)
    assert wav.read(_with_sizes(whole, size), LIMIT) == expected
    cut = _with_sizes(whole, size)[: -(5 * block + 1)]  # mid-frame, as a crash leaves it
    audio = wav.read(cut, LIMIT)
    present = (len(cut) - _data_at(cut) - 4) // block
    samples = present * (320 if block == 65 else 1)
    assert audio.seconds == pytest.approx(samples / 8000)
    _width, frames = _frames(audio)
    assert expected.wav[44:].startswith(frames[: len(frames) - 2 * 320])


@pytest.mark.parametrize("options", ["-e u-law", "-e signed -b 16"])
def test_a_data_size_larger_than_the_file_takes_what_is_there(made, options) -> None:
    whole = made(options).read_bytes()
    cut = whole[: len(whole) // 2 * 2 - 4000]
    audio = wav.read(cut, LIMIT)
    frame = 2 if "16" in options else 1
    assert audio.seconds == pytest.approx((len(cut) - _data_at(cut) - 4) // frame / 8000)


def _wav(tag: int, channels: int = 1, rate: int = 8000, bits: int = 8, payload=bytes(800)):
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"fact" + struct.pack("<II", 4, len(payload) // max(block, 1))
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _unknown_subformat() -> bytes:
    plain = wav_bytes(0.1)
    data = bytearray(_extensible(plain))
    data[44:60] = bytes(range(16))
    return bytes(data)


REFUSED = [
    (wav_bytes(1.0)[:44], ".wav", "empty: no audio after the header"),
    (_wav(7, payload=b""), ".wav", "empty: no audio after the header"),
    (_with_sizes(_wav(7, payload=b""), 0), ".wav", "empty: no audio after the header"),
    (_with_sizes(_wav(0x31, payload=b""), 0xFFFFFFFF), ".wav", "empty: no audio after"),
    (_wav(0x55), ".wav", "MP3 audio is not supported"),
    (_wav(0x1234), ".wav", "format tag 0x1234 audio is not supported"),
    (_wav(7, rate=0), ".wav", "a sample rate of 0 Hz"),
    (_wav(1, rate=96000, bits=16), ".wav", "a sample rate of 96000 Hz"),
    (_wav(7, channels=3), ".wav", "3 channels"),
    (_wav(3, bits=16), ".wav", "floating point audio of 16 bits"),
    (_wav(1, bits=40), ".wav", "40-bit PCM"),
    (_unknown_subformat(), ".wav", "SubFormat 000102030405"),
    (b"", ".ulaw", "empty: no µ-law audio"),
    (bytes(32), ".gsm", "empty: no GSM 6.10 audio"),
    (b"ID3\x03" + bytes(2000), ".mp3", "not a WAV file"),
]


@pytest.mark.parametrize(("data", "suffix", "reason"), REFUSED)
def test_only_what_nothing_decodes_is_refused_by_name(data, suffix, reason) -> None:
    with pytest.raises(wav.BadRecording, match=reason):
        wav.read(data, LIMIT, suffix=suffix)


def test_g711_tables_are_the_itu_ones() -> None:
    ulaw = array("h", decoding.g711(bytes([0xFF, 0x7F, 0x00, 0x80, 0xFE, 0xEF]), "µ-law"))
    alaw = array("h", decoding.g711(bytes([0xD5, 0x55, 0xAA, 0x2A]), "A-law"))
    assert list(ulaw) == [0, 0, -32124, 32124, 8, 132]
    assert list(alaw) == [8, -8, 32256, -32256]


def test_pcm_and_g711_need_no_subprocess(monkeypatch) -> None:
    """The importer reads hundreds of calls a second: no SoX for what Python does at C speed."""

    def no(*_args, **_kwargs):
        raise AssertionError("SoX was called")

    monkeypatch.setattr(decoding.subprocess, "run", no)
    for data in (wav_bytes(0.5), _wav(1, bits=8), _wav(7, 2), _wav(6), _wav(1, bits=24)):
        assert wav.read(data, LIMIT).seconds > 0
    assert wav.read(bytes(8000), LIMIT, suffix=".sln").seconds == 0.5
