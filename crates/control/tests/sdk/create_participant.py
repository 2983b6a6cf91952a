"""Drives sipbridge's livekit.SIP API with the official LiveKit Python server SDK
(`pip install livekit-api`). Run by tests/sdk_python.rs against a test server with a
fake call service; prints SDK-OK on success, exits non-zero on any mismatch.

usage: create_participant.py URL API_KEY API_SECRET
"""

import asyncio
import sys

from google.protobuf.duration_pb2 import Duration
from livekit import api
from livekit.protocol.sip import (
    CreateSIPParticipantRequest,
    ListSIPOutboundTrunkRequest,
)


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


async def expect_error(coro, code, meta=None):
    try:
        await coro
    except api.TwirpError as e:
        check(e.code == code, f"code {e.code!r} != {code!r} ({e})")
        for k, v in (meta or {}).items():
            check(e.metadata.get(k) == v, f"meta {k}={e.metadata.get(k)!r} != {v!r} ({e})")
        return e
    check(False, f"expected a {code} error")


async def main():
    url, key, secret = sys.argv[1:4]
    lk = api.LiveKitAPI(url=url, api_key=key, api_secret=secret)
    try:
        # Synchronous create, answered: the fake answers at once.
        info = await lk.sip.create_sip_participant(
            CreateSIPParticipantRequest(
                sip_trunk_id="ST_test",
                sip_call_to="+15551234567",
                room_name="sdk-room",
                wait_until_answered=True,
                ringing_timeout=Duration(seconds=20),
                headers={"X-Test": "1"},
                dtmf="1w2",
            )
        )
        check(info.participant_identity == "sip_+15551234567", f"identity {info.participant_identity!r}")
        check(info.room_name == "sdk-room", f"room {info.room_name!r}")
        check(info.sip_call_id.startswith("SCL_"), f"call id {info.sip_call_id!r}")
        check(info.participant_id.startswith("PA_"), f"participant id {info.participant_id!r}")

        # Async create with an explicit identity.
        info = await lk.sip.create_sip_participant(
            CreateSIPParticipantRequest(
                sip_trunk_id="ST_test", sip_call_to="+15550001111", room_name="sdk-room",
                participant_identity="caller-1",
            )
        )
        check(info.participant_identity == "caller-1", f"identity {info.participant_identity!r}")

        # SIP failure: 486 → resource_exhausted with the SIP status in meta.
        e = await expect_error(
            lk.sip.create_sip_participant(
                CreateSIPParticipantRequest(
                    sip_trunk_id="ST_test", sip_call_to="busy", room_name="sdk-room",
                    wait_until_answered=True,
                )
            ),
            "resource_exhausted",
            {"sip_status_code": "486", "sip_status": "Busy Here"},
        )
        check(getattr(e, "sip_status_code", 486) == 486, "SipCallError.sip_status_code")

        # Ring-out: deadline_exceeded, told apart by timeout_cause.
        await expect_error(
            lk.sip.create_sip_participant(
                CreateSIPParticipantRequest(
                    sip_trunk_id="ST_test", sip_call_to="ringout", room_name="sdk-room",
                    wait_until_answered=True,
                )
            ),
            "deadline_exceeded",
            {"timeout_cause": "ring_no_answer", "sip_status_code": "408"},
        )

        # A field sipbridge cannot honour is refused, not ignored.
        await expect_error(
            lk.sip.create_sip_participant(
                CreateSIPParticipantRequest(
                    sip_trunk_id="ST_test", sip_call_to="+1555", room_name="sdk-room",
                    krisp_enabled=True,
                )
            ),
            "unimplemented",
        )

        # Validation: reserved header.
        await expect_error(
            lk.sip.create_sip_participant(
                CreateSIPParticipantRequest(
                    sip_trunk_id="ST_test", sip_call_to="+1555", room_name="sdk-room",
                    headers={"Call-ID": "x"},
                )
            ),
            "invalid_argument",
        )

        # Trunk listing (the SDK signs this one with the sip.admin grant).
        trunks = await lk.sip.list_outbound_trunk(ListSIPOutboundTrunkRequest())
        ids = [t.sip_trunk_id for t in trunks.items]
        check(ids == ["ST_test"], f"trunks {ids!r}")
        check(trunks.items[0].auth_password == "", "password redacted")
    finally:
        await lk.aclose()
    print("SDK-OK")


asyncio.run(main())
