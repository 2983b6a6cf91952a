//! Persistence of API-written entries: one redb file, one table per kind, id →
//! prost-encoded message (protobuf keeps the format stable as fields are added).

use std::path::Path;

use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use super::{CatalogError, Change, DB_FILE};
use crate::proto::livekit::{SipDispatchRuleInfo, SipInboundTrunkInfo, SipOutboundTrunkInfo};

const INBOUND: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("inbound_trunks");
const OUTBOUND: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("outbound_trunks");
const RULES: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("dispatch_rules");

/// The database.
pub(super) struct Store {
    db: Database,
}

/// Everything stored, as decoded.
#[derive(Debug, Default)]
pub(super) struct Stored {
    pub inbound: Vec<SipInboundTrunkInfo>,
    pub outbound: Vec<SipOutboundTrunkInfo>,
    pub rules: Vec<SipDispatchRuleInfo>,
}

impl Store {
    /// Opens (or creates) `dir/catalog.redb`, creating `dir` when missing. A second process
    /// on the same file is refused by redb's lock.
    pub fn open(dir: &Path) -> Result<Self, CatalogError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| CatalogError::Storage(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let db = Database::create(&path)
            .map_err(|e| CatalogError::Storage(format!("cannot open {}: {e}", path.display())))?;
        // Create the tables once so that reads never meet a missing one.
        let txn = db.begin_write().map_err(storage)?;
        for table in [INBOUND, OUTBOUND, RULES] {
            txn.open_table(table).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok(Self { db })
    }

    /// Reads every stored entry.
    pub fn load(&self) -> Result<Stored, CatalogError> {
        let txn = self.db.begin_read().map_err(storage)?;
        Ok(Stored {
            inbound: read_all(&txn, INBOUND)?,
            outbound: read_all(&txn, OUTBOUND)?,
            rules: read_all(&txn, RULES)?,
        })
    }

    /// Stores one change durably (redb commits are fsynced before they return).
    pub fn apply(&self, change: &Change) -> Result<(), CatalogError> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            match change {
                Change::PutInbound(t) => {
                    let mut table = txn.open_table(INBOUND).map_err(storage)?;
                    table
                        .insert(t.sip_trunk_id.as_str(), t.encode_to_vec().as_slice())
                        .map_err(storage)?;
                }
                Change::PutOutbound(t) => {
                    let mut table = txn.open_table(OUTBOUND).map_err(storage)?;
                    table
                        .insert(t.sip_trunk_id.as_str(), t.encode_to_vec().as_slice())
                        .map_err(storage)?;
                }
                Change::PutRule(r) => {
                    let mut table = txn.open_table(RULES).map_err(storage)?;
                    table
                        .insert(
                            r.sip_dispatch_rule_id.as_str(),
                            r.encode_to_vec().as_slice(),
                        )
                        .map_err(storage)?;
                }
                Change::DeleteTrunk(id) => {
                    for def in [INBOUND, OUTBOUND] {
                        let mut table = txn.open_table(def).map_err(storage)?;
                        table.remove(id.as_str()).map_err(storage)?;
                    }
                }
                Change::DeleteRule(id) => {
                    let mut table = txn.open_table(RULES).map_err(storage)?;
                    table.remove(id.as_str()).map_err(storage)?;
                }
            }
        }
        txn.commit().map_err(storage)
    }
}

fn read_all<M: Message + Default>(
    txn: &redb::ReadTransaction,
    def: TableDefinition<'_, &str, &[u8]>,
) -> Result<Vec<M>, CatalogError> {
    let table = txn.open_table(def).map_err(storage)?;
    let mut out = Vec::new();
    for row in table.iter().map_err(storage)? {
        let (key, value) = row.map_err(storage)?;
        let msg = M::decode(value.value()).map_err(|e| {
            CatalogError::Storage(format!(
                "entry {:?} in table {} does not decode: {e}",
                key.value(),
                def.name()
            ))
        })?;
        out.push(msg);
    }
    Ok(out)
}

fn storage(e: impl Into<redb::Error>) -> CatalogError {
    CatalogError::Storage(e.into().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory, removed on drop.
    struct Dir(std::path::PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let p =
                std::env::temp_dir().join(format!("sipbridge-store-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            Self(p)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn changes_round_trip_and_deletes_cover_both_directions() {
        let dir = Dir::new("round-trip");
        // The directory does not exist yet: open creates it.
        let store = Store::open(&dir.0.join("nested")).unwrap();
        let inbound = SipInboundTrunkInfo {
            sip_trunk_id: "ST_in".into(),
            numbers: vec!["+1000".into()],
            ..Default::default()
        };
        let outbound = SipOutboundTrunkInfo {
            sip_trunk_id: "ST_out".into(),
            address: "192.0.2.1".into(),
            ..Default::default()
        };
        let rule = SipDispatchRuleInfo {
            sip_dispatch_rule_id: "SDR_r".into(),
            ..Default::default()
        };
        store.apply(&Change::PutInbound(inbound.clone())).unwrap();
        store.apply(&Change::PutOutbound(outbound.clone())).unwrap();
        store.apply(&Change::PutRule(rule.clone())).unwrap();
        let got = store.load().unwrap();
        assert_eq!(got.inbound, vec![inbound]);
        assert_eq!(got.outbound, vec![outbound]);
        assert_eq!(got.rules, vec![rule]);

        store.apply(&Change::DeleteTrunk("ST_in".into())).unwrap();
        store.apply(&Change::DeleteTrunk("ST_out".into())).unwrap();
        store.apply(&Change::DeleteRule("SDR_r".into())).unwrap();
        // Deleting what is not there is no error (the catalog checks existence first).
        store.apply(&Change::DeleteRule("SDR_r".into())).unwrap();
        let got = store.load().unwrap();
        assert!(got.inbound.is_empty() && got.outbound.is_empty() && got.rules.is_empty());
    }

    #[test]
    fn an_entry_that_does_not_decode_is_a_storage_error_naming_it() {
        let dir = Dir::new("corrupt");
        let store = Store::open(&dir.0).unwrap();
        let txn = store.db.begin_write().unwrap();
        {
            let mut table = txn.open_table(RULES).unwrap();
            // Field 1 as a length-delimited string whose length runs past the end.
            table
                .insert("SDR_bad", [0x0a_u8, 0x7f, b'x'].as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
        match store.load() {
            Err(CatalogError::Storage(msg)) => {
                assert!(
                    msg.contains("SDR_bad") && msg.contains("dispatch_rules"),
                    "{msg}"
                );
            }
            other => panic!("expected a storage error, got {other:?}"),
        }
    }
}
