//! Offers the phone makes inside an established call: re-INVITE (RFC 3261 §14.2) and UPDATE
//! (RFC 3311). Trunks send them to refresh a session (RFC 4028: a refresher re-sends its
//! description; refusing it ends the call when the session expires), to hold and resume
//! (RFC 3264 §8.4: `sendonly`/`inactive`, then `sendrecv`), or to move their media.
//!
//! The answer keeps the call's codec and payload types: the call's media path (relay,
//! transcoder, pump) is built for them. An offer without them is refused with 488 and the
//! session stays as it was (§14.2). While the phone says it will not send (we answered
//! `sendonly` or `inactive`), the media timeouts are paused, so a call on hold is not ended
//! as silent; they are armed again at resume. While it says it will not receive (we
//! answered `recvonly` or `inactive`), the pump sends it nothing (RFC 3264 §6.1).
//!
//! [`Renegotiation::answer`] is the sans-IO part; [`Renegotiation::on_request`] applies it.

use bytes::Bytes;
use room_link::offer_answer::{
    LocalEndpoint, MediaConfig, NegotiatedMedia, RtcpMode, SdpSession, process_answer,
};
use sip_core::{Body, Inbound, Method, Reply, RequestId};
use sip_message::sdp::Direction;

use tokio::sync::watch;

use super::Gateway;
use super::media::{PhoneControl, PumpWishes};

/// One established call's SIP-side session description.
pub(super) struct Renegotiation {
    sdp: SdpSession,
    local: LocalEndpoint,
    /// Our configuration narrowed to the call's codec.
    cfg: MediaConfig,
    current: NegotiatedMedia,
    control: Option<PhoneControl>,
    /// The call's wishes to its pump (whether the phone gets media).
    pump: watch::Sender<PumpWishes>,
    /// The media timeouts are paused: the phone said it will not send.
    held: bool,
    /// Our offer (in a 2xx to an offer-less re-INVITE) awaits its answer in the ACK.
    awaiting: Option<MediaConfig>,
}

/// What an accepted offer changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Change {
    /// The phone's media moved: send there from now on.
    pub moved: Option<NegotiatedMedia>,
    /// `Some(true)`: the phone stopped sending (hold); `Some(false)`: it sends again.
    pub hold: Option<bool>,
    /// `Some(false)`: we may no longer send to the phone; `Some(true)`: we may again.
    pub send: Option<bool>,
}

impl Renegotiation {
    /// The session of a call answered with `current` (written by `sdp`, with `base` as our
    /// configuration, on `local`); `control` reaches the phone's media once it runs, `pump`
    /// the call's pump, told at once whether the first exchange lets us send.
    pub fn new(
        sdp: SdpSession,
        base: &MediaConfig,
        local: LocalEndpoint,
        current: NegotiatedMedia,
        control: Option<PhoneControl>,
        pump: watch::Sender<PumpWishes>,
    ) -> Self {
        let mut cfg = base.clone();
        cfg.codecs = vec![current.codec];
        pump.send_modify(|w| w.to_phone = current.sends());
        Renegotiation {
            sdp,
            local,
            cfg,
            current,
            control,
            pump,
            held: silent(&current),
            awaiting: None,
        }
    }

    /// Answers an offer: the SDP answer and what changes, or the status to refuse it with
    /// (400 malformed, 488 not acceptable).
    pub fn answer(&mut self, offer: &[u8]) -> Result<(Bytes, Change), u16> {
        // Answer from a copy: a refused offer must leave the description (and its
        // version) as it was (RFC 3264 §8: the old session stays).
        let mut sdp = self.sdp.clone();
        let (body, mut neg) = match sdp.answer(offer, &self.cfg, self.local) {
            Ok(answered) => answered,
            Err(room_link::Error::NotAcceptable { .. }) => return Err(488),
            Err(_) => return Err(400),
        };
        let cur = &self.current;
        // Another payload type, packet time or RTCP port would need a new media path. An
        // offer without telephone-event (some phones hold that way) keeps the call's.
        if neg.codec != cur.codec
            || neg.local_payload_type != cur.local_payload_type
            || neg.ptime != cur.ptime
            || neg.rtcp_mux != cur.rtcp_mux
            || neg
                .telephone_event
                .is_some_and(|te| Some(te) != cur.telephone_event)
        {
            return Err(488);
        }
        neg.telephone_event = cur.telephone_event;
        neg.local_telephone_event = cur.local_telephone_event;
        self.sdp = sdp;
        let moved =
            ((neg.remote_rtp, neg.remote_rtcp) != (cur.remote_rtp, cur.remote_rtcp)).then_some(neg);
        Ok((body, self.settle(neg, moved)))
    }

    /// Makes `neg` the session, returning what changed.
    fn settle(&mut self, neg: NegotiatedMedia, moved: Option<NegotiatedMedia>) -> Change {
        let quiet = silent(&neg);
        let hold = (quiet != self.held).then_some(quiet);
        let send = (neg.sends() != self.current.sends()).then_some(neg.sends());
        self.held = quiet;
        self.current = neg;
        Change { moved, hold, send }
    }

    /// Our offer in the 2xx to an offer-less re-INVITE (RFC 3261 §14.2): the call's codec,
    /// payload types, packet time and RTCP port, `sendrecv` (such re-INVITEs resume or
    /// refresh a session, e.g. from a third-party controller, RFC 3725). The answer comes in
    /// the ACK: [`Renegotiation::answered`].
    pub fn offer(&mut self) -> Bytes {
        let cur = self.current;
        let mut cfg = self.cfg.clone();
        cfg.codecs = vec![rtp_relay::codec::Codec {
            kind: cur.codec.kind,
            payload_type: cur.local_payload_type,
        }];
        let wideband_events = cur.clock_rate == 48_000;
        cfg.telephone_event = cur.local_telephone_event.filter(|_| !wideband_events);
        cfg.telephone_event_48k = cur.local_telephone_event.filter(|_| wideband_events);
        cfg.ptime = Some(cur.ptime);
        cfg.rtcp = if cur.rtcp_mux {
            RtcpMode::Mux
        } else {
            RtcpMode::Separate
        };
        cfg.direction = Direction::SendRecv;
        let body = self
            .sdp
            .offer(&cfg, self.local)
            .unwrap_or_else(|_| Bytes::new());
        self.awaiting = Some(cfg);
        body
    }

    /// The answer to our offer, from the ACK (`None`: the ACK had no SDP, which RFC 3261
    /// §13.2.2.4 forbids; the session stays). What changes, if the answer fits the call.
    pub fn answered(&mut self, answer: Option<&[u8]>) -> Option<Change> {
        let cfg = self.awaiting.take()?;
        let neg = match answer.map(|a| process_answer(&cfg, a)) {
            Some(Ok(neg)) => neg,
            Some(Err(err)) => {
                tracing::info!(%err, "unusable answer in the ACK; the session stays");
                return None;
            }
            None => {
                tracing::info!("ACK without the answer to our offer; the session stays");
                return None;
            }
        };
        let cur = self.current;
        if neg.codec.kind != cur.codec.kind
            || neg.ptime != cur.ptime
            || neg.rtcp_mux != cur.rtcp_mux
        {
            tracing::info!("the answer in the ACK changes the media path; the session stays");
            return None;
        }
        // The payload types stay the call's: the pump was built for them.
        let neg = NegotiatedMedia {
            media_index: cur.media_index,
            codec: cur.codec,
            local_payload_type: cur.local_payload_type,
            telephone_event: cur.telephone_event,
            local_telephone_event: cur.local_telephone_event,
            ..neg
        };
        let moved =
            ((neg.remote_rtp, neg.remote_rtcp) != (cur.remote_rtp, cur.remote_rtcp)).then_some(neg);
        Some(self.settle(neg, moved))
    }

    /// The ACK of a re-INVITE we answered arrived: applies the answer it carries to our
    /// offer, if we made one.
    pub async fn on_ack(&mut self, ack: &Inbound) {
        if self.awaiting.is_none() {
            return;
        }
        let body = ack.has_sdp().then(|| ack.body());
        if let Some(change) = self.answered(body.as_deref()) {
            self.apply(change).await;
        }
    }

    /// Answers a re-INVITE or UPDATE of the call, then applies what it changes (only once
    /// the answer is on its way: a request CANCELled meanwhile leaves the session as it was).
    pub async fn on_request(&mut self, gw: &Gateway, request: RequestId, message: &Inbound) {
        let before = (self.sdp.clone(), self.current, self.held);
        let has_body = !message.body().is_empty();
        let (reply, change) = match (message.method(), message.has_sdp(), has_body) {
            // Our own offer awaits its answer: no second one crosses it (RFC 3261 §14.2,
            // RFC 3311 §5.2). The phone picks its own retry delay (RFC 3261 §14.1).
            _ if self.awaiting.is_some() => (Reply::status(491), None),
            (_, true, _) => match self.answer(&message.body()) {
                Ok((body, change)) => (Reply::with_body(200, Body::sdp(body)), Some(change)),
                Err(status) => {
                    tracing::info!(
                        status,
                        method = message.method_name(),
                        "offer refused; the session stays"
                    );
                    (Reply::status(status), None)
                }
            },
            // A body that is not a session description (e.g. multipart from a SIP-I
            // trunk): RFC 3261 §21.4.13.
            (_, false, true) => (Reply::status(415).header("Accept", "application/sdp"), None),
            // A session refresh without a description (RFC 4028 with UPDATE).
            (Method::Update, false, false) => (Reply::status(200), None),
            (_, false, false) => (Reply::with_body(200, Body::sdp(self.offer())), None),
        };
        let sent = gw
            .sip
            .with(move |ep, now| ep.reply(now, request, reply))
            .await;
        match (sent, change) {
            (Ok(Ok(())), Some(change)) => self.apply(change).await,
            (Ok(Ok(())), None) => {}
            _ => {
                tracing::info!("the reply could not be sent; the session stays as it was");
                (self.sdp, self.current, self.held) = before;
                self.awaiting = None;
            }
        }
    }

    async fn apply(&mut self, change: Change) {
        if let Some(send) = change.send {
            tracing::info!(send, "the phone's wish to receive media changed");
            self.pump.send_modify(|w| w.to_phone = send);
        }
        let Some(control) = &self.control else {
            return;
        };
        if let Some(neg) = change.moved {
            tracing::info!(to = %neg.remote_rtp, "the phone's media moved");
            if let Err(err) = control.set_remote(&neg).await {
                tracing::warn!(%err, "cannot follow the phone's new media address");
            }
        }
        if let Some(held) = change.hold {
            tracing::info!(held, "the phone's hold state changed");
            if let Err(err) = control.hold(held).await {
                tracing::warn!(%err, "cannot change the media timeouts for hold");
            }
        }
    }
}

/// Whether the phone will not send in `neg`: we answered `sendonly` or `inactive`, or it
/// named no address (`c=0.0.0.0`, the old way to hold, RFC 3264 §8.4).
fn silent(neg: &NegotiatedMedia) -> bool {
    matches!(neg.direction, Direction::SendOnly | Direction::Inactive)
        || neg.remote_rtp.ip().is_unspecified()
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use room_link::offer_answer::SdpSession;
    use rtp_relay::codec::{Codec, CodecKind};

    use super::*;

    const LOCAL: LocalEndpoint = LocalEndpoint {
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        rtp_port: 30_000,
    };

    fn offer(port: u16, dir: &str, codecs: &str) -> String {
        let rtpmaps: String = codecs
            .split(' ')
            .map(|pt| match pt {
                "0" => "a=rtpmap:0 PCMU/8000\r\n".to_owned(),
                "8" => "a=rtpmap:8 PCMA/8000\r\n".to_owned(),
                "101" => "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n".to_owned(),
                other => panic!("{other}"),
            })
            .collect();
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {codecs}\r\n{rtpmaps}a=ptime:20\r\na={dir}\r\n"
        )
    }

    fn established() -> (Renegotiation, Bytes) {
        let base = MediaConfig::new(vec![
            Codec::with_default_pt(CodecKind::Pcmu),
            Codec::with_default_pt(CodecKind::Pcma),
        ]);
        let mut sdp = SdpSession::new(7);
        let (first, neg) = sdp
            .answer(
                offer(40_000, "sendrecv", "0 8 101").as_bytes(),
                &base,
                LOCAL,
            )
            .expect("initial answer");
        let (pump, _) = watch::channel(PumpWishes::default());
        (
            Renegotiation::new(sdp, &base, LOCAL, neg, None, pump),
            first,
        )
    }

    fn origin_version(sdp: &[u8]) -> String {
        let text = String::from_utf8_lossy(sdp);
        let line = text.lines().find(|l| l.starts_with("o=")).expect("o=");
        line.split(' ').nth(2).expect("version").to_owned()
    }

    #[test]
    fn a_session_refresh_with_the_same_offer_gets_the_same_answer() {
        let (mut r, first) = established();
        let (again, change) = r
            .answer(offer(40_000, "sendrecv", "0 8 101").as_bytes())
            .expect("refresh accepted");
        assert_eq!(
            again, first,
            "unchanged answer, unchanged o= version (RFC 3264 §8)"
        );
        assert_eq!(
            change,
            Change {
                moved: None,
                hold: None,
                send: None
            }
        );
    }

    #[test]
    fn hold_and_resume_pause_and_rearm_the_timeouts() {
        let (mut r, first) = established();
        let (held, change) = r
            .answer(offer(40_000, "sendonly", "0 101").as_bytes())
            .expect("hold");
        // The phone sends only (music on hold, RFC 3264 §8.4): we answer recvonly; it
        // still sends, so the timeouts stay armed.
        assert!(String::from_utf8_lossy(&held).contains("a=recvonly"));
        assert_eq!(change.hold, None);
        assert_eq!(
            change.send,
            Some(false),
            "RFC 3264 §6.1: recvonly, we must not send"
        );
        assert_ne!(
            origin_version(&held),
            origin_version(&first),
            "a changed answer bumps o="
        );
        let (inactive, change) = r
            .answer(offer(40_000, "inactive", "0 101").as_bytes())
            .expect("inactive");
        assert!(String::from_utf8_lossy(&inactive).contains("a=inactive"));
        assert_eq!(change.hold, Some(true), "the phone stopped sending");
        assert_eq!(change.send, None, "still not sending to it");
        let (_, change) = r
            .answer(offer(40_000, "recvonly", "0 101").as_bytes())
            .expect("recvonly");
        assert_eq!(change.hold, None, "still not sending");
        assert_eq!(change.send, Some(true), "the phone listens again");
        let (resumed, change) = r
            .answer(offer(40_000, "sendrecv", "0 8 101").as_bytes())
            .expect("resume");
        assert!(String::from_utf8_lossy(&resumed).contains("a=sendrecv"));
        assert_eq!(change.hold, Some(false));
        assert_eq!(change.send, None);
    }

    #[test]
    fn a_moved_port_is_followed() {
        let (mut r, _) = established();
        let (_, change) = r
            .answer(offer(40_010, "sendrecv", "0 101").as_bytes())
            .expect("moved");
        let moved = change.moved.expect("moved");
        assert_eq!(moved.remote_rtp.port(), 40_010);
    }

    #[test]
    fn another_codec_or_garbage_is_refused_and_the_session_stays() {
        let (mut r, first) = established();
        assert_eq!(
            r.answer(offer(40_000, "sendrecv", "8 101").as_bytes()),
            Err(488)
        );
        assert_eq!(r.answer(b"not sdp"), Err(400));
        let (again, _) = r
            .answer(offer(40_000, "sendrecv", "0 8 101").as_bytes())
            .expect("same offer");
        assert_eq!(again, first, "refusals did not touch the description");
        // Another packet time or RTCP port would need a new media path.
        let ptime30 = offer(40_000, "sendrecv", "0 101").replace("a=ptime:20", "a=ptime:30");
        assert_eq!(r.answer(ptime30.as_bytes()), Err(488));
        // Without telephone-event (a hold from some phones): accepted, the call keeps its.
        let (_, change) = r
            .answer(offer(40_000, "sendrecv", "0").as_bytes())
            .expect("no telephone-event");
        assert_eq!(change.send, None);
        assert_eq!(r.current.telephone_event, Some(101));
    }

    #[test]
    fn an_offerless_reinvite_gets_our_sendrecv_offer_and_the_ack_answers_it() {
        let (mut r, _) = established();
        r.answer(offer(40_000, "inactive", "0 101").as_bytes())
            .expect("hold");
        let ours = r.offer();
        let text = String::from_utf8_lossy(&ours);
        assert!(text.contains("a=rtpmap:0 PCMU/8000"), "{text}");
        assert!(text.contains("a=rtpmap:101 telephone-event/8000"), "{text}");
        assert!(
            text.contains("a=sendrecv") && !text.contains("PCMA"),
            "{text}"
        );
        // The phone answers in the ACK: resumed, from another port.
        let answer = offer(40_020, "sendrecv", "0 101");
        let change = r.answered(Some(answer.as_bytes())).expect("answered");
        assert_eq!(change.hold, Some(false));
        assert_eq!(change.send, Some(true));
        assert_eq!(change.moved.map(|m| m.remote_rtp.port()), Some(40_020));
        // Nothing is awaited any more: a second ACK changes nothing.
        assert_eq!(r.answered(Some(answer.as_bytes())), None);
        // An answer that keeps the phone on hold keeps the hold; an ACK without one
        // leaves the session as it was.
        r.offer();
        let still_held = offer(40_020, "inactive", "0 101");
        let change = r.answered(Some(still_held.as_bytes())).expect("answered");
        assert_eq!(change.hold, Some(true));
        r.offer();
        assert_eq!(r.answered(None), None);
        assert!(r.held);
    }

    #[test]
    fn the_first_exchange_sets_the_starting_state() {
        let base = MediaConfig::new(vec![Codec::with_default_pt(CodecKind::Pcmu)]);
        let mut sdp = SdpSession::new(9);
        let (_, neg) = sdp
            .answer(offer(40_000, "sendonly", "0 101").as_bytes(), &base, LOCAL)
            .expect("answer");
        let (pump, wishes) = watch::channel(PumpWishes::default());
        let r = Renegotiation::new(sdp, &base, LOCAL, neg, None, pump);
        assert!(
            !wishes.borrow().to_phone,
            "we answered recvonly: nothing to the phone"
        );
        assert!(!r.held, "the phone sends");
        let held =
            offer(40_000, "sendrecv", "0 101").replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        let mut sdp = SdpSession::new(10);
        let (_, neg) = sdp.answer(held.as_bytes(), &base, LOCAL).expect("answer");
        let (pump, _) = watch::channel(PumpWishes::default());
        let r = Renegotiation::new(sdp, &base, LOCAL, neg, None, pump);
        assert!(r.held, "c=0.0.0.0 is a hold (RFC 3264 §8.4)");
    }
}
