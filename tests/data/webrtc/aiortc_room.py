#!/usr/bin/env python3
"""A WHIP room server on aiortc, an implementation independent of sipbridge's (webrtc-rs).

Used by crates/room-link/tests/webrtc_aiortc.rs and tests/tests/webrtc.rs. Listens on
127.0.0.1 with an OS-chosen port and prints `listening <port>` on its first stdout line.

WHIP (RFC 9725):
  POST   /rooms/{room}/whip                  SDP offer -> 201, SDP answer, Location
  DELETE /rooms/{room}/session/{id}          close the session -> 200 (404 when unknown)
Test control (not WHIP):
  GET    /control/{room}                     JSON: state of the room's latest session
  GET    /control/{room}/pcm?ms=N            last N ms of what the room heard, mono s16le;
                                             header X-Sample-Rate
  POST   /control/{room}/hangup              close the peer connection (DTLS close_notify)
  POST   /control/{room}/dtmf/{digit}        send a DTMF message on the data channel

Each session plays a continuous sine tone (--tone-hz) into the call and keeps the audio it
receives. aiortc negotiates no telephone-event, so DTMF can only travel on the data channel.
Only loopback host candidates are gathered and no STUN server is used: the tests stay on
127.0.0.1.
"""

import argparse
import array
import asyncio
import fractions
import json
import math
import sys
import time

import aioice.ice
from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from av import AudioFrame

# aioice leaves 127.0.0.1 out of its host candidates; the tests run on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

RATE = 48000
FRAME = 960  # 20 ms
KEEP_SECONDS = 5


class Tone(MediaStreamTrack):
    """A sine tone, paced in real time like a microphone."""

    kind = "audio"

    def __init__(self, hz: float) -> None:
        super().__init__()
        self.hz = hz
        self.pts = 0
        self.start = None

    async def recv(self) -> AudioFrame:
        if self.start is None:
            self.start = time.monotonic()
        else:
            due = self.start + self.pts / RATE
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        step = 2 * math.pi * self.hz / RATE
        samples = array.array(
            "h",
            (int(0.3 * 32767 * math.sin(step * (self.pts + i))) for i in range(FRAME)),
        )
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate = RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, RATE)
        self.pts += FRAME
        return frame


class Session:
    def __init__(self, sid: str, room: str, pc: RTCPeerConnection) -> None:
        self.id = sid
        self.room = room
        self.pc = pc
        self.pcm = array.array("h")
        self.rate = 0
        self.frames = 0
        self.deleted = False
        self.dc_messages: list[str] = []
        self.channel = None
        self.codec = None
        self.reader = None

    def state(self) -> dict:
        return {
            "id": self.id,
            "connection": self.pc.connectionState,
            "codec": self.codec,
            "frames": self.frames,
            "rate": self.rate,
            "deleted": self.deleted,
            "dc_messages": self.dc_messages,
            "channel_open": self.channel is not None
            and self.channel.readyState == "open",
        }

    async def read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            channels = len(frame.layout.channels)
            pcm = array.array("h")
            pcm.frombytes(bytes(frame.planes[0])[: frame.samples * channels * 2])
            self.rate = frame.sample_rate
            self.pcm.extend(pcm[::channels])
            self.frames += 1
            excess = len(self.pcm) - KEEP_SECONDS * self.rate
            if excess > 0:
                del self.pcm[:excess]


def first_audio_codec(sdp: str):
    """`name/rate` of the first format of the first audio m-line (the one media flows in)."""
    first_pt = None
    for line in sdp.splitlines():
        if first_pt is None and line.startswith("m=audio "):
            formats = line.split()[3:]
            if not formats:
                return None
            first_pt = formats[0]
        elif first_pt is not None and line.startswith(f"a=rtpmap:{first_pt} "):
            return line.split(" ", 1)[1]
    return None


class Rooms:
    def __init__(self, tone_hz: float) -> None:
        self.tone_hz = tone_hz
        self.sessions: dict[str, Session] = {}
        self.latest: dict[str, Session] = {}
        self.next_id = 1

    async def whip_post(self, request: web.Request) -> web.Response:
        room = request.match_info["room"]
        if request.content_type != "application/sdp":
            return web.Response(status=415)
        offer = RTCSessionDescription(sdp=await request.text(), type="offer")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        sid = f"s{self.next_id}"
        self.next_id += 1
        session = Session(sid, room, pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                session.reader = asyncio.ensure_future(session.read(track))

        @pc.on("datachannel")
        def on_datachannel(channel) -> None:
            session.channel = channel

            @channel.on("message")
            def on_message(message) -> None:
                if isinstance(message, str):
                    session.dc_messages.append(message)

        await pc.setRemoteDescription(offer)
        pc.addTrack(Tone(self.tone_hz))
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        session.codec = first_audio_codec(pc.localDescription.sdp)
        self.sessions[sid] = session
        self.latest[room] = session
        return web.Response(
            status=201,
            content_type="application/sdp",
            text=pc.localDescription.sdp,
            headers={"Location": f"session/{sid}"},
        )

    async def whip_delete(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            return web.Response(status=404)
        session.deleted = True
        await session.pc.close()
        return web.Response(status=200)

    def session_of(self, request: web.Request) -> Session:
        session = self.latest.get(request.match_info["room"])
        if session is None:
            raise web.HTTPNotFound()
        return session

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(self.session_of(request).state())

    async def pcm(self, request: web.Request) -> web.Response:
        session = self.session_of(request)
        ms = int(request.query.get("ms", "500"))
        n = session.rate * ms // 1000
        return web.Response(
            body=session.pcm[-n:].tobytes() if n else b"",
            content_type="application/octet-stream",
            headers={"X-Sample-Rate": str(session.rate)},
        )

    async def hangup(self, request: web.Request) -> web.Response:
        await self.session_of(request).pc.close()
        return web.Response(status=200)

    async def dtmf(self, request: web.Request) -> web.Response:
        session = self.session_of(request)
        digit = request.match_info["digit"]
        if session.channel is None or session.channel.readyState != "open":
            return web.Response(status=409, text="no open data channel")
        session.channel.send(
            json.dumps({"type": "dtmf", "digit": digit, "duration_ms": 100})
        )
        return web.Response(status=200)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tone-hz", type=float, default=440.0)
    args = parser.parse_args()
    rooms = Rooms(args.tone_hz)
    app = web.Application()
    app.add_routes(
        [
            web.post("/rooms/{room}/whip", rooms.whip_post),
            web.delete("/rooms/{room}/session/{id}", rooms.whip_delete),
            web.get("/control/{room}", rooms.state),
            web.get("/control/{room}/pcm", rooms.pcm),
            web.post("/control/{room}/hangup", rooms.hangup),
            web.post("/control/{room}/dtmf/{digit}", rooms.dtmf),
        ]
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    # Runs until the test kills it; stdin closing (the test is gone) ends it too.
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()
    for session in list(rooms.sessions.values()):
        await session.pc.close()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
