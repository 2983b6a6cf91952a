//! Real audio through a room: two real softphones (Debian's `baresip`, headless, audio from
//! and to WAV files) call into the same embedded room of the real `sipbridge` binary. Each
//! plays its own tone; each recording must hold the other's tone and not its own.
//!
//! Skips with a message when `baresip` is not installed, unless `SIPBRIDGE_REQUIRE_BARESIP`
//! is set (`tests/run.sh` installs `baresip-core` and sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rtp_relay::analysis::tone_fraction;
use sipbridge_e2e::{Child, Gateway};

const RATE: u32 = 8000;
/// How long each phone stays in the call (baresip's `-t`).
const TALK_S: u32 = 8;

fn baresip_available() -> bool {
    Command::new("baresip")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// 16-bit mono PCM WAV of a sine at `freq`.
fn write_tone(path: &Path, freq: f64, seconds: u32) {
    let n = (RATE * seconds) as usize;
    let data_len = (n * 2) as u32;
    let mut wav = Vec::with_capacity(44 + n * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..n {
        let s = 8000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(RATE)).sin();
        wav.extend_from_slice(&(s as i16).to_le_bytes());
    }
    std::fs::write(path, wav).expect("write WAV");
}

/// The samples of a 16-bit mono WAV at 8 kHz (the `data` chunk found by walking chunks).
fn read_wav(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE");
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
            let bits = u16::from_le_bytes([body[14], body[15]]);
            assert_eq!((channels, rate, bits), (1, RATE, 16), "{}", path.display());
        }
        if id == b"data" {
            return body
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
        }
        at += 8 + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

/// A free port `p` whose neighbour `p + 1` is free too (baresip puts SIP over TLS there).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let p = sipbridge_e2e::free_port();
        let ok = |port: u16| {
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
                && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        };
        if p < u16::MAX && ok(p + 1) {
            return p;
        }
    }
    panic!("no free port pair");
}

/// One headless baresip: its config dir, playing `tone` and recording what it hears.
struct Softphone {
    dir: PathBuf,
    name: &'static str,
}

impl Softphone {
    fn new(root: &Path, name: &'static str, tone_hz: f64, rtp_ports: (u16, u16)) -> Self {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("rec")).expect("phone dir");
        let tone = dir.join("tone.wav");
        write_tone(&tone, tone_hz, TALK_S + 4);
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip}\n\
             net_interface 127.0.0.1\n\
             audio_player aubridge,nil\n\
             audio_alert aubridge,nil\n\
             audio_source aufile,{tone}\n\
             audio_srate 8000\n\
             audio_channels 1\n\
             rtp_ports {lo}-{hi}\n\
             module_path /usr/lib/baresip/modules\n\
             module stdio.so\n\
             module g711.so\n\
             module aufile.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             module account.so\n\
             module menu.so\n\
             snd_path {rec}\n",
            sip = free_port_pair(),
            tone = tone.display(),
            lo = rtp_ports.0,
            hi = rtp_ports.1,
            rec = dir.join("rec").display(),
        );
        std::fs::write(dir.join("config"), config).expect("config");
        std::fs::write(
            dir.join("accounts"),
            format!("<sip:{name}@127.0.0.1>;regint=0;audio_codecs=PCMU\n"),
        )
        .expect("accounts");
        Softphone { dir, name }
    }

    /// Dials `uri`, stays `TALK_S` seconds, hangs up and quits.
    fn call(&self, uri: &str) -> Child {
        let log = std::fs::File::create(self.dir.join("baresip.log")).expect("log");
        Child(
            Command::new("baresip")
                .arg("-f")
                .arg(&self.dir)
                .args(["-e", &format!("/dial {uri}"), "-t", &TALK_S.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup"))
                .stderr(log)
                .spawn()
                .expect("start baresip"),
        )
    }

    /// What the phone heard: sndfile's decoded-audio dump.
    fn heard(&self) -> Vec<i16> {
        let rec = self.dir.join("rec");
        let file = std::fs::read_dir(&rec)
            .expect("rec dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .unwrap_or_else(|| {
                panic!(
                    "{}: no recording; baresip log:\n{}",
                    self.name,
                    std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
                )
            });
        read_wav(&file)
    }
}

#[test]
fn two_softphones_talk_through_a_room() {
    if !baresip_available() {
        assert!(
            std::env::var_os("SIPBRIDGE_REQUIRE_BARESIP").is_none(),
            "baresip required but not installed"
        );
        eprintln!("SKIPPED two_softphones_talk_through_a_room: baresip not installed");
        return;
    }
    let gw = Gateway::start(
        "baresip",
        r#"
[[inbound_trunks]]
sip_trunk_id = "ST_phones"
allowed_addresses = ["127.0.0.0/8"]

[[dispatch_rules]]
sip_dispatch_rule_id = "SDR_duo"
[dispatch_rules.rule.dispatch_rule_direct]
room_name = "duo"
"#,
    );
    let root = gw.dir.join("phones");
    // Media ports below the gateways' test windows (20000 and up).
    let a = Softphone::new(&root, "alice", 600.0, (16_000, 16_499));
    let b = Softphone::new(&root, "bob", 1000.0, (16_500, 16_999));
    let uri = format!("sip:duo@{}", gw.sip);
    let (ca, cb) = (a.call(&uri), b.call(&uri));
    for (c, name) in [(ca, "alice"), (cb, "bob")] {
        let out = c.wait_for(Duration::from_secs(u64::from(TALK_S) + 20));
        assert!(
            out.status.success(),
            "{name}: baresip failed: {:?}",
            out.status
        );
    }
    // Both were in the room together from about 1 s to TALK_S s; judge 2 s .. 6 s.
    let window = |pcm: &[i16]| -> Vec<i16> {
        let from = (2 * RATE) as usize;
        let to = ((TALK_S - 2) * RATE) as usize;
        assert!(pcm.len() > to, "recording too short: {} samples", pcm.len());
        pcm[from..to].to_vec()
    };
    let (ha, hb) = (window(&a.heard()), window(&b.heard()));
    let log = gw.log();
    assert!(
        tone_fraction(&ha, RATE, 1000.0) > 0.5,
        "alice hears bob\n{log}"
    );
    assert!(
        tone_fraction(&ha, RATE, 600.0) < 0.05,
        "alice does not hear herself"
    );
    assert!(
        tone_fraction(&hb, RATE, 600.0) > 0.5,
        "bob hears alice\n{log}"
    );
    assert!(
        tone_fraction(&hb, RATE, 1000.0) < 0.05,
        "bob does not hear himself"
    );
    let m = gw.metrics();
    assert!(
        m.contains(r#"sipbridge_calls_started_total{direction="inbound"} 2"#),
        "{m}"
    );
}
