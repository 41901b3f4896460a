//! The shape of the login throttle: which counters a failed sign-in feeds, how long each
//! makes its key wait, and which keys can refuse an attempt. It is shaped so that nobody
//! can keep another person out: only failures made from the attempt's own address (an
//! IPv4 address, or an IPv6 /64) ever refuse it. The account-wide count refuses nothing;
//! past its ceiling it raises an alert and removes the free failures every address has
//! on that account, which slows a spread-out attack.

use std::net::IpAddr;

/// How one kind of counter turns failures in a window into waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Failures in a window that cost nothing.
    pub free: u32,
    /// Failures in a window after which the key waits for the window to end.
    pub max_per_window: u32,
    /// The longest wait before `max_per_window` is reached.
    pub max_delay_secs: u64,
}

impl Shape {
    /// How long a key waits after its `failures`-th failure in the window: nothing for
    /// the first `free`, then 1 s doubling up to `max_delay_secs`, and the rest of the
    /// window once `max_per_window` is reached.
    pub fn delay_after(&self, failures: u32, window_left_secs: u64) -> Option<u64> {
        if failures >= self.max_per_window {
            return Some(window_left_secs.max(1));
        }
        if failures <= self.free {
            return None;
        }
        let exponent = (failures - self.free - 1).min(30);
        Some((1u64 << exponent).min(self.max_delay_secs))
    }
}

/// The login throttle's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Every counter counts failures in windows of this length.
    pub window_secs: u64,
    /// Failures of one account from one address.
    pub pair: Shape,
    /// Failures from one address, whatever the account.
    pub address: Shape,
    /// Failures of one account from every address in a window that raise the alert and
    /// take the free failures away from every address on that account.
    pub account_ceiling: u32,
}

/// The keys of the counters one sign-in attempt touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// The account, from every address: counts, never refuses.
    pub account: String,
    /// The account from this address.
    pub pair: String,
    /// This address, for every account.
    pub address: String,
}

/// The part of a client address that identifies one client: an IPv4 address, or the /64
/// of an IPv6 address (one subscriber's network; a single host can hold all of it).
pub fn address_block(addr: Option<IpAddr>) -> String {
    match addr.map(|a| a.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

/// The counters of an attempt on `account` (the name as submitted and normalised, whether
/// or not it exists) from `addr`.
pub fn keys(account: &str, addr: Option<IpAddr>) -> Keys {
    let block = address_block(addr);
    Keys {
        account: format!("account:{account}"),
        pair: format!("pair:{block} {account}"),
        address: format!("address:{block}"),
    }
}

/// Failures counted in each counter's current window, this one included, and the seconds
/// left in each window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub account: u32,
    pub pair: u32,
    pub pair_window_left_secs: u64,
    pub address: u32,
    pub address_window_left_secs: u64,
}

/// What a failure does: how long the pair and the address wait from now, and whether it
/// is the one that took the account to its ceiling (one alert per account and window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterFailure {
    pub pair_wait_secs: Option<u64>,
    pub address_wait_secs: Option<u64>,
    pub alert: bool,
}

impl LoginThrottle {
    /// The account has met its ceiling in this window: it is under attack.
    pub fn under_attack(&self, account_failures: u32) -> bool {
        account_failures >= self.account_ceiling
    }

    /// The shape of the (account, address) counter while the account has
    /// `account_failures` in its window: no free failures once it is under attack.
    pub fn pair_shape(&self, account_failures: u32) -> Shape {
        if self.under_attack(account_failures) { Shape { free: 0, ..self.pair } } else { self.pair }
    }

    pub fn after_failure(&self, counted: Counted) -> AfterFailure {
        AfterFailure {
            pair_wait_secs: self.pair_shape(counted.account).delay_after(counted.pair, counted.pair_window_left_secs),
            address_wait_secs: self.address.delay_after(counted.address, counted.address_window_left_secs),
            alert: counted.account == self.account_ceiling,
        }
    }
}

/// Whether an attempt is refused before its password is looked at, and for how long:
/// while its (account, address) or its address waits. The account-wide count has no say
/// here, so failures from elsewhere never refuse anyone.
pub fn refused(pair_locked_secs: Option<u64>, address_locked_secs: Option<u64>) -> Option<u64> {
    match (pair_locked_secs, address_locked_secs) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).max(b.unwrap_or(0)).max(1)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::Ipv4Addr;

    use proptest::prelude::*;

    use super::*;

    const POLICY: LoginThrottle = LoginThrottle {
        window_secs: 3600,
        pair: Shape { free: 5, max_per_window: 100, max_delay_secs: 900 },
        address: Shape { free: 50, max_per_window: 1000, max_delay_secs: 900 },
        account_ceiling: 50,
    };

    #[test]
    fn delays_start_after_the_free_failures_and_double_to_the_cap() {
        let s = POLICY.pair;
        let waits: Vec<Option<u64>> = (1..=9).map(|n| s.delay_after(n, 3000)).collect();
        assert_eq!(waits, [None, None, None, None, None, Some(1), Some(2), Some(4), Some(8)]);
        assert_eq!(s.delay_after(40, 3000), Some(900));
        assert_eq!(s.delay_after(100, 3000), Some(3000));
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(address_block(Some(a)), address_block(Some(b)));
        assert_eq!(address_block(Some(a)), "2001:db8:1:2::/64");
        assert_eq!(address_block(Some("::ffff:192.0.2.7".parse().unwrap())), "192.0.2.7");
        assert_ne!(keys("x", Some(a)).pair, keys("x", Some("192.0.2.7".parse().unwrap())).pair);
    }

    #[test]
    fn the_failure_that_meets_the_ceiling_alerts_once_and_takes_the_free_failures_away() {
        let counted = |account| Counted {
            account,
            pair: 1,
            pair_window_left_secs: 100,
            address: 1,
            address_window_left_secs: 100,
        };
        assert_eq!(
            POLICY.after_failure(counted(49)),
            AfterFailure { pair_wait_secs: None, address_wait_secs: None, alert: false }
        );
        assert_eq!(
            POLICY.after_failure(counted(50)),
            AfterFailure { pair_wait_secs: Some(1), address_wait_secs: None, alert: true }
        );
        assert!(!POLICY.after_failure(counted(51)).alert);
    }

    /// An in-memory copy of the `login_throttle` table's behaviour: a counter per key in
    /// windows, and a lock per key.
    #[derive(Default)]
    struct Store {
        counters: HashMap<String, (u64, u32)>,
        locks: HashMap<String, u64>,
    }

    impl Store {
        fn count(&mut self, key: &str, now: u64) -> (u32, u64) {
            let (start, n) = self.counters.entry(key.to_owned()).or_insert((now, 0));
            if *start + POLICY.window_secs <= now {
                *start = now;
                *n = 0;
            }
            *n += 1;
            (*n, *start + POLICY.window_secs - now)
        }

        fn locked(&self, key: &str, now: u64) -> Option<u64> {
            self.locks.get(key).filter(|&&until| until > now).map(|until| until - now)
        }

        /// One attempt, as the server handles it; `true` when refused unevaluated.
        fn attempt(&mut self, account: &str, addr: IpAddr, correct: bool, now: u64) -> Option<u64> {
            let k = keys(account, Some(addr));
            if let Some(wait) = refused(self.locked(&k.pair, now), self.locked(&k.address, now)) {
                return Some(wait);
            }
            if correct {
                self.counters.remove(&k.pair);
                return None;
            }
            let (account_n, _) = self.count(&k.account, now);
            let (pair, pair_left) = self.count(&k.pair, now);
            let (address, address_left) = self.count(&k.address, now);
            let after = POLICY.after_failure(Counted {
                account: account_n,
                pair,
                pair_window_left_secs: pair_left,
                address,
                address_window_left_secs: address_left,
            });
            if let Some(w) = after.pair_wait_secs {
                self.locks.insert(k.pair.clone(), now + w);
            }
            if let Some(w) = after.address_wait_secs {
                self.locks.insert(k.address.clone(), now + w);
            }
            None
        }
    }

    fn attacker() -> impl Strategy<Value = (u8, u64)> {
        // An attacker address (never the victim's, 10.0.0.1) and a gap before the next try.
        (2u8..=255, 0u64..120)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// However many failures other addresses make on the victim's account (and on any
        /// other), at whatever pace, the victim's correct password from its own address is
        /// never refused.
        #[test]
        fn failures_from_other_addresses_never_refuse_the_victim(
            attacks in proptest::collection::vec((attacker(), any::<bool>()), 1..400),
            victim_every in 1usize..50,
        ) {
            let mut store = Store::default();
            let victim: IpAddr = Ipv4Addr::new(10, 0, 0, 1).into();
            let mut now = 1_000_000;
            for (i, ((octet, gap), other_account)) in attacks.into_iter().enumerate() {
                now += gap;
                let account = if other_account { "someone.else" } else { "victim" };
                store.attempt(account, Ipv4Addr::new(192, 0, 2, octet).into(), false, now);
                if i % victim_every == 0 {
                    prop_assert_eq!(store.attempt("victim", victim, true, now), None, "at {}", now);
                }
            }
        }

        /// The victim's own mistakes during an attack make it wait no longer than the
        /// (account, address) shape allows, and a correct password after that wait passes.
        #[test]
        fn the_victims_own_failures_cost_at_most_the_pair_shape(
            attacks in proptest::collection::vec(attacker(), 60..200),
            own_failures in 1u32..12,
        ) {
            let mut store = Store::default();
            let victim: IpAddr = Ipv4Addr::new(10, 0, 0, 1).into();
            let mut now = 1_000_000;
            for (octet, gap) in attacks {
                now += gap % 3;
                store.attempt("victim", Ipv4Addr::new(192, 0, 2, octet).into(), false, now);
            }
            let mut waited = 0;
            for _ in 0..own_failures {
                if let Some(wait) = store.attempt("victim", victim, false, now) {
                    now += wait;
                    waited += wait;
                    prop_assert_eq!(store.attempt("victim", victim, false, now), None);
                }
            }
            let wait = store.attempt("victim", victim, true, now).unwrap_or(0);
            prop_assert!(wait <= POLICY.pair.max_delay_secs);
            now += wait;
            prop_assert_eq!(store.attempt("victim", victim, true, now), None);
            prop_assert!(waited + wait <= u64::from(own_failures) * POLICY.pair.max_delay_secs);
        }

        /// An address that keeps failing is slowed: past its free failures on one account
        /// (none once the account is under attack) each further try waits.
        #[test]
        fn an_address_that_keeps_failing_waits(extra in 1u32..20, under_attack in any::<bool>()) {
            let mut store = Store::default();
            let now = 1_000_000;
            if under_attack {
                for octet in 2..=(u8::try_from(POLICY.account_ceiling).unwrap_or(u8::MAX - 1) + 1) {
                    store.attempt("victim", Ipv4Addr::new(198, 51, 100, octet).into(), false, now);
                }
            }
            let attacker: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
            let free = if under_attack { 0 } else { POLICY.pair.free };
            for _ in 0..free {
                prop_assert_eq!(store.attempt("victim", attacker, false, now), None);
            }
            prop_assert_eq!(store.attempt("victim", attacker, false, now), None);
            for _ in 0..extra {
                prop_assert!(store.attempt("victim", attacker, false, now).is_some());
            }
        }
    }
}
