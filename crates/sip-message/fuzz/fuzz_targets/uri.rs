//! URIs and the name-addr / Via grammars around them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::{Contact, NameAddr, Uri, Via};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(u) = Uri::parse(s) {
        assert_eq!(u.as_str(), s);
        if let Uri::Sip(sip) = &u {
            let _ = (
                sip.user_unescaped(),
                sip.params().count(),
                sip.headers().count(),
                sip.transport(),
                sip.lr(),
            );
            let _ = sip.host.to_string();
        }
    }
    if let Ok(n) = NameAddr::parse(s) {
        let _ = (n.display_name(), n.tag(), n.params().count());
    }
    let _ = Contact::parse(s).map(|c| (c.expires(), c.q()));
    let _ = Via::parse(s).map(|v| (v.branch, v.other_params().count()));
    let _ = sip_message::unescape(s);
    let _ = sip_message::unquote(s);
});
