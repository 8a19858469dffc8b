"""Turning the samples of one codec into 16-bit little-endian PCM. G.711 and wide PCM are done
here in a few C-speed byte operations (bytes.translate and slice assignment, about 5 ms for a
minute of µ-law); what needs real arithmetic (GSM 6.10, ADPCM, float) goes to SoX, through
pipes only, so that no plaintext audio is ever written to disk."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

SOX_TIMEOUT = 120  # seconds; a two-hour GSM recording takes SoX well under one


class BadRecording(ValueError):
    """A recording refused, with its reason in words (``wav.BadRecording`` is this)."""


def _ulaw(code: int) -> int:
    # ITU-T G.711 as in Sun's reference g711.c, the table SoX and Asterisk use as well.
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return 0x84 - magnitude if code & 0x80 else magnitude - 0x84


def _alaw(code: int) -> int:
    code ^= 0x55
    segment = (code & 0x70) >> 4
    magnitude = (code & 0x0F) << 4
    magnitude = magnitude + 8 if segment == 0 else (magnitude + 0x108) << (segment - 1)
    return magnitude if code & 0x80 else -magnitude


def _bytes_of(law: Callable[[int], int]) -> tuple[bytes, bytes]:
    """Two bytes.translate tables: each code's sample's low byte, and its high byte."""
    samples = [law(code) & 0xFFFF for code in range(256)]
    return bytes(s & 0xFF for s in samples), bytes(s >> 8 for s in samples)


G711 = {"µ-law": _bytes_of(_ulaw), "A-law": _bytes_of(_alaw)}


def g711(codes: bytes, law: str) -> bytearray:
    """One 16-bit sample for each byte of µ-law or A-law, channels interleaved as they were."""
    low, high = G711[law]
    samples = bytearray(2 * len(codes))
    samples[0::2] = codes.translate(low)
    samples[1::2] = codes.translate(high)
    return samples


def narrowed(samples: bytes, width: int) -> bytearray:
    """24- or 32-bit little-endian PCM cut to its top 16 bits (a truncation of 1/65536 of
    full scale at most, below what a telephone line carries)."""
    narrow = bytearray(2 * (len(samples) // width))
    narrow[0::2] = samples[width - 2 :: width]
    narrow[1::2] = samples[width - 1 :: width]
    return narrow


def by_sox(data: bytes, source: list[str], name: str) -> bytes:
    """``data`` (described to SoX by ``source``, e.g. ``["-t", "wav"]``) as a 16-bit PCM WAV."""
    command = ["sox", "-V1", *source, "-", "-t", "wav", "-e", "signed-integer", "-b", "16"]
    command += ["-D", "-"]  # no dither: the same recording always gives the same bytes
    try:
        done = subprocess.run(
            command, input=data, capture_output=True, timeout=SOX_TIMEOUT, check=False
        )
    except FileNotFoundError as error:
        raise BadRecording(f"{name} audio needs SoX to be decoded (apt-get install sox)") from error
    except subprocess.TimeoutExpired as error:
        raise BadRecording(f"{name} audio that SoX could not decode in time") from error
    if done.returncode != 0 or not done.stdout:
        raise BadRecording(f"{name} audio that SoX could not decode (broken frames?)")
    return done.stdout
