//! The per-INVITE reads: trunk matching, dispatch-rule selection and room names.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::check::{InboundEntry, RoomRule, RuleEntry, Snapshot, normalize};
use super::{Dispatch, InboundCall, RoomTarget, TrunkMatch, random_token};
use crate::proto::livekit::SipInboundTrunkInfo;

/// Longest piece of a caller/called number used in a room name or identity.
const MAX_NAME_PART: usize = 64;

/// Trunks naming the called number first, then default trunks; within a tier the first
/// (in id order) that admits the source and caller. The conflict check keeps a tier from
/// holding two trunks that admit the same call.
pub(super) fn match_inbound(snap: &Snapshot, call: &InboundCall<'_>) -> TrunkMatch {
    let called = normalize(call.called);
    let caller = normalize(call.caller);
    // An IPv4 peer reached over a dual-stack socket shows up as ::ffff:a.b.c.d.
    let source = call.source.to_canonical();
    let specific = snap.by_number.get(called).map(Vec::as_slice).unwrap_or(&[]);
    let mut refusal = None;
    for tier in [specific, snap.default_trunks.as_slice()] {
        let admitted = tier.iter().find(|t: &&Arc<InboundEntry>| {
            t.admits(caller, source)
                .map_err(|r| refusal.get_or_insert(r))
                .is_ok()
        });
        if let Some(t) = admitted {
            return TrunkMatch::Trunk(Arc::clone(&t.info));
        }
    }
    match refusal {
        Some(r) => TrunkMatch::NotAllowed(r),
        None => TrunkMatch::NoTrunk,
    }
}

/// The most specific applicable rules win (see the module docs); among them the PIN picks.
pub(super) fn dispatch(
    snap: &Snapshot,
    trunk: Option<&SipInboundTrunkInfo>,
    call: &InboundCall<'_>,
    pin: Option<&str>,
    random: &mut dyn FnMut() -> u64,
) -> Dispatch {
    let called = normalize(call.called);
    let caller = normalize(call.caller);
    let for_trunk = trunk
        .and_then(|t| snap.rules_by_trunk.get(&t.sip_trunk_id))
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let applies = |r: &&Arc<RuleEntry>| {
        (r.numbers.is_empty() || r.numbers.contains(called))
            && (r.inbound_numbers.is_empty() || r.inbound_numbers.contains(caller))
    };
    let candidates: Vec<&Arc<RuleEntry>> = for_trunk
        .iter()
        .chain(snap.open_rules.iter())
        .filter(applies)
        .collect();
    let Some(best) = candidates.iter().map(|r| r.specificity()).max() else {
        return Dispatch::NoRule;
    };
    let tier: Vec<&Arc<RuleEntry>> = candidates
        .into_iter()
        .filter(|r| r.specificity() == best)
        .collect();
    let open = tier.iter().find(|r| r.pin.is_empty());
    let pinned = || tier.iter().filter(|r| !r.pin.is_empty());
    let chosen = match (pin, pinned().next()) {
        (_, None) => open,
        (None, Some(_)) => {
            return Dispatch::NeedPin {
                digits_max: pinned().map(|r| r.pin.len()).max().unwrap_or(0),
            };
        }
        // Just `#`: the caller has no PIN and takes the tier's open rule, if any.
        (Some(""), Some(_)) => open,
        (Some(p), Some(_)) => pinned().find(|r| pin_eq(&r.pin, p)),
    };
    match chosen {
        Some(rule) => Dispatch::Room(Box::new(room_target(rule, trunk, call, random))),
        None if pin.is_some() => Dispatch::WrongPin,
        None => Dispatch::NoRule,
    }
}

/// Compares without an early exit on the first differing digit.
fn pin_eq(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn room_target(
    rule: &RuleEntry,
    trunk: Option<&SipInboundTrunkInfo>,
    call: &InboundCall<'_>,
    random: &mut dyn FnMut() -> u64,
) -> RoomTarget {
    let info = &rule.info;
    let hide = info.hide_phone_number;
    let caller_part = name_part(call.caller);
    // A hidden (or absent) number is replaced by a token in the identity and in
    // per-caller room names, so it reaches the room nowhere.
    let caller_part = if hide || caller_part.is_empty() {
        random_token(random())
    } else {
        caller_part
    };
    let suffix = |random: &mut dyn FnMut() -> u64| format!("_{}", random_token(random()));
    let room_name = match &rule.room {
        RoomRule::Direct { room } => room.clone(),
        RoomRule::Individual { prefix, randomize } => {
            let mut name = format!("{prefix}_{caller_part}");
            if *randomize {
                name.push_str(&suffix(random));
            }
            name
        }
        RoomRule::Callee { prefix, randomize } => {
            let mut name = format!("{prefix}_{}", name_part(call.called));
            if *randomize {
                name.push_str(&suffix(random));
            }
            name
        }
    };
    let mut attributes = BTreeMap::new();
    attributes.insert("sip.callID".to_owned(), call.call_id.to_owned());
    if let Some(t) = trunk {
        attributes.insert("sip.trunkID".to_owned(), t.sip_trunk_id.clone());
    }
    attributes.insert("sip.ruleID".to_owned(), info.sip_dispatch_rule_id.clone());
    if !hide {
        attributes.insert("sip.phoneNumber".to_owned(), call.caller.to_owned());
    }
    attributes.insert("sip.trunkPhoneNumber".to_owned(), call.called.to_owned());
    // Rule attributes cannot override the sip.* ones: validation refuses those keys.
    attributes.extend(info.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
    let participant_name = if hide || call.caller.is_empty() {
        "Phone call".to_owned()
    } else {
        format!("Phone {}", name_part(call.caller))
    };
    RoomTarget {
        rule_id: info.sip_dispatch_rule_id.clone(),
        room_name,
        participant_identity: format!("sip_{caller_part}"),
        participant_name,
        attributes,
        hide_phone_number: hide,
        media: info
            .media
            .clone()
            .or_else(|| trunk.and_then(|t| t.media.clone())),
        metadata: info.metadata.clone(),
    }
}

/// A caller/called number as it may appear in a room name or identity: peer input, so only
/// number-like characters, bounded.
fn name_part(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '#' | '.' | '-' | '_'))
        .take(MAX_NAME_PART)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_eq_table() {
        let cases = [
            ("equal", "1234", "1234", true),
            ("last digit differs", "1234", "1235", false),
            ("first digit differs", "1234", "0234", false),
            ("prefix", "1234", "123", false),
            ("longer", "1234", "12345", false),
            ("both empty", "", "", true),
        ];
        for (name, expected, given, want) in cases {
            assert_eq!(pin_eq(expected, given), want, "case {name:?}");
        }
    }

    #[test]
    fn name_part_table() {
        let long = "1".repeat(MAX_NAME_PART + 10);
        let bounded = "1".repeat(MAX_NAME_PART);
        let cases = [
            ("E.164", "+15550100", "+15550100"),
            ("extension characters", "*67#", "*67#"),
            ("SIP user characters kept", "alice.b-c_d", "alice.b-c_d"),
            ("markup dropped", "<b>\"x\";%20", "bx20"),
            ("spaces and slashes dropped", "a b/c", "abc"),
            ("non-ASCII dropped", "anonymé", "anonym"),
            ("bounded", long.as_str(), bounded.as_str()),
            ("empty", "", ""),
        ];
        for (name, input, want) in cases {
            assert_eq!(name_part(input), want, "case {name:?}");
        }
    }
}
