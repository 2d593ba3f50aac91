"""Text-to-speech with espeak-ng, streamed from its stdout as it synthesises.

A reply is synthesised by a process started ahead of it: `espeak-ng --stdout` with no
text argument loads its voice and waits for text on stdin, so a reply only writes its
text and closes stdin. Starting the process and loading the voice was most of the ~40 ms
from reply text to the first audio chunk (docs/latency.md); a warm one answers in ~6 ms.
Each process serves one reply (espeak-ng synthesises stdin until its end), and the next
spare is started as soon as one is taken."""

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


Process = asyncio.subprocess.Process


class EspeakTTS(tts.TTS):
    """Offline TTS: one `espeak-ng --stdout` process per synthesis, started ahead."""

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
        self._spare: asyncio.Task[Process] | None = None

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

    def command(self) -> list[str]:
        """The espeak-ng command line; the text comes on stdin (never parsed as options)."""
        return [self._binary, "-v", self._voice, "-s", str(self._wpm), "--stdout"]

    def _start(self) -> asyncio.Task[Process]:
        return asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )

    async def take_process(self) -> Process:
        """A started espeak-ng waiting for its text; the next one starts at once."""
        spare, self._spare = self._spare, None
        proc = None
        if spare is not None:
            try:
                proc = await spare
            except OSError:
                proc = None
            if proc is not None and proc.returncode is not None:
                proc = None  # it died while waiting
        if proc is None:
            proc = await self._start()
        self._spare = self._start()
        return proc

    async def aclose(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            try:
                proc = await spare
            except OSError:
                return
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await super().aclose()


class EspeakStream(tts.ChunkedStream):
    def __init__(self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions):
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._espeak = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        proc = await self._espeak.take_process()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(self.input_text.encode())
            proc.stdin.close()
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
