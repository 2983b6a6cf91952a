//! Shared fixtures for the sipbridge benchmarks: realistic SIP messages as a carrier trunk
//! and a softphone send them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// (name, message bytes). Every message is a complete UDP datagram with a correct
/// Content-Length.
pub const MESSAGES: [(&str, &[u8]); 7] = [
    ("invite_sdp", INVITE_SDP),
    ("ok_sdp", OK_SDP),
    ("ringing", RINGING),
    ("ack", ACK),
    ("bye", BYE),
    ("register_auth", REGISTER_AUTH),
    ("options", OPTIONS),
];

/// An INVITE from a carrier SBC with an SDP offer (PCMU, PCMA, G.722, telephone-event).
pub const INVITE_SDP: &[u8] = b"INVITE sip:+14155550123@sip.sipbridge.example.com:5060;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK2f8a9c1e7b3d4056;rport\r\n\
Via: SIP/2.0/UDP 10.20.30.40:5060;received=198.51.100.7;branch=z9hG4bK-524287-1---b1f09e6c1d3a;rport=5060\r\n\
Record-Route: <sip:203.0.113.10:5060;lr;ftag=as5e1f2a3b>\r\n\
Max-Forwards: 68\r\n\
From: \"WIRELESS CALLER\" <sip:+12125550199@203.0.113.10;user=phone>;tag=as5e1f2a3b\r\n\
To: <sip:+14155550123@sip.sipbridge.example.com;user=phone>\r\n\
Call-ID: 6d1c0b3f4a2e11ef9b8c0242ac120002@203.0.113.10\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:+12125550199@203.0.113.10:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK\r\n\
Supported: replaces, timer, 100rel\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
P-Asserted-Identity: \"WIRELESS CALLER\" <sip:+12125550199@203.0.113.10;user=phone>\r\n\
User-Agent: Carrier-SBC/7.2\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 322\r\n\
\r\n\
v=0\r\n\
o=SBC 1699887766 1699887766 IN IP4 203.0.113.10\r\n\
s=SIP Call\r\n\
c=IN IP4 203.0.113.11\r\n\
t=0 0\r\n\
m=audio 23456 RTP/AVP 0 8 9 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n\
a=rtcp:23457\r\n\
a=label:carrier-leg\r\n";

/// The 200 OK sipbridge sends back, with the SDP answer.
pub const OK_SDP: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK2f8a9c1e7b3d4056;rport=5060;received=203.0.113.10\r\n\
Via: SIP/2.0/UDP 10.20.30.40:5060;received=198.51.100.7;branch=z9hG4bK-524287-1---b1f09e6c1d3a;rport=5060\r\n\
Record-Route: <sip:203.0.113.10:5060;lr;ftag=as5e1f2a3b>\r\n\
From: \"WIRELESS CALLER\" <sip:+12125550199@203.0.113.10;user=phone>;tag=as5e1f2a3b\r\n\
To: <sip:+14155550123@sip.sipbridge.example.com;user=phone>;tag=sb-7f3e2a91c4\r\n\
Call-ID: 6d1c0b3f4a2e11ef9b8c0242ac120002@203.0.113.10\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:sipbridge@192.0.2.20:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY\r\n\
Supported: replaces, timer\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Require: timer\r\n\
Server: sipbridge/0.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 214\r\n\
\r\n\
v=0\r\n\
o=sipbridge 3901 3901 IN IP4 192.0.2.20\r\n\
s=sipbridge\r\n\
c=IN IP4 192.0.2.20\r\n\
t=0 0\r\n\
m=audio 40000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// 180 Ringing.
pub const RINGING: &[u8] = b"SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK2f8a9c1e7b3d4056;rport=5060;received=203.0.113.10\r\n\
Via: SIP/2.0/UDP 10.20.30.40:5060;received=198.51.100.7;branch=z9hG4bK-524287-1---b1f09e6c1d3a;rport=5060\r\n\
Record-Route: <sip:203.0.113.10:5060;lr;ftag=as5e1f2a3b>\r\n\
From: \"WIRELESS CALLER\" <sip:+12125550199@203.0.113.10;user=phone>;tag=as5e1f2a3b\r\n\
To: <sip:+14155550123@sip.sipbridge.example.com;user=phone>;tag=sb-7f3e2a91c4\r\n\
Call-ID: 6d1c0b3f4a2e11ef9b8c0242ac120002@203.0.113.10\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:sipbridge@192.0.2.20:5060;transport=udp>\r\n\
Content-Length: 0\r\n\
\r\n";

/// ACK for the 200 OK.
pub const ACK: &[u8] = b"ACK sip:sipbridge@192.0.2.20:5060;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK7c4d2e9f0a1b3c58;rport\r\n\
Max-Forwards: 70\r\n\
From: \"WIRELESS CALLER\" <sip:+12125550199@203.0.113.10;user=phone>;tag=as5e1f2a3b\r\n\
To: <sip:+14155550123@sip.sipbridge.example.com;user=phone>;tag=sb-7f3e2a91c4\r\n\
Call-ID: 6d1c0b3f4a2e11ef9b8c0242ac120002@203.0.113.10\r\n\
CSeq: 102 ACK\r\n\
Content-Length: 0\r\n\
\r\n";

/// BYE from the carrier.
pub const BYE: &[u8] = b"BYE sip:sipbridge@192.0.2.20:5060;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK0e1f2a3b4c5d6e79;rport\r\n\
Max-Forwards: 70\r\n\
From: \"WIRELESS CALLER\" <sip:+12125550199@203.0.113.10;user=phone>;tag=as5e1f2a3b\r\n\
To: <sip:+14155550123@sip.sipbridge.example.com;user=phone>;tag=sb-7f3e2a91c4\r\n\
Call-ID: 6d1c0b3f4a2e11ef9b8c0242ac120002@203.0.113.10\r\n\
CSeq: 103 BYE\r\n\
Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n\
User-Agent: Carrier-SBC/7.2\r\n\
Content-Length: 0\r\n\
\r\n";

/// REGISTER with digest credentials from a softphone.
pub const REGISTER_AUTH: &[u8] = b"REGISTER sip:sip.sipbridge.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.34:52344;branch=z9hG4bK.q3Bb7Xk0aPz;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Alice\" <sip:alice@sip.sipbridge.example.com>;tag=Lg8kzQ2cTd\r\n\
To: \"Alice\" <sip:alice@sip.sipbridge.example.com>\r\n\
Call-ID: 9mYv2eXuQ1\r\n\
CSeq: 21 REGISTER\r\n\
Contact: <sip:alice@192.168.1.34:52344;transport=udp>;expires=3600;+sip.instance=\"<urn:uuid:0d4a7e1c-2b3f-4e5a-9c8d-7f6e5d4c3b2a>\"\r\n\
Authorization: Digest realm=\"sip.sipbridge.example.com\", nonce=\"6579a3f2b1c8d4e5f60718293a4b5c6d\", algorithm=MD5, username=\"alice\", uri=\"sip:sip.sipbridge.example.com\", response=\"4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f\", cnonce=\"a1b2c3d4\", nc=00000001, qop=auth\r\n\
Expires: 3600\r\n\
User-Agent: Linphone/5.2.0 (belle-sip/5.2.0)\r\n\
Supported: outbound, replaces\r\n\
Content-Length: 0\r\n\
\r\n";

/// An OPTIONS keep-alive ping from a carrier.
pub const OPTIONS: &[u8] = b"OPTIONS sip:sip.sipbridge.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK5a6b7c8d9e0f1a2b;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:ping@203.0.113.10>;tag=ping-2f8a9c\r\n\
To: <sip:sip.sipbridge.example.com>\r\n\
Call-ID: ping-6d1c0b3f@203.0.113.10\r\n\
CSeq: 1 OPTIONS\r\n\
Accept: application/sdp\r\n\
Content-Length: 0\r\n\
\r\n";

#[cfg(test)]
mod tests {
    use super::MESSAGES;
    use bytes::Bytes;
    use sip_message::Message;

    #[test]
    fn fixtures_are_valid_and_correctly_framed() {
        for (name, raw) in MESSAGES {
            let m =
                Message::parse(Bytes::from_static(raw)).unwrap_or_else(|e| panic!("{name}: {e}"));
            m.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                m.as_bytes().len(),
                raw.len(),
                "{name}: Content-Length must cover the body exactly"
            );
        }
    }
}
