//! Trunks and dispatch rules: the catalog the inbound call flow reads on every INVITE and the
//! management API (`livekit.SIP` trunk and dispatch-rule methods) writes.
//!
//! Contract:
//! - Two sources: entries from the config file ([`FileEntries`], read-only: the API refuses to
//!   update or delete them) and entries written through the API, persisted in an embedded
//!   database (`redb`, one file `catalog.redb` in the data directory) so they survive a
//!   restart. Without a data directory the API entries live in memory only.
//! - Every entry is validated on the way in (field errors name the field) and the whole set is
//!   checked for conflicts: two trunks, or two dispatch rules, that would claim the same call
//!   equally well are an error naming both ids (at [`Catalog::open`] for what is loaded, at
//!   create/update for API writes, which then change nothing).
//! - Reads ([`Catalog::match_inbound`], [`Catalog::dispatch`], [`Catalog::outbound_trunk`])
//!   clone one `Arc` of an immutable snapshot under a read lock held for that clone only; an
//!   API write goes to the database first and then swaps in a new snapshot.
//! - Secrets (trunk `auth_password`, rule PINs) are returned by the reads the gateway needs;
//!   the API blanks them before anything leaves, and nothing here logs them.
//!
//! Trunk matching (API_COMPAT.md §Semantics): a trunk whose `numbers` hold the called number
//! beats a trunk with empty `numbers` (a default trunk). `allowed_addresses` (IPs or CIDRs)
//! and `allowed_numbers` (callers) filter before that ranking, so a call refused by a number's
//! own trunk may still be taken by an open default trunk, as in the anchor; when no trunk
//! admits the call but one exists for the number, the answer is [`TrunkMatch::NotAllowed`].
//!
//! A dispatch rule's `trunk_ids` must name existing inbound trunks when the rule is written
//! (a config-file rule: trunks of the config file). Deleting a trunk keeps the rules naming
//! it; they then apply to no call through that trunk.
//!
//! Dispatch-rule priority: among the rules that apply (`trunk_ids` holding the call's trunk
//! or empty, `numbers` holding the called number or empty, `inbound_numbers` holding the
//! caller or empty) the most specific win, ranked by (names the trunk, names the called
//! number, names the caller) in that order; among those, PIN rules come first: the caller's
//! PIN picks the rule, and an empty PIN (just `#`) picks the tier's rule without a PIN, if
//! it has one. Numbers compare leniently on a leading `+`.

mod check;
mod select;
mod store;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{ApiError, CallError, TwirpCode};
use crate::proto::livekit::{
    SipDispatchRuleInfo, SipInboundTrunkInfo, SipMediaConfig, SipOutboundTrunkInfo,
};

use check::Snapshot;
use store::Store;

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "catalog.redb";
/// Prefix of generated trunk ids.
pub const TRUNK_ID_PREFIX: &str = "ST_";
/// Prefix of generated dispatch-rule ids.
pub const RULE_ID_PREFIX: &str = "SDR_";

/// Trunks and dispatch rules; cheap to clone (one `Arc`), shared by the API and the calls.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

struct Inner {
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises writers so that check → store → swap is one step.
    writer: Mutex<()>,
    store: Option<Store>,
    /// Counter for SplitMix64: ids and random room-name suffixes.
    rng: AtomicU64,
}

/// Entries from the config file: loaded read-only beside the API's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileEntries {
    /// `[[inbound_trunks]]`.
    pub inbound: Vec<SipInboundTrunkInfo>,
    /// `[[outbound_trunks]]`.
    pub outbound: Vec<SipOutboundTrunkInfo>,
    /// `[[dispatch_rules]]`.
    pub rules: Vec<SipDispatchRuleInfo>,
}

/// What the catalog needs to know about an incoming INVITE.
#[derive(Debug, Clone, Copy)]
pub struct InboundCall<'a> {
    /// sipbridge's call id (`SCL_…`), for the `sip.callID` attribute.
    pub call_id: &'a str,
    /// The called number: user part of the To / Request-URI.
    pub called: &'a str,
    /// The calling number: user part of From.
    pub caller: &'a str,
    /// Where the INVITE came from.
    pub source: IpAddr,
}

/// The outcome of trunk matching.
#[derive(Debug, Clone, PartialEq)]
pub enum TrunkMatch {
    /// The best trunk for the call (a trunk naming the number beats a default one).
    Trunk(Arc<SipInboundTrunkInfo>),
    /// No trunk serves the called number: 404 (or a silent drop; the gateway decides).
    NoTrunk,
    /// A trunk serves the number but the source address or the caller is not allowed: 403.
    NotAllowed(Refusal),
}

/// Why a call was refused, as a bounded metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// `"address_not_allowed"` or `"number_not_allowed"`.
    pub reason: &'static str,
}

impl Refusal {
    /// The source address is outside the trunk's `allowed_addresses`.
    pub const ADDRESS: Refusal = Refusal {
        reason: "address_not_allowed",
    };
    /// The caller is not among the trunk's `allowed_numbers`.
    pub const NUMBER: Refusal = Refusal {
        reason: "number_not_allowed",
    };
}

/// The outcome of dispatch.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatch {
    /// Put the caller into this room.
    Room(Box<RoomTarget>),
    /// The best rules need a PIN: collect up to `digits_max` DTMF digits (until `#`) and ask
    /// again with it.
    NeedPin {
        /// The longest PIN among the candidate rules.
        digits_max: usize,
    },
    /// The PIN matches no candidate rule: re-prompt (bounded tries), then hang up.
    WrongPin,
    /// No rule applies: 404.
    NoRule,
}

/// Where a dispatched call goes and who the caller is in the room.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomTarget {
    /// The rule that matched.
    pub rule_id: String,
    /// The room.
    pub room_name: String,
    /// `sip_` + the caller's number (generated when hidden or absent).
    pub participant_identity: String,
    /// Display name of the participant.
    pub participant_name: String,
    /// `sip.callID`, `sip.trunkID`, `sip.ruleID`, `sip.phoneNumber` (omitted when the number
    /// is hidden), `sip.trunkPhoneNumber`, then the rule's own attributes.
    pub attributes: BTreeMap<String, String>,
    /// The rule's `hide_phone_number`.
    pub hide_phone_number: bool,
    /// The rule's media settings, else the trunk's.
    pub media: Option<SipMediaConfig>,
    /// Participant metadata (the rule's `metadata`).
    pub metadata: String,
}

/// Why the catalog refused something. Every variant names what it is about; none carries a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// A field is invalid.
    #[error("{entry}: {field}: {reason}")]
    Invalid {
        /// The entry (`inbound trunk "ST_x"`, …).
        entry: String,
        /// The proto field name (dotted / indexed for nested fields).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field asks for something sipbridge does not support.
    #[error("{entry}: {field}: {reason}")]
    Unsupported {
        /// The entry.
        entry: String,
        /// The proto field name.
        field: String,
        /// What is not supported.
        reason: String,
    },
    /// Two entries would claim the same call equally well (or share an id).
    #[error("{kind} {first:?} and {second:?} conflict: {reason}")]
    Conflict {
        /// `"inbound trunks"`, `"dispatch rules"`, `"trunks"`.
        kind: &'static str,
        /// One id.
        first: String,
        /// The other id.
        second: String,
        /// Why they conflict.
        reason: String,
    },
    /// No entry with this id.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// `"inbound trunk"`, `"outbound trunk"`, `"trunk"`, `"dispatch rule"`.
        kind: &'static str,
        /// The id asked for (bounded).
        id: String,
    },
    /// The entry comes from the config file and cannot be changed through the API.
    #[error("{kind} {id:?} comes from the config file and is read-only")]
    ReadOnly {
        /// The entry kind.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The database failed (or holds an entry that does not decode).
    #[error("catalog database: {0}")]
    Storage(String),
}

impl CatalogError {
    /// No `kind` with this `id` (the id is kept bounded: it is peer input).
    pub fn not_found(kind: &'static str, id: &str) -> Self {
        CatalogError::NotFound {
            kind,
            id: id.chars().take(128).collect(),
        }
    }

    /// The Twirp code the API answers with.
    pub fn code(&self) -> TwirpCode {
        match self {
            Self::Invalid { .. } | Self::Conflict { .. } => TwirpCode::InvalidArgument,
            Self::Unsupported { .. } => TwirpCode::Unimplemented,
            Self::NotFound { .. } => TwirpCode::NotFound,
            Self::ReadOnly { .. } => TwirpCode::FailedPrecondition,
            Self::Storage(_) => TwirpCode::Internal,
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Invalid { field, reason, .. } => {
                ApiError::InvalidArgument { field, reason }
            }
            CatalogError::Unsupported { field, reason, .. } => {
                ApiError::Unsupported { field, reason }
            }
            other => ApiError::Call(CallError::new(other.code(), other.to_string())),
        }
    }
}

/// Where an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    File,
    Api,
}

impl Catalog {
    /// Opens the catalog: the config file's entries plus, with a data directory, the ones
    /// stored there (created on first use). Validates everything.
    pub fn open(data_dir: Option<&Path>, file: FileEntries) -> Result<Catalog, CatalogError> {
        Self::open_seeded(data_dir, file, os_seed())
    }

    /// [`Catalog::open`] with a fixed seed for generated ids and room-name suffixes, so tests
    /// are deterministic.
    pub fn open_seeded(
        data_dir: Option<&Path>,
        file: FileEntries,
        seed: u64,
    ) -> Result<Catalog, CatalogError> {
        let mut snapshot = Snapshot::default();
        for t in file.inbound {
            snapshot.insert_inbound(check::inbound(t, Origin::File)?)?;
        }
        for t in file.outbound {
            snapshot.insert_outbound(check::outbound(t, Origin::File)?)?;
        }
        // Only the file's own trunks exist yet: a file rule may not depend on a trunk that
        // the API could delete.
        for r in file.rules {
            let entry = check::rule(r, Origin::File)?;
            snapshot.check_trunk_refs(&entry)?;
            snapshot.insert_rule(entry)?;
        }
        let store = match data_dir {
            Some(dir) => {
                let store = Store::open(dir)?;
                let stored = store.load()?;
                for t in stored.inbound {
                    snapshot.insert_inbound(check::inbound(t, Origin::Api)?)?;
                }
                for t in stored.outbound {
                    snapshot.insert_outbound(check::outbound(t, Origin::Api)?)?;
                }
                for r in stored.rules {
                    snapshot.insert_rule(check::rule(r, Origin::Api)?)?;
                }
                Some(store)
            }
            None => None,
        };
        snapshot.check_conflicts()?;
        snapshot.build_index();
        Ok(Catalog {
            inner: Arc::new(Inner {
                snapshot: RwLock::new(Arc::new(snapshot)),
                writer: Mutex::new(()),
                store,
                rng: AtomicU64::new(seed),
            }),
        })
    }

    /// An outbound trunk, with its secrets (for dialing).
    pub fn outbound_trunk(&self, id: &str) -> Option<SipOutboundTrunkInfo> {
        self.snapshot()
            .outbound
            .get(id)
            .map(|e| SipOutboundTrunkInfo::clone(&e.info))
    }

    /// An inbound trunk, with its secrets.
    pub fn inbound_trunk(&self, id: &str) -> Option<SipInboundTrunkInfo> {
        self.snapshot()
            .inbound
            .get(id)
            .map(|e| SipInboundTrunkInfo::clone(&e.info))
    }

    /// All inbound trunks in id order, with secrets (the API blanks them).
    pub fn inbound_trunks(&self) -> Vec<SipInboundTrunkInfo> {
        let snap = self.snapshot();
        snap.inbound.values().map(|e| (*e.info).clone()).collect()
    }

    /// All outbound trunks in id order, with secrets (the API blanks them).
    pub fn outbound_trunks(&self) -> Vec<SipOutboundTrunkInfo> {
        let snap = self.snapshot();
        snap.outbound.values().map(|e| (*e.info).clone()).collect()
    }

    /// A dispatch rule, with its PIN.
    pub fn dispatch_rule(&self, id: &str) -> Option<SipDispatchRuleInfo> {
        self.snapshot()
            .rules
            .get(id)
            .map(|e| SipDispatchRuleInfo::clone(&e.info))
    }

    /// All dispatch rules in id order, with PINs (the API blanks them).
    pub fn dispatch_rules(&self) -> Vec<SipDispatchRuleInfo> {
        let snap = self.snapshot();
        snap.rules.values().map(|e| (*e.info).clone()).collect()
    }

    /// The trunk for an incoming call.
    pub fn match_inbound(&self, call: &InboundCall<'_>) -> TrunkMatch {
        select::match_inbound(&self.snapshot(), call)
    }

    /// The room for a call that arrived on `trunk` (`None`: no trunk, only rules with empty
    /// `trunk_ids` apply). `pin`: the digits the caller entered (without `#`), once asked.
    pub fn dispatch(
        &self,
        trunk: Option<&SipInboundTrunkInfo>,
        call: &InboundCall<'_>,
        pin: Option<&str>,
    ) -> Dispatch {
        select::dispatch(&self.snapshot(), trunk, call, pin, &mut || {
            self.next_random()
        })
    }

    /// Creates an inbound trunk (`CreateSIPInboundTrunk`): a fresh `ST_` id and timestamps
    /// are set, whatever the request held.
    pub fn create_inbound(
        &self,
        mut t: SipInboundTrunkInfo,
    ) -> Result<SipInboundTrunkInfo, CatalogError> {
        let now = Some(timestamp(SystemTime::now()));
        t.created_at = now;
        t.updated_at = now;
        self.write(|snap, id| {
            t.sip_trunk_id = id(TRUNK_ID_PREFIX);
            let entry = check::inbound(t, Origin::Api)?;
            let info = (*entry.info).clone();
            snap.insert_inbound(entry)?;
            Ok((Change::PutInbound(info.clone()), info))
        })
    }

    /// Replaces an inbound trunk written through the API (`UpdateSIPInboundTrunk`); keeps its
    /// id and `created_at`.
    pub fn update_inbound(
        &self,
        id: &str,
        mut t: SipInboundTrunkInfo,
    ) -> Result<SipInboundTrunkInfo, CatalogError> {
        self.write(|snap, _| {
            let old = snap
                .inbound
                .get(id)
                .ok_or_else(|| not_found("inbound trunk", id))?;
            if old.origin == Origin::File {
                return Err(read_only("inbound trunk", id));
            }
            check::same_id("inbound trunk", "sip_trunk_id", id, &t.sip_trunk_id)?;
            t.sip_trunk_id = id.to_owned();
            t.created_at = old.info.created_at;
            t.updated_at = Some(timestamp(SystemTime::now()));
            let entry = check::inbound(t, Origin::Api)?;
            let info = (*entry.info).clone();
            snap.inbound.remove(id);
            snap.insert_inbound(entry)?;
            Ok((Change::PutInbound(info.clone()), info))
        })
    }

    /// Creates an outbound trunk (`CreateSIPOutboundTrunk`).
    pub fn create_outbound(
        &self,
        mut t: SipOutboundTrunkInfo,
    ) -> Result<SipOutboundTrunkInfo, CatalogError> {
        let now = Some(timestamp(SystemTime::now()));
        t.created_at = now;
        t.updated_at = now;
        self.write(|snap, id| {
            t.sip_trunk_id = id(TRUNK_ID_PREFIX);
            let entry = check::outbound(t, Origin::Api)?;
            let info = (*entry.info).clone();
            snap.insert_outbound(entry)?;
            Ok((Change::PutOutbound(info.clone()), info))
        })
    }

    /// Replaces an outbound trunk written through the API (`UpdateSIPOutboundTrunk`).
    pub fn update_outbound(
        &self,
        id: &str,
        mut t: SipOutboundTrunkInfo,
    ) -> Result<SipOutboundTrunkInfo, CatalogError> {
        self.write(|snap, _| {
            let old = snap
                .outbound
                .get(id)
                .ok_or_else(|| not_found("outbound trunk", id))?;
            if old.origin == Origin::File {
                return Err(read_only("outbound trunk", id));
            }
            check::same_id("outbound trunk", "sip_trunk_id", id, &t.sip_trunk_id)?;
            t.sip_trunk_id = id.to_owned();
            t.created_at = old.info.created_at;
            t.updated_at = Some(timestamp(SystemTime::now()));
            let entry = check::outbound(t, Origin::Api)?;
            let info = (*entry.info).clone();
            snap.outbound.remove(id);
            snap.insert_outbound(entry)?;
            Ok((Change::PutOutbound(info.clone()), info))
        })
    }

    /// Deletes a trunk, inbound or outbound (`DeleteSIPTrunk`). Rules naming it stay (they
    /// then apply to no call), as in the anchor.
    pub fn delete_trunk(&self, id: &str) -> Result<(), CatalogError> {
        self.write(|snap, _| {
            let origin = match (snap.inbound.get(id), snap.outbound.get(id)) {
                (Some(e), _) => e.origin,
                (None, Some(e)) => e.origin,
                (None, None) => return Err(not_found("trunk", id)),
            };
            if origin == Origin::File {
                return Err(read_only("trunk", id));
            }
            snap.inbound.remove(id);
            snap.outbound.remove(id);
            Ok((Change::DeleteTrunk(id.to_owned()), ()))
        })
    }

    /// Creates a dispatch rule (`CreateSIPDispatchRule`): a fresh `SDR_` id and timestamps.
    pub fn create_rule(
        &self,
        mut r: SipDispatchRuleInfo,
    ) -> Result<SipDispatchRuleInfo, CatalogError> {
        let now = Some(timestamp(SystemTime::now()));
        r.created_at = now;
        r.updated_at = now;
        self.write(|snap, id| {
            r.sip_dispatch_rule_id = id(RULE_ID_PREFIX);
            let entry = check::rule(r, Origin::Api)?;
            snap.check_trunk_refs(&entry)?;
            let info = (*entry.info).clone();
            snap.insert_rule(entry)?;
            Ok((Change::PutRule(info.clone()), info))
        })
    }

    /// Replaces a dispatch rule written through the API (`UpdateSIPDispatchRule`).
    pub fn update_rule(
        &self,
        id: &str,
        mut r: SipDispatchRuleInfo,
    ) -> Result<SipDispatchRuleInfo, CatalogError> {
        self.write(|snap, _| {
            let old = snap
                .rules
                .get(id)
                .ok_or_else(|| not_found("dispatch rule", id))?;
            if old.origin == Origin::File {
                return Err(read_only("dispatch rule", id));
            }
            check::same_id(
                "dispatch rule",
                "sip_dispatch_rule_id",
                id,
                &r.sip_dispatch_rule_id,
            )?;
            r.sip_dispatch_rule_id = id.to_owned();
            r.created_at = old.info.created_at;
            r.updated_at = Some(timestamp(SystemTime::now()));
            let entry = check::rule(r, Origin::Api)?;
            snap.check_trunk_refs(&entry)?;
            let info = (*entry.info).clone();
            snap.rules.remove(id);
            snap.insert_rule(entry)?;
            Ok((Change::PutRule(info.clone()), info))
        })
    }

    /// Deletes a dispatch rule (`DeleteSIPDispatchRule`) and returns it.
    pub fn delete_rule(&self, id: &str) -> Result<SipDispatchRuleInfo, CatalogError> {
        self.write(|snap, _| {
            let old = snap
                .rules
                .get(id)
                .ok_or_else(|| not_found("dispatch rule", id))?;
            if old.origin == Origin::File {
                return Err(read_only("dispatch rule", id));
            }
            let info = (*old.info).clone();
            snap.rules.remove(id);
            Ok((Change::DeleteRule(id.to_owned()), info))
        })
    }

    /// One write: edit a copy of the snapshot, check it, store the change, swap the copy in.
    /// `edit` gets a fresh-id generator (ids unused by any entry).
    fn write<T>(
        &self,
        edit: impl FnOnce(
            &mut Snapshot,
            &mut dyn FnMut(&str) -> String,
        ) -> Result<(Change, T), CatalogError>,
    ) -> Result<T, CatalogError> {
        let _writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.snapshot();
        let mut next = Snapshot::clone(&current);
        let mut fresh_id = |prefix: &str| loop {
            let id = format!("{prefix}{}", random_token(self.next_random()));
            if !current.has_id(&id) {
                break id;
            }
        };
        let (change, out) = edit(&mut next, &mut fresh_id)?;
        next.check_conflicts()?;
        next.build_index();
        if let Some(store) = &self.inner.store {
            store.apply(&change)?;
        }
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(out)
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(
            &self
                .inner
                .snapshot
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// SplitMix64 over a shared counter: distinct per use, lock-free.
    fn next_random(&self) -> u64 {
        let n = self
            .inner
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        let mut z = n;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: the entries hold secrets.
        let snap = self.snapshot();
        f.debug_struct("Catalog")
            .field("inbound_trunks", &snap.inbound.len())
            .field("outbound_trunks", &snap.outbound.len())
            .field("dispatch_rules", &snap.rules.len())
            .field("persistent", &self.inner.store.is_some())
            .finish()
    }
}

/// One stored change.
#[derive(Debug)]
enum Change {
    PutInbound(SipInboundTrunkInfo),
    PutOutbound(SipOutboundTrunkInfo),
    PutRule(SipDispatchRuleInfo),
    DeleteTrunk(String),
    DeleteRule(String),
}

/// 12 characters of an unambiguous alphabet (about 70 bits).
fn random_token(mut n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    (0..12)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// A seed from the OS, through std's randomly keyed hasher.
fn os_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}

/// A whole number of seconds as a protobuf `Duration` (for config-file entries).
pub fn proto_seconds(seconds: u64) -> pbjson_types::Duration {
    pbjson_types::Duration {
        seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

fn timestamp(t: SystemTime) -> pbjson_types::Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    pbjson_types::Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

fn not_found(kind: &'static str, id: &str) -> CatalogError {
    CatalogError::not_found(kind, id)
}

fn read_only(kind: &'static str, id: &str) -> CatalogError {
    CatalogError::ReadOnly {
        kind,
        id: id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_12_unambiguous_characters() {
        let cat = Catalog::open_seeded(None, FileEntries::default(), 3).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let t = random_token(cat.next_random());
            assert_eq!(t.len(), 12, "{t}");
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() && !b"0O1lI".contains(&b)),
                "{t}"
            );
            assert!(seen.insert(t.clone()), "{t} repeated");
        }
    }

    #[test]
    fn seeded_catalogs_repeat_their_ids() {
        let ids = |seed| {
            let cat = Catalog::open_seeded(None, FileEntries::default(), seed).unwrap();
            let t = cat
                .create_inbound(SipInboundTrunkInfo::default())
                .unwrap()
                .sip_trunk_id;
            let r = cat
                .create_rule(SipDispatchRuleInfo {
                    rule: Some(crate::proto::livekit::SipDispatchRule {
                        rule: Some(
                            crate::proto::livekit::sip_dispatch_rule::Rule::DispatchRuleDirect(
                                crate::proto::livekit::SipDispatchRuleDirect {
                                    room_name: "r".into(),
                                    pin: String::new(),
                                },
                            ),
                        ),
                    }),
                    ..Default::default()
                })
                .unwrap()
                .sip_dispatch_rule_id;
            (t, r)
        };
        let (t, r) = ids(11);
        assert!(
            t.starts_with(TRUNK_ID_PREFIX) && t.len() == TRUNK_ID_PREFIX.len() + 12,
            "{t}"
        );
        assert!(
            r.starts_with(RULE_ID_PREFIX) && r.len() == RULE_ID_PREFIX.len() + 12,
            "{r}"
        );
        assert_eq!(ids(11), (t.clone(), r), "same seed, same ids");
        assert_ne!(ids(12).0, t, "another seed, other ids");
    }

    #[test]
    fn error_codes_table() {
        let text = String::from;
        let cases = [
            (
                "invalid",
                CatalogError::Invalid {
                    entry: text("e"),
                    field: text("f"),
                    reason: text("r"),
                },
                TwirpCode::InvalidArgument,
            ),
            (
                "unsupported",
                CatalogError::Unsupported {
                    entry: text("e"),
                    field: text("f"),
                    reason: text("r"),
                },
                TwirpCode::Unimplemented,
            ),
            (
                "conflict",
                CatalogError::Conflict {
                    kind: "trunks",
                    first: text("a"),
                    second: text("b"),
                    reason: text("r"),
                },
                TwirpCode::InvalidArgument,
            ),
            ("not found", not_found("trunk", "ST_x"), TwirpCode::NotFound),
            (
                "read-only",
                read_only("trunk", "ST_x"),
                TwirpCode::FailedPrecondition,
            ),
            (
                "storage",
                CatalogError::Storage(text("disk")),
                TwirpCode::Internal,
            ),
        ];
        for (name, e, code) in cases {
            assert_eq!(e.code(), code, "case {name:?}");
            let api = ApiError::from(e.clone());
            assert_eq!(api.code(), code, "case {name:?}: {api:?}");
        }
    }

    #[test]
    fn not_found_bounds_the_echoed_id() {
        let CatalogError::NotFound { id, .. } = not_found("trunk", &"x".repeat(10_000)) else {
            panic!("not NotFound");
        };
        assert_eq!(id.len(), 128);
    }
}
