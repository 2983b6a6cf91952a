//! Validation of single entries, the set of entries ([`Snapshot`]) and its conflict check,
//! and the lookup index the per-INVITE reads use.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use ipnet::IpNet;

use super::{CatalogError, Origin};
use crate::error::ApiError;
use crate::proto::livekit as pb;
use crate::proto::livekit::{SipDispatchRuleInfo, SipInboundTrunkInfo, SipOutboundTrunkInfo};
use crate::validate::fields::{
    attributes, duration_field, encryption, header_name, host_port, long_text, media_options,
    short_text, sip_headers, transport, user_part,
};
use crate::validate::{
    DEFAULT_MAX_CALL_DURATION, DEFAULT_RINGING_TIMEOUT, MAX_MAX_CALL_DURATION, MAX_RINGING_TIMEOUT,
    MIN_MAX_CALL_DURATION, MIN_RINGING_TIMEOUT, Transport,
};

/// Most numbers in one list (`numbers`, `allowed_numbers`, `inbound_numbers`).
pub const MAX_NUMBERS: usize = 1000;
/// Most entries in `allowed_addresses` and `trunk_ids`.
pub const MAX_LIST: usize = 256;
/// Longest dispatch-rule PIN (DTMF digits).
pub const MAX_PIN_LEN: usize = 16;
/// Attribute keys the gateway sets itself; rules may not set them.
pub const RESERVED_ATTRIBUTE_PREFIX: &str = "sip.";

/// An inbound trunk, checked, with its lists in matching form.
#[derive(Debug)]
pub(super) struct InboundEntry {
    pub info: Arc<SipInboundTrunkInfo>,
    pub origin: Origin,
    /// Called numbers, without a leading `+`; empty for a default trunk.
    pub numbers: BTreeSet<String>,
    /// Callers, without a leading `+`; empty = any.
    pub allowed_numbers: BTreeSet<String>,
    /// Source networks; empty = any.
    pub nets: Vec<IpNet>,
}

/// An outbound trunk, checked.
#[derive(Debug)]
pub(super) struct OutboundEntry {
    pub info: Arc<SipOutboundTrunkInfo>,
    pub origin: Origin,
}

/// How a rule names its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RoomRule {
    /// One room for everybody.
    Direct { room: String },
    /// A room per caller: `prefix_caller`, plus a random suffix when `randomize`.
    Individual { prefix: String, randomize: bool },
    /// A room per called number: `prefix_called`, plus a random suffix when `randomize`.
    Callee { prefix: String, randomize: bool },
}

/// A dispatch rule, checked, with its lists in matching form.
#[derive(Debug)]
pub(super) struct RuleEntry {
    pub info: Arc<SipDispatchRuleInfo>,
    pub origin: Origin,
    pub trunk_ids: BTreeSet<String>,
    pub numbers: BTreeSet<String>,
    pub inbound_numbers: BTreeSet<String>,
    /// Empty: no PIN.
    pub pin: String,
    pub room: RoomRule,
}

impl RuleEntry {
    /// The rank among the rules that apply to a call: (names trunks, names called numbers,
    /// names callers), compared in that order; higher wins.
    pub fn specificity(&self) -> (bool, bool, bool) {
        (
            !self.trunk_ids.is_empty(),
            !self.numbers.is_empty(),
            !self.inbound_numbers.is_empty(),
        )
    }
}

/// Every entry, plus the index built from them. Immutable once published.
#[derive(Debug, Clone, Default)]
pub(super) struct Snapshot {
    pub inbound: BTreeMap<String, Arc<InboundEntry>>,
    pub outbound: BTreeMap<String, Arc<OutboundEntry>>,
    pub rules: BTreeMap<String, Arc<RuleEntry>>,
    /// Called number (no `+`) → trunks naming it, in id order.
    pub by_number: HashMap<String, Vec<Arc<InboundEntry>>>,
    /// Trunks with empty `numbers`, in id order.
    pub default_trunks: Vec<Arc<InboundEntry>>,
    /// Trunk id → rules naming it, in id order.
    pub rules_by_trunk: HashMap<String, Vec<Arc<RuleEntry>>>,
    /// Rules with empty `trunk_ids`, in id order.
    pub open_rules: Vec<Arc<RuleEntry>>,
}

impl Snapshot {
    /// Whether any entry already uses `id`.
    pub fn has_id(&self, id: &str) -> bool {
        self.inbound.contains_key(id)
            || self.outbound.contains_key(id)
            || self.rules.contains_key(id)
    }

    /// Adds a trunk; trunk ids are unique across inbound and outbound (`DeleteSIPTrunk` takes
    /// either).
    pub fn insert_inbound(&mut self, e: InboundEntry) -> Result<(), CatalogError> {
        let id = e.info.sip_trunk_id.clone();
        self.trunk_id_free(&id)?;
        self.inbound.insert(id, Arc::new(e));
        Ok(())
    }

    /// Adds an outbound trunk.
    pub fn insert_outbound(&mut self, e: OutboundEntry) -> Result<(), CatalogError> {
        let id = e.info.sip_trunk_id.clone();
        self.trunk_id_free(&id)?;
        self.outbound.insert(id, Arc::new(e));
        Ok(())
    }

    /// Adds a dispatch rule.
    pub fn insert_rule(&mut self, e: RuleEntry) -> Result<(), CatalogError> {
        let id = e.info.sip_dispatch_rule_id.clone();
        if self.rules.contains_key(&id) {
            return Err(CatalogError::Conflict {
                kind: "dispatch rules",
                first: id.clone(),
                second: id,
                reason: "the same id is used twice".into(),
            });
        }
        self.rules.insert(id, Arc::new(e));
        Ok(())
    }

    /// A rule's `trunk_ids` must name inbound trunks known here: an unknown id is almost
    /// always a typo, and the rule would silently take no call. Checked where a rule is
    /// written (config file, create, update), not when stored rules are reloaded, since
    /// deleting a trunk leaves the rules naming it in place.
    pub fn check_trunk_refs(&self, r: &RuleEntry) -> Result<(), CatalogError> {
        for (i, id) in r.info.trunk_ids.iter().enumerate() {
            if self.inbound.contains_key(id) {
                continue;
            }
            let reason = if self.outbound.contains_key(id) {
                "names an outbound trunk; dispatch rules apply to inbound calls"
            } else {
                "no such inbound trunk"
            };
            return Err(CatalogError::Invalid {
                entry: format!("dispatch rule {:?}", r.info.sip_dispatch_rule_id),
                field: format!("trunk_ids[{i}]"),
                reason: reason.into(),
            });
        }
        Ok(())
    }

    fn trunk_id_free(&self, id: &str) -> Result<(), CatalogError> {
        if self.inbound.contains_key(id) || self.outbound.contains_key(id) {
            return Err(CatalogError::Conflict {
                kind: "trunks",
                first: id.to_owned(),
                second: id.to_owned(),
                reason: "the same id is used twice (trunk ids are shared by inbound and \
                         outbound trunks)"
                    .into(),
            });
        }
        Ok(())
    }

    /// Two inbound trunks, or two dispatch rules, that would claim the same call equally
    /// well are an error naming both (API_COMPAT.md: "two equally good matches are a
    /// configuration error").
    pub fn check_conflicts(&self) -> Result<(), CatalogError> {
        let trunks: Vec<&Arc<InboundEntry>> = self.inbound.values().collect();
        for (i, a) in trunks.iter().enumerate() {
            for b in &trunks[i + 1..] {
                if let Some(reason) = trunks_conflict(a, b) {
                    return Err(CatalogError::Conflict {
                        kind: "inbound trunks",
                        first: a.info.sip_trunk_id.clone(),
                        second: b.info.sip_trunk_id.clone(),
                        reason,
                    });
                }
            }
        }
        let rules: Vec<&Arc<RuleEntry>> = self.rules.values().collect();
        for (i, a) in rules.iter().enumerate() {
            for b in &rules[i + 1..] {
                if let Some(reason) = rules_conflict(a, b) {
                    return Err(CatalogError::Conflict {
                        kind: "dispatch rules",
                        first: a.info.sip_dispatch_rule_id.clone(),
                        second: b.info.sip_dispatch_rule_id.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(())
    }

    /// Rebuilds the lookup index from the entries.
    pub fn build_index(&mut self) {
        self.by_number.clear();
        self.default_trunks.clear();
        self.rules_by_trunk.clear();
        self.open_rules.clear();
        for t in self.inbound.values() {
            if t.numbers.is_empty() {
                self.default_trunks.push(Arc::clone(t));
            }
            for n in &t.numbers {
                self.by_number
                    .entry(n.clone())
                    .or_default()
                    .push(Arc::clone(t));
            }
        }
        for r in self.rules.values() {
            if r.trunk_ids.is_empty() {
                self.open_rules.push(Arc::clone(r));
            }
            for id in &r.trunk_ids {
                self.rules_by_trunk
                    .entry(id.clone())
                    .or_default()
                    .push(Arc::clone(r));
            }
        }
    }
}

impl InboundEntry {
    /// Whether the trunk admits a call from `caller` (no `+`) at `source`; the refusal
    /// otherwise.
    pub fn admits(&self, caller: &str, source: std::net::IpAddr) -> Result<(), super::Refusal> {
        if !self.nets.is_empty() && !self.nets.iter().any(|n| n.contains(&source)) {
            return Err(super::Refusal::ADDRESS);
        }
        if !self.allowed_numbers.is_empty() && !self.allowed_numbers.contains(caller) {
            return Err(super::Refusal::NUMBER);
        }
        Ok(())
    }
}

fn trunks_conflict(a: &InboundEntry, b: &InboundEntry) -> Option<String> {
    let called = if a.numbers.is_empty() && b.numbers.is_empty() {
        "any number (both are default trunks)".to_owned()
    } else {
        let n = a.numbers.intersection(&b.numbers).next()?;
        format!("number {n}")
    };
    if !sets_overlap(&a.allowed_numbers, &b.allowed_numbers) || !nets_overlap(&a.nets, &b.nets) {
        return None;
    }
    Some(format!(
        "both take calls to {called} from the same callers and addresses; give them \
         different numbers, allowed_addresses or allowed_numbers"
    ))
}

fn rules_conflict(a: &RuleEntry, b: &RuleEntry) -> Option<String> {
    let same = a.specificity() == b.specificity()
        && a.pin == b.pin
        && sets_overlap(&a.trunk_ids, &b.trunk_ids)
        && sets_overlap(&a.numbers, &b.numbers)
        && sets_overlap(&a.inbound_numbers, &b.inbound_numbers);
    same.then(|| {
        let pin = if a.pin.is_empty() {
            "neither has a PIN"
        } else {
            "they have the same PIN"
        };
        format!(
            "both would take the same calls and {pin}; give them different trunk_ids, \
             numbers, inbound_numbers or PINs"
        )
    })
}

/// Empty means "any", so it overlaps everything.
fn sets_overlap(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    a.is_empty() || b.is_empty() || a.intersection(b).next().is_some()
}

fn nets_overlap(a: &[IpNet], b: &[IpNet]) -> bool {
    a.is_empty()
        || b.is_empty()
        || a.iter().any(|x| {
            b.iter()
                .any(|y| x.contains(&y.network()) || y.contains(&x.network()))
        })
}

/// A number without its leading `+` (numbers match leniently on it).
pub(super) fn normalize(n: &str) -> &str {
    n.strip_prefix('+').unwrap_or(n)
}

/// Checks an inbound trunk (`SIPInboundTrunkInfo`).
pub(super) fn inbound(
    t: SipInboundTrunkInfo,
    origin: Origin,
) -> Result<InboundEntry, CatalogError> {
    let entry = format!("inbound trunk {:?}", t.sip_trunk_id);
    let fail = |e: ApiError| from_api(&entry, e);
    entry_id("sip_trunk_id", &t.sip_trunk_id).map_err(fail)?;
    short_text("name", &t.name).map_err(fail)?;
    long_text("metadata", t.metadata.clone()).map_err(fail)?;
    let numbers = number_set("numbers", &t.numbers).map_err(fail)?;
    let allowed_numbers = number_set("allowed_numbers", &t.allowed_numbers).map_err(fail)?;
    let nets = networks("allowed_addresses", &t.allowed_addresses).map_err(fail)?;
    credentials(&t.auth_username, &t.auth_password).map_err(fail)?;
    if !t.auth_realm.is_empty() {
        short_text("auth_realm", &t.auth_realm).map_err(fail)?;
        if t.auth_username.is_empty() {
            return Err(fail(ApiError::invalid(
                "auth_realm",
                "set without auth_username",
            )));
        }
    }
    sip_headers("headers", t.headers.clone()).map_err(fail)?;
    header_maps(&t.headers_to_attributes, &t.attributes_to_headers).map_err(fail)?;
    no_include_headers(t.include_headers).map_err(fail)?;
    duration_field(
        "ringing_timeout",
        t.ringing_timeout,
        DEFAULT_RINGING_TIMEOUT,
        MIN_RINGING_TIMEOUT,
        MAX_RINGING_TIMEOUT,
    )
    .map_err(fail)?;
    duration_field(
        "max_call_duration",
        t.max_call_duration,
        DEFAULT_MAX_CALL_DURATION,
        MIN_MAX_CALL_DURATION,
        MAX_MAX_CALL_DURATION,
    )
    .map_err(fail)?;
    no_krisp(t.krisp_enabled).map_err(fail)?;
    encryption("media_encryption", t.media_encryption).map_err(fail)?;
    media_options(t.media.clone()).map_err(fail)?;
    Ok(InboundEntry {
        info: Arc::new(t),
        origin,
        numbers,
        allowed_numbers,
        nets,
    })
}

/// Checks an outbound trunk (`SIPOutboundTrunkInfo`).
pub(super) fn outbound(
    t: SipOutboundTrunkInfo,
    origin: Origin,
) -> Result<OutboundEntry, CatalogError> {
    let entry = format!("outbound trunk {:?}", t.sip_trunk_id);
    let fail = |e: ApiError| from_api(&entry, e);
    entry_id("sip_trunk_id", &t.sip_trunk_id).map_err(fail)?;
    short_text("name", &t.name).map_err(fail)?;
    long_text("metadata", t.metadata.clone()).map_err(fail)?;
    if t.address.is_empty() {
        return Err(fail(ApiError::invalid("address", "required")));
    }
    host_port("address", &t.address).map_err(fail)?;
    if !t.destination_country.is_empty() {
        return Err(fail(ApiError::unsupported(
            "destination_country",
            "region routing is not supported",
        )));
    }
    if transport("transport", t.transport).map_err(fail)? == Transport::Tls {
        return Err(fail(ApiError::unsupported(
            "transport",
            "TLS transport is not supported yet",
        )));
    }
    number_set("numbers", &t.numbers).map_err(fail)?;
    credentials(&t.auth_username, &t.auth_password).map_err(fail)?;
    sip_headers("headers", t.headers.clone()).map_err(fail)?;
    header_maps(&t.headers_to_attributes, &t.attributes_to_headers).map_err(fail)?;
    no_include_headers(t.include_headers).map_err(fail)?;
    encryption("media_encryption", t.media_encryption).map_err(fail)?;
    media_options(t.media.clone()).map_err(fail)?;
    if !t.from_host.is_empty() {
        host_port("from_host", &t.from_host).map_err(fail)?;
    }
    Ok(OutboundEntry {
        info: Arc::new(t),
        origin,
    })
}

/// Checks a dispatch rule (`SIPDispatchRuleInfo`).
pub(super) fn rule(r: SipDispatchRuleInfo, origin: Origin) -> Result<RuleEntry, CatalogError> {
    use pb::sip_dispatch_rule::Rule;
    let entry = format!("dispatch rule {:?}", r.sip_dispatch_rule_id);
    let fail = |e: ApiError| from_api(&entry, e);
    entry_id("sip_dispatch_rule_id", &r.sip_dispatch_rule_id).map_err(fail)?;
    short_text("name", &r.name).map_err(fail)?;
    long_text("metadata", r.metadata.clone()).map_err(fail)?;
    let (room, pin) = match r.rule.as_ref().and_then(|r| r.rule.as_ref()) {
        None => {
            return Err(fail(ApiError::invalid(
                "rule",
                "required: one of dispatch_rule_direct, dispatch_rule_individual, \
                 dispatch_rule_callee",
            )));
        }
        Some(Rule::DispatchRuleDirect(d)) => {
            let field = "rule.dispatch_rule_direct";
            if d.room_name.is_empty() {
                return Err(fail(ApiError::invalid(
                    format!("{field}.room_name"),
                    "required",
                )));
            }
            short_text(&format!("{field}.room_name"), &d.room_name).map_err(fail)?;
            let room = RoomRule::Direct {
                room: d.room_name.clone(),
            };
            (
                room,
                pin_field(&format!("{field}.pin"), &d.pin).map_err(fail)?,
            )
        }
        Some(Rule::DispatchRuleIndividual(d)) => {
            let field = "rule.dispatch_rule_individual";
            short_text(&format!("{field}.room_prefix"), &d.room_prefix).map_err(fail)?;
            let room = RoomRule::Individual {
                prefix: d.room_prefix.clone(),
                randomize: !d.no_randomness,
            };
            (
                room,
                pin_field(&format!("{field}.pin"), &d.pin).map_err(fail)?,
            )
        }
        Some(Rule::DispatchRuleCallee(d)) => {
            let field = "rule.dispatch_rule_callee";
            short_text(&format!("{field}.room_prefix"), &d.room_prefix).map_err(fail)?;
            let room = RoomRule::Callee {
                prefix: d.room_prefix.clone(),
                randomize: d.randomize,
            };
            (
                room,
                pin_field(&format!("{field}.pin"), &d.pin).map_err(fail)?,
            )
        }
    };
    let trunk_ids = id_set("trunk_ids", &r.trunk_ids).map_err(fail)?;
    let numbers = number_set("numbers", &r.numbers).map_err(fail)?;
    let inbound_numbers = number_set("inbound_numbers", &r.inbound_numbers).map_err(fail)?;
    let attrs = attributes("attributes", r.attributes.clone()).map_err(fail)?;
    if let Some(k) = attrs
        .keys()
        .find(|k| k.starts_with(RESERVED_ATTRIBUTE_PREFIX))
    {
        return Err(fail(ApiError::invalid(
            "attributes",
            format!("{k:?}: sip.* attributes are set by sipbridge"),
        )));
    }
    if !r.room_preset.is_empty() {
        return Err(fail(ApiError::unsupported(
            "room_preset",
            "room presets are not supported",
        )));
    }
    if r.room_config.as_ref().is_some_and(|c| !c.name.is_empty()) {
        return Err(fail(ApiError::unsupported(
            "room_config",
            "room configuration is not supported",
        )));
    }
    no_krisp(r.krisp_enabled).map_err(fail)?;
    encryption("media_encryption", r.media_encryption).map_err(fail)?;
    media_options(r.media.clone()).map_err(fail)?;
    Ok(RuleEntry {
        info: Arc::new(r),
        origin,
        trunk_ids,
        numbers,
        inbound_numbers,
        pin,
        room,
    })
}

/// An update's body may repeat the id it updates, but not name another one.
pub(super) fn same_id(
    kind: &str,
    field: &str,
    id: &str,
    body_id: &str,
) -> Result<(), CatalogError> {
    if body_id.is_empty() || body_id == id {
        return Ok(());
    }
    Err(CatalogError::Invalid {
        entry: format!("{kind} {id:?}"),
        field: format!("replace.{field}"),
        reason: "differs from the id being updated".into(),
    })
}

fn from_api(entry: &str, e: ApiError) -> CatalogError {
    match e {
        ApiError::Unsupported { field, reason } => CatalogError::Unsupported {
            entry: entry.to_owned(),
            field,
            reason,
        },
        ApiError::InvalidArgument { field, reason } => CatalogError::Invalid {
            entry: entry.to_owned(),
            field,
            reason,
        },
        other => CatalogError::Invalid {
            entry: entry.to_owned(),
            field: String::new(),
            reason: other.to_string(),
        },
    }
}

/// Ids: required, bounded, visible ASCII (they travel in URLs, logs and attributes).
fn entry_id(field: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            field,
            "must be 1..=128 visible ASCII characters",
        ));
    }
    Ok(())
}

fn id_set(field: &str, ids: &[String]) -> Result<BTreeSet<String>, ApiError> {
    if ids.len() > MAX_LIST {
        return Err(ApiError::invalid(
            field,
            format!("more than {MAX_LIST} entries"),
        ));
    }
    let mut out = BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        let f = format!("{field}[{i}]");
        entry_id(&f, id)?;
        if !out.insert(id.clone()) {
            return Err(ApiError::invalid(f, "listed twice"));
        }
    }
    Ok(out)
}

/// Phone numbers / SIP user parts; compared without a leading `+`, so `+1555` and `1555`
/// are the same number (and listing both is listing it twice).
fn number_set(field: &str, numbers: &[String]) -> Result<BTreeSet<String>, ApiError> {
    if numbers.len() > MAX_NUMBERS {
        return Err(ApiError::invalid(
            field,
            format!("more than {MAX_NUMBERS} numbers"),
        ));
    }
    let mut out = BTreeSet::new();
    for (i, n) in numbers.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if normalize(n).is_empty() {
            return Err(ApiError::invalid(f, "empty number"));
        }
        user_part(&f, n)?;
        if !out.insert(normalize(n).to_owned()) {
            return Err(ApiError::invalid(f, "listed twice"));
        }
    }
    Ok(out)
}

/// `allowed_addresses`: IP addresses or CIDR blocks (host bits are ignored). IPv4-mapped
/// IPv6 forms (`::ffff:192.0.2.1`, `::ffff:192.0.2.0/120`) are kept as IPv4: the source
/// address is compared in canonical form (`select::match_inbound`), so a mapped entry would
/// otherwise never match anything.
fn networks(field: &str, addrs: &[String]) -> Result<Vec<IpNet>, ApiError> {
    if addrs.len() > MAX_LIST {
        return Err(ApiError::invalid(
            field,
            format!("more than {MAX_LIST} entries"),
        ));
    }
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let a = a.trim();
            a.parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| a.parse::<std::net::IpAddr>().map(IpNet::from))
                .map(canonical_net)
                .map_err(|_| {
                    ApiError::invalid(format!("{field}[{i}]"), "not an IP address or CIDR block")
                })
        })
        .collect()
}

/// An IPv4-mapped IPv6 network (prefix of at least 96 bits) as the IPv4 network it maps.
fn canonical_net(n: IpNet) -> IpNet {
    match n {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(n, IpNet::V4),
            None => n,
        },
        other => other,
    }
}

/// Digest credentials come in pairs; neither is echoed in errors.
fn credentials(username: &str, password: &str) -> Result<(), ApiError> {
    short_text("auth_username", username)?;
    if password.len() > crate::validate::MAX_SHORT_LEN || password.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "auth_password",
            "too long or contains control characters",
        ));
    }
    match (username.is_empty(), password.is_empty()) {
        (true, false) => Err(ApiError::invalid(
            "auth_password",
            "set without auth_username",
        )),
        (false, true) => Err(ApiError::invalid(
            "auth_username",
            "set without auth_password",
        )),
        _ => Ok(()),
    }
}

fn header_maps(
    headers_to_attributes: &HashMap<String, String>,
    attributes_to_headers: &HashMap<String, String>,
) -> Result<(), ApiError> {
    attributes("headers_to_attributes", headers_to_attributes.clone())?;
    for header in headers_to_attributes.keys() {
        header_name("headers_to_attributes", header, false)?;
    }
    attributes("attributes_to_headers", attributes_to_headers.clone())?;
    for header in attributes_to_headers.values() {
        header_name("attributes_to_headers", header, true)?;
    }
    Ok(())
}

fn no_include_headers(value: i32) -> Result<(), ApiError> {
    match pb::SipHeaderOptions::try_from(value) {
        Ok(pb::SipHeaderOptions::SipNoHeaders) => Ok(()),
        // Copying SIP headers into attributes needs gateway support that does not exist
        // yet; refused rather than silently ignored.
        Ok(_) => Err(ApiError::unsupported(
            "include_headers",
            "only SIP_NO_HEADERS is supported",
        )),
        Err(_) => Err(ApiError::invalid("include_headers", "unknown value")),
    }
}

fn no_krisp(enabled: bool) -> Result<(), ApiError> {
    if enabled {
        // Noise cancellation is a proprietary model sipbridge does not ship.
        return Err(ApiError::unsupported(
            "krisp_enabled",
            "noise cancellation is not available",
        ));
    }
    Ok(())
}

/// A PIN is DTMF digits `0`-`9` (`#` ends the entry, so it cannot be part of it).
fn pin_field(field: &str, pin: &str) -> Result<String, ApiError> {
    if pin.len() > MAX_PIN_LEN || !pin.bytes().all(|b| b.is_ascii_digit()) {
        // The PIN itself is never echoed.
        return Err(ApiError::invalid(
            field,
            format!("must be up to {MAX_PIN_LEN} digits 0-9"),
        ));
    }
    Ok(pin.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, input list, the parsed list or the field of the error)
    type ListCase = (
        &'static str,
        &'static [&'static str],
        Result<&'static [&'static str], &'static str>,
    );

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn normalize_strips_one_leading_plus() {
        let cases = [
            ("E.164", "+15550100", "15550100"),
            ("bare", "15550100", "15550100"),
            ("only one plus", "++1", "+1"),
            ("plus inside", "1+2", "1+2"),
            ("empty", "", ""),
        ];
        for (name, input, want) in cases {
            assert_eq!(normalize(input), want, "case {name:?}");
        }
    }

    #[test]
    fn networks_table() {
        let cases: [ListCase; 9] = [
            ("single IPv4", &["192.0.2.1"], Ok(&["192.0.2.1/32"])),
            ("single IPv6", &["2001:db8::1"], Ok(&["2001:db8::1/128"])),
            (
                "host bits dropped",
                &["10.1.2.3/16", "2001:db8::5/32"],
                Ok(&["10.1.0.0/16", "2001:db8::/32"]),
            ),
            ("spaces trimmed", &[" 192.0.2.0/24 "], Ok(&["192.0.2.0/24"])),
            (
                "mapped address",
                &["::ffff:192.0.2.1"],
                Ok(&["192.0.2.1/32"]),
            ),
            (
                "mapped network",
                &["::ffff:192.0.2.0/120"],
                Ok(&["192.0.2.0/24"]),
            ),
            // Shorter than the mapped prefix: not only mapped addresses, stays IPv6.
            (
                "short IPv6 prefix stays IPv6",
                &["::ffff:0:0/95"],
                Ok(&["::fffe:0:0/95"]),
            ),
            (
                "bad second entry",
                &["192.0.2.1", "192.0.2.0/40"],
                Err("allowed_addresses[1]"),
            ),
            ("name", &["localhost"], Err("allowed_addresses[0]")),
        ];
        for (name, input, want) in cases {
            let input: Vec<String> = input.iter().map(|s| (*s).to_owned()).collect();
            match (networks("allowed_addresses", &input), want) {
                (Ok(got), Ok(want)) => {
                    let want: Vec<IpNet> = want.iter().map(|s| net(s)).collect();
                    assert_eq!(got, want, "case {name:?}");
                }
                (Err(ApiError::InvalidArgument { field, .. }), Err(want)) => {
                    assert_eq!(field, want, "case {name:?}");
                }
                (got, want) => panic!("case {name:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn networks_bounds_the_list() {
        let many = vec!["192.0.2.1".to_owned(); MAX_LIST + 1];
        assert!(networks("allowed_addresses", &many).is_err());
        assert!(networks("allowed_addresses", &many[..MAX_LIST]).is_ok());
    }

    #[test]
    fn nets_overlap_table() {
        let cases: [(&str, &[&str], &[&str], bool); 8] = [
            ("empty is any", &[], &["10.0.0.0/8"], true),
            ("both empty", &[], &[], true),
            ("nested", &["10.0.0.0/8"], &["10.1.0.0/16"], true),
            (
                "nested, other order",
                &["10.1.0.0/16"],
                &["10.0.0.0/8"],
                true,
            ),
            (
                "address in network",
                &["10.0.0.0/8"],
                &["10.9.9.9/32"],
                true,
            ),
            ("disjoint", &["10.0.0.0/8"], &["192.0.2.0/24"], false),
            ("adjacent", &["10.0.0.0/9"], &["10.128.0.0/9"], false),
            ("IPv4 and IPv6", &["0.0.0.0/0"], &["::/0"], false),
        ];
        for (name, a, b, want) in cases {
            let a: Vec<IpNet> = a.iter().map(|s| net(s)).collect();
            let b: Vec<IpNet> = b.iter().map(|s| net(s)).collect();
            assert_eq!(nets_overlap(&a, &b), want, "case {name:?}");
            assert_eq!(nets_overlap(&b, &a), want, "case {name:?} (swapped)");
        }
    }

    #[test]
    fn sets_overlap_table() {
        let set = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        let cases: [(&str, &[&str], &[&str], bool); 4] = [
            ("empty is any", &[], &["1"], true),
            ("both empty", &[], &[], true),
            ("shared", &["1", "2"], &["2", "3"], true),
            ("disjoint", &["1"], &["2"], false),
        ];
        for (name, a, b, want) in cases {
            assert_eq!(sets_overlap(&set(a), &set(b)), want, "case {name:?}");
        }
    }

    #[test]
    fn number_set_table() {
        let cases: [ListCase; 6] = [
            ("normalised", &["+1000", "2000"], Ok(&["1000", "2000"])),
            (
                "# is not a user-part character",
                &["*67", "100#"],
                Err("numbers[1]"),
            ),
            ("only plus", &["+"], Err("numbers[0]")),
            ("empty", &["1", ""], Err("numbers[1]")),
            ("twice via plus", &["1000", "+1000"], Err("numbers[1]")),
            ("space", &["1 000"], Err("numbers[0]")),
        ];
        for (name, input, want) in cases {
            let input: Vec<String> = input.iter().map(|s| (*s).to_owned()).collect();
            match (number_set("numbers", &input), want) {
                (Ok(got), Ok(want)) => {
                    let want: BTreeSet<String> = want.iter().map(|s| (*s).to_owned()).collect();
                    assert_eq!(got, want, "case {name:?}");
                }
                (Err(ApiError::InvalidArgument { field, .. }), Err(want)) => {
                    assert_eq!(field, want, "case {name:?}");
                }
                (got, want) => panic!("case {name:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn pin_field_table() {
        let cases = [
            ("empty: no PIN", "", true),
            ("digits", "0123456789", true),
            ("longest", "1234567890123456", true),
            ("too long", "12345678901234567", false),
            ("letter", "12a", false),
            ("star", "12*", false),
            ("hash ends the entry", "12#", false),
            ("non-ASCII digit", "١٢", false),
        ];
        for (name, pin, ok) in cases {
            let got = pin_field("pin", pin);
            assert_eq!(got.is_ok(), ok, "case {name:?}: {got:?}");
            if let Err(e) = got {
                assert!(
                    !pin.is_empty() && !e.to_string().contains(pin),
                    "case {name:?}: {e}"
                );
            }
        }
    }

    #[test]
    fn entry_id_table() {
        let cases = [
            ("generated", "ST_abc123", true),
            ("punctuation", "my-trunk.1", true),
            ("empty", "", false),
            ("space", "a b", false),
            ("control", "a\nb", false),
            ("non-ASCII", "trunké", false),
            ("128 bytes", &"x".repeat(128), true),
            ("129 bytes", &"x".repeat(129), false),
        ];
        for (name, id, ok) in cases {
            assert_eq!(entry_id("id", id).is_ok(), ok, "case {name:?}");
        }
    }

    #[test]
    fn credentials_table() {
        let cases = [
            ("none", "", "", true),
            ("both", "user", "pw", true),
            ("password only", "", "pw", false),
            ("username only", "user", "", false),
            ("control in password", "user", "p\rw", false),
        ];
        for (name, user, pw, ok) in cases {
            let got = credentials(user, pw);
            assert_eq!(got.is_ok(), ok, "case {name:?}: {got:?}");
            if let (Err(e), false) = (&got, pw.is_empty()) {
                assert!(
                    !e.to_string().contains(pw),
                    "case {name:?}: {e} shows the password"
                );
            }
        }
    }
}
