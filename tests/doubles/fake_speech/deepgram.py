"""Deepgram's pre-recorded ``/v1/listen``: one request, channels kept apart on request."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from .common import Request, Response, deepgram_error, now_rfc3339
from .hearing import WORD_CONFIDENCE, bare, hear, parse_wav

DEEPGRAM_MODELS = frozenset(
    {
        "nova-3",
        "nova-3-general",
        "nova-2",
        "nova-2-general",
        "nova-2-phonecall",
        "nova-2-meeting",
        "nova",
        "nova-phonecall",
        "enhanced",
        "enhanced-phonecall",
        "base",
        "base-phonecall",
    }
)


class Deepgram:
    """The part of ``FakeSpeech`` that answers Deepgram."""

    deepgram_key: str

    def _deepgram_listen(self, request: Request, entry: dict[str, Any]) -> Response:
        scheme, _, key = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "token" or key.strip() != self.deepgram_key:
            raise deepgram_error(401)
        params = {k: v[-1] for k, v in request.query.items()}
        model = params.get("model", "base")
        if model not in DEEPGRAM_MODELS:
            raise deepgram_error(400, "No such model/language/tier combination found.")
        for name in ("multichannel", "punctuate", "smart_format"):
            if name in params and params[name] not in ("true", "false"):
                raise deepgram_error(400, f"Invalid value for query parameter '{name}'.")
        content_type = (request.header("content-type") or "").lower()
        if not content_type.startswith("audio/"):
            raise deepgram_error(
                400, "Bad Request: expected an audio body (Content-Type audio/*) for this fake."
            )
        audio = parse_wav(request.body)
        if audio is None:
            raise deepgram_error(
                400, "Bad Request: failed to process audio: corrupt or unsupported data"
            )
        multichannel = params.get("multichannel") == "true"
        punctuated = params.get("punctuate") == "true" or params.get("smart_format") == "true"
        self._note(
            entry,
            deepgram={
                "params": params,
                "audio_channels": audio.channels,
                "sample_rate": audio.rate,
                "audio_seconds": round(audio.seconds, 3),
            },
        )
        if multichannel:
            heard = [
                hear(audio.samples[:, i], audio.rate, self._script_for(i))
                for i in range(audio.channels)
            ]
        else:  # channels mixed down, as Deepgram does
            heard = [hear(audio.mono(), audio.rate, self._script_for("mono"))]
        channels = []
        for regions in heard:
            words = []
            for word in itertools.chain.from_iterable(regions):
                item: dict[str, Any] = {
                    "word": bare(word.text).lower(),
                    "start": word.start,
                    "end": word.end,
                    "confidence": WORD_CONFIDENCE,
                }
                if punctuated:
                    item["punctuated_word"] = word.text
                words.append(item)
            transcript = " ".join(w.get("punctuated_word", w["word"]) for w in words)
            channels.append(
                {
                    "alternatives": [
                        {"transcript": transcript, "confidence": WORD_CONFIDENCE, "words": words}
                    ]
                }
            )
        model_id = str(uuid.uuid5(uuid.NAMESPACE_URL, model))
        return Response.json(
            200,
            {
                "metadata": {
                    "request_id": str(uuid.uuid4()),
                    "created": now_rfc3339(),
                    "duration": round(audio.seconds, 3),
                    "channels": len(channels),
                    "models": [model_id],
                    "model_info": {model_id: {"name": model, "version": "fake", "arch": model}},
                },
                "results": {"channels": channels},
            },
        )
