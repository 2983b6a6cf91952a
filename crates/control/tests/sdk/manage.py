"""Manages trunks and dispatch rules on sipbridge with the official LiveKit Python server
SDK (`pip install livekit-api`): create, list with filters, partial updates, the older
flat CreateSIPDispatchRuleRequest form, conflict refusals and deletes. Run by
tests/sdk_python.rs; prints SDK-OK on success, exits non-zero on any mismatch.

usage: manage.py URL API_KEY API_SECRET
"""

import asyncio
import sys

from livekit import api
from livekit.protocol.sip import (
    CreateSIPDispatchRuleRequest,
    CreateSIPInboundTrunkRequest,
    CreateSIPOutboundTrunkRequest,
    DeleteSIPDispatchRuleRequest,
    DeleteSIPTrunkRequest,
    ListSIPDispatchRuleRequest,
    ListSIPInboundTrunkRequest,
    ListSIPOutboundTrunkRequest,
    SIPDispatchRule,
    SIPDispatchRuleDirect,
    SIPDispatchRuleIndividual,
    SIPDispatchRuleInfo,
    SIPInboundTrunkInfo,
    SIPOutboundTrunkInfo,
)
from livekit.protocol.models import ListUpdate


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


async def expect_error(coro, code):
    try:
        await coro
    except api.TwirpError as e:
        check(e.code == code, f"code {e.code!r} != {code!r} ({e})")
        return e
    check(False, f"expected a {code} error")


async def main():
    url, key, secret = sys.argv[1:4]
    lk = api.LiveKitAPI(url=url, api_key=key, api_secret=secret)
    sip = lk.sip
    try:
        inbound = await sip.create_inbound_trunk(
            CreateSIPInboundTrunkRequest(
                trunk=SIPInboundTrunkInfo(
                    name="sdk inbound",
                    numbers=["+15557770001"],
                    allowed_addresses=["10.0.0.0/8"],
                    auth_username="carrier",
                    auth_password="sdk-secret-pw",
                )
            )
        )
        check(inbound.sip_trunk_id.startswith("ST_"), f"trunk id {inbound.sip_trunk_id}")
        check(inbound.auth_password == "", "password is never returned")
        outbound = await sip.create_outbound_trunk(
            CreateSIPOutboundTrunkRequest(
                trunk=SIPOutboundTrunkInfo(
                    name="sdk outbound", address="127.0.0.1:5090", numbers=["+15557770002"]
                )
            )
        )

        # The current form (dispatch_rule = 10) and the older flat form (rule = 1, ...).
        direct = await sip.create_dispatch_rule(
            CreateSIPDispatchRuleRequest(
                dispatch_rule=SIPDispatchRuleInfo(
                    name="sdk direct",
                    trunk_ids=[inbound.sip_trunk_id],
                    rule=SIPDispatchRule(
                        dispatch_rule_direct=SIPDispatchRuleDirect(room_name="sdk-room")
                    ),
                )
            )
        )
        check(direct.sip_dispatch_rule_id.startswith("SDR_"), direct.sip_dispatch_rule_id)
        flat = await sip.create_dispatch_rule(
            CreateSIPDispatchRuleRequest(
                rule=SIPDispatchRule(
                    dispatch_rule_individual=SIPDispatchRuleIndividual(
                        room_prefix="caller", pin="1234"
                    )
                ),
                trunk_ids=[inbound.sip_trunk_id],
                name="sdk flat",
            )
        )
        check(flat.name == "sdk flat", f"flat create kept its fields: {flat}")
        check(list(flat.trunk_ids) == [inbound.sip_trunk_id], f"flat trunk_ids: {flat}")

        # A second open direct rule on the same trunk conflicts with the first.
        await expect_error(
            sip.create_dispatch_rule(
                CreateSIPDispatchRuleRequest(
                    dispatch_rule=SIPDispatchRuleInfo(
                        trunk_ids=[inbound.sip_trunk_id],
                        rule=SIPDispatchRule(
                            dispatch_rule_direct=SIPDispatchRuleDirect(room_name="other")
                        ),
                    )
                )
            ),
            "invalid_argument",
        )

        # Lists with filters.
        got = await sip.list_inbound_trunk(ListSIPInboundTrunkRequest(numbers=["+15557770001"]))
        check([t.sip_trunk_id for t in got.items] == [inbound.sip_trunk_id], f"{got}")
        got = await sip.list_inbound_trunk(ListSIPInboundTrunkRequest(numbers=["+1999"]))
        check(len(got.items) == 0, f"{got}")
        got = await sip.list_outbound_trunk(ListSIPOutboundTrunkRequest(trunk_ids=[outbound.sip_trunk_id]))
        check(got.items[0].address == "127.0.0.1:5090", f"{got}")
        got = await sip.list_dispatch_rule(ListSIPDispatchRuleRequest(trunk_ids=[inbound.sip_trunk_id]))
        check(len(got.items) == 2, f"{got}")

        # Partial updates: only the named fields change.
        updated = await sip.update_inbound_trunk_fields(
            inbound.sip_trunk_id,
            numbers=ListUpdate(add=["+15557770003"]),
            name="sdk inbound renamed",
        )
        check(updated.name == "sdk inbound renamed", f"{updated}")
        check(list(updated.numbers) == ["+15557770001", "+15557770003"], f"{updated}")
        check(list(updated.allowed_addresses) == ["10.0.0.0/8"], f"{updated}")
        check(updated.auth_username == "carrier", f"{updated}")
        updated = await sip.update_outbound_trunk_fields(outbound.sip_trunk_id, address="127.0.0.1:5091")
        check(updated.address == "127.0.0.1:5091" and updated.name == "sdk outbound", f"{updated}")
        updated = await sip.update_dispatch_rule_fields(
            direct.sip_dispatch_rule_id, name="sdk direct renamed", attributes={"team": "a"}
        )
        check(updated.name == "sdk direct renamed", f"{updated}")
        check(dict(updated.attributes) == {"team": "a"}, f"{updated}")
        check(updated.rule.dispatch_rule_direct.room_name == "sdk-room", f"{updated}")

        # The config file's trunk is read-only; unknown ids are not found.
        await expect_error(sip.delete_trunk(DeleteSIPTrunkRequest(sip_trunk_id="ST_test")), "failed_precondition")
        await expect_error(
            sip.update_inbound_trunk_fields("ST_missing", name="x"), "not_found"
        )

        # Deletes.
        await sip.delete_dispatch_rule(DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=flat.sip_dispatch_rule_id))
        await sip.delete_dispatch_rule(DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=direct.sip_dispatch_rule_id))
        deleted = await sip.delete_trunk(DeleteSIPTrunkRequest(sip_trunk_id=inbound.sip_trunk_id))
        check(deleted.sip_trunk_id == inbound.sip_trunk_id, f"{deleted}")
        got = await sip.list_inbound_trunk(ListSIPInboundTrunkRequest())
        check(len(got.items) == 0, f"{got}")
        got = await sip.list_dispatch_rule(ListSIPDispatchRuleRequest())
        check(len(got.items) == 0, f"{got}")
    finally:
        await lk.aclose()
    print("SDK-OK")


asyncio.run(main())
