//! What the load benchmarks read about processes and the host (Linux `/proc`), shared by
//! `api-load`, `inbound-load` and `webrtc-load`.

use std::fmt::Display;

/// Resident memory of process `pid` (a number or `"self"`), KiB (`VmRSS`); 0 if unknown.
pub fn rss_kib(pid: impl Display) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU time of process `pid`, seconds (`/proc/<pid>/stat` fields 14 and 15,
/// what `getrusage` reports for it).
pub fn cpu_seconds(pid: impl Display) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name (which may hold spaces): utime is the
    // 12th of them, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// A host-wide UDP counter of `/proc/net/snmp` (`RcvbufErrors`, `InErrors`, …); 0 if absent.
pub fn udp_counter(name: &str) -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let udp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp:")).collect();
    let (Some(names), Some(values)) = (udp.first(), udp.get(1)) else {
        return 0;
    };
    let values: Vec<&str> = values.split_whitespace().collect();
    names
        .split_whitespace()
        .position(|n| n == name)
        .and_then(|i| values.get(i))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Sum of a Prometheus counter/gauge family's samples whose line contains `filter`.
pub fn metric_sum(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(filter))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu_time_and_metrics_sum_by_label() {
        assert!(rss_kib("self") > 0);
        let spin = (0..2_000_000u64).fold(0u64, |a, x| a.wrapping_add(x * x));
        assert!(spin > 0);
        assert!(cpu_seconds("self") >= 0.0);
        assert!(rss_kib(u32::MAX) == 0, "no such process");
        let text = "a_total{x=\"1\"} 2\na_total{x=\"2\"} 3\nab_other 7\n";
        assert_eq!(metric_sum(text, "a_total", ""), 5.0);
        assert_eq!(metric_sum(text, "a_total", "x=\"2\""), 3.0);
    }
}
