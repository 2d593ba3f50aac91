"""Text-to-speech with espeak-ng, streamed from its stdout as it synthesises."""

from __future__ import annotations

import asyncio
import logging
import shutil

from livekit.agents import APIConnectionError, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

logger = logging.getLogger("ptt-agent.tts")

SAMPLE_RATE = 22050  # espeak-ng's native rate
_WAV_HEADER = 44  # espeak-ng writes a canonical 44-byte header (with unknown sizes) to stdout
_CHUNK = 4096


class EspeakTTS(tts.TTS):
    """Offline TTS: one `espeak-ng --stdout` process per synthesis."""

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 175) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise RuntimeError("espeak-ng is not installed (make setup installs it)")
        self._binary = binary
        self._voice = voice
        self._wpm = words_per_minute

    @property
    def model(self) -> str:
        return "espeak-ng"

    @property
    def provider(self) -> str:
        return "espeak-ng"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> EspeakStream:
        return EspeakStream(tts=self, input_text=text, conn_options=conn_options)

    def command(self, text: str) -> list[str]:
        """The espeak-ng command line for `text` (text passed after `--`, never parsed)."""
        return [self._binary, "-v", self._voice, "-s", str(self._wpm), "--stdout", "--", text]


class EspeakStream(tts.ChunkedStream):
    def __init__(self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions):
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._espeak = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._espeak.command(self.input_text),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            output_emitter.initialize(
                request_id=utils.shortuuid(),
                sample_rate=SAMPLE_RATE,
                num_channels=1,
                mime_type="audio/pcm",
            )
            await proc.stdout.readexactly(_WAV_HEADER)
            while chunk := await proc.stdout.read(_CHUNK):
                output_emitter.push(chunk)
            output_emitter.flush()
            if await proc.wait() != 0:
                stderr = await proc.stderr.read() if proc.stderr else b""
                raise APIConnectionError(f"espeak-ng failed: {stderr.decode(errors='replace')}")
        except asyncio.IncompleteReadError as e:
            raise APIConnectionError("espeak-ng produced no audio") from e
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
