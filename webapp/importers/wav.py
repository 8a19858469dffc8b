"""Reading a recording that a phone system wrote, trusting nothing in it. CPython's ``wave``
accepts a frame rate of 0 and a data size that claims gigabytes when kilobytes are there, and
raises EOFError, RuntimeError or struct.error as well as wave.Error on broken files; so the
bytes actually present decide the duration, every failure becomes one clear reason, and what is
kept is a fresh, honest PCM WAV. GSM 6.10 (what Asterisk writes as ``WAV``/wav49, and browsers
cannot play) is decoded into PCM by SoX at import, stereo kept."""

from __future__ import annotations

import io
import struct
import subprocess
import wave
from dataclasses import dataclass

RATES = range(8000, 48001)
HEADER_ONLY = 44  # a bare WAV header: what FreePBX, too, takes for a missing recording
GSM = 0x0031  # GSM 6.10 in WAV: Asterisk's wav49, which browsers cannot play
_CODECS = {0x0055: "MP3", 0x0003: "floating point"}
_SOX = ["sox", "-t", "wav", "-", "-t", "wav", "-e", "signed-integer", "-b", "16", "-"]


class BadRecording(ValueError):
    pass


@dataclass(frozen=True)
class Audio:
    wav: bytes  # PCM WAV with a header that tells the truth
    seconds: float
    channels: int
    rate: int


def read(data: bytes, limit: int) -> Audio:
    """The recording in ``data``, or BadRecording naming what is wrong with it."""
    if len(data) > limit:
        raise BadRecording(f"larger than the limit of {limit:,} bytes")
    if len(data) <= HEADER_ONLY:
        raise BadRecording("empty: no audio after the header")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise BadRecording("not a WAV file (no RIFF/WAVE header)")
    codec = _format_tag(data)
    if codec == GSM:
        data = _decode_gsm(data)
        codec = _format_tag(data)
    if codec in _CODECS:
        raise BadRecording(f"{_CODECS[codec]} audio is not supported; convert it to PCM WAV")
    try:
        with wave.open(io.BytesIO(data)) as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            if rate not in RATES:
                raise BadRecording(f"a sample rate of {rate} Hz (8000 to 48000 are accepted)")
            if channels not in (1, 2) or width not in (1, 2):
                raise BadRecording(
                    f"{channels} channels of {8 * width} bits (mono or stereo, 8 or 16 bits)"
                )
            # Never what the header claims: what is there.
            frames = w.readframes(len(data) // (channels * width) + 1)
    except (wave.Error, EOFError, RuntimeError, struct.error) as error:
        raise BadRecording(f"a broken WAV file ({error or type(error).__name__})") from error
    whole = len(frames) // (channels * width)
    if whole == 0:
        raise BadRecording("empty: no audio after the header")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames[: whole * channels * width])
    return Audio(out.getvalue(), whole / rate, channels, rate)


def _decode_gsm(data: bytes) -> bytes:
    """GSM 6.10 decoded into 16-bit PCM by SoX, through pipes: no plaintext file on disk."""
    try:
        done = subprocess.run(_SOX, input=data, capture_output=True, timeout=120, check=False)
    except FileNotFoundError as error:
        raise BadRecording(
            "GSM 6.10 audio needs SoX to be decoded (apt-get install sox)"
        ) from error
    except subprocess.TimeoutExpired as error:
        raise BadRecording("GSM 6.10 audio that SoX could not decode in time") from error
    if done.returncode != 0 or not done.stdout:
        raise BadRecording("GSM 6.10 audio that SoX could not decode (broken frames?)")
    return done.stdout


def _format_tag(data: bytes) -> int | None:
    """The fmt chunk's format tag, found by walking the chunks; None when there is none."""
    at = 12
    while at + 8 <= len(data):
        name, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        if name == b"fmt ":
            return int.from_bytes(data[at + 8 : at + 10], "little") if size >= 2 else None
        at += 8 + size + (size & 1)
    return None
