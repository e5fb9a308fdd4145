"""Model catalog: every Qwen-Omni model Omnicord knows, with the limits the API enforces.

All numbers come from the vendor pages digested in the project's API notes (Alibaba Cloud Model
Studio, Qwen-Omni and Qwen3-Omni-Captioner). Everything else in Omnicord reads limits from here.

Those built-ins are one ``Catalog``; a models file (``omnicord.model.models_file``,
OMNICORD_MODELS_FILE) installs another at start-up, adding or merging entries, and
``find_model``, ``chat_models`` and ``all_models`` read whichever is in use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from omnicord.errors import RequestRefused
from omnicord.i18n import text

MiB = 1024 * 1024
MB = 1_000_000

#: Largest base64 data URL the API takes per media item ("max bytes per data-uri item").
MAX_DATA_URI_BYTES = 10_485_760
#: Largest request body DashScope accepts ("max bytes to request body"); inline media must fit.
MAX_REQUEST_BYTES = 6_291_456

#: Speech the models return: raw PCM, signed 16-bit little-endian, mono, 24 kHz.
SPEECH_SAMPLE_RATE = 24_000
SPEECH_SAMPLE_WIDTH = 2
SPEECH_CHANNELS = 1

ModelKind = Literal["chat", "captioner"]
MODEL_KINDS: tuple[ModelKind, ...] = ("chat", "captioner")
#: The origin of the models defined in this module (a models file's entries name their table).
BUILT_IN = "built-in"


@dataclass(frozen=True)
class Voice:
    """A speech-output voice; ``note`` says the accent or dialect where the vendor gives one."""

    name: str
    note: str = ""


@dataclass(frozen=True)
class ImageRules:
    """How the model reads still images."""

    block_px: int  # one token per block_px × block_px pixels
    min_tokens: int = 4
    max_tokens: int = 1280
    extra_tokens: int = 2  # added per image
    max_bytes: int = 10 * MiB
    min_side_px: int = 11  # both sides must be > 10 px
    max_aspect_ratio: float = 200.0

    @property
    def max_pixels(self) -> int:
        """Largest pixel area the model actually uses before it downscales."""
        return self.max_tokens * self.block_px * self.block_px


@dataclass(frozen=True)
class AudioLimits:
    """Audio input limits for one model."""

    max_bytes: int
    max_seconds: float
    formats: tuple[str, ...]  # values accepted in ``input_audio.format``
    tokens_per_second: float
    tokens_per_second_documented: bool  # False: a conservative figure of ours, not the vendor's
    min_billed_seconds: float = 1.0


@dataclass(frozen=True)
class VideoLimits:
    """Video input limits and the sampling the model applies (the seed's video token rules)."""

    max_bytes: int
    max_seconds: float
    block_px: int
    max_frames: int
    fps: float = 2.0
    min_frames: int = 4
    frame_factor: int = 2
    min_frame_blocks: int = 128
    max_frame_blocks: int = 768
    total_blocks: int = 16_384
    max_aspect_ratio: float = 200.0
    extra_tokens: int = 2


@dataclass(frozen=True)
class ImageListLimits:
    """A video sent as a list of frames (no sound)."""

    min_images: int
    max_images: int


@dataclass(frozen=True)
class Price:
    """Price in US dollars per million tokens."""

    input_per_million: float
    output_per_million: float


@dataclass(frozen=True)
class ModelSpec:
    """Everything Omnicord needs to know to talk to one model."""

    name: str
    kind: ModelKind
    context_window: int
    max_input: int
    max_output: int
    audio: AudioLimits
    aliases: tuple[str, ...] = ()
    max_input_thinking: int | None = None
    max_reasoning: int | None = None
    voices: tuple[Voice, ...] = ()
    system_message_with_audio_output: bool = True
    image: ImageRules | None = None
    video: VideoLimits | None = None
    image_list: ImageListLimits | None = None
    prices: dict[str, Price] = field(default_factory=dict)  # by region: "intl", "cn"
    speech_languages: tuple[str, ...] = ()
    open_source: bool = False
    audio_output_rate: int = SPEECH_SAMPLE_RATE  # Hz of the PCM speech it answers with
    origin: str = field(default=BUILT_IN, compare=False)  # or 'models.toml [models."x"]'

    @property
    def supports_thinking(self) -> bool:
        """Whether ``enable_thinking`` is accepted."""
        return self.max_input_thinking is not None

    @property
    def speaks(self) -> bool:
        """Whether the model can answer with speech."""
        return bool(self.voices)

    def voice_names(self) -> tuple[str, ...]:
        """Names of the voices, in catalog order."""
        return tuple(voice.name for voice in self.voices)

    def find_voice(self, name: str) -> Voice | None:
        """The voice called ``name`` (case-insensitive), or None."""
        wanted = name.strip().lower()
        return next((v for v in self.voices if v.name.lower() == wanted), None)

    def input_limit(self, *, thinking: bool = False) -> int:
        """Maximum input tokens for one request in the given mode."""
        if thinking and self.max_input_thinking is not None:
            return self.max_input_thinking
        return self.max_input


_FLASH_VOICES = (
    Voice("Cherry"),
    Voice("Ethan"),
    Voice("Nofish"),
    Voice("Jennifer"),
    Voice("Ryan"),
    Voice("Katerina"),
    Voice("Elias"),
    Voice("Jada", "Shanghainese"),
    Voice("Dylan", "Beijing dialect"),
    Voice("Sunny", "Sichuanese"),
    Voice("Li", "Nanjing dialect"),
    Voice("Marcus", "Shaanxi dialect"),
    Voice("Roy", "Minnan"),
    Voice("Peter", "Tianjin dialect"),
    Voice("Rocky", "Cantonese"),
    Voice("Kiki", "Cantonese"),
    Voice("Eric", "Sichuanese"),
)
_TURBO_VOICES = (Voice("Cherry"), Voice("Serena"), Voice("Ethan"), Voice("Chelsie"))
_OPEN_7B_VOICES = (Voice("Ethan"), Voice("Chelsie"))

_FLASH_LANGUAGES = (
    "Chinese (Mandarin and dialects)", "English", "French", "German", "Russian", "Italian",
    "Spanish", "Portuguese", "Japanese", "Korean", "Thai",
)

# The seeds give no audio token rate for Qwen3-Omni-Flash; budgeting at turbo's documented
# 25 tokens/s over-estimates rather than overflowing the input limit.
_FLASH_AUDIO = AudioLimits(
    max_bytes=100 * MB, max_seconds=20 * 60, formats=("wav", "mp3"),
    tokens_per_second=25.0, tokens_per_second_documented=False,
)
_TURBO_AUDIO = AudioLimits(
    max_bytes=10 * MB, max_seconds=3 * 60, formats=("wav", "mp3"),
    tokens_per_second=25.0, tokens_per_second_documented=True,
)
_CAPTIONER_AUDIO = AudioLimits(
    max_bytes=MAX_DATA_URI_BYTES, max_seconds=40 * 60,
    formats=("amr", "wav", "3gp", "3gpp", "aac", "mp3"),
    tokens_per_second=12.5, tokens_per_second_documented=True,
)

QWEN3_OMNI_FLASH = ModelSpec(
    name="qwen3-omni-flash",
    kind="chat",
    aliases=("qwen3-omni-flash-2025-09-15", "qwen3-omni-flash-0915"),
    context_window=65_536,
    max_input=49_152,
    max_input_thinking=16_384,
    max_reasoning=32_768,
    max_output=16_384,
    voices=_FLASH_VOICES,
    image=ImageRules(block_px=32),
    audio=_FLASH_AUDIO,
    video=VideoLimits(max_bytes=256 * MB, max_seconds=150, block_px=32, max_frames=128),
    image_list=ImageListLimits(min_images=2, max_images=128),
    speech_languages=_FLASH_LANGUAGES,
)

QWEN_OMNI_TURBO = ModelSpec(
    name="qwen-omni-turbo",
    kind="chat",
    aliases=(
        "qwen-omni-turbo-latest",
        "qwen-omni-turbo-2025-03-26",
        "qwen-omni-turbo-0326",
        "qwen-omni-turbo-2025-01-19",  # mainland China only
        "qwen-omni-turbo-0119",
    ),
    context_window=32_768,
    max_input=30_720,
    max_output=2_048,
    voices=_TURBO_VOICES,
    system_message_with_audio_output=False,
    image=ImageRules(block_px=28),
    audio=_TURBO_AUDIO,
    video=VideoLimits(max_bytes=150 * MB, max_seconds=40, block_px=28, max_frames=80),
    image_list=ImageListLimits(min_images=4, max_images=80),
    speech_languages=("Chinese (Mandarin)", "English"),
)

# The vendor documents the open model's limits like turbo's; its media rules are assumed equal.
QWEN25_OMNI_7B = ModelSpec(
    name="qwen2.5-omni-7b",
    kind="chat",
    context_window=32_768,
    max_input=30_720,
    max_output=2_048,
    voices=_OPEN_7B_VOICES,
    image=ImageRules(block_px=28),
    audio=_TURBO_AUDIO,
    video=VideoLimits(max_bytes=150 * MB, max_seconds=40, block_px=28, max_frames=80),
    image_list=ImageListLimits(min_images=4, max_images=80),
    speech_languages=("Chinese (Mandarin)", "English"),
    open_source=True,
)

QWEN3_OMNI_CAPTIONER = ModelSpec(
    name="qwen3-omni-30b-a3b-captioner",
    kind="captioner",
    context_window=65_536,
    max_input=32_768,
    max_output=32_768,
    audio=_CAPTIONER_AUDIO,
    prices={"intl": Price(3.81, 3.06), "cn": Price(2.265, 1.821)},
)

#: The built-in models; ``all_models()`` is the catalog in use (a models file's entries too).
MODELS: tuple[ModelSpec, ...] = (
    QWEN3_OMNI_FLASH,
    QWEN_OMNI_TURBO,
    QWEN25_OMNI_7B,
    QWEN3_OMNI_CAPTIONER,
)

DEFAULT_CHAT_MODEL = QWEN3_OMNI_FLASH.name
DEFAULT_CAPTION_MODEL = QWEN3_OMNI_CAPTIONER.name
DEFAULT_VOICE = "Cherry"


class UnknownModelError(RequestRefused, ValueError):
    """A model name that is neither a catalog model nor one of its aliases (or of the wrong
    kind). A refusal like any other, and a ValueError so settings validation takes it as is."""

    def __init__(self, name: str, kind: ModelKind | None = None) -> None:
        known = ", ".join(m.name for m in all_models() if kind is None or m.kind == kind)
        said = {"chat": text("errors.unknown_chat_model", name=name, known=known),
                "captioner": text("errors.unknown_captioner_model", name=name, known=known),
                }.get(kind or "", text("errors.unknown_model", name=name, known=known))
        super().__init__(said)
        self.name = name


def _index(models: Iterable[ModelSpec]) -> dict[str, ModelSpec]:
    table: dict[str, ModelSpec] = {}
    for model in models:
        for key in (model.name, *model.aliases):
            table[key.lower()] = model
    return table


class Catalog:
    """An immutable set of models, found by name or alias (case-insensitive). The built-ins
    are one; a models file makes another (the built-ins with its entries added or merged)."""

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        self.models: tuple[ModelSpec, ...] = tuple(models)
        self._by_name = _index(self.models)

    def get(self, name: str) -> ModelSpec | None:
        """The model called ``name`` (or one of its aliases), or None."""
        return self._by_name.get(name.strip().lower())


BUILTIN_CATALOG = Catalog(MODELS)
_BY_NAME = BUILTIN_CATALOG._by_name  # the built-ins' index, as before

# The process's catalog (``install``), and a narrower one a block of code may see instead
# (``scoped``: settings check OMNICORD_MODEL against their own models file this way).
_installed: Catalog = BUILTIN_CATALOG
_scoped: ContextVar[Catalog | None] = ContextVar("omnicord_catalog", default=None)


def active_catalog() -> Catalog:
    """The catalog ``find_model`` and the other functions here read now."""
    return _scoped.get() or _installed


def install(catalog: Catalog) -> None:
    """Make ``catalog`` the process's catalog (the models file's, at start-up)."""
    global _installed
    _installed = catalog


@contextmanager
def scoped(catalog: Catalog) -> Iterator[Catalog]:
    """See ``catalog`` in this block (and the tasks it starts) only; the process's is kept."""
    token = _scoped.set(catalog)
    try:
        yield catalog
    finally:
        _scoped.reset(token)


@contextmanager
def restored() -> Iterator[None]:
    """Put back the process's catalog as it was when the block began, whatever the block
    installed (tests: no catalog change leaks into the next test)."""
    before = _installed
    try:
        yield
    finally:
        install(before)


def all_models() -> tuple[ModelSpec, ...]:
    """Every model of the catalog in use: the built-ins (``MODELS``) and a models file's."""
    return active_catalog().models


def find_model(name: str, kind: ModelKind | None = None) -> ModelSpec:
    """The model called ``name`` (or one of its aliases and snapshots), optionally of one kind.

    Raises UnknownModelError when there is no such model.
    """
    model = active_catalog().get(name)
    if model is None or (kind is not None and model.kind != kind):
        raise UnknownModelError(name, kind)
    return model


def chat_models() -> tuple[ModelSpec, ...]:
    """The models that hold conversations."""
    return tuple(m for m in all_models() if m.kind == "chat")


# --------------------------------------------------------------------------- realtime models


@dataclass(frozen=True)
class RealtimeModelSpec:
    """A Qwen-Omni realtime (WebSocket) model: its voices, audio rates and session limit.

    ``output_audio_format`` is what ``session.update`` asks for: ``pcm16`` for every model,
    as the vendor's own SDK sends (the pages name ``pcm24`` for flash, a name for the same
    16-bit samples at 24 kHz). The samples arrive at ``output_rate`` either way.
    """

    name: str
    voices: tuple[Voice, ...]
    default_voice: str
    output_rate: int
    aliases: tuple[str, ...] = ()
    input_rate: int = 16_000  # PCM16 mono in
    output_audio_format: str = "pcm16"
    session_seconds: float = 30 * 60  # the service ends a session after this long

    def voice_names(self) -> tuple[str, ...]:
        """Names of the voices, in catalog order."""
        return tuple(voice.name for voice in self.voices)

    def find_voice(self, name: str) -> Voice | None:
        """The voice called ``name`` (case-insensitive), or None."""
        wanted = name.strip().lower()
        return next((v for v in self.voices if v.name.lower() == wanted), None)

    def require_voice(self, name: str) -> Voice:
        """The voice called ``name``; UnknownVoiceError naming the choices otherwise."""
        voice = self.find_voice(name)
        if voice is None:
            raise UnknownVoiceError(name, self)
        return voice


class UnknownVoiceError(RequestRefused, ValueError):
    """A voice the realtime model does not have (nothing was sent)."""

    def __init__(self, name: str, model: RealtimeModelSpec) -> None:
        super().__init__(f"{model.name} has no voice {name.strip()!r} (choose from "
                         f"{', '.join(model.voice_names())})")
        self.name = name


QWEN3_OMNI_FLASH_REALTIME = RealtimeModelSpec(
    name="qwen3-omni-flash-realtime",
    aliases=("qwen3-omni-flash-realtime-2025-09-15", "qwen3-omni-flash-realtime-2025-12-01"),
    voices=_FLASH_VOICES,
    default_voice="Cherry",
    output_rate=24_000,
)

QWEN_OMNI_TURBO_REALTIME = RealtimeModelSpec(
    name="qwen-omni-turbo-realtime",
    aliases=("qwen-omni-turbo-realtime-latest", "qwen-omni-turbo-realtime-2025-05-08"),
    voices=_TURBO_VOICES,
    default_voice="Chelsie",
    output_rate=16_000,
)

REALTIME_MODELS: tuple[RealtimeModelSpec, ...] = (QWEN3_OMNI_FLASH_REALTIME,
                                                  QWEN_OMNI_TURBO_REALTIME)
DEFAULT_REALTIME_MODEL = QWEN3_OMNI_FLASH_REALTIME.name
_REALTIME_BY_NAME = {key.lower(): model for model in REALTIME_MODELS
                     for key in (model.name, *model.aliases)}


class UnknownRealtimeModelError(RequestRefused, ValueError):
    """A name that is no realtime model nor one of its snapshots."""

    def __init__(self, name: str) -> None:
        known = ", ".join(model.name for model in REALTIME_MODELS)
        super().__init__(f"Unknown realtime model {name!r} (known: {known})")
        self.name = name


def find_realtime_model(name: str) -> RealtimeModelSpec:
    """The realtime model called ``name`` (or one of its snapshots); UnknownRealtimeModelError
    otherwise."""
    model = _REALTIME_BY_NAME.get(name.strip().lower())
    if model is None:
        raise UnknownRealtimeModelError(name)
    return model
