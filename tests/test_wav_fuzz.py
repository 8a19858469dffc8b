"""The import's WAV reader under hypothesis: lying headers, odd chunks and flipped bytes end in
a clean recording or a BadRecording with its reason, never in another exception."""

from __future__ import annotations

import io
import struct
import wave

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import wav_bytes
from webapp.importers import wav

LIMIT = 1_000_000
VALID = wav_bytes(0.25)


def _check(data: bytes) -> None:
    try:
        audio = wav.read(data, LIMIT)
    except wav.BadRecording as error:
        assert str(error)
        return
    with wave.open(io.BytesIO(audio.wav)) as w:
        frames = w.readframes(w.getnframes())
        assert len(frames) == w.getnframes() * w.getnchannels() * w.getsampwidth() > 0
        assert w.getframerate() in wav.RATES
        assert abs(audio.seconds - w.getnframes() / w.getframerate()) < 1e-9


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    tag=st.sampled_from([1, 1, 1, 3, 0x31, 0x55, 0xFFFE, 0, 7]),
    channels=st.integers(0, 9),
    rate=st.one_of(st.just(8000), st.integers(0, 200_000)),
    bits=st.sampled_from([0, 8, 16, 24, 32, 13]),
    declared=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    payload=st.binary(max_size=3000),
    junk=st.one_of(st.none(), st.binary(max_size=9)),
)
def test_made_up_headers(tag, channels, rate, bits, declared, payload, junk) -> None:
    block = max(channels * bits // 8, 0)
    fmt = struct.pack(
        "<HHIIHH", tag, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits
    )
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if junk is not None:  # a chunk of any size, padded or not
        chunks += b"junk" + struct.pack("<I", len(junk)) + junk
    size = len(payload) if declared is None else declared
    chunks += b"data" + struct.pack("<I", size) + payload
    _check(b"RIFF" + struct.pack("<I", len(chunks) + 4) + b"WAVE" + chunks)


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=12),
    st.integers(0, len(VALID)),
)
def test_a_real_recording_damaged(changes, cut) -> None:
    data = bytearray(VALID)
    for at, value in changes:
        data[at] = value
    _check(bytes(data[:cut]))
