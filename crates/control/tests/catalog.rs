//! The trunk and dispatch-rule catalog through its public API (issue 6: "unit tests for trunk
//! matching and rule priority, tables of cases, including conflicts", and the API round trip
//! surviving a restart).
//!
//! Every table is a `Vec` of named cases; an assertion names the case that failed. The
//! semantics under test are API_COMPAT.md §"Semantics worth knowing" (trunk matching, room
//! names) and the ranking documented in `control::catalog`.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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

fn outbound(id: &str) -> pb::SipOutboundTrunkInfo {
    pb::SipOutboundTrunkInfo {
        sip_trunk_id: id.into(),
        name: format!("outbound {id}"),
        address: "127.0.0.1:5080".into(),
        numbers: vec!["+15550009999".into()],
        auth_username: "user".into(),
        auth_password: "hunter2".into(),
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

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sipbridge-catalog-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

// ---------------------------------------------------------------------------------------------
// 3. Persistence, config entries beside stored ones
// ---------------------------------------------------------------------------------------------

type Listing = (
    Vec<pb::SipInboundTrunkInfo>,
    Vec<pb::SipOutboundTrunkInfo>,
    Vec<pb::SipDispatchRuleInfo>,
);

fn listing(cat: &Catalog) -> Listing {
    (
        cat.inbound_trunks(),
        cat.outbound_trunks(),
        cat.dispatch_rules(),
    )
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|t| id(t).to_owned()).collect();
    v.sort();
    v
}

/// The config file of the persistence tests: one of each kind.
fn config_file() -> FileEntries {
    FileEntries {
        inbound: vec![trunk("ST_file", &["+9000"], &[], &[])],
        outbound: vec![outbound("ST_fout")],
        rules: vec![d("SDR_file", "", &["ST_file"], &[], &[])],
    }
}

fn open_dir(what: &str, dir: &Path, file: FileEntries) -> Catalog {
    Catalog::open(Some(dir), file).unwrap_or_else(|e| panic!("{what}: open refused: {e}"))
}

#[test]
fn api_writes_survive_a_restart() {
    let dir = TempDir::new("restart");
    let cat = open_dir("first open", dir.path(), config_file());

    // Trunks: create, update, and one created then deleted of each direction.
    let mut t = trunk("", &["+1000"], &["192.0.2.0/24"], &[]);
    t.auth_username = "carrier".into();
    t.auth_password = "pw-1".into();
    t.auth_realm = "sip.example.com".into();
    t.ringing_timeout = Some(control::catalog::proto_seconds(20));
    let a = cat.create_inbound(t.clone()).expect("create inbound");
    t.name = "renamed".into();
    t.numbers = vec!["+1001".into()];
    let a2 = cat
        .update_inbound(&a.sip_trunk_id, t)
        .expect("update inbound");
    assert_eq!(a2.sip_trunk_id, a.sip_trunk_id);
    assert_eq!(a2.created_at, a.created_at, "update keeps created_at");
    assert!(a2.updated_at.is_some());

    let o = cat.create_outbound(outbound("")).expect("create outbound");
    let mut o_new = outbound("");
    o_new.address = "198.51.100.1:5061".into();
    let o2 = cat
        .update_outbound(&o.sip_trunk_id, o_new)
        .expect("update outbound");
    assert_eq!(o2.address, "198.51.100.1:5061");

    let gone_in = cat
        .create_inbound(trunk("", &["+3000"], &[], &[]))
        .expect("create");
    cat.delete_trunk(&gone_in.sip_trunk_id)
        .expect("delete inbound");
    let gone_out = cat.create_outbound(outbound("")).expect("create");
    cat.delete_trunk(&gone_out.sip_trunk_id)
        .expect("delete outbound");

    // Rules: one on the API trunk (with a PIN), updated; one created then deleted.
    let r = cat
        .create_rule(d("", "1234", &[&a.sip_trunk_id], &[], &[]))
        .expect("create rule");
    let r_new = rule(
        "",
        individual("vip", "1234", true),
        &[&a.sip_trunk_id],
        &[],
        &[],
    );
    let r2 = cat
        .update_rule(&r.sip_dispatch_rule_id, r_new)
        .expect("update rule");
    assert_eq!(r2.created_at, r.created_at);
    let gone_rule = cat
        .create_rule(d("", "", &[], &["+5555"], &[]))
        .expect("create");
    let deleted = cat
        .delete_rule(&gone_rule.sip_dispatch_rule_id)
        .expect("delete rule");
    assert_eq!(deleted.sip_dispatch_rule_id, gone_rule.sip_dispatch_rule_id);

    let before = listing(&cat);
    // Config entries are listed beside stored ones.
    assert_eq!(
        ids(&before.0, |t| &t.sip_trunk_id),
        ids(&[a.clone(), trunk("ST_file", &[], &[], &[])], |t| &t
            .sip_trunk_id)
    );
    assert_eq!(
        ids(&before.1, |t| &t.sip_trunk_id),
        ids(&[o.clone(), outbound("ST_fout")], |t| &t.sip_trunk_id)
    );
    assert_eq!(
        ids(&before.2, |r| &r.sip_dispatch_rule_id),
        ids(&[r.clone(), d("SDR_file", "", &[], &[], &[])], |r| &r
            .sip_dispatch_rule_id)
    );
    drop(cat);

    let cat = open_dir("reopen", dir.path(), config_file());
    assert_eq!(listing(&cat), before, "the reopened catalog differs");
    assert_eq!(cat.inbound_trunk(&gone_in.sip_trunk_id), None);
    assert_eq!(cat.outbound_trunk(&gone_out.sip_trunk_id), None);
    assert_eq!(
        cat.inbound_trunk(&a.sip_trunk_id).map(|t| t.auth_password),
        Some("pw-1".to_owned()),
        "secrets are kept for the gateway"
    );
    // The reloaded entries are live: matching and dispatch use them.
    let c = call("+1001", "+4441", "192.0.2.1");
    let m = matched(cat.match_inbound(&c));
    assert_eq!(m, Matched::Trunk(a.sip_trunk_id.clone()));
    let at = cat.inbound_trunk(&a.sip_trunk_id);
    assert_eq!(
        routed(cat.dispatch(at.as_ref(), &c, None)),
        Routed::NeedPin(4)
    );
    assert_eq!(
        routed(cat.dispatch(at.as_ref(), &c, Some("1234"))),
        Routed::Room(r.sip_dispatch_rule_id.clone(), "vip_+4441".into())
    );

    // Deleting a trunk keeps the rules naming it, and that state reloads too.
    cat.delete_trunk(&a.sip_trunk_id)
        .expect("delete the rule's trunk");
    drop(cat);
    let cat = open_dir(
        "reopen after deleting a referenced trunk",
        dir.path(),
        config_file(),
    );
    assert_eq!(cat.inbound_trunk(&a.sip_trunk_id), None);
    assert!(
        cat.dispatch_rules()
            .iter()
            .any(|x| x.sip_dispatch_rule_id == r.sip_dispatch_rule_id),
        "the rule naming the deleted trunk was dropped"
    );
    // ...but it can no longer be updated to name that trunk.
    let again = cat.update_rule(
        &r.sip_dispatch_rule_id,
        d("", "1234", &[&a.sip_trunk_id], &[], &[]),
    );
    assert!(
        matches!(&again, Err(CatalogError::Invalid { field, .. }) if field == "trunk_ids[0]"),
        "{again:?}"
    );
}

#[test]
fn memory_only_catalog_keeps_nothing() {
    let cat = catalog("memory", config_file());
    cat.create_inbound(trunk("", &["+1000"], &[], &[]))
        .expect("create");
    assert_eq!(cat.inbound_trunks().len(), 2);
    drop(cat);
    let cat = catalog("memory again", config_file());
    assert_eq!(
        ids(&cat.inbound_trunks(), |t| &t.sip_trunk_id),
        vec!["ST_file"]
    );
}

/// The config file's entries cannot be changed through the API, and unknown ids are
/// `NotFound`, whatever the operation.
#[test]
fn config_entries_are_read_only_table() {
    #[derive(Debug, PartialEq)]
    enum Want {
        ReadOnly,
        NotFound,
        /// Invalid, naming this field.
        Invalid(String),
    }
    type Op = Box<dyn Fn(&Catalog) -> Result<(), CatalogError>>;
    let dir = TempDir::new("read-only");
    let cat = open_dir("read-only", dir.path(), config_file());
    let api_trunk = cat
        .create_inbound(trunk("", &["+1000"], &[], &[]))
        .expect("create");
    let api_rule = cat
        .create_rule(d("", "", &[], &["+1000"], &[]))
        .expect("create");
    let (at, ar) = (
        api_trunk.sip_trunk_id.clone(),
        api_rule.sip_dispatch_rule_id.clone(),
    );
    #[rustfmt::skip]
    let cases: Vec<(&str, Op, Want)> = vec![
        ("update config inbound trunk", Box::new(|c: &Catalog| c.update_inbound("ST_file", trunk("", &["+9001"], &[], &[])).map(drop)), Want::ReadOnly),
        ("delete config inbound trunk", Box::new(|c: &Catalog| c.delete_trunk("ST_file")), Want::ReadOnly),
        ("update config outbound trunk", Box::new(|c: &Catalog| c.update_outbound("ST_fout", outbound("")).map(drop)), Want::ReadOnly),
        ("delete config outbound trunk", Box::new(|c: &Catalog| c.delete_trunk("ST_fout")), Want::ReadOnly),
        ("update config rule", Box::new(|c: &Catalog| c.update_rule("SDR_file", d("", "1", &["ST_file"], &[], &[])).map(drop)), Want::ReadOnly),
        ("delete config rule", Box::new(|c: &Catalog| c.delete_rule("SDR_file").map(drop)), Want::ReadOnly),
        ("update unknown inbound trunk", Box::new(|c: &Catalog| c.update_inbound("ST_nope", trunk("", &[], &[], &[])).map(drop)), Want::NotFound),
        ("update an outbound trunk as inbound", Box::new(|c: &Catalog| c.update_inbound("ST_fout", trunk("", &[], &[], &[])).map(drop)), Want::NotFound),
        ("update unknown outbound trunk", Box::new(|c: &Catalog| c.update_outbound("ST_nope", outbound("")).map(drop)), Want::NotFound),
        ("delete unknown trunk", Box::new(|c: &Catalog| c.delete_trunk("ST_nope")), Want::NotFound),
        ("update unknown rule", Box::new(|c: &Catalog| c.update_rule("SDR_nope", d("", "", &[], &[], &[])).map(drop)), Want::NotFound),
        ("delete unknown rule", Box::new(|c: &Catalog| c.delete_rule("SDR_nope").map(drop)), Want::NotFound),
        ("delete a trunk id as a rule", Box::new(|c: &Catalog| c.delete_rule("ST_file").map(drop)), Want::NotFound),
        ("update body naming another trunk", Box::new(move |c: &Catalog| c.update_inbound(&at, trunk("ST_file", &["+1000"], &[], &[])).map(drop)), Want::Invalid("replace.sip_trunk_id".into())),
        ("update body naming another rule", Box::new(move |c: &Catalog| c.update_rule(&ar, d("SDR_file", "", &[], &["+1000"], &[])).map(drop)), Want::Invalid("replace.sip_dispatch_rule_id".into())),
    ];
    let before = listing(&cat);
    for (name, op, want) in cases {
        let got = match op(&cat) {
            Err(CatalogError::ReadOnly { .. }) => Want::ReadOnly,
            Err(CatalogError::NotFound { .. }) => Want::NotFound,
            Err(CatalogError::Invalid { field, .. }) => Want::Invalid(field),
            other => panic!("case {name:?}: expected {want:?}, got {other:?}"),
        };
        assert_eq!(got, want, "case {name:?}");
        assert_eq!(
            listing(&cat),
            before,
            "case {name:?}: the refused write changed the catalog"
        );
    }
    drop(cat);
    let cat = open_dir("reopen", dir.path(), config_file());
    assert_eq!(
        listing(&cat),
        before,
        "the refused writes reached the database"
    );
}

/// A stored entry whose id a config entry also uses (the config file changed since the API
/// wrote it) is refused at open, naming the id; the database is left intact.
#[test]
fn stored_ids_colliding_with_config_entries_table() {
    let dir = TempDir::new("collide");
    let cat = open_dir("seed", dir.path(), FileEntries::default());
    let t = cat
        .create_inbound(trunk("", &["+1000"], &[], &[]))
        .expect("create")
        .sip_trunk_id;
    let o = cat
        .create_outbound(outbound(""))
        .expect("create")
        .sip_trunk_id;
    let r = cat
        .create_rule(d("", "", &[], &[], &[]))
        .expect("create")
        .sip_dispatch_rule_id;
    let before = listing(&cat);
    drop(cat);

    let only = |inbound: Vec<pb::SipInboundTrunkInfo>,
                outbound: Vec<pb::SipOutboundTrunkInfo>,
                rules| FileEntries {
        inbound,
        outbound,
        rules,
    };
    #[rustfmt::skip]
    let cases: Vec<(&str, FileEntries, &str, &str)> = vec![
        // (name, config file, conflict kind, id)
        ("inbound trunk id of a stored inbound trunk", only(vec![trunk(&t, &["+2000"], &[], &[])], vec![], vec![]), "trunks", &t),
        ("outbound trunk id of a stored inbound trunk", only(vec![], vec![outbound(&t)], vec![]), "trunks", &t),
        ("inbound trunk id of a stored outbound trunk", only(vec![trunk(&o, &["+2000"], &[], &[])], vec![], vec![]), "trunks", &o),
        ("outbound trunk id of a stored outbound trunk", only(vec![], vec![outbound(&o)], vec![]), "trunks", &o),
        ("rule id of a stored rule", only(vec![], vec![], vec![d(&r, "42", &[], &["+2000"], &[])]), "dispatch rules", &r),
    ];
    for (name, file, kind, id) in cases {
        match Catalog::open(Some(dir.path()), file) {
            Err(CatalogError::Conflict {
                kind: k,
                first,
                second,
                ..
            }) => {
                assert_eq!(k, kind, "case {name:?}");
                assert_eq!((first.as_str(), second.as_str()), (id, id), "case {name:?}");
            }
            other => panic!("case {name:?}: expected a conflict on {id:?}, got {other:?}"),
        }
        // The refused open released the database and changed nothing in it.
        let cat = open_dir(name, dir.path(), FileEntries::default());
        assert_eq!(listing(&cat), before, "case {name:?}");
    }
}

#[test]
fn a_second_open_of_the_same_data_dir_is_refused() {
    let dir = TempDir::new("locked");
    let first = open_dir("first", dir.path(), FileEntries::default());
    let second = Catalog::open(Some(dir.path()), FileEntries::default());
    assert!(
        matches!(second, Err(CatalogError::Storage(_))),
        "{second:?}"
    );
    drop(first);
    open_dir("after the first closed", dir.path(), FileEntries::default());
}

/// The Twirp round trip: entries created through `livekit.SIP` are listed (secrets blanked)
/// by a new process on the same data directory.
#[tokio::test]
async fn twirp_writes_survive_a_restart() {
    use serde_json::json;
    let dir = TempDir::new("twirp");
    let admin = [common::bearer(&common::token(false, true))];
    let post = |app: axum::Router, method: &'static str, body: serde_json::Value| {
        let headers = admin.clone();
        async move {
            common::post(
                &app,
                &format!("/twirp/livekit.SIP/{method}"),
                "application/json",
                body.to_string().into_bytes(),
                &headers,
            )
            .await
        }
    };
    let app = control::router(
        Arc::new(common::Fake::default()),
        open_dir("api", dir.path(), FileEntries::default()),
        common::config(),
    );
    let trunk_body = json!({"trunk": {
        "name": "carrier", "numbers": ["+15550100"], "allowedAddresses": ["192.0.2.0/24"],
        "authUsername": "carrier", "authPassword": "pw-secret"
    }});
    let created = post(app.clone(), "CreateSIPInboundTrunk", trunk_body.clone()).await;
    assert_eq!(
        created.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&created.body)
    );
    let trunk_id = created.json()["sipTrunkId"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(
        created.json().get("authPassword").is_none(),
        "{}",
        created.json()
    );

    // The same trunk again is a conflict: invalid_argument.
    let twice = post(app.clone(), "CreateSIPInboundTrunk", trunk_body).await;
    let err = twice.twirp_error(400, "invalid_argument");
    assert!(
        err["msg"].as_str().is_some_and(|m| m.contains(&trunk_id)),
        "{err}"
    );

    let rule_body = json!({"dispatchRule": {
        "rule": {"dispatchRuleIndividual": {"roomPrefix": "call", "pin": "2468"}},
        "trunkIds": [trunk_id], "hidePhoneNumber": true, "attributes": {"team": "support"}
    }});
    let created = post(app.clone(), "CreateSIPDispatchRule", rule_body).await;
    assert_eq!(
        created.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&created.body)
    );
    let rule_id = created.json()["sipDispatchRuleId"]
        .as_str()
        .expect("id")
        .to_owned();

    let unknown = json!({"dispatchRule": {
        "rule": {"dispatchRuleDirect": {"roomName": "r"}}, "trunkIds": ["ST_unknown"]
    }});
    let refused = post(app.clone(), "CreateSIPDispatchRule", unknown).await;
    refused.twirp_error(400, "invalid_argument");
    drop(app);

    // "Restart": a new catalog and router on the same directory.
    let app = control::router(
        Arc::new(common::Fake::default()),
        open_dir("api reopen", dir.path(), FileEntries::default()),
        common::config(),
    );
    let trunks = post(app.clone(), "ListSIPInboundTrunk", json!({})).await;
    assert_eq!(trunks.status, 200);
    let v = trunks.json();
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["sipTrunkId"], trunk_id.as_str());
    assert_eq!(items[0]["numbers"], json!(["+15550100"]));
    assert_eq!(items[0]["authUsername"], "carrier");
    assert!(
        items[0].get("authPassword").is_none(),
        "password listed: {v}"
    );

    let rules = post(app.clone(), "ListSIPDispatchRule", json!({})).await;
    assert_eq!(rules.status, 200);
    let v = rules.json();
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["sipDispatchRuleId"], rule_id.as_str());
    assert_eq!(items[0]["trunkIds"], json!([trunk_id]));
    assert_eq!(items[0]["hidePhoneNumber"], true);
    assert_eq!(
        items[0]["rule"]["dispatchRuleIndividual"]["roomPrefix"],
        "call"
    );
    assert!(!v.to_string().contains("2468"), "PIN listed: {v}");

    let deleted = post(
        app.clone(),
        "DeleteSIPDispatchRule",
        json!({"sipDispatchRuleId": rule_id}),
    )
    .await;
    assert_eq!(deleted.status, 200);
    let deleted = post(
        app.clone(),
        "DeleteSIPTrunk",
        json!({"sipTrunkId": trunk_id}),
    )
    .await;
    assert_eq!(deleted.status, 200);
    drop(app);
    let cat = open_dir("api third open", dir.path(), FileEntries::default());
    assert_eq!(
        listing(&cat),
        (vec![], vec![], vec![]),
        "deletes did not persist"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Validation refusals
// ---------------------------------------------------------------------------------------------

/// One entry of any kind.
#[derive(Debug, Clone)]
enum Entry {
    In(pb::SipInboundTrunkInfo),
    Out(pb::SipOutboundTrunkInfo),
    Rule(pb::SipDispatchRuleInfo),
}

/// (name, entry, field, refusal, secret that must not appear, also through the API?)
type ValidationCase = (
    &'static str,
    Entry,
    &'static str,
    Refused,
    Option<&'static str>,
    bool,
);

/// How a refusal must look.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Refused {
    Invalid,
    Unsupported,
}

/// Every refused entry names the offending field, in the config file and through the API
/// alike; a refused API write changes nothing; no refusal echoes a secret.
#[test]
fn validation_refusals_table() {
    let with = |f: &dyn Fn(&mut pb::SipInboundTrunkInfo)| {
        let mut t = trunk("ST_v", &["+7000"], &[], &[]);
        f(&mut t);
        Entry::In(t)
    };
    let out_with = |f: &dyn Fn(&mut pb::SipOutboundTrunkInfo)| {
        let mut t = outbound("ST_vo");
        f(&mut t);
        Entry::Out(t)
    };
    let rule_with = |room: Rule, f: &dyn Fn(&mut pb::SipDispatchRuleInfo)| {
        let mut r = rule("SDR_v", room, &["ST_1"], &["+7000"], &[]);
        f(&mut r);
        Entry::Rule(r)
    };
    let lobby = || direct("lobby", "");
    use Refused::{Invalid, Unsupported};
    #[rustfmt::skip]
    let cases: Vec<ValidationCase> = vec![
        ("empty trunk id", with(&|t| t.sip_trunk_id.clear()), "sip_trunk_id", Invalid, None, false),
        ("trunk id with a space", with(&|t| t.sip_trunk_id = "ST v".into()), "sip_trunk_id", Invalid, None, false),
        ("trunk id too long", with(&|t| t.sip_trunk_id = "S".repeat(129)), "sip_trunk_id", Invalid, None, false),
        ("IPv4 prefix over 32", with(&|t| t.allowed_addresses = vec!["10.0.0.0/33".into()]), "allowed_addresses[0]", Invalid, None, true),
        ("IPv6 prefix over 128", with(&|t| t.allowed_addresses = vec!["2001:db8::/129".into()]), "allowed_addresses[0]", Invalid, None, true),
        ("host name instead of an address", with(&|t| t.allowed_addresses = vec!["192.0.2.1".into(), "sip.example.com".into()]), "allowed_addresses[1]", Invalid, None, true),
        ("address with a port", with(&|t| t.allowed_addresses = vec!["192.0.2.1:5060".into()]), "allowed_addresses[0]", Invalid, None, true),
        ("address octet over 255", with(&|t| t.allowed_addresses = vec!["300.1.1.1".into()]), "allowed_addresses[0]", Invalid, None, true),
        ("empty allowed address", with(&|t| t.allowed_addresses = vec![String::new()]), "allowed_addresses[0]", Invalid, None, true),
        ("number that is only +", with(&|t| t.numbers = vec!["+".into()]), "numbers[0]", Invalid, None, true),
        ("number listed twice, with and without +", with(&|t| t.numbers = vec!["+7000".into(), "7000".into()]), "numbers[1]", Invalid, None, true),
        ("number with a space", with(&|t| t.numbers = vec!["+1 555".into()]), "numbers[0]", Invalid, None, true),
        ("empty allowed number", with(&|t| t.allowed_numbers = vec![String::new()]), "allowed_numbers[0]", Invalid, None, true),
        ("password without username", with(&|t| t.auth_password = "pw-s3cret".into()), "auth_password", Invalid, Some("pw-s3cret"), true),
        ("username without password", with(&|t| t.auth_username = "carrier".into()), "auth_username", Invalid, None, true),
        ("realm without username", with(&|t| t.auth_realm = "example.com".into()), "auth_realm", Invalid, None, true),
        ("ringing timeout over the maximum", with(&|t| t.ringing_timeout = Some(control::catalog::proto_seconds(3600))), "ringing_timeout", Invalid, None, true),
        ("noise cancellation", with(&|t| t.krisp_enabled = true), "krisp_enabled", Unsupported, None, true),
        ("SIP headers into attributes", with(&|t| t.include_headers = pb::SipHeaderOptions::SipAllHeaders as i32), "include_headers", Unsupported, None, true),
        ("outbound trunk without address", out_with(&|t| t.address.clear()), "address", Invalid, None, true),
        ("outbound trunk over TLS", out_with(&|t| t.transport = pb::SipTransport::Tls as i32), "transport", Unsupported, None, true),
        ("outbound trunk with a region", out_with(&|t| t.destination_country = "US".into()), "destination_country", Unsupported, None, true),
        ("empty rule id", rule_with(lobby(), &|r| r.sip_dispatch_rule_id.clear()), "sip_dispatch_rule_id", Invalid, None, false),
        ("rule without a room rule", rule_with(lobby(), &|r| r.rule = None), "rule", Invalid, None, true),
        ("rule with an empty oneof", rule_with(lobby(), &|r| r.rule = Some(pb::SipDispatchRule { rule: None })), "rule", Invalid, None, true),
        ("direct rule without a room", rule_with(direct("", ""), &|_| ()), "rule.dispatch_rule_direct.room_name", Invalid, None, true),
        ("PIN with a letter", rule_with(direct("lobby", "12a4"), &|_| ()), "rule.dispatch_rule_direct.pin", Invalid, Some("12a4"), true),
        ("PIN with #", rule_with(individual("call", "12#", true), &|_| ()), "rule.dispatch_rule_individual.pin", Invalid, Some("12#"), true),
        ("PIN of 17 digits", rule_with(callee("desk", "12345678901234567", false), &|_| ()), "rule.dispatch_rule_callee.pin", Invalid, Some("12345678901234567"), true),
        ("unknown trunk id", rule_with(lobby(), &|r| r.trunk_ids = vec!["ST_nope".into()]), "trunk_ids[0]", Invalid, None, true),
        ("outbound trunk id in trunk_ids", rule_with(lobby(), &|r| r.trunk_ids = vec!["ST_1".into(), "ST_out".into()]), "trunk_ids[1]", Invalid, None, true),
        ("trunk listed twice", rule_with(lobby(), &|r| r.trunk_ids = vec!["ST_1".into(), "ST_1".into()]), "trunk_ids[1]", Invalid, None, true),
        ("empty trunk id in trunk_ids", rule_with(lobby(), &|r| r.trunk_ids = vec![String::new()]), "trunk_ids[0]", Invalid, None, true),
        ("rule number listed twice", rule_with(lobby(), &|r| r.numbers = vec!["7000".into(), "+7000".into()]), "numbers[1]", Invalid, None, true),
        ("rule caller that is only +", rule_with(lobby(), &|r| r.inbound_numbers = vec!["+".into()]), "inbound_numbers[0]", Invalid, None, true),
        ("reserved sip.* attribute", rule_with(lobby(), &|r| r.attributes = [("sip.phoneNumber".to_owned(), "x".to_owned())].into()), "attributes", Invalid, None, true),
        ("room preset", rule_with(lobby(), &|r| r.room_preset = "preset".into()), "room_preset", Unsupported, None, true),
        ("noise cancellation on a rule", rule_with(lobby(), &|r| r.krisp_enabled = true), "krisp_enabled", Unsupported, None, true),
    ];
    let base = || FileEntries {
        inbound: dispatch_trunks(),
        outbound: vec![outbound("ST_out")],
        rules: Vec::new(),
    };
    for (name, entry, field, refused, secret, via_api) in cases {
        let check = |how: &str, r: Result<(), CatalogError>| {
            let e = match r {
                Err(e) => e,
                Ok(()) => panic!("case {name:?} ({how}): accepted"),
            };
            let (kind, f) = match &e {
                CatalogError::Invalid { field, .. } => (Invalid, field),
                CatalogError::Unsupported { field, .. } => (Unsupported, field),
                other => panic!("case {name:?} ({how}): expected a field error, got {other:?}"),
            };
            assert_eq!(
                (kind, f.as_str()),
                (refused, field),
                "case {name:?} ({how}): {e}"
            );
            if let Some(secret) = secret {
                assert!(
                    !e.to_string().contains(secret),
                    "case {name:?} ({how}): {e} shows the secret"
                );
            }
        };

        let mut file = base();
        match entry.clone() {
            Entry::In(t) => file.inbound.push(t),
            Entry::Out(t) => file.outbound.push(t),
            Entry::Rule(r) => file.rules.push(r),
        }
        check("config", Catalog::open_seeded(None, file, 1).map(drop));

        if via_api {
            let cat = catalog(name, base());
            let before = listing(&cat);
            let created = match entry {
                Entry::In(t) => cat.create_inbound(t).map(drop),
                Entry::Out(t) => cat.create_outbound(t).map(drop),
                Entry::Rule(r) => cat.create_rule(r).map(drop),
            };
            check("API", created);
            assert_eq!(
                listing(&cat),
                before,
                "case {name:?} (API): the refused write changed the catalog"
            );
        }
    }
}

/// The room leg's media settings: the rule's when it has them, else the trunk's.
#[test]
fn media_comes_from_the_rule_else_the_trunk() {
    let media = |codec: &str| pb::SipMediaConfig {
        only_listed_codecs: true,
        codecs: vec![pb::SipCodec {
            name: codec.into(),
            rate: 0,
        }],
        ..Default::default()
    };
    let mut t1 = trunk("ST_1", &["+1000"], &[], &[]);
    t1.media = Some(media("PCMA"));
    let t2 = trunk("ST_2", &["+2000"], &[], &[]);
    let mut with_media = d("SDR_media", "", &["ST_1"], &["+1001"], &[]);
    with_media.media = Some(media("PCMU"));
    let plain = d("SDR_plain", "", &[], &[], &[]);
    let cat = catalog("media", file(vec![t1, t2], vec![with_media, plain]));
    #[rustfmt::skip]
    let cases = vec![
        ("rule media wins over the trunk's", "ST_1", "+1001", Some(media("PCMU"))),
        ("trunk media when the rule has none", "ST_1", "+1000", Some(media("PCMA"))),
        ("neither has media", "ST_2", "+2000", None),
    ];
    for (name, trunk_id, called, want) in cases {
        let t = cat.inbound_trunk(trunk_id);
        match cat.dispatch(t.as_ref(), &call(called, "+4441", "192.0.2.1"), None) {
            Dispatch::Room(target) => assert_eq!(target.media, want, "case {name:?}"),
            other => panic!("case {name:?}: not routed: {other:?}"),
        }
    }
}
