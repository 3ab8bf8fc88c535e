"""Google Cloud Speech-to-Text v1: ``speech:recognize``, ``speech:longrunningrecognize`` and
the operations they start, validated as strictly as Google does."""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streaming.audio import mulaw

from .common import Request, Response, google_error, now_rfc3339, proto_duration
from .hearing import WORD_CONFIDENCE, Audio, bare, hear, parse_wav

SPEECH_TYPE_PREFIX = "type.googleapis.com/google.cloud.speech.v1."
GOOGLE_SYNC_LIMIT_SECONDS = 60.0

GOOGLE_MODELS = frozenset(
    {
        "default",
        "phone_call",
        "telephony",
        "telephony_short",
        "latest_long",
        "latest_short",
        "command_and_search",
        "video",
        "medical_conversation",
        "medical_dictation",
    }
)
GOOGLE_ENCODINGS = frozenset(
    {
        "ENCODING_UNSPECIFIED",
        "LINEAR16",
        "FLAC",
        "MULAW",
        "AMR",
        "AMR_WB",
        "OGG_OPUS",
        "SPEEX_WITH_HEADER_BYTE",
        "MP3",
        "WEBM_OPUS",
    }
)
GOOGLE_CONFIG_FIELDS = frozenset(
    {
        "encoding",
        "sampleRateHertz",
        "audioChannelCount",
        "enableSeparateRecognitionPerChannel",
        "languageCode",
        "alternativeLanguageCodes",
        "maxAlternatives",
        "profanityFilter",
        "adaptation",
        "transcriptNormalization",
        "speechContexts",
        "enableWordTimeOffsets",
        "enableWordConfidence",
        "enableAutomaticPunctuation",
        "enableSpokenPunctuation",
        "enableSpokenEmojis",
        "diarizationConfig",
        "metadata",
        "model",
        "useEnhanced",
    }
)


@dataclass
class Operation:
    name: str
    polls_left: int
    polls_total: int
    uri: str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    start_time: str = field(default_factory=now_rfc3339)


class GoogleSpeech:
    """The part of ``FakeSpeech`` that answers Google's speech API."""

    _lock: threading.Lock
    operation_polls: int
    _operations: dict[str, Operation]
    _operation_errors: list[dict[str, Any]]

    def _google_recognize(
        self, request: Request, entry: dict[str, Any], *, long_running: bool
    ) -> Response:
        self._google_auth(request)
        try:
            body = json.loads(request.body or b"null")
        except ValueError as exc:
            raise google_error(400, "Invalid JSON payload received. Unexpected token.") from exc
        if not isinstance(body, dict):
            raise google_error(400, "Invalid JSON payload received. Expected an object.")
        allowed = {"config", "audio"} | ({"outputConfig"} if long_running else set())
        for name in body:
            if name not in allowed:
                raise google_error(
                    400, f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
                )
        config = _camel_config(body.get("config"))
        audio_field = body.get("audio")
        if not isinstance(audio_field, dict) or not (
            audio_field.get("content") or audio_field.get("uri")
        ):
            raise google_error(400, "RecognitionAudio not set.")
        if audio_field.get("content") and audio_field.get("uri"):
            raise google_error(
                400, "Invalid recognition 'audio': only one of 'content' or 'uri' may be set."
            )
        uri = audio_field.get("uri")
        data = self._gcs_read(uri) if uri else _decode_content(audio_field["content"])
        audio = _google_audio(config, data)
        self._note(
            entry,
            google={
                "config": config,
                "audio": "uri" if uri else "content",
                "uri": uri,
                "audio_container": audio.container,
                "audio_channels": audio.channels,
                "audio_seconds": round(audio.seconds, 3),
            },
        )
        if audio.seconds > GOOGLE_SYNC_LIMIT_SECONDS:
            if not long_running:
                raise google_error(
                    400,
                    "Sync input too long. For audio longer than 1 min use LongRunningRecognize "
                    "with a 'uri' parameter.",
                )
            if not uri:
                raise google_error(
                    400, "Inline audio exceeds duration limit. Please use a GCS URI."
                )
        result = self._google_results(config, audio)
        if not long_running:
            return Response.json(200, result)
        with self._lock:
            name = str(7_000_000_000_000_000_000 + next(self._ids))
            operation = Operation(
                name=name,
                polls_left=self.operation_polls,
                polls_total=self.operation_polls,
                uri=uri or "",
            )
            if self._operation_errors:
                operation.error = self._operation_errors.pop(0)
            else:
                operation.result = result
            self._operations[name] = operation
        return Response.json(200, {"name": name, "metadata": _operation_metadata(operation, 0)})

    def _google_results(self, config: dict[str, Any], audio: Audio) -> dict[str, Any]:
        separate = bool(config.get("enableSeparateRecognitionPerChannel")) and audio.channels > 1
        if separate:
            heard = [
                (index + 1, hear(audio.samples[:, index], audio.rate, self._script_for(index)))
                for index in range(audio.channels)
            ]
        else:  # Google recognises only the first channel unless asked for each
            heard = [(0, hear(audio.samples[:, 0], audio.rate, self._script_for("mono")))]
        punctuate = bool(config.get("enableAutomaticPunctuation"))
        offsets = bool(config.get("enableWordTimeOffsets"))
        confidence = bool(config.get("enableWordConfidence"))
        language = str(config.get("languageCode") or "en-US").lower()
        results = []
        for tag, regions in heard:
            for region in regions:
                texts = [w.text if punctuate else bare(w.text) for w in region]
                alternative: dict[str, Any] = {
                    "transcript": " ".join(texts),
                    "confidence": WORD_CONFIDENCE,
                }
                if offsets or confidence:
                    words = []
                    for word, text in zip(region, texts, strict=True):
                        item: dict[str, Any] = {"word": text}
                        if offsets:
                            item["startTime"] = proto_duration(word.start)
                            item["endTime"] = proto_duration(word.end)
                        if confidence:
                            item["confidence"] = WORD_CONFIDENCE
                        words.append(item)
                    alternative["words"] = words
                result: dict[str, Any] = {
                    "alternatives": [alternative],
                    "resultEndTime": proto_duration(region[-1].end),
                    "languageCode": language,
                }
                if tag:
                    result["channelTag"] = tag
                results.append((region[-1].end, tag, result))
        results.sort(key=lambda item: (item[0], item[1]))  # channels interleaved in time
        answer: dict[str, Any] = {
            "totalBilledTime": f"{math.ceil(audio.seconds)}s",
            "requestId": str(secrets.randbits(62)),
        }
        if results:
            answer["results"] = [r for _, _, r in results]
        return answer

    def _google_operation(self, request: Request, name: str) -> Response:
        self._google_auth(request)
        with self._lock:
            operation = self._operations.get(name)
            if operation is None:
                raise google_error(404, f"Operation {name} not found.")
            if operation.polls_left > 0:
                operation.polls_left -= 1
                done_polls = operation.polls_total - operation.polls_left
                percent = int(100 * done_polls / (operation.polls_total + 1))
                return Response.json(
                    200, {"name": name, "metadata": _operation_metadata(operation, percent)}
                )
            answer: dict[str, Any] = {
                "name": name,
                "metadata": _operation_metadata(operation, 100),
                "done": True,
            }
            if operation.error is not None:
                answer["error"] = operation.error
            else:
                answer["response"] = {
                    "@type": f"{SPEECH_TYPE_PREFIX}LongRunningRecognizeResponse",
                    **(operation.result or {}),
                }
        return Response.json(200, answer)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _camel_config(config: Any) -> dict[str, Any]:
    """RecognitionConfig with proto JSON's snake_case names accepted; unknown names refused."""
    if not isinstance(config, dict):
        raise google_error(400, "Invalid recognition 'config': the request has no config.")
    out = {}
    for name, value in config.items():
        camel = _camel(name)
        if camel not in GOOGLE_CONFIG_FIELDS:
            raise google_error(
                400,
                f"Invalid JSON payload received. Unknown name \"{name}\" at 'config': "
                "Cannot find field.",
            )
        out[camel] = value
    return out


def _decode_content(content: Any) -> bytes:
    """Base64 as proto JSON reads it: standard or URL-safe alphabet."""
    text = str(content)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(text, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    shown = text if len(text) <= 20 else text[:20] + "..."
    raise google_error(
        400,
        f"Invalid value at 'audio.content' (TYPE_BYTES), Base64 decoding failed for \"{shown}\"",
    )


def _google_audio(config: dict[str, Any], data: bytes) -> Audio:
    """The audio as Google would read it from the config and the bytes, or its 400."""
    if not config.get("languageCode"):
        raise google_error(400, "Invalid recognition 'config': language_code is required.")
    model = config.get("model")
    if model is not None and model not in GOOGLE_MODELS:
        raise google_error(
            400, f"Invalid recognition 'config': The requested model \"{model}\" does not exist."
        )
    encoding = str(config.get("encoding") or "ENCODING_UNSPECIFIED")
    if encoding not in GOOGLE_ENCODINGS:
        raise google_error(
            400,
            f"Invalid value at 'config.encoding' (type.googleapis.com/google.cloud.speech.v1."
            f'RecognitionConfig.AudioEncoding), "{encoding}"',
        )
    rate = config.get("sampleRateHertz")
    channels = config.get("audioChannelCount")
    if rate is not None and (not isinstance(rate, int) or not 8000 <= rate <= 48000):
        raise google_error(
            400, "Invalid recognition 'config': sample_rate_hertz must be between 8000 and 48000."
        )
    if channels is not None and (not isinstance(channels, int) or not 1 <= channels <= 8):
        raise google_error(
            400, "Invalid recognition 'config': audio_channel_count must be between 1 and 8."
        )
    if encoding == "MULAW" and (channels or 1) != 1:
        raise google_error(
            400,
            f"Invalid recognition 'config': audio_channel_count ({channels}) is not supported "
            "for MULAW encoding: the only valid value is 1.",
        )
    wav = parse_wav(data)
    if wav is not None:
        if encoding not in ("ENCODING_UNSPECIFIED", "LINEAR16"):
            raise google_error(
                400,
                f"Invalid recognition 'config': the encoding {encoding} does not match the WAV "
                "header (LINEAR16).",
            )
        if rate is not None and rate != wav.rate:
            raise google_error(
                400,
                f"sample_rate_hertz ({rate}) in RecognitionConfig must either be unspecified or "
                f"match the value in the FLAC or WAV header ({wav.rate}).",
            )
        if wav.channels > 1 and (channels or 1) == 1:
            raise google_error(
                400,
                f"Must use single channel (mono) audio, but WAV header indicates "
                f"{wav.channels} channels.",
            )
        if channels is not None and channels != wav.channels:
            raise google_error(
                400,
                f"audio_channel_count ({channels}) in RecognitionConfig must either be "
                f"unspecified or match the value in the FLAC or WAV header ({wav.channels}).",
            )
        return wav
    if encoding == "ENCODING_UNSPECIFIED":
        raise google_error(
            400,
            "Invalid recognition 'config': bad encoding (unspecified, and no WAV or FLAC header).",
        )
    if rate is None:
        raise google_error(
            400, f"Invalid recognition 'config': sample_rate_hertz is required for {encoding}."
        )
    count = channels or 1
    if encoding == "MULAW":
        samples = mulaw.decode(data)
    elif encoding == "LINEAR16":
        if len(data) % (2 * count):
            raise google_error(
                400, "Invalid recognition 'audio': LINEAR16 audio length is not whole samples."
            )
        samples = np.frombuffer(data, dtype="<i2").astype(np.int16)
    else:
        raise google_error(400, f"The fake decodes LINEAR16 and MULAW only, not {encoding}.")
    return Audio(samples.reshape(-1, count), rate, "raw")


def _operation_metadata(operation: Operation, percent: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "@type": f"{SPEECH_TYPE_PREFIX}LongRunningRecognizeMetadata",
        "startTime": operation.start_time,
        "lastUpdateTime": now_rfc3339(),
    }
    if percent:
        metadata["progressPercent"] = percent
    if operation.uri:
        metadata["uri"] = operation.uri
    return metadata
