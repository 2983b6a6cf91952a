//! The trunk and dispatch-rule catalog through its public API (issue 6: "unit tests for trunk
//! matching and rule priority, tables of cases, including conflicts", and the API round trip
//! surviving a restart).
//!
//! Every table is a `Vec` of named cases; an assertion names the case that failed. The
//! semantics under test are API_COMPAT.md §"Semantics worth knowing" (trunk matching, room
//! names) and the ranking documented in `control::catalog`.

mod common;

use std::net::IpAddr;

use control::proto::livekit as pb;
use control::proto::livekit::sip_dispatch_rule::Rule;
use control::{
    Catalog, CatalogError, Dispatch, FileEntries, InboundCall, Refusal, RoomTarget, TrunkMatch,
};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const CALL_ID: &str = "SCL_catalogtest";

/// An inbound trunk: `numbers`, `allowed_addresses`, `allowed_numbers`.
fn trunk(
    id: &str,
    numbers: &[&str],
    addresses: &[&str],
    callers: &[&str],
) -> pb::SipInboundTrunkInfo {
    pb::SipInboundTrunkInfo {
        sip_trunk_id: id.into(),
        name: format!("trunk {id}"),
        numbers: strings(numbers),
        allowed_addresses: strings(addresses),
        allowed_numbers: strings(callers),
        ..Default::default()
    }
}

fn direct(room: &str, pin: &str) -> Rule {
    Rule::DispatchRuleDirect(pb::SipDispatchRuleDirect {
        room_name: room.into(),
        pin: pin.into(),
    })
}

fn individual(prefix: &str, pin: &str, no_randomness: bool) -> Rule {
    Rule::DispatchRuleIndividual(pb::SipDispatchRuleIndividual {
        room_prefix: prefix.into(),
        pin: pin.into(),
        no_randomness,
    })
}

fn callee(prefix: &str, pin: &str, randomize: bool) -> Rule {
    Rule::DispatchRuleCallee(pb::SipDispatchRuleCallee {
        room_prefix: prefix.into(),
        pin: pin.into(),
        randomize,
    })
}

/// A dispatch rule with its scope: `trunk_ids`, `numbers` (called), `inbound_numbers`
/// (callers).
fn rule(
    id: &str,
    room: Rule,
    trunk_ids: &[&str],
    numbers: &[&str],
    callers: &[&str],
) -> pb::SipDispatchRuleInfo {
    pb::SipDispatchRuleInfo {
        sip_dispatch_rule_id: id.into(),
        rule: Some(pb::SipDispatchRule { rule: Some(room) }),
        trunk_ids: strings(trunk_ids),
        numbers: strings(numbers),
        inbound_numbers: strings(callers),
        name: format!("rule {id}"),
        ..Default::default()
    }
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| (*s).to_owned()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("test address {s:?}: {e}"))
}

fn call<'a>(called: &'a str, caller: &'a str, source: &str) -> InboundCall<'a> {
    InboundCall {
        call_id: CALL_ID,
        called,
        caller,
        source: ip(source),
    }
}

fn file(inbound: Vec<pb::SipInboundTrunkInfo>, rules: Vec<pb::SipDispatchRuleInfo>) -> FileEntries {
    FileEntries {
        inbound,
        outbound: Vec::new(),
        rules,
    }
}

/// A memory-only catalog of config-file entries; panics (naming `what`) if they are refused.
fn catalog(what: &str, entries: FileEntries) -> Catalog {
    Catalog::open_seeded(None, entries, 7)
        .unwrap_or_else(|e| panic!("{what}: catalog refused: {e}"))
}

/// A trunk-match outcome in comparable form.
#[derive(Debug, Clone, PartialEq)]
enum Matched {
    Trunk(String),
    NoTrunk,
    NotAllowed(Refusal),
}

fn matched(m: TrunkMatch) -> Matched {
    match m {
        TrunkMatch::Trunk(t) => Matched::Trunk(t.sip_trunk_id.clone()),
        TrunkMatch::NoTrunk => Matched::NoTrunk,
        TrunkMatch::NotAllowed(r) => Matched::NotAllowed(r),
    }
}

fn to(id: &str) -> Matched {
    Matched::Trunk(id.to_owned())
}

/// Asserts a conflict naming both ids (in either order).
fn assert_conflict(case: &str, r: Result<impl std::fmt::Debug, CatalogError>, a: &str, b: &str) {
    match r {
        Err(CatalogError::Conflict { first, second, .. }) => {
            let named = [first.as_str(), second.as_str()];
            assert!(
                named.contains(&a) && named.contains(&b),
                "{case}: conflict names {named:?}, expected {a:?} and {b:?}"
            );
        }
        other => panic!("{case}: expected a conflict between {a:?} and {b:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Trunk matching
// ---------------------------------------------------------------------------------------------

#[test]
fn trunk_matching_table() {
    // Filtered trunks: which trunk admits what, and the refusal when none does.
    let filtered = catalog(
        "filtered",
        file(
            vec![
                trunk(
                    "ST_a",
                    &["+15550001"],
                    &["192.0.2.0/24", "2001:db8::/32"],
                    &[],
                ),
                trunk(
                    "ST_b",
                    &["15550002"],
                    &["198.51.100.7"],
                    &["+14440001", "14440002"],
                ),
                trunk("ST_v6", &["+15550003"], &["2001:db8:1::5"], &[]),
                // Host bits in a CIDR are ignored (10.1.2.3/16 is 10.1.0.0/16).
                trunk("ST_host_bits", &["+15550004"], &["10.1.2.3/16"], &[]),
                trunk("ST_default", &[], &["203.0.113.0/24"], &[]),
            ],
            Vec::new(),
        ),
    );
    // Open trunks: the number's own trunk beats the default trunk.
    let open = catalog(
        "open",
        file(
            vec![
                trunk("ST_z_spec", &["+15550001"], &[], &[]),
                trunk("ST_a_default", &[], &[], &[]),
            ],
            Vec::new(),
        ),
    );
    // No default trunk: an unknown number has no trunk at all.
    let no_default = catalog(
        "no default",
        file(
            vec![trunk("ST_only", &["+15550001"], &[], &["+14440001"])],
            Vec::new(),
        ),
    );
    let empty = catalog("empty", FileEntries::default());

    let address = Matched::NotAllowed(Refusal::ADDRESS);
    let number = Matched::NotAllowed(Refusal::NUMBER);
    #[rustfmt::skip]
    let cases: Vec<(&str, &Catalog, &str, &str, &str, Matched)> = vec![
        // (name, catalog, called, caller, source, expected)
        ("specific number beats the default trunk", &open, "+15550001", "+1999", "192.0.2.1", to("ST_z_spec")),
        ("other numbers go to the default trunk", &open, "+15559999", "+1999", "192.0.2.1", to("ST_a_default")),
        ("called number without + matches a +number", &open, "15550001", "+1999", "192.0.2.1", to("ST_z_spec")),
        ("called number with + matches a bare number", &filtered, "+15550002", "+14440001", "198.51.100.7", to("ST_b")),
        ("IPv4 source inside a CIDR", &filtered, "+15550001", "", "192.0.2.200", to("ST_a")),
        ("IPv6 source inside a CIDR", &filtered, "15550001", "", "2001:db8:ffff::1", to("ST_a")),
        ("IPv4-mapped IPv6 source counts as IPv4", &filtered, "15550001", "", "::ffff:192.0.2.9", to("ST_a")),
        ("IPv4 single address", &filtered, "15550002", "14440002", "198.51.100.7", to("ST_b")),
        ("IPv4 next to the single address", &filtered, "15550002", "14440002", "198.51.100.8", address.clone()),
        ("IPv6 single address", &filtered, "15550003", "", "2001:db8:1::5", to("ST_v6")),
        ("IPv6 next to the single address", &filtered, "15550003", "", "2001:db8:1::6", address.clone()),
        ("IPv4 source against an IPv6-only trunk", &filtered, "15550003", "", "192.0.2.1", address.clone()),
        ("CIDR host bits ignored: inside", &filtered, "15550004", "", "10.1.200.1", to("ST_host_bits")),
        ("CIDR host bits ignored: outside", &filtered, "15550004", "", "10.2.0.1", address.clone()),
        ("source outside every trunk", &filtered, "15550001", "", "10.0.0.1", address.clone()),
        ("caller allowed, listed with +, dialed without", &filtered, "15550002", "14440001", "198.51.100.7", to("ST_b")),
        ("caller allowed, listed without +, dialed with", &filtered, "15550002", "+14440002", "198.51.100.7", to("ST_b")),
        ("caller not among allowed_numbers", &filtered, "15550002", "+14449999", "198.51.100.7", number.clone()),
        ("anonymous caller against allowed_numbers", &filtered, "15550002", "", "198.51.100.7", number.clone()),
        ("address is checked before the caller", &filtered, "15550002", "+14449999", "10.9.9.9", address.clone()),
        ("refused by the number's trunk, admitted by the default", &filtered, "15550001", "", "203.0.113.5", to("ST_default")),
        ("unknown number from the default trunk's network", &filtered, "999", "", "203.0.113.77", to("ST_default")),
        ("unknown number from elsewhere: the default trunk refuses", &filtered, "999", "", "10.0.0.1", address.clone()),
        ("no trunk for the number", &no_default, "+15550002", "+14440001", "192.0.2.1", Matched::NoTrunk),
        ("the number's only trunk refuses the caller", &no_default, "+15550001", "+1999", "192.0.2.1", number.clone()),
        ("the number's only trunk admits the caller", &no_default, "+15550001", "+14440001", "192.0.2.1", to("ST_only")),
        ("empty catalog", &empty, "+15550001", "+14440001", "192.0.2.1", Matched::NoTrunk),
    ];
    for (name, cat, called, caller, source, want) in cases {
        let got = matched(cat.match_inbound(&call(called, caller, source)));
        assert_eq!(got, want, "case {name:?}");
    }
}

/// Regression: an `allowed_addresses` entry written as an IPv4-mapped IPv6 address never
/// matched, because the source address is canonicalised to IPv4 before the check.
#[test]
fn ipv4_mapped_allowed_addresses_match_ipv4_sources() {
    let cat = catalog(
        "mapped",
        file(
            vec![
                trunk("ST_mapped", &["+1000"], &["::ffff:192.0.2.33"], &[]),
                trunk(
                    "ST_mapped_net",
                    &["+2000"],
                    &["::ffff:198.51.100.0/120"],
                    &[],
                ),
            ],
            Vec::new(),
        ),
    );
    #[rustfmt::skip]
    let cases = vec![
        ("mapped address, IPv4 source", "+1000", "192.0.2.33", to("ST_mapped")),
        ("mapped address, mapped source", "+1000", "::ffff:192.0.2.33", to("ST_mapped")),
        ("mapped address, other source", "+1000", "192.0.2.34", Matched::NotAllowed(Refusal::ADDRESS)),
        ("mapped network, IPv4 source", "+2000", "198.51.100.250", to("ST_mapped_net")),
        ("mapped network, outside", "+2000", "198.51.101.1", Matched::NotAllowed(Refusal::ADDRESS)),
    ];
    for (name, called, source, want) in cases {
        let got = matched(cat.match_inbound(&call(called, "", source)));
        assert_eq!(got, want, "case {name:?}");
    }
}

/// Two trunks that would take the same call equally well are refused, whether both come
/// from the config file or the second is created through the API (API_COMPAT.md: "two
/// equally good matches are a configuration error").
#[test]
fn trunk_conflicts_table() {
    let t = trunk;
    #[rustfmt::skip]
    let cases: Vec<(&str, pb::SipInboundTrunkInfo, pb::SipInboundTrunkInfo, bool)> = vec![
        // (name, existing, new, conflict?)
        ("same number, both open", t("ST_x", &["+1000"], &[], &[]), t("ST_y", &["+1000"], &[], &[]), true),
        ("same number, with and without +", t("ST_x", &["+1000"], &[], &[]), t("ST_y", &["1000"], &[], &[]), true),
        ("one shared number among others", t("ST_x", &["+1000", "+1001"], &[], &[]), t("ST_y", &["+1002", "+1001"], &[], &[]), true),
        ("different numbers", t("ST_x", &["+1000"], &[], &[]), t("ST_y", &["+2000"], &[], &[]), false),
        ("same number, disjoint IPv4 networks", t("ST_x", &["+1000"], &["10.0.0.0/8"], &[]), t("ST_y", &["+1000"], &["192.0.2.0/24"], &[]), false),
        ("same number, nested IPv4 networks", t("ST_x", &["+1000"], &["10.0.0.0/8"], &[]), t("ST_y", &["+1000"], &["10.1.0.0/16"], &[]), true),
        ("same number, address inside a network", t("ST_x", &["+1000"], &["10.1.2.3"], &[]), t("ST_y", &["+1000"], &["10.0.0.0/8"], &[]), true),
        ("same number, one filtered and one open", t("ST_x", &["+1000"], &["10.0.0.0/8"], &[]), t("ST_y", &["+1000"], &[], &[]), true),
        ("same number, IPv4 and IPv6", t("ST_x", &["+1000"], &["10.0.0.0/8"], &[]), t("ST_y", &["+1000"], &["2001:db8::/32"], &[]), false),
        ("same number, overlapping IPv6", t("ST_x", &["+1000"], &["2001:db8::/32"], &[]), t("ST_y", &["+1000"], &["2001:db8:5::1"], &[]), true),
        ("same number, disjoint callers", t("ST_x", &["+1000"], &[], &["+4441"]), t("ST_y", &["+1000"], &[], &["+4442"]), false),
        ("same number, shared caller", t("ST_x", &["+1000"], &[], &["+4441", "+4442"]), t("ST_y", &["+1000"], &[], &["4442"]), true),
        ("same number, callers filtered on one only", t("ST_x", &["+1000"], &[], &["+4441"]), t("ST_y", &["+1000"], &[], &[]), true),
        ("two open default trunks", t("ST_x", &[], &[], &[]), t("ST_y", &[], &[], &[]), true),
        ("two default trunks, disjoint networks", t("ST_x", &[], &["10.0.0.0/8"], &[]), t("ST_y", &[], &["192.0.2.0/24"], &[]), false),
        ("two default trunks, same network", t("ST_x", &[], &["192.0.2.0/24"], &[]), t("ST_y", &[], &["192.0.2.0/24"], &[]), true),
        ("default and specific trunk", t("ST_x", &[], &[], &[]), t("ST_y", &["+1000"], &[], &[]), false),
    ];
    for (name, existing, new, conflict) in cases {
        // Both from the config file.
        let both = Catalog::open_seeded(
            None,
            file(vec![existing.clone(), new.clone()], Vec::new()),
            1,
        );
        if conflict {
            assert_conflict(&format!("{name} (config)"), both, "ST_x", "ST_y");
        } else {
            assert!(
                both.is_ok(),
                "case {name:?} (config): refused: {:?}",
                both.err()
            );
        }

        // The second created through the API: refused with nothing changed.
        let cat = catalog(name, file(vec![existing.clone()], Vec::new()));
        let created = cat.create_inbound(new.clone());
        if conflict {
            match created {
                Err(CatalogError::Conflict { first, second, .. }) => assert!(
                    first == "ST_x" || second == "ST_x",
                    "case {name:?} (API): conflict does not name ST_x: {first:?} / {second:?}"
                ),
                other => panic!("case {name:?} (API): expected a conflict, got {other:?}"),
            }
            assert_eq!(
                cat.inbound_trunks().len(),
                1,
                "case {name:?} (API): catalog changed"
            );
        } else {
            let info = created.unwrap_or_else(|e| panic!("case {name:?} (API): refused: {e}"));
            assert!(
                info.sip_trunk_id.starts_with("ST_"),
                "case {name:?}: id {:?}",
                info.sip_trunk_id
            );
            assert_eq!(cat.inbound_trunks().len(), 2, "case {name:?} (API)");
        }

        // An update that turns a harmless trunk into the conflicting one is refused too.
        let cat = catalog(name, file(vec![existing.clone()], Vec::new()));
        let harmless = cat
            .create_inbound(trunk("", &["+99999"], &["198.18.0.1"], &[]))
            .unwrap_or_else(|e| panic!("case {name:?}: harmless trunk refused: {e}"));
        let updated = cat.update_inbound(&harmless.sip_trunk_id, new.clone().tap_id(""));
        if conflict {
            assert_conflict(
                &format!("{name} (update)"),
                updated,
                "ST_x",
                &harmless.sip_trunk_id,
            );
            assert_eq!(
                cat.inbound_trunk(&harmless.sip_trunk_id).map(|t| t.numbers),
                Some(vec!["+99999".to_owned()]),
                "case {name:?} (update): the refused update changed the trunk"
            );
        } else {
            assert!(
                updated.is_ok(),
                "case {name:?} (update): refused: {:?}",
                updated.err()
            );
        }
    }
}

/// Small builder helper: the same message with another id.
trait TapId {
    fn tap_id(self, id: &str) -> Self;
}

impl TapId for pb::SipInboundTrunkInfo {
    fn tap_id(mut self, id: &str) -> Self {
        self.sip_trunk_id = id.into();
        self
    }
}

impl TapId for pb::SipDispatchRuleInfo {
    fn tap_id(mut self, id: &str) -> Self {
        self.sip_dispatch_rule_id = id.into();
        self
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Dispatch rules: priority, PINs, room naming, conflicts
// ---------------------------------------------------------------------------------------------

/// The two trunks every dispatch case has: `ST_1` serves +1000, `ST_2` serves +2000.
fn dispatch_trunks() -> Vec<pb::SipInboundTrunkInfo> {
    vec![
        trunk("ST_1", &["+1000"], &[], &[]),
        trunk("ST_2", &["+2000"], &[], &[]),
    ]
}

/// A dispatch outcome in comparable form.
#[derive(Debug, Clone, PartialEq)]
enum Routed {
    /// Rule id and room name.
    Room(String, String),
    NeedPin(usize),
    WrongPin,
    NoRule,
}

fn routed(d: Dispatch) -> Routed {
    match d {
        Dispatch::Room(t) => Routed::Room(t.rule_id, t.room_name),
        Dispatch::NeedPin { digits_max } => Routed::NeedPin(digits_max),
        Dispatch::WrongPin => Routed::WrongPin,
        Dispatch::NoRule => Routed::NoRule,
    }
}

/// Routed into the direct rule `id`, whose room is named after it.
fn room(id: &str) -> Routed {
    Routed::Room(id.to_owned(), format!("room-{id}"))
}

/// A direct rule into `room-<id>`.
fn d(
    id: &str,
    pin: &str,
    trunk_ids: &[&str],
    numbers: &[&str],
    callers: &[&str],
) -> pb::SipDispatchRuleInfo {
    rule(
        id,
        direct(&format!("room-{id}"), pin),
        trunk_ids,
        numbers,
        callers,
    )
}

#[test]
fn dispatch_priority_table() {
    struct Case {
        name: &'static str,
        rules: Vec<pb::SipDispatchRuleInfo>,
        trunk: Option<&'static str>,
        called: &'static str,
        caller: &'static str,
        pin: Option<&'static str>,
        want: Routed,
    }
    let case = |name, rules, trunk, (called, caller), pin, want| Case {
        name,
        rules,
        trunk,
        called,
        caller,
        pin,
        want,
    };
    #[rustfmt::skip]
    let cases = vec![
        // Specific before catch-all.
        case("trunk rule beats the catch-all", vec![d("SDR_any", "", &[], &[], &[]), d("SDR_t1", "", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), None, room("SDR_t1")),
        case("catch-all takes another trunk's call", vec![d("SDR_any", "", &[], &[], &[]), d("SDR_t1", "", &["ST_1"], &[], &[])], Some("ST_2"), ("+2000", "+4441"), None, room("SDR_any")),
        case("rule for another trunk does not apply", vec![d("SDR_t2", "", &["ST_2"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), None, Routed::NoRule),
        case("rule listing several trunks", vec![d("SDR_any", "", &[], &[], &[]), d("SDR_t12", "", &["ST_1", "ST_2"], &[], &[])], Some("ST_2"), ("+2000", "+4441"), None, room("SDR_t12")),
        case("without a trunk only catch-all rules apply", vec![d("SDR_any", "", &[], &[], &[]), d("SDR_t1", "", &["ST_1"], &[], &[])], None, ("+1000", "+4441"), None, room("SDR_any")),
        case("without a trunk and no catch-all", vec![d("SDR_t1", "", &["ST_1"], &[], &[])], None, ("+1000", "+4441"), None, Routed::NoRule),
        case("called-number rule beats the catch-all", vec![d("SDR_any", "", &[], &[], &[]), d("SDR_num", "", &[], &["+1000"], &[])], Some("ST_1"), ("+1000", "+4441"), None, room("SDR_num")),
        case("called-number rule, number without +", vec![d("SDR_any", "", &[], &[], &[]), d("SDR_num", "", &[], &["+1000"], &[])], Some("ST_1"), ("1000", "+4441"), None, room("SDR_num")),
        case("called-number rule for another number", vec![d("SDR_any", "", &[], &[], &[]), d("SDR_num", "", &[], &["+1000"], &[])], Some("ST_2"), ("+2000", "+4441"), None, room("SDR_any")),
        case("caller rule beats the catch-all", vec![d("SDR_any", "", &[], &[], &[]), d("SDR_from", "", &[], &[], &["4441"])], Some("ST_1"), ("+1000", "+4441"), None, room("SDR_from")),
        case("caller rule for another caller", vec![d("SDR_any", "", &[], &[], &[]), d("SDR_from", "", &[], &[], &["4441"])], Some("ST_1"), ("+1000", "+4442"), None, room("SDR_any")),
        case("trunk beats called number", vec![d("SDR_num", "", &[], &["+1000"], &[]), d("SDR_t1", "", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), None, room("SDR_t1")),
        case("trunk beats called number and caller together", vec![d("SDR_both", "", &[], &["+1000"], &["+4441"]), d("SDR_t1", "", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), None, room("SDR_t1")),
        case("called number beats caller", vec![d("SDR_from", "", &[], &[], &["+4441"]), d("SDR_num", "", &[], &["+1000"], &[])], Some("ST_1"), ("+1000", "+4441"), None, room("SDR_num")),
        case("trunk and number beat trunk alone", vec![d("SDR_t1", "", &["ST_1"], &[], &[]), d("SDR_t1num", "", &["ST_1"], &["+1000"], &[])], Some("ST_1"), ("+1000", "+4441"), None, room("SDR_t1num")),
        case("no rules at all", vec![], Some("ST_1"), ("+1000", "+4441"), None, Routed::NoRule),
        case("only rules for other numbers and callers", vec![d("SDR_num", "", &[], &["+2000"], &[]), d("SDR_from", "", &[], &[], &["+4442"])], Some("ST_1"), ("+1000", "+4441"), None, Routed::NoRule),
        // PINs: within the winning tier, PIN rules ask first.
        case("PIN rule asks before the open rule", vec![d("SDR_open", "", &["ST_1"], &[], &[]), d("SDR_pin", "1234", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), None, Routed::NeedPin(4)),
        case("digits_max is the longest PIN", vec![d("SDR_p2", "12", &["ST_1"], &[], &[]), d("SDR_p6", "123456", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), None, Routed::NeedPin(6)),
        case("right PIN picks its rule", vec![d("SDR_open", "", &["ST_1"], &[], &[]), d("SDR_pin", "1234", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), Some("1234"), room("SDR_pin")),
        case("second PIN picks the second rule", vec![d("SDR_p2", "12", &["ST_1"], &[], &[]), d("SDR_p3", "345", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), Some("345"), room("SDR_p3")),
        case("wrong PIN", vec![d("SDR_open", "", &["ST_1"], &[], &[]), d("SDR_pin", "1234", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), Some("9999"), Routed::WrongPin),
        case("a PIN's prefix is a wrong PIN", vec![d("SDR_pin", "1234", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), Some("123"), Routed::WrongPin),
        case("a longer entry is a wrong PIN", vec![d("SDR_pin", "1234", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), Some("12345"), Routed::WrongPin),
        case("empty PIN (just #) takes the open rule", vec![d("SDR_open", "", &["ST_1"], &[], &[]), d("SDR_pin", "1234", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), Some(""), room("SDR_open")),
        case("empty PIN without an open rule", vec![d("SDR_pin", "1234", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), Some(""), Routed::WrongPin),
        case("PIN on a catch-all does not shadow an open specific rule", vec![d("SDR_anypin", "77", &[], &[], &[]), d("SDR_t1", "", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), None, room("SDR_t1")),
        case("PIN catch-all asks on other trunks", vec![d("SDR_anypin", "77", &[], &[], &[]), d("SDR_t1", "", &["ST_1"], &[], &[])], Some("ST_2"), ("+2000", "+4441"), None, Routed::NeedPin(2)),
        case("PIN of a less specific rule is wrong in the winning tier", vec![d("SDR_anypin", "77", &[], &[], &[]), d("SDR_t1pin", "88", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), Some("77"), Routed::WrongPin),
        case("PIN given where none is asked", vec![d("SDR_t1", "", &["ST_1"], &[], &[])], Some("ST_1"), ("+1000", "+4441"), Some("1234"), room("SDR_t1")),
    ];
    for c in cases {
        let cat = catalog(c.name, file(dispatch_trunks(), c.rules));
        let trunk = c.trunk.map(|id| {
            cat.inbound_trunk(id)
                .unwrap_or_else(|| panic!("case {:?}: no trunk {id}", c.name))
        });
        let got = routed(cat.dispatch(
            trunk.as_ref(),
            &call(c.called, c.caller, "192.0.2.1"),
            c.pin,
        ));
        assert_eq!(got, c.want, "case {:?}", c.name);
    }
}

/// What a generated name must look like.
#[derive(Debug, Clone)]
enum Name {
    /// Exactly this.
    Exact(&'static str),
    /// This prefix, then a 12-character random token.
    Random(&'static str),
}

impl Name {
    fn check(&self, case: &str, what: &str, got: &str) {
        match self {
            Name::Exact(want) => assert_eq!(got, *want, "case {case:?}: {what}"),
            Name::Random(prefix) => {
                let token = got.strip_prefix(prefix).unwrap_or_else(|| {
                    panic!("case {case:?}: {what} {got:?} lacks prefix {prefix:?}")
                });
                assert!(
                    token.len() == 12 && token.bytes().all(|b| b.is_ascii_alphanumeric()),
                    "case {case:?}: {what} {got:?}: {token:?} is not a 12-character token"
                );
            }
        }
    }
}

/// Room names, the `sip_` identity and the `sip.*` attributes. API_COMPAT.md §Semantics:
/// direct = `room_name`; individual = `room_prefix` + `_` + caller, with a random suffix
/// unless `no_randomness`; callee = `room_prefix` + `_` + called, with a random suffix only
/// if `randomize`.
#[test]
fn room_naming_and_attributes_table() {
    struct Case {
        name: &'static str,
        rule: Rule,
        hide: bool,
        trunk: Option<&'static str>,
        caller: &'static str,
        room: Name,
        identity: Name,
    }
    let case = |name, rule, hide, trunk, caller, (room, identity)| Case {
        name,
        rule,
        hide,
        trunk,
        caller,
        room,
        identity,
    };
    use Name::{Exact, Random};
    #[rustfmt::skip]
    let cases = vec![
        case("direct", direct("lobby", ""), false, Some("ST_1"), "+15550100", (Exact("lobby"), Exact("sip_+15550100"))),
        case("direct, no trunk", direct("lobby", ""), false, None, "+15550100", (Exact("lobby"), Exact("sip_+15550100"))),
        case("individual, no_randomness", individual("call", "", true), false, Some("ST_1"), "+15550100", (Exact("call_+15550100"), Exact("sip_+15550100"))),
        case("individual, randomized", individual("call", "", false), false, Some("ST_1"), "+15550100", (Random("call_+15550100_"), Exact("sip_+15550100"))),
        case("callee", callee("desk", "", false), false, Some("ST_1"), "+15550100", (Exact("desk_+1000"), Exact("sip_+15550100"))),
        case("callee, randomize", callee("desk", "", true), false, Some("ST_1"), "+15550100", (Random("desk_+1000_"), Exact("sip_+15550100"))),
        case("individual, hidden number", individual("call", "", true), true, Some("ST_1"), "+15550100", (Random("call_"), Random("sip_"))),
        case("direct, hidden number", direct("lobby", ""), true, Some("ST_1"), "+15550100", (Exact("lobby"), Random("sip_"))),
        case("callee, hidden number", callee("desk", "", false), true, Some("ST_1"), "+15550100", (Exact("desk_+1000"), Random("sip_"))),
        case("individual, anonymous caller", individual("call", "", true), false, Some("ST_1"), "", (Random("call_"), Random("sip_"))),
        case("peer input is filtered", individual("call", "", true), false, Some("ST_1"), "+1555\"<x>;%", (Exact("call_+1555x"), Exact("sip_+1555x"))),
    ];
    for c in cases {
        let mut r = rule("SDR_n", c.rule, &[], &[], &[]);
        r.hide_phone_number = c.hide;
        r.metadata = "rule metadata".into();
        r.attributes = [("team".to_owned(), "support".to_owned())].into();
        let cat = catalog(c.name, file(dispatch_trunks(), vec![r]));
        let trunk = c.trunk.and_then(|id| cat.inbound_trunk(id));
        let inbound = call("+1000", c.caller, "192.0.2.1");
        let target = match cat.dispatch(trunk.as_ref(), &inbound, None) {
            Dispatch::Room(t) => *t,
            other => panic!("case {:?}: not routed: {other:?}", c.name),
        };
        c.room.check(c.name, "room", &target.room_name);
        c.identity
            .check(c.name, "identity", &target.participant_identity);
        check_attributes(c.name, &target, c.trunk, c.caller, c.hide);
        assert_eq!(target.rule_id, "SDR_n", "case {:?}", c.name);
        assert_eq!(target.hide_phone_number, c.hide, "case {:?}", c.name);
        assert_eq!(target.metadata, "rule metadata", "case {:?}", c.name);
        if c.hide {
            let digits = c.caller.trim_start_matches('+');
            for (what, s) in [
                ("room", &target.room_name),
                ("identity", &target.participant_identity),
                ("participant name", &target.participant_name),
            ] {
                assert!(
                    !s.contains(digits),
                    "case {:?}: {what} {s:?} shows the hidden number",
                    c.name
                );
            }
        }
        // Random parts are fresh per call.
        if matches!(c.room, Random(_)) {
            let again = match cat.dispatch(trunk.as_ref(), &inbound, None) {
                Dispatch::Room(t) => t.room_name,
                other => panic!("case {:?}: second call not routed: {other:?}", c.name),
            };
            assert_ne!(
                again, target.room_name,
                "case {:?}: the random suffix repeated",
                c.name
            );
        }
    }
}

fn check_attributes(case: &str, t: &RoomTarget, trunk: Option<&str>, caller: &str, hide: bool) {
    let a = &t.attributes;
    assert_eq!(
        a.get("sip.callID").map(String::as_str),
        Some(CALL_ID),
        "case {case:?}: {a:?}"
    );
    assert_eq!(
        a.get("sip.trunkID").map(String::as_str),
        trunk,
        "case {case:?}: {a:?}"
    );
    assert_eq!(
        a.get("sip.ruleID").map(String::as_str),
        Some("SDR_n"),
        "case {case:?}: {a:?}"
    );
    let phone = (!hide).then_some(caller);
    assert_eq!(
        a.get("sip.phoneNumber").map(String::as_str),
        phone,
        "case {case:?}: {a:?}"
    );
    assert_eq!(
        a.get("team").map(String::as_str),
        Some("support"),
        "case {case:?}: {a:?}"
    );
}

/// Two rules that would take the same calls with the same PIN (or both without one) are
/// refused, from the config file and through the API alike.
#[test]
fn rule_conflicts_table() {
    #[rustfmt::skip]
    let cases: Vec<(&str, pb::SipDispatchRuleInfo, pb::SipDispatchRuleInfo, bool)> = vec![
        // (name, existing, new, conflict?)
        ("same trunk, both without PIN", d("SDR_x", "", &["ST_1"], &[], &[]), d("SDR_y", "", &["ST_1"], &[], &[]), true),
        ("same trunk, same PIN", d("SDR_x", "1234", &["ST_1"], &[], &[]), d("SDR_y", "1234", &["ST_1"], &[], &[]), true),
        ("same trunk, different PINs", d("SDR_x", "1234", &["ST_1"], &[], &[]), d("SDR_y", "4321", &["ST_1"], &[], &[]), false),
        ("same trunk, one PIN and one open", d("SDR_x", "1234", &["ST_1"], &[], &[]), d("SDR_y", "", &["ST_1"], &[], &[]), false),
        ("different trunks", d("SDR_x", "", &["ST_1"], &[], &[]), d("SDR_y", "", &["ST_2"], &[], &[]), false),
        ("overlapping trunk lists", d("SDR_x", "", &["ST_1", "ST_2"], &[], &[]), d("SDR_y", "", &["ST_2"], &[], &[]), true),
        ("two catch-alls", d("SDR_x", "", &[], &[], &[]), d("SDR_y", "", &[], &[], &[]), true),
        ("two catch-alls, same PIN", d("SDR_x", "99", &[], &[], &[]), d("SDR_y", "99", &[], &[], &[]), true),
        ("catch-all and trunk rule", d("SDR_x", "", &[], &[], &[]), d("SDR_y", "", &["ST_1"], &[], &[]), false),
        ("same trunk, disjoint numbers", d("SDR_x", "", &["ST_1"], &["+1000"], &[]), d("SDR_y", "", &["ST_1"], &["+1001"], &[]), false),
        ("same trunk, same number with and without +", d("SDR_x", "", &["ST_1"], &["+1000"], &[]), d("SDR_y", "", &["ST_1"], &["1000"], &[]), true),
        ("same trunk, number rule and trunk-only rule", d("SDR_x", "", &["ST_1"], &["+1000"], &[]), d("SDR_y", "", &["ST_1"], &[], &[]), false),
        ("same callers", d("SDR_x", "", &[], &[], &["+4441", "+4442"]), d("SDR_y", "", &[], &[], &["+4442"]), true),
        ("disjoint callers", d("SDR_x", "", &[], &[], &["+4441"]), d("SDR_y", "", &[], &[], &["+4442"]), false),
        ("same number and caller, different trunks", d("SDR_x", "", &["ST_1"], &["+1000"], &["+4441"]), d("SDR_y", "", &["ST_2"], &["+1000"], &["+4441"]), false),
        ("different room kinds still conflict", rule("SDR_x", individual("a", "", false), &["ST_1"], &[], &[]), rule("SDR_y", callee("b", "", false), &["ST_1"], &[], &[]), true),
    ];
    for (name, existing, new, conflict) in cases {
        let both = Catalog::open_seeded(
            None,
            file(dispatch_trunks(), vec![existing.clone(), new.clone()]),
            1,
        );
        if conflict {
            assert_conflict(&format!("{name} (config)"), both, "SDR_x", "SDR_y");
        } else {
            assert!(
                both.is_ok(),
                "case {name:?} (config): refused: {:?}",
                both.err()
            );
        }

        let cat = catalog(name, file(dispatch_trunks(), vec![existing.clone()]));
        let created = cat.create_rule(new.clone().tap_id(""));
        if conflict {
            match created {
                Err(CatalogError::Conflict { first, second, .. }) => assert!(
                    first == "SDR_x" || second == "SDR_x",
                    "case {name:?} (API): conflict does not name SDR_x: {first:?} / {second:?}"
                ),
                other => panic!("case {name:?} (API): expected a conflict, got {other:?}"),
            }
            assert_eq!(
                cat.dispatch_rules().len(),
                1,
                "case {name:?} (API): catalog changed"
            );
        } else {
            let info = created.unwrap_or_else(|e| panic!("case {name:?} (API): refused: {e}"));
            assert!(
                info.sip_dispatch_rule_id.starts_with("SDR_"),
                "case {name:?}"
            );
            assert_eq!(cat.dispatch_rules().len(), 2, "case {name:?} (API)");
        }
    }
}
