"""Reading a recording that a phone system wrote, trusting nothing in it. Headers lie: a frame
rate of 0, a data size that claims gigabytes when kilobytes are there, or the 0 and 0xFFFFFFFF
that Asterisk and streaming recorders leave when a call is cut off before the file is closed.
So the bytes actually present decide the duration, every failure becomes one clear reason, and
what is kept is a fresh, honest PCM WAV: 8-bit PCM as it was, everything else as 16-bit PCM.

WAV holds PCM of 8 to 32 bits, float, G.711 µ-law and A-law, GSM 6.10 (Asterisk's ``WAV`` and
wav49, which browsers cannot play) and ADPCM, plainly or as WAVE_FORMAT_EXTENSIBLE. Asterisk
also writes headerless files whose extension names the codec (``.ulaw``, ``.gsm``, ``.sln``)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from webapp.importers.decoding import BadRecording, by_sox, g711, narrowed

__all__ = ["HEADER_ONLY", "RATES", "Audio", "BadRecording", "read"]

RATES = range(8000, 48001)
HEADER_ONLY = 44  # a bare WAV header: what FreePBX, too, takes for a missing recording
PCM, FLOAT, ALAW, ULAW, EXTENSIBLE = 0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE
G711_LAWS = {ULAW: "µ-law", ALAW: "A-law"}
BY_SOX = {
    FLOAT: "floating point",
    0x0002: "Microsoft ADPCM",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
}
NOT_DECODED = {0x0050: "MPEG", 0x0055: "MP3", 0x0022: "TrueSpeech", 0x0064: "G.726 ADPCM"}
# The SubFormat GUID of WAVE_FORMAT_EXTENSIBLE is the format tag followed by these 14 bytes.
SUBFORMAT_TAIL = bytes.fromhex("000000001000800000aa00389b71")
UNKNOWN_LENGTH = (0, 0xFFFFFFFF)  # a recorder that never closed its file, or a stream

# Asterisk's headerless formats by extension (formats/format_pcm.c, format_sln.c, format_gsm.c,
# format_vox.c): codec, sample rate, bytes in one whole frame.
RAW = {
    **dict.fromkeys(("pcm", "ulaw", "ul", "mu", "ulw"), ("µ-law", 8000, 1)),
    **dict.fromkeys(("alaw", "al", "alw"), ("A-law", 8000, 1)),
    **dict.fromkeys(("sln", "raw"), ("linear", 8000, 2)),
    **{f"sln{k}": ("linear", 1000 * k, 2) for k in (12, 16, 24, 32, 48)},
    "sln44": ("linear", 44100, 2),
    "gsm": ("GSM 6.10", 8000, 33),  # 33 bytes for 160 samples: 20 ms
    "vox": ("Dialogic ADPCM", 8000, 1),
}
_SOX_RAW = {"GSM 6.10": ["-t", "gsm"], "Dialogic ADPCM": ["-t", "vox"]}


@dataclass(frozen=True)
class Audio:
    wav: bytes  # PCM WAV with a header that tells the truth
    seconds: float
    channels: int
    rate: int


@dataclass(frozen=True)
class _Format:
    tag: int  # the SubFormat's tag for WAVE_FORMAT_EXTENSIBLE
    channels: int
    rate: int
    block: int
    bits: int
    chunk: bytes  # the whole fmt chunk, header and padding included, for SoX


def read(data: bytes, limit: int, *, suffix: str = ".wav") -> Audio:
    """The recording in ``data``, or BadRecording naming what is wrong with it. ``suffix`` is
    the file's extension, which says the codec of a headerless file; a WAV file's own header
    decides whatever its name."""
    if len(data) > limit:
        raise BadRecording(f"larger than the limit of {limit:,} bytes")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        if len(data) <= HEADER_ONLY:
            raise BadRecording("empty: no audio after the header")
        return _from_wav(data)
    raw = RAW.get(suffix.lower().lstrip("."))
    if raw is None:
        if len(data) <= HEADER_ONLY:
            raise BadRecording("empty: no audio after the header")
        raise BadRecording("not a WAV file (no RIFF/WAVE header)")
    codec, rate, frame = raw
    codes = data[: len(data) // frame * frame]
    if not codes:
        raise BadRecording(f"empty: no {codec} audio in a headerless .{suffix.lstrip('.')} file")
    if codec in _SOX_RAW:
        options = [*_SOX_RAW[codec], "-r", str(rate), "-c", "1"]
        return _from_wav(by_sox(codes, options, codec), decoded=True)
    return _pcm(codes if codec == "linear" else g711(codes, codec), 1, 2, rate)


def _from_wav(data: bytes, *, decoded: bool = False) -> Audio:
    fmt, samples, honest, fact = _chunks(data)
    name = G711_LAWS.get(fmt.tag) or BY_SOX.get(fmt.tag) or NOT_DECODED.get(fmt.tag)
    if fmt.tag != PCM and name is None:
        name = f"format tag 0x{fmt.tag:04X}"
    if fmt.tag != PCM and fmt.tag not in G711_LAWS and fmt.tag not in BY_SOX:
        raise BadRecording(f"{name} audio is not supported; convert it to PCM WAV")
    if fmt.channels == 0:
        raise BadRecording("a broken WAV file (0 channels)")
    if fmt.channels > 2:
        raise BadRecording(f"{fmt.channels} channels (mono or stereo are accepted)")
    if fmt.rate not in RATES:
        raise BadRecording(f"a sample rate of {fmt.rate} Hz (8000 to 48000 are accepted)")
    if fmt.tag in G711_LAWS:  # one byte a sample, whatever the header says of bits
        codes = samples[: len(samples) // fmt.channels * fmt.channels]
        return _pcm(g711(codes, G711_LAWS[fmt.tag]), fmt.channels, 2, fmt.rate)
    if fmt.tag == FLOAT and fmt.bits not in (32, 64):
        raise BadRecording(f"floating point audio of {fmt.bits} bits (32 or 64 are accepted)")
    if fmt.tag in BY_SOX:
        if decoded:  # SoX's own output is PCM; anything else is SoX misbehaving
            raise BadRecording(f"{name} audio that SoX could not decode")
        return _through_sox(fmt, samples, honest, fact, name)
    width = (fmt.bits + 7) // 8
    if width == 0:
        raise BadRecording("a broken WAV file (0 bits a sample)")
    if width > 4:
        raise BadRecording(f"{fmt.bits}-bit PCM (8, 16, 24 or 32 bits are accepted)")
    whole = samples[: len(samples) // (fmt.channels * width) * fmt.channels * width]
    if width > 2:
        return _pcm(narrowed(whole, width), fmt.channels, 2, fmt.rate)
    return _pcm(whole, fmt.channels, width, fmt.rate)


def _through_sox(fmt: _Format, samples: bytes, honest: bool, fact: int | None, name: str) -> Audio:
    block = fmt.channels * fmt.bits // 8 if fmt.tag == FLOAT else fmt.block
    if not honest and block > 0:  # a recording cut off: its whole blocks
        samples = samples[: len(samples) // block * block]
    if not samples:
        raise BadRecording("empty: no audio after the header")
    audio = _from_wav(by_sox(_wav_for_sox(fmt, samples), ["-t", "wav"], name), decoded=True)
    # SoX decodes the last block of ADPCM or GSM whole; the fact chunk says where the audio
    # ends, and is believed only within that last block (wSamplesPerBlock, after cbSize).
    per_block = int.from_bytes(fmt.chunk[26:28], "little") if len(fmt.chunk) >= 28 else 0
    frames = (len(audio.wav) - HEADER_ONLY) // (2 * audio.channels)
    if honest and fact and 0 < frames - fact < per_block:
        return _pcm(audio.wav[HEADER_ONLY:], audio.channels, 2, audio.rate, fact)
    return audio


def _chunks(data: bytes) -> tuple[_Format, bytes, bool, int | None]:
    """The fmt chunk, the audio present in the data chunk, whether its size was true, and the
    number of frames that a fact chunk gives."""
    fmt, samples, honest, fact = None, None, True, None
    at = 12
    while at + 8 <= len(data) and (fmt is None or samples is None):
        name, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        start = at + 8
        if name == b"data":
            present = len(data) - start
            honest = size not in UNKNOWN_LENGTH and size <= present
            samples = data[start : start + size] if honest else data[start:]
            if not honest:  # the audio runs to the end of the file, whatever follows
                break
        elif name == b"fact" and size >= 4 and start + 4 <= len(data):
            fact = int.from_bytes(data[start : start + 4], "little")
        elif name == b"fmt ":
            if start + size > len(data):
                raise BadRecording("a broken WAV file (its fmt chunk is cut short)")
            fmt = _format(data[at : start + size + (size & 1)])
        at = start + size + (size & 1)
    if fmt is None:
        raise BadRecording("a broken WAV file (no fmt chunk before its audio)")
    if samples is None:
        raise BadRecording("a broken WAV file (no data chunk)")
    return fmt, samples, honest, fact


def _format(chunk: bytes) -> _Format:
    size = len(chunk) - 8
    if size < 16:
        raise BadRecording(f"a broken WAV file (a fmt chunk of {size} bytes)")
    tag, channels, rate, _rate_bytes, block, bits = struct.unpack_from("<HHIIHH", chunk, 8)
    if tag == EXTENSIBLE:
        extension = int.from_bytes(chunk[24:26], "little") if size >= 18 else 0
        if size < 40 or extension < 22:
            raise BadRecording("a broken WAV file (WAVE_FORMAT_EXTENSIBLE without its SubFormat)")
        guid = chunk[32:48]
        if guid[2:] != SUBFORMAT_TAIL:
            raise BadRecording(
                f"WAVE_FORMAT_EXTENSIBLE audio of SubFormat {guid.hex()} is not supported; "
                "convert it to PCM WAV"
            )
        tag = int.from_bytes(guid[:2], "little")
    return _Format(tag, channels, rate, block, bits, chunk)


def _wav_for_sox(fmt: _Format, samples: bytes) -> bytes:
    """A WAV of this format and these samples whose sizes are true, for SoX to read."""
    pad = b"\x00" * (len(samples) & 1)
    body = [b"WAVE", fmt.chunk, b"data", struct.pack("<I", len(samples)), samples, pad]
    size = 4 + len(fmt.chunk) + 8 + len(samples) + len(pad)
    return b"".join([b"RIFF", struct.pack("<I", size), *body])


def _pcm(
    samples: bytes | bytearray, channels: int, width: int, rate: int, frames: int | None = None
) -> Audio:
    """A fresh PCM WAV of the whole frames in ``samples``, or of their first ``frames``."""
    block = channels * width
    whole = min(len(samples) // block, frames or len(samples))
    if whole == 0:
        raise BadRecording("empty: no audio after the header")
    size = whole * block
    if size != len(samples):
        samples = samples[:size]
    pad = b"\x00" * (size & 1)  # a RIFF chunk of odd size is followed by a pad byte
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        *(b"RIFF", 36 + size + len(pad), b"WAVE", b"fmt ", 16, PCM, channels, rate),
        *(rate * block, block, 8 * width, b"data", size),
    )
    return Audio(b"".join([header, samples, pad]), whole / rate, channels, rate)
