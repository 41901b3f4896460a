//! The administration invariant as a state machine over HTTPS: random sequences of
//! account changes (people, memberships, service accounts, keys, second-factor resets)
//! by random callers — the secretariat, the `org_admin`s of A and B, an author of A —
//! each request checked against a model of the rule, and after every step: no caller
//! holds a working password or API key of an account it may not manage, and no caller's
//! own roles changed.
//!
//! The sequences are random with a fixed seed, so a run is repeatable.
//! `SITREP_TEST_SEED=<n>` replays sequence `n` alone; `SITREP_TEST_ADMIN_SEQUENCES=<k>`
//! runs `k` sequences (default 3) of `SITREP_TEST_ADMIN_STEPS` steps (default 40).

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sitrep_types::Role;
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::helpers::admin::{PASSWORD, in_days};

const ORGS: [&str; 3] = ["A", "B", "S"];
const GRANTABLE: [&str; 4] = ["reader", "author", "approver", "org_admin"];
const PRIVILEGED: [&str; 3] = ["secretariat", "auditor", "sysadmin"];
const FIRST_SEED: u64 = 0x5173_0004;

type Roles = BTreeSet<&'static str>;

struct Caller {
    name: &'static str,
    org: &'static str,
    roles: Roles,
    token: String,
    account: usize,
}

impl Caller {
    fn is(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// What the contract lets this caller hand out.
    fn can_grant(&self, org: &str, roles: &Roles) -> bool {
        self.is("secretariat")
            || (self.is("org_admin") && org == self.org && roles.iter().all(|r| GRANTABLE.contains(r)))
    }
}

#[derive(Debug, Clone)]
struct Membership {
    id: String,
    org: &'static str,
    roles: Roles,
    current: bool,
}

#[derive(Debug, Clone)]
struct Key {
    id: String,
    key: String,
    made_by: usize,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct Account {
    id: Uuid,
    username: String,
    /// A service account, owned by its first membership's organisation.
    service: bool,
    memberships: Vec<Membership>,
    last_org: Option<&'static str>,
    active: bool,
    /// The password that works now and the caller who set it (who knows it).
    password: Option<(String, usize)>,
    keys: Vec<Key>,
}

impl Account {
    fn current(&self) -> impl Iterator<Item = &Membership> {
        self.memberships.iter().filter(|m| m.current)
    }

    /// The model of the rule, written from the contract: an account is its organisation's
    /// when every current membership is there and none holds a role only the secretariat
    /// grants; with none current, its last organisation's.
    fn managing_org(&self) -> Option<&'static str> {
        let orgs: BTreeSet<&str> = self.current().map(|m| m.org).collect();
        let privileged = self.current().any(|m| m.roles.iter().any(|r| PRIVILEGED.contains(r)));
        match orgs.len() {
            0 => self.last_org,
            1 if !privileged => orgs.into_iter().next(),
            _ => None,
        }
    }
}

struct Model {
    callers: Vec<Caller>,
    accounts: Vec<Account>,
}

impl Model {
    fn may_manage(&self, caller: usize, account: usize) -> bool {
        let c = &self.callers[caller];
        if c.account == account {
            return false;
        }
        c.is("secretariat") || (c.is("org_admin") && self.accounts[account].managing_org() == Some(c.org))
    }

    /// After an allowed membership change: what the administrator who lost the account
    /// could know is void.
    fn settle(&mut self, account: usize, before: Option<&'static str>) -> Vec<(String, usize)> {
        let a = &mut self.accounts[account];
        let mut voided = vec![];
        if before.is_some() && a.managing_org() != before {
            voided.extend(a.password.take());
            for k in &mut a.keys {
                k.revoked = true;
            }
        }
        voided
    }
}

#[derive(Debug, Clone)]
enum Op {
    CreateUser { org: &'static str, roles: Roles },
    CreateService { org: &'static str, roles: Roles },
    SetPassword { target: usize },
    SetActive { target: usize, active: bool },
    AddMembership { target: usize, org: &'static str, roles: Roles },
    ChangeRoles { target: usize, membership: usize, roles: Roles },
    EndMembership { target: usize, membership: usize },
    ResetTotp { target: usize },
    ServiceRoles { target: usize, roles: Roles },
    CreateKey { target: usize },
    RevokeKey { target: usize, key: usize },
}

fn roles(rng: &mut StdRng) -> Roles {
    let n = rng.gen_range(1..=2);
    let mut out: Roles = GRANTABLE.choose_multiple(rng, n).copied().collect();
    if rng.gen_bool(0.3) {
        out.insert(PRIVILEGED.choose(rng).copied().unwrap());
        if rng.gen_bool(0.5) {
            out.remove(GRANTABLE.iter().find(|r| out.contains(*r)).unwrap());
        }
    }
    out
}

fn org(rng: &mut StdRng) -> &'static str {
    ORGS.choose(rng).copied().unwrap()
}

/// A random operation by `caller`; targets are this sequence's accounts, or now and then
/// the caller's own.
fn pick(rng: &mut StdRng, m: &Model, caller: usize, first: usize) -> Op {
    let own = m.callers[caller].account;
    let people: Vec<usize> = (first..m.accounts.len()).filter(|i| !m.accounts[*i].service).collect();
    let services: Vec<usize> = (first..m.accounts.len()).filter(|i| m.accounts[*i].service).collect();
    let person = |rng: &mut StdRng| if rng.gen_bool(0.1) { Some(own) } else { people.choose(rng).copied() };
    let service = |rng: &mut StdRng| services.choose(rng).copied();
    loop {
        let op = match rng.gen_range(0..12) {
            0 => Some(Op::CreateUser { org: org(rng), roles: roles(rng) }),
            1 => Some(Op::CreateService { org: org(rng), roles: roles(rng) }),
            2 => person(rng).map(|target| Op::SetPassword { target }),
            3 => (if rng.gen_bool(0.5) { person(rng) } else { service(rng) })
                .map(|target| Op::SetActive { target, active: rng.gen_bool(0.6) }),
            4 | 5 => person(rng).map(|target| Op::AddMembership { target, org: org(rng), roles: roles(rng) }),
            6 => person(rng).and_then(|target| {
                let n = m.accounts[target].memberships.len();
                (n > 0).then(|| Op::ChangeRoles { target, membership: rng.gen_range(0..n), roles: roles(rng) })
            }),
            7 => person(rng).and_then(|target| {
                let n = m.accounts[target].memberships.len();
                (n > 0).then(|| Op::EndMembership { target, membership: rng.gen_range(0..n) })
            }),
            8 => person(rng).map(|target| Op::ResetTotp { target }),
            9 => service(rng).map(|target| Op::ServiceRoles { target, roles: roles(rng) }),
            10 => service(rng).map(|target| Op::CreateKey { target }),
            _ => service(rng).and_then(|target| {
                let n = m.accounts[target].keys.len();
                (n > 0).then(|| Op::RevokeKey { target, key: rng.gen_range(0..n) })
            }),
        };
        if let Some(op) = op {
            return op;
        }
    }
}

fn names(roles: &Roles) -> Vec<&'static str> {
    roles.iter().copied().collect()
}

struct Run<'a> {
    app: &'a TestApp,
    model: Model,
    seq: u64,
    made: usize,
    step: usize,
    /// Requests the model allowed and refused, and credentials voided or replaced.
    allowed: usize,
    refused: usize,
    voided: usize,
}

impl Run<'_> {
    fn revoked_keys(&self) -> usize {
        self.model.accounts.iter().flat_map(|a| &a.keys).filter(|k| k.revoked).count()
    }

    fn org_id(&self, code: &str) -> Uuid {
        self.app.org(code)
    }

    /// Sends `op` as `caller`; applies it to the model when the model allows it. Returns
    /// the account the step touched and any credentials that stopped working.
    async fn step(&mut self, caller: usize, op: &Op) -> (Option<usize>, Vec<(String, usize)>) {
        let app = self.app;
        self.step += 1;
        let token = self.model.callers[caller].token.clone();
        let c = &self.model.callers[caller];
        let (expected, res, target) = match op {
            Op::CreateUser { org, roles } => {
                self.made += 1;
                let username = format!("s{}.p{}", self.seq, self.made);
                let body = json!({"username": username, "display_name": "P", "password": PASSWORD,
                    "organisation_id": self.org_id(org), "roles": names(roles)});
                let res = app.post_json("/api/v1/users", Some(&token), &body).await;
                (c.can_grant(org, roles), res, None)
            }
            Op::CreateService { org, roles } => {
                self.made += 1;
                let body = json!({"name": format!("s{}-svc{}", self.seq, self.made), "roles": names(roles),
                    "organisation_id": self.org_id(org)});
                let res = app.post_json("/api/v1/service-accounts", Some(&token), &body).await;
                (c.can_grant(org, roles), res, None)
            }
            Op::SetPassword { target } => {
                let id = self.model.accounts[*target].id;
                let body = json!({"password": format!("set by {} in step {}", c.name, self.step)});
                let res = app.patch_json(&format!("/api/v1/users/{id}"), &token, &body).await;
                (self.model.may_manage(caller, *target), res, Some(*target))
            }
            Op::SetActive { target, active } => {
                let a = &self.model.accounts[*target];
                let path = if a.service { "service-accounts" } else { "users" };
                let res = app.patch_json(&format!("/api/v1/{path}/{}", a.id), &token, &json!({"active": active})).await;
                (self.model.may_manage(caller, *target), res, Some(*target))
            }
            Op::AddMembership { target, org, roles } => {
                let a = &self.model.accounts[*target];
                let body = json!({"organisation_id": self.org_id(org), "roles": names(roles)});
                let res = app.post_json(&format!("/api/v1/users/{}/memberships", a.id), Some(&token), &body).await;
                let free = !a.current().any(|m| m.org == *org);
                (self.model.may_manage(caller, *target) && c.can_grant(org, roles) && free, res, Some(*target))
            }
            Op::ChangeRoles { target, membership, roles } => {
                let a = &self.model.accounts[*target];
                let m = &a.memberships[*membership];
                let path = format!("/api/v1/users/{}/memberships/{}", a.id, m.id);
                let res = app.patch_json(&path, &token, &json!({"roles": names(roles)})).await;
                let ok = m.current && self.model.may_manage(caller, *target) && c.can_grant(m.org, roles);
                (ok, res, Some(*target))
            }
            Op::EndMembership { target, membership } => {
                let a = &self.model.accounts[*target];
                let m = &a.memberships[*membership];
                let path = format!("/api/v1/users/{}/memberships/{}", a.id, m.id);
                let res = app.patch_json(&path, &token, &json!({"end": true})).await;
                let in_scope = c.is("secretariat") || m.org == c.org;
                (m.current && in_scope && self.model.may_manage(caller, *target), res, Some(*target))
            }
            Op::ResetTotp { target } => {
                let id = self.model.accounts[*target].id;
                let res = app.post_json(&format!("/api/v1/users/{id}/totp/reset"), Some(&token), &json!({})).await;
                (self.model.may_manage(caller, *target), res, Some(*target))
            }
            Op::ServiceRoles { target, roles } => {
                let a = &self.model.accounts[*target];
                let owner = a.memberships[0].org;
                let path = format!("/api/v1/service-accounts/{}", a.id);
                let res = app.patch_json(&path, &token, &json!({"roles": names(roles)})).await;
                (self.model.may_manage(caller, *target) && c.can_grant(owner, roles), res, Some(*target))
            }
            Op::CreateKey { target } => {
                let id = self.model.accounts[*target].id;
                let body = json!({"name": "k", "expires_at": in_days(10)});
                let res = app.post_json(&format!("/api/v1/service-accounts/{id}/keys"), Some(&token), &body).await;
                (self.model.may_manage(caller, *target), res, Some(*target))
            }
            Op::RevokeKey { target, key } => {
                let a = &self.model.accounts[*target];
                let path = format!("/api/v1/service-accounts/{}/keys/{}/revoke", a.id, a.keys[*key].id);
                let res = app.post_json(&path, Some(&token), &json!({})).await;
                (self.model.may_manage(caller, *target), res, Some(*target))
            }
        };
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let what = format!("sequence {} step {}: {} {op:?}", self.seq, self.step, self.model.callers[caller].name);
        if expected {
            assert!((200..300).contains(&status), "{what}: the model allows it, the server answered {status} {body}");
        } else {
            assert!((400..500).contains(&status), "{what}: the model refuses it, the server answered {status} {body}");
            self.refused += 1;
            return (target, vec![]);
        }
        self.allowed += 1;
        let before = self.revoked_keys();
        let (target, stale) = self.apply(caller, op, &body);
        self.voided += stale.len() + self.revoked_keys() - before;
        (target, stale)
    }

    fn apply(&mut self, caller: usize, op: &Op, body: &Value) -> (Option<usize>, Vec<(String, usize)>) {
        let m = &mut self.model;
        let before = |m: &Model, t: usize| m.accounts[t].managing_org();
        match op {
            Op::CreateUser { org, roles } | Op::CreateService { org, roles } => {
                let service = matches!(op, Op::CreateService { .. });
                let membership_id =
                    if service { String::new() } else { body["memberships"][0]["id"].as_str().unwrap().to_owned() };
                m.accounts.push(Account {
                    id: body["id"].as_str().unwrap().parse().unwrap(),
                    username: body["username"].as_str().unwrap_or_default().to_owned(),
                    service,
                    memberships: vec![Membership { id: membership_id, org, roles: roles.clone(), current: true }],
                    last_org: None,
                    active: true,
                    password: (!service).then(|| (PASSWORD.to_owned(), caller)),
                    keys: vec![],
                });
                (Some(m.accounts.len() - 1), vec![])
            }
            Op::SetPassword { target } => {
                let old = m.accounts[*target].password.take();
                let name = m.callers[caller].name;
                m.accounts[*target].password = Some((format!("set by {name} in step {}", self.step), caller));
                (Some(*target), old.into_iter().collect())
            }
            Op::SetActive { target, active } => {
                m.accounts[*target].active = *active;
                (Some(*target), vec![])
            }
            Op::AddMembership { target, org, roles } => {
                let was = before(m, *target);
                let id = body["id"].as_str().unwrap().to_owned();
                m.accounts[*target].memberships.push(Membership { id, org, roles: roles.clone(), current: true });
                (Some(*target), m.settle(*target, was))
            }
            Op::ChangeRoles { target, membership, roles } => {
                let was = before(m, *target);
                let a = &mut m.accounts[*target];
                a.memberships[*membership].current = false;
                let org = a.memberships[*membership].org;
                a.last_org = Some(org);
                let id = body["id"].as_str().unwrap().to_owned();
                a.memberships.push(Membership { id, org, roles: roles.clone(), current: true });
                (Some(*target), m.settle(*target, was))
            }
            Op::EndMembership { target, membership } => {
                let was = before(m, *target);
                let a = &mut m.accounts[*target];
                a.memberships[*membership].current = false;
                a.last_org = Some(a.memberships[*membership].org);
                (Some(*target), m.settle(*target, was))
            }
            Op::ResetTotp { target } => (Some(*target), vec![]),
            Op::ServiceRoles { target, roles } => {
                let was = before(m, *target);
                let a = &mut m.accounts[*target];
                let owner = a.memberships[0].org;
                for ms in &mut a.memberships {
                    ms.current = false;
                }
                a.memberships.push(Membership { id: String::new(), org: owner, roles: roles.clone(), current: true });
                (Some(*target), m.settle(*target, was))
            }
            Op::CreateKey { target } => {
                m.accounts[*target].keys.push(Key {
                    id: body["api_key"]["id"].as_str().unwrap().to_owned(),
                    key: body["key"].as_str().unwrap().to_owned(),
                    made_by: caller,
                    revoked: false,
                });
                (Some(*target), vec![])
            }
            Op::RevokeKey { target, key } => {
                m.accounts[*target].keys[*key].revoked = true;
                (Some(*target), vec![])
            }
        }
    }

    /// The server holds what the model holds for `target`, and every credential of it a
    /// caller knows works exactly when the model says, and only for a caller who may
    /// manage the account.
    async fn check(&self, target: usize, stale: &[(String, usize)], sec: &str) {
        let app = self.app;
        let a = &self.model.accounts[target];
        let what = format!("sequence {} step {}: account {} {}", self.seq, self.step, a.id, a.username);
        let path = if a.service { "service-accounts" } else { "users" };
        let seen: Value = app.get(&format!("/api/v1/{path}/{}", a.id), Some(sec)).await.json().await.unwrap();
        assert_eq!(seen["active"].as_bool(), Some(a.active), "{what}: {seen}");
        let mut want: Vec<(String, Vec<&str>)> =
            a.current().map(|m| (self.org_id(m.org).to_string(), names(&m.roles))).collect();
        want.sort();
        let mut got: Vec<(String, Vec<&str>)> = if a.service {
            let mut roles: Vec<&str> = seen["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
            roles.sort();
            vec![(self.org_id(a.memberships[0].org).to_string(), roles)]
        } else {
            let all = seen["memberships"].as_array().unwrap();
            let current = all.iter().filter(|m| m["active"] == true);
            current
                .map(|m| {
                    let mut roles: Vec<&str> =
                        m["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
                    roles.sort();
                    (m["organisation_id"].as_str().unwrap().to_owned(), roles)
                })
                .collect()
        };
        got.sort();
        assert_eq!(got, want, "{what}: memberships in force");

        let in_force = a.active && a.current().next().is_some();
        let tries = a.password.iter().map(|p| (p, true)).chain(stale.iter().map(|p| (p, false)));
        for ((password, knower), current) in tries {
            let mut body = json!({"username": a.username, "password": password});
            if let Some(m) = a.current().next() {
                body["organisation"] = json!(self.org_id(m.org));
            }
            let res = app.post_json("/api/v1/auth/login", None, &body).await;
            let works = res.status() == 200;
            let knower_name = self.model.callers[*knower].name;
            if works {
                assert!(
                    self.model.may_manage(*knower, target),
                    "{what}: {knower_name} signs in with a password of an account it may not manage"
                );
            }
            assert_eq!(works, current && in_force, "{what}: password set by {knower_name}: {}", res.status());
        }
        for k in &a.keys {
            let res = app.get("/api/v1/me", Some(&k.key)).await;
            let works = res.status() == 200;
            let maker = self.model.callers[k.made_by].name;
            if works {
                assert!(
                    self.model.may_manage(k.made_by, target),
                    "{what}: {maker} holds a working key of an account it may not manage"
                );
            }
            assert_eq!(works, !k.revoked && in_force, "{what}: key {} made by {maker}: {}", k.id, res.status());
        }
    }
}

async fn callers(app: &TestApp) -> Model {
    let mut model = Model { callers: vec![], accounts: vec![] };
    for (name, org, role) in [
        ("secretariat", "S", Role::Secretariat),
        ("admin of A", "A", Role::OrgAdmin),
        ("admin of B", "B", Role::OrgAdmin),
        ("author of A", "A", Role::Author),
    ] {
        let username = name.replace(" ", ".").to_lowercase();
        let user = app.seed_user(&username, org, &[role]).await;
        let token = app.token(&user).await;
        let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
        let roles: Roles = [role.as_str()].into_iter().collect();
        model.accounts.push(Account {
            id: user.id,
            username: user.username,
            service: false,
            memberships: vec![Membership {
                id: me["memberships"][0]["id"].as_str().unwrap().to_owned(),
                org,
                roles: roles.clone(),
                current: true,
            }],
            last_org: None,
            active: true,
            password: None,
            keys: vec![],
        });
        model.callers.push(Caller { name, org, roles, token, account: model.accounts.len() - 1 });
    }
    model
}

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

#[tokio::test]
async fn no_sequence_of_administration_requests_gives_a_caller_an_account_it_may_not_manage() {
    // Stale passwords are tried on purpose: let each name fail often without a delay.
    let app = TestApp::spawn_with(|s| {
        s.auth.login.per_address_per_minute = 100_000;
        s.auth.login.free_failures = 99;
    })
    .await;
    let seeds: Vec<u64> = match env("SITREP_TEST_SEED") {
        Some(seed) => vec![seed],
        None => (0..env("SITREP_TEST_ADMIN_SEQUENCES").unwrap_or(3)).map(|i| FIRST_SEED + i).collect(),
    };
    let steps = env("SITREP_TEST_ADMIN_STEPS").unwrap_or(40);
    let mut run =
        Run { app: &app, model: callers(&app).await, seq: 0, made: 0, step: 0, allowed: 0, refused: 0, voided: 0 };
    let sec = run.model.callers[0].token.clone();
    for seed in seeds {
        let mut rng = StdRng::seed_from_u64(seed);
        run.seq = seed;
        let first = run.model.accounts.len();
        // Every sequence starts with accounts made by the administrators of A and B, then
        // goes on at random, each operation chosen on the state the last one left.
        for i in 0..4 + usize::try_from(steps).unwrap() {
            let (caller, op) = if i < 4 {
                let caller = 1 + i % 2;
                let org = run.model.callers[caller].org;
                let roles = GRANTABLE.choose_multiple(&mut rng, 2).copied().collect();
                (caller, if i == 3 { Op::CreateService { org, roles } } else { Op::CreateUser { org, roles } })
            } else {
                let caller = rng.gen_range(0..run.model.callers.len());
                (caller, pick(&mut rng, &run.model, caller, first))
            };
            let (target, stale) = run.step(caller, &op).await;
            if let Some(t) = target {
                run.check(t, &stale, &sec).await;
            }
            // No caller's own roles ever change.
            let c = &run.model.callers[caller];
            let me: Value = app.get("/api/v1/me", Some(&c.token)).await.json().await.unwrap();
            let roles: Vec<&str> = me["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
            assert_eq!(roles, names(&c.roles), "sequence {seed}: {}'s roles", c.name);
        }
    }
    eprintln!(
        "{} steps: {} allowed, {} refused; {} passwords or keys stopped working",
        run.step, run.allowed, run.refused, run.voided
    );
    assert!(run.allowed > 0 && run.refused > 0 && run.voided > 0, "the sequences exercised too little");
}
