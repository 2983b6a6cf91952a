//! Partial updates (`Update…Request.update`) and the flat, older form of
//! `CreateSIPDispatchRuleRequest`: both are turned into the full info message the catalog
//! stores, so the catalog validates one shape only.
//!
//! Semantics of a partial update: a scalar field changes only when present (`optional`);
//! a list changes per [`ListUpdate`] (`set` replaces it; otherwise `clear`, then `remove`,
//! then `add`, skipping values already there); `media` replaces the media settings when
//! present; `attributes` entries are set one by one (an empty value removes the key).

use crate::proto::livekit as pb;

/// Applies a list change.
pub fn apply_list(list: &mut Vec<String>, update: Option<pb::ListUpdate>) {
    let Some(u) = update else { return };
    if !u.set.is_empty() {
        *list = u.set;
        return;
    }
    if u.clear {
        list.clear();
    }
    list.retain(|v| !u.remove.contains(v));
    for v in u.add {
        if !list.contains(&v) {
            list.push(v);
        }
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// `trunk` with `update` applied.
pub fn inbound_trunk(
    mut trunk: pb::SipInboundTrunkInfo,
    u: pb::SipInboundTrunkUpdate,
) -> pb::SipInboundTrunkInfo {
    apply_list(&mut trunk.numbers, u.numbers);
    apply_list(&mut trunk.allowed_addresses, u.allowed_addresses);
    apply_list(&mut trunk.allowed_numbers, u.allowed_numbers);
    set(&mut trunk.auth_username, u.auth_username);
    set(&mut trunk.auth_password, u.auth_password);
    set(&mut trunk.auth_realm, u.auth_realm);
    set(&mut trunk.name, u.name);
    set(&mut trunk.metadata, u.metadata);
    set(&mut trunk.media_encryption, u.media_encryption);
    if u.media.is_some() {
        trunk.media = u.media;
    }
    trunk
}

/// `trunk` with `update` applied.
pub fn outbound_trunk(
    mut trunk: pb::SipOutboundTrunkInfo,
    u: pb::SipOutboundTrunkUpdate,
) -> pb::SipOutboundTrunkInfo {
    set(&mut trunk.address, u.address);
    set(&mut trunk.transport, u.transport);
    set(&mut trunk.destination_country, u.destination_country);
    apply_list(&mut trunk.numbers, u.numbers);
    set(&mut trunk.auth_username, u.auth_username);
    set(&mut trunk.auth_password, u.auth_password);
    set(&mut trunk.name, u.name);
    set(&mut trunk.metadata, u.metadata);
    set(&mut trunk.media_encryption, u.media_encryption);
    if u.media.is_some() {
        trunk.media = u.media;
    }
    set(&mut trunk.from_host, u.from_host);
    trunk
}

/// `rule` with `update` applied.
pub fn dispatch_rule(
    mut rule: pb::SipDispatchRuleInfo,
    u: pb::SipDispatchRuleUpdate,
) -> pb::SipDispatchRuleInfo {
    apply_list(&mut rule.trunk_ids, u.trunk_ids);
    if u.rule.is_some() {
        rule.rule = u.rule;
    }
    set(&mut rule.name, u.name);
    set(&mut rule.metadata, u.metadata);
    for (k, v) in u.attributes {
        if v.is_empty() {
            rule.attributes.remove(&k);
        } else {
            rule.attributes.insert(k, v);
        }
    }
    set(&mut rule.media_encryption, u.media_encryption);
    if u.media.is_some() {
        rule.media = u.media;
    }
    rule
}

/// The rule a create request asks for: `dispatch_rule` when present, else the flat fields
/// of older SDKs; `None` when neither names a rule.
pub fn created_rule(req: pb::CreateSipDispatchRuleRequest) -> Option<pb::SipDispatchRuleInfo> {
    if req.dispatch_rule.is_some() {
        return req.dispatch_rule;
    }
    req.rule.as_ref()?;
    Some(pb::SipDispatchRuleInfo {
        rule: req.rule,
        trunk_ids: req.trunk_ids,
        hide_phone_number: req.hide_phone_number,
        inbound_numbers: req.inbound_numbers,
        name: req.name,
        metadata: req.metadata,
        attributes: req.attributes,
        room_preset: req.room_preset,
        room_config: req.room_config,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn list_updates() {
        let cases: [(&str, pb::ListUpdate, &[&str]); 5] = [
            (
                "set replaces",
                pb::ListUpdate {
                    set: strings(&["x"]),
                    add: strings(&["y"]),
                    ..Default::default()
                },
                &["x"],
            ),
            (
                "add skips present values",
                pb::ListUpdate {
                    add: strings(&["b", "c"]),
                    ..Default::default()
                },
                &["a", "b", "c"],
            ),
            (
                "remove",
                pb::ListUpdate {
                    remove: strings(&["a"]),
                    ..Default::default()
                },
                &["b"],
            ),
            (
                "clear then add",
                pb::ListUpdate {
                    clear: true,
                    add: strings(&["z"]),
                    ..Default::default()
                },
                &["z"],
            ),
            (
                "empty update changes nothing",
                pb::ListUpdate::default(),
                &["a", "b"],
            ),
        ];
        for (name, update, want) in cases {
            let mut list = strings(&["a", "b"]);
            apply_list(&mut list, Some(update));
            assert_eq!(list, strings(want), "{name}");
        }
        let mut list = strings(&["a"]);
        apply_list(&mut list, None);
        assert_eq!(list, strings(&["a"]), "absent update");
    }

    #[test]
    fn partial_trunk_update_touches_only_given_fields() {
        let trunk = pb::SipInboundTrunkInfo {
            sip_trunk_id: "ST_1".into(),
            name: "old".into(),
            metadata: "keep".into(),
            numbers: strings(&["+1"]),
            auth_password: "pw".into(),
            ..Default::default()
        };
        let out = inbound_trunk(
            trunk,
            pb::SipInboundTrunkUpdate {
                name: Some("new".into()),
                numbers: Some(pb::ListUpdate {
                    add: strings(&["+2"]),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        assert_eq!(out.name, "new");
        assert_eq!(out.metadata, "keep");
        assert_eq!(out.auth_password, "pw");
        assert_eq!(out.numbers, strings(&["+1", "+2"]));
        assert_eq!(out.sip_trunk_id, "ST_1");
    }

    #[test]
    fn rule_update_sets_and_removes_attributes() {
        let mut rule = pb::SipDispatchRuleInfo::default();
        rule.attributes.insert("a".into(), "1".into());
        rule.attributes.insert("b".into(), "2".into());
        let mut u = pb::SipDispatchRuleUpdate::default();
        u.attributes.insert("a".into(), String::new());
        u.attributes.insert("c".into(), "3".into());
        let out = dispatch_rule(rule, u);
        let mut keys: Vec<_> = out.attributes.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, strings(&["b", "c"]));
    }

    #[test]
    fn flat_create_requests_of_older_sdks_are_read() {
        let rule = pb::SipDispatchRule {
            rule: Some(pb::sip_dispatch_rule::Rule::DispatchRuleDirect(
                pb::SipDispatchRuleDirect {
                    room_name: "r".into(),
                    pin: String::new(),
                },
            )),
        };
        let flat = pb::CreateSipDispatchRuleRequest {
            rule: Some(rule.clone()),
            trunk_ids: strings(&["ST_1"]),
            name: "n".into(),
            ..Default::default()
        };
        let info = created_rule(flat).expect("flat rule");
        assert_eq!(info.rule, Some(rule.clone()));
        assert_eq!(info.trunk_ids, strings(&["ST_1"]));
        assert_eq!(info.name, "n");
        let nested = pb::CreateSipDispatchRuleRequest {
            dispatch_rule: Some(pb::SipDispatchRuleInfo {
                name: "nested".into(),
                rule: Some(rule),
                ..Default::default()
            }),
            name: "ignored".into(),
            ..Default::default()
        };
        assert_eq!(created_rule(nested).expect("nested").name, "nested");
        assert!(created_rule(pb::CreateSipDispatchRuleRequest::default()).is_none());
    }
}
