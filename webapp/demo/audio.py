"""Demo recordings: calls composed from a few dozen Finnish phrases, spoken by espeak-ng when it
is installed and otherwise a generated speech-like signal. 8 kHz, 16-bit mono PCM WAV."""

from __future__ import annotations

import io
import math
import random
import shutil
import subprocess
import wave
from array import array
from dataclasses import dataclass, field

RATE = 8000
ESPEAK_RATE = 22050

AGENT_LINES = [
    "Hyvää päivää, asiakaspalvelu, miten voin auttaa?",
    "Päivää, olet soittanut asiakaspalveluun.",
    "Hetkinen, katson tietonne järjestelmästä.",
    "Saisinko asiakasnumeronne?",
    "Kiitos, löysin tietonne.",
    "Lasku on lähetetty osoitteeseenne viime viikolla.",
    "Voin siirtää eräpäivää kahdella viikolla.",
    "Vesimittarin lukema on päivitetty.",
    "Teen tästä reklamaation, ja saatte vastauksen kahden viikon kuluessa.",
    "Sopimus alkaa ensi kuun alusta.",
    "Jätteiden tyhjennys on siirretty torstaille.",
    "Kaukolämmön hinta pysyy ennallaan vuoden loppuun.",
    "Kirjasin muutoksen, ja saatte vahvistuksen sähköpostiin.",
    "Onko jotain muuta, missä voin auttaa?",
    "Kiitos soitostanne ja hyvää päivänjatkoa.",
    "Soitan teille kaukolämpöliittymän tarjouksesta.",
]

CUSTOMER_LINES = [
    "Hei, soitan laskusta, joka tuli eilen.",
    "Haluaisin ilmoittaa vesimittarin lukeman.",
    "Minun jäteastiani jäi tyhjentämättä.",
    "Voisinko saada lisää maksuaikaa?",
    "Muutan ensi kuussa, ja haluan irtisanoa sopimuksen.",
    "Asiakasnumeroni on kaksisataa kolmekymmentä neljä.",
    "Lasku on mielestäni liian suuri.",
    "Kiinnostaisi kuulla sähkösopimuksista.",
    "En halua enää markkinointipuheluita.",
    "Selvä, kiitos paljon.",
    "Ei muuta, kiitos.",
    "Kyllä, se sopii minulle.",
    "Hetkinen, haen laskun tähän.",
    "Sähköt olivat poikki koko aamun.",
]


def _resample(samples: array, src_rate: int, dst_rate: int) -> array:
    """Downsample with a short averaging window, enough against aliasing for speech."""
    step = src_rate / dst_rate
    n_out = int(len(samples) / step)
    out = array("h", bytes(2 * n_out))
    last = len(samples) - 1
    for i in range(n_out):
        centre = int(i * step)
        lo, hi = max(centre - 1, 0), min(centre + 2, last)
        out[i] = sum(samples[lo:hi]) // max(hi - lo, 1)
    return out


def _espeak(text: str, voice: str) -> array:
    raw = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    # espeak-ng streams its WAV with a placeholder data size: trust only the bytes there.
    pcm = array("h", raw[44 : 44 + (len(raw) - 44) // 2 * 2])
    return _resample(pcm, ESPEAK_RATE, RATE)


def _signal(rng: random.Random) -> array:
    """A speech-like burst: syllables of a voiced tone with a moving pitch."""
    out = array("h")
    for _ in range(rng.randint(5, 12)):
        pitch = rng.uniform(110, 230)
        n = int(RATE * rng.uniform(0.12, 0.25))
        for t in range(n):
            envelope = math.sin(math.pi * t / n)
            x = math.sin(2 * math.pi * pitch * t / RATE) + 0.4 * math.sin(
                4 * math.pi * pitch * t / RATE
            )
            out.append(int(6000 * envelope * x))
        out.extend(array("h", bytes(2 * int(RATE * rng.uniform(0.03, 0.08)))))
    return out


@dataclass
class PhraseBank:
    agent: list[bytes] = field(default_factory=list)
    customer: list[bytes] = field(default_factory=list)
    spoken: bool = False

    @classmethod
    def build(cls, rng: random.Random, use_espeak: bool | None = None) -> PhraseBank:
        if use_espeak is None:
            use_espeak = shutil.which("espeak-ng") is not None
        if use_espeak:
            return cls(
                agent=[_espeak(t, "fi+f3").tobytes() for t in AGENT_LINES],
                customer=[_espeak(t, "fi+m3").tobytes() for t in CUSTOMER_LINES],
                spoken=True,
            )
        return cls(
            agent=[_signal(rng).tobytes() for _ in AGENT_LINES],
            customer=[_signal(rng).tobytes() for _ in CUSTOMER_LINES],
        )

    def compose(self, rng: random.Random, seconds: int) -> bytes:
        """A WAV of exactly ``seconds`` seconds: the two sides taking turns, with pauses."""
        target = seconds * RATE * 2
        parts: list[bytes] = []
        length = 0
        turn = 0
        while length < target:
            side = self.agent if turn % 2 == 0 else self.customer
            clip = side[0] if turn == 0 else rng.choice(side)
            pause = bytes(2 * int(RATE * rng.uniform(0.3, 0.9)))
            parts += [clip, pause]
            length += len(clip) + len(pause)
            turn += 1
        pcm = b"".join(parts)[:target]
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(pcm)
        return buffer.getvalue()
