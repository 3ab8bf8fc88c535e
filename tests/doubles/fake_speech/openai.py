"""OpenAI's ``/v1/audio/transcriptions``: a multipart upload of one file per request."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from .common import Request, Response, bearer_token, openai_error
from .hearing import bare, hear, parse_wav

OPENAI_MAX_BYTES = 26_214_400
OPENAI_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
OPENAI_MODELS = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"})


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parse_multipart(body: bytes, content_type: str) -> list[Part] | None:
    """``multipart/form-data`` parts, or None if the body is not that."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/form-data") or not found:
        return None
    delimiter = b"--" + found.group(1).encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            return None
        data = data.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if value:
                headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name_match = re.search(r'\bname="([^"]*)"', disposition)
        file_match = re.search(r'\bfilename="([^"]*)"', disposition)
        if not name_match:
            return None
        parts.append(
            Part(
                name=name_match.group(1),
                filename=file_match.group(1) if file_match else None,
                content_type=headers.get("content-type"),
                data=data,
            )
        )
    return parts


class OpenAI:
    """The part of ``FakeSpeech`` that answers OpenAI."""

    openai_key: str

    def _openai_transcribe(self, request: Request, entry: dict[str, Any]) -> Response:
        if request.length > OPENAI_MAX_BYTES:
            raise openai_error(
                413,
                f"Maximum content size limit ({OPENAI_MAX_BYTES}) exceeded ({request.length} "
                "bytes read)",
                type_="server_error",
            )
        token = bearer_token(request)
        if token is None:
            raise openai_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if token != self.openai_key:
            raise openai_error(
                401,
                f"Incorrect API key provided: {token[:3]}***{token[-4:]}. You can find your API "
                "key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        parts = parse_multipart(request.body, request.header("content-type") or "")
        if parts is None:
            raise openai_error(
                400,
                "Invalid Content-Type header (expected multipart/form-data).",
            )
        fields: dict[str, list[str]] = {}
        upload: Part | None = None
        for part in parts:
            if part.filename is not None:
                upload = part if part.name == "file" else upload
            else:
                fields.setdefault(part.name, []).append(part.data.decode("utf-8", "replace"))
        if upload is None:
            raise openai_error(
                400,
                "1 validation error for Request\nbody -> file\n  field required "
                "(type=value_error.missing)",
            )
        model = (fields.get("model") or [""])[0]
        if not model:
            raise openai_error(400, "you must provide a model parameter")
        if model not in OPENAI_MODELS:
            raise openai_error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        response_format = (fields.get("response_format") or ["json"])[0]
        if response_format not in ("json", "text", "srt", "verbose_json", "vtt"):
            raise openai_error(
                400,
                f"Invalid response_format '{response_format}'.",
                param="response_format",
            )
        if response_format == "verbose_json" and model != "whisper-1":
            raise openai_error(
                400,
                f"response_format 'verbose_json' is not compatible with model '{model}'. "
                "Use 'json' or 'text' instead.",
                param="response_format",
                code="unsupported_value",
            )
        granularities = fields.get("timestamp_granularities[]") or []
        if any(g not in ("word", "segment") for g in granularities):
            raise openai_error(
                400,
                "timestamp_granularities must be 'word' or 'segment'.",
                param="timestamp_granularities",
            )
        if granularities and response_format != "verbose_json":
            raise openai_error(
                400,
                "timestamp_granularities requires response_format=verbose_json.",
                param="timestamp_granularities",
            )
        language = (fields.get("language") or [""])[0]
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise openai_error(
                400,
                f"Invalid language '{language}'. Language parameter must be specified in "
                "ISO-639-1 format.",
                param="language",
                code="invalid_language_format",
            )
        extension = (upload.filename or "").rpartition(".")[2].lower()
        audio = parse_wav(upload.data) if extension == "wav" else None
        self._note(
            entry,
            openai={
                "fields": fields,
                "file": {
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "bytes": len(upload.data),
                    "channels": audio.channels if audio else None,
                    "sample_rate": audio.rate if audio else None,
                    "audio_seconds": round(audio.seconds, 3) if audio else None,
                },
            },
        )
        if audio is None:
            raise openai_error(
                400,
                f"Invalid file format. Supported formats: {list(OPENAI_FORMATS)}",
                code="invalid_value",
                param="file",
            )
        if audio.seconds < 0.1:
            raise openai_error(
                400,
                "Audio file is too short. Minimum audio length is 0.1 seconds.",
                param="file",
                code="audio_too_short",
            )
        regions = hear(audio.mono(), audio.rate, self._script_for("mono"))
        text = " ".join(w.text for w in itertools.chain.from_iterable(regions))
        if response_format in ("text", "srt", "vtt"):
            return Response(200, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        if response_format == "json":
            return Response.json(200, {"text": text})
        answer: dict[str, Any] = {
            "task": "transcribe",
            "language": "english",
            "duration": round(audio.seconds, 2),
            "text": text,
        }
        if "word" in granularities:
            answer["words"] = [
                {"word": bare(w.text), "start": w.start, "end": w.end}
                for w in itertools.chain.from_iterable(regions)
            ]
        if "segment" in granularities or not granularities:
            answer["segments"] = [
                {
                    "id": index,
                    "seek": 0,
                    "start": region[0].start,
                    "end": region[-1].end,
                    "text": " " + " ".join(w.text for w in region),
                    "tokens": [],
                    "temperature": 0.0,
                    "avg_logprob": -0.2,
                    "compression_ratio": 1.2,
                    "no_speech_prob": 0.01,
                }
                for index, region in enumerate(regions)
            ]
        return Response.json(200, answer)
