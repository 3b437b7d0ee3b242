//! Fetching many scalars and subtrees from one agent in as few requests as it
//! allows. Every subtree being walked is one column of a single GETBULK, so one
//! request advances them all; every scalar rides along as a non-repeater: a
//! GETNEXT of its predecessor (`x.0` ← `x`, `t.5` ← `t.4`) returns exactly the
//! scalar when it exists. An answer that lands short of the scalar (the
//! predecessor has children) is settled by one GET at the end. SNMPv1 uses
//! multi-varbind GETNEXT. After the first answer a caller may add more (the
//! maker's OIDs, once sysObjectID is known) to the same exchange.
//!
//! Invariants: a walk stops at the end of its subtree, at `endOfMibView`, when
//! the agent returns an OID that does not advance (counted in
//! [`FetchStats::stalled_walks`]), or after [`MAX_ROWS`] rows. tooBig, and a
//! truncated answer with no room for the walks, halve max-repetitions, then the
//! number of varbinds per request. The number of requests is bounded, so no
//! agent can keep a read going forever.

use std::collections::BTreeMap;

use super::{Oid, Snapshot, SnmpError, SnmpOptions, SnmpSession, Value, Version};

/// Rows per walked subtree before the walk is cut (and counted as truncated).
pub const MAX_ROWS: u32 = 5000;
/// Requests one fetch may send.
const MAX_REQUESTS: u32 = 400;
/// Upper bound on varbinds asked for in one GETBULK response.
const MAX_RESPONSE_VARBINDS: u32 = 320;

/// What to fetch.
#[derive(Clone, Debug, Default)]
pub struct FetchPlan {
    /// Exact instances (`1.3.6.1.2.1.1.1.0`, `…43.5.1.1.17.1`).
    pub scalars: Vec<Oid>,
    /// Subtrees to walk whole (usually table columns).
    pub subtrees: Vec<Oid>,
    /// Columns of which only the first row is wanted (e.g. the chassis row of
    /// ENTITY-MIB on a device that may have hundreds).
    pub first_rows: Vec<Oid>,
}

impl FetchPlan {
    /// True when there is nothing to fetch.
    pub fn is_empty(&self) -> bool {
        self.scalars.is_empty() && self.subtrees.is_empty() && self.first_rows.is_empty()
    }

    /// Adds another plan's items.
    pub fn extend(&mut self, other: FetchPlan) {
        self.scalars.extend(other.scalars);
        self.subtrees.extend(other.subtrees);
        self.first_rows.extend(other.first_rows);
    }
}

/// What a fetch cost and what it had to give up on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FetchStats {
    /// Requests sent.
    pub requests: u32,
    /// Walks stopped because the agent did not advance.
    pub stalled_walks: u32,
    /// Walks cut at [`MAX_ROWS`] or by an agent that could not answer even one varbind.
    pub truncated_walks: u32,
}

impl FetchStats {
    /// Adds another fetch's figures.
    pub fn add(&mut self, o: FetchStats) {
        self.requests += o.requests;
        self.stalled_walks += o.stalled_walks;
        self.truncated_walks += o.truncated_walks;
    }
}

/// A non-repeater: GETNEXT of `ask`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum NonRepeater {
    /// A scalar: the answer must be `want` exactly.
    Scalar { ask: Oid, want: Oid },
    /// The first row of a column: any answer inside `ask`.
    FirstRow { ask: Oid },
}

impl NonRepeater {
    fn for_scalar(want: Oid) -> NonRepeater {
        let ask = match want.last() {
            Some(n) if n > 0 => want.parent().child(&[n - 1]),
            _ => want.parent(),
        };
        NonRepeater::Scalar { ask, want }
    }

    fn ask(&self) -> &Oid {
        match self {
            NonRepeater::Scalar { ask, .. } | NonRepeater::FirstRow { ask } => ask,
        }
    }
}

struct Column {
    root: Oid,
    cursor: Oid,
    rows: u32,
    done: bool,
}

/// Mutable state of one fetch.
struct State {
    pending: Vec<NonRepeater>,
    cols: Vec<Column>,
    /// Scalars whose GETNEXT answer could not settle them.
    unsettled: Vec<Oid>,
}

impl State {
    fn new() -> State {
        State {
            pending: Vec::new(),
            cols: Vec::new(),
            unsettled: Vec::new(),
        }
    }

    fn add(&mut self, plan: &FetchPlan) {
        self.pending.extend(
            plan.first_rows
                .iter()
                .map(|o| NonRepeater::FirstRow { ask: o.clone() }),
        );
        self.pending.extend(
            plan.scalars
                .iter()
                .filter(|s| s.len() > 1)
                .cloned()
                .map(NonRepeater::for_scalar),
        );
        self.pending.sort();
        self.pending.dedup();
        for r in &plan.subtrees {
            if !self.cols.iter().any(|c| &c.root == r) {
                self.cols.push(Column {
                    cursor: r.clone(),
                    root: r.clone(),
                    rows: 0,
                    done: false,
                });
            }
        }
    }
}

/// Fetches `plan` into `out`. Values gathered before an error stay in `out`;
/// the error is returned so the caller can tell "partly read" from "read".
pub async fn fetch<S: SnmpSession>(
    session: &S,
    plan: &FetchPlan,
    options: &SnmpOptions,
    out: &mut Snapshot,
) -> Result<FetchStats, SnmpError> {
    fetch_with(session, plan, options, out, |_| None).await
}

/// Like [`fetch`]; after the first answer, `more` sees what has arrived and may
/// add to the plan (same exchange, no extra round for what it adds).
pub async fn fetch_with<S, F>(
    session: &S,
    plan: &FetchPlan,
    options: &SnmpOptions,
    out: &mut Snapshot,
    more: F,
) -> Result<FetchStats, SnmpError>
where
    S: SnmpSession,
    F: FnOnce(&Snapshot) -> Option<FetchPlan>,
{
    let mut stats = FetchStats::default();
    let mut state = State::new();
    state.add(plan);
    let mut more = Some(more);
    let v1 = session.version() == Version::V1;
    let mut reps = options.max_repetitions.max(1);
    let mut chunk = options.max_varbinds.max(1);
    let mut answered_once = false;
    // Largest answer the agent sent when it cut one short (its buffer limit).
    let mut cap: Option<usize> = None;
    let mut timeouts = 0;
    loop {
        let active: Vec<usize> = (0..state.cols.len())
            .filter(|&i| !state.cols[i].done)
            .collect();
        if active.is_empty() && state.pending.is_empty() {
            break;
        }
        if stats.requests >= MAX_REQUESTS {
            for c in state.cols.iter_mut().filter(|c| !c.done) {
                c.done = true;
                stats.truncated_walks += 1;
            }
            break;
        }
        let nr_take = state.pending.len().min(chunk);
        let col_take = active.len().min(chunk - nr_take);
        let taken: Vec<usize> = active[..col_take].to_vec();
        let mut oids: Vec<Oid> = state.pending[..nr_take]
            .iter()
            .map(|n| n.ask().clone())
            .collect();
        oids.extend(taken.iter().map(|&i| state.cols[i].cursor.clone()));
        let eff_reps = if col_take == 0 {
            1
        } else {
            // Ask for no more than the agent has shown it will send back.
            let room = cap.map_or(MAX_RESPONSE_VARBINDS, |c| c.saturating_sub(nr_take) as u32);
            reps.min(MAX_RESPONSE_VARBINDS / col_take as u32)
                .min(room / col_take as u32)
                .max(1)
        };
        stats.requests += 1;
        let res = if v1 {
            session.get_next(&oids).await
        } else {
            session.get_bulk(nr_take as u32, eff_reps, &oids).await
        };
        tracing::debug!(
            non_repeaters = nr_take,
            columns = col_take,
            max_repetitions = eff_reps,
            result = ?res.as_ref().map(Vec::len),
            "walk request"
        );
        let vbs = match res {
            Ok(v) => v,
            Err(SnmpError::TooBig) => {
                if !v1 && reps > 1 {
                    reps = (eff_reps / 2).max(1);
                } else if chunk > 1 {
                    chunk /= 2;
                } else if nr_take > 0 {
                    // Not even one varbind fits: give up on it.
                    state.pending.remove(0);
                } else if let Some(&i) = taken.first() {
                    state.cols[i].done = true;
                    stats.truncated_walks += 1;
                }
                continue;
            }
            Err(SnmpError::NoSuchName(i)) if v1 => {
                // SNMPv1 end of MIB for that varbind.
                if i < nr_take {
                    state.pending.remove(i);
                } else if let Some(&c) = taken.get(i - nr_take) {
                    state.cols[c].done = true;
                } else {
                    return Err(SnmpError::Malformed("error index out of range".into()));
                }
                continue;
            }
            // Some agents drop an answer that would not fit instead of saying
            // tooBig. Once the agent has answered this exchange, silence to a big
            // request is treated as "too big" until the request is minimal.
            Err(SnmpError::Timeout { .. })
                if answered_once && (reps > 1 || chunk > 1) && timeouts < 3 =>
            {
                timeouts += 1;
                if !v1 && reps > 1 {
                    reps = (eff_reps / 4).max(1);
                } else {
                    chunk = (chunk / 4).max(1);
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        answered_once = true;
        let asked = nr_take + col_take * eff_reps as usize;
        if !v1 && col_take > 0 && vbs.len() < asked && vbs.len() > nr_take {
            cap = Some(cap.map_or(vbs.len(), |c| c.min(vbs.len())));
        }
        let answered_nr = vbs.len().min(nr_take);
        for (nr, (oid, v)) in state.pending.iter().zip(vbs.iter()).take(answered_nr) {
            match nr {
                NonRepeater::FirstRow { ask } => {
                    if !v.is_exception() && oid.len() > ask.len() && oid.starts_with(ask) {
                        out.values_mut().insert(oid.clone(), v.clone());
                    }
                }
                NonRepeater::Scalar { want, .. } => {
                    if oid == want {
                        if !v.is_exception() {
                            out.values_mut().insert(oid.clone(), v.clone());
                        }
                    } else if oid < want && !v.is_exception() {
                        state.unsettled.push(want.clone());
                    }
                }
            }
        }
        state.pending.drain(..answered_nr);
        if col_take > 0 && vbs.len() <= nr_take && (chunk > 1 || reps > 1) {
            // A truncated answer with no room for the walks: ask for less.
            if reps > 1 {
                reps = (eff_reps / 2).max(1);
            } else {
                chunk /= 2;
            }
        } else if col_take > 0 {
            advance_columns(
                &mut state.cols,
                &taken,
                &vbs[answered_nr..],
                &mut stats,
                out,
            );
        }
        if let Some(f) = more.take()
            && let Some(extra) = f(out)
        {
            state.add(&extra);
        }
    }
    if !state.unsettled.is_empty() {
        let (got, n) = get_scalars(
            session,
            std::mem::take(&mut state.unsettled),
            options.max_varbinds,
        )
        .await?;
        stats.requests += n;
        out.values_mut().extend(got);
    }
    Ok(stats)
}

/// Files a GETBULK/GETNEXT answer under the walks it belongs to.
fn advance_columns(
    cols: &mut [Column],
    taken: &[usize],
    vbs: &[(Oid, Value)],
    stats: &mut FetchStats,
    out: &mut Snapshot,
) {
    let mut advanced = false;
    for (p, (oid, v)) in vbs.iter().enumerate() {
        let Some(&ci) = taken.get(p % taken.len()) else {
            break;
        };
        let c = &mut cols[ci];
        if c.done {
            continue;
        }
        if v.is_exception() || !oid.starts_with(&c.root) || oid.len() == c.root.len() {
            c.done = true;
            advanced = true;
        } else if *oid <= c.cursor {
            c.done = true;
            stats.stalled_walks += 1;
        } else {
            out.values_mut().insert(oid.clone(), v.clone());
            c.cursor = oid.clone();
            c.rows += 1;
            advanced = true;
            if c.rows >= MAX_ROWS {
                c.done = true;
                stats.truncated_walks += 1;
            }
        }
    }
    if !advanced {
        // The agent answered without moving any walk forward.
        for &ci in taken {
            if !cols[ci].done {
                cols[ci].done = true;
                stats.stalled_walks += 1;
            }
        }
    }
}

/// GET of exact instances; absent ones are simply missing from the result.
async fn get_scalars<S: SnmpSession>(
    session: &S,
    mut oids: Vec<Oid>,
    max_varbinds: usize,
) -> Result<(BTreeMap<Oid, Value>, u32), SnmpError> {
    let mut out = BTreeMap::new();
    let mut requests = 0u32;
    let mut chunk = max_varbinds.max(1);
    while !oids.is_empty() && requests < MAX_REQUESTS {
        let take = oids.len().min(chunk);
        requests += 1;
        match session.get(&oids[..take]).await {
            Ok(vbs) => {
                for (o, v) in vbs {
                    if !v.is_exception() {
                        out.insert(o, v);
                    }
                }
                oids.drain(..take);
            }
            Err(SnmpError::NoSuchName(i)) if i < take => {
                oids.remove(i);
            }
            Err(SnmpError::TooBig) if chunk > 1 => chunk /= 2,
            Err(SnmpError::TooBig) => {
                oids.remove(0);
            }
            Err(e) => return Err(e),
        }
    }
    Ok((out, requests))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::recording::{Recording, RecordingSession};

    fn rec() -> Recording {
        let mut t = String::new();
        t.push_str("1.3.6.1.2.1.1.1.0|4|descr\n1.3.6.1.2.1.1.5.0|4|name\n");
        for i in 1..=30 {
            t.push_str(&format!("1.3.6.1.2.1.43.11.1.1.6.1.{i}|4|supply {i}\n"));
            t.push_str(&format!("1.3.6.1.2.1.43.11.1.1.9.1.{i}|2|{i}\n"));
        }
        t.push_str("1.3.6.1.4.1.99.1.0|2|7\n1.3.6.1.4.1.99.2.5|2|9\n");
        Recording::parse(&t)
    }

    fn plan() -> FetchPlan {
        FetchPlan {
            scalars: vec![
                Oid::lit("1.3.6.1.2.1.1.1.0"),
                Oid::lit("1.3.6.1.2.1.1.4.0"),
                Oid::lit("1.3.6.1.2.1.1.5.0"),
                Oid::lit("1.3.6.1.4.1.99.2.5"),
            ],
            subtrees: vec![
                Oid::lit("1.3.6.1.2.1.43.11.1.1.6"),
                Oid::lit("1.3.6.1.2.1.43.11.1.1.9"),
            ],
            first_rows: vec![],
        }
    }

    fn run(version: Version, max_resp: usize) -> (Snapshot, FetchStats) {
        let mut s = RecordingSession::new(rec(), version);
        s.max_response_varbinds = max_resp;
        let mut out = Snapshot::default();
        let st = block_on(fetch(&s, &plan(), &SnmpOptions::default(), &mut out)).expect("fetch");
        (out, st)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn a_bulk_fetch_walks_every_column_and_finds_scalars_in_few_requests() {
        let (out, st) = run(Version::V2c, usize::MAX);
        assert_eq!(out.len(), 2 + 60 + 1);
        assert!(out.get(&Oid::lit("1.3.6.1.2.1.1.4.0")).is_none());
        assert!(
            out.get(&Oid::lit("1.3.6.1.4.1.99.2.5")).is_some(),
            "a scalar not ending in .0"
        );
        assert!(st.requests <= 4, "{st:?}");
        assert_eq!(st.stalled_walks, 0);
    }

    #[test]
    fn snmpv1_walks_with_getnext_and_survives_no_such_name() {
        let (out, _) = run(Version::V1, usize::MAX);
        assert_eq!(out.len(), 2 + 60 + 1);
    }

    #[test]
    fn a_small_agent_buffer_shrinks_the_requests_instead_of_failing() {
        let (out, _) = run(Version::V2c, 3);
        assert_eq!(out.len(), 2 + 60 + 1);
    }

    /// An agent whose every answer repeats the OID it was asked about.
    struct Stuck;

    impl SnmpSession for Stuck {
        fn version(&self) -> Version {
            Version::V2c
        }
        async fn get(&self, oids: &[Oid]) -> Result<Vec<(Oid, Value)>, SnmpError> {
            Ok(oids.iter().map(|o| (o.clone(), Value::NoSuch)).collect())
        }
        async fn get_next(&self, oids: &[Oid]) -> Result<Vec<(Oid, Value)>, SnmpError> {
            Ok(oids
                .iter()
                .map(|o| (o.child(&[1]), Value::Int(1)))
                .collect())
        }
        async fn get_bulk(
            &self,
            _: u32,
            reps: u32,
            oids: &[Oid],
        ) -> Result<Vec<(Oid, Value)>, SnmpError> {
            let mut v = Vec::new();
            for _ in 0..reps {
                v.extend(oids.iter().map(|o| (o.child(&[1]), Value::Int(1))));
            }
            Ok(v)
        }
        fn requests(&self) -> u32 {
            0
        }
    }

    #[test]
    fn a_walk_whose_agent_does_not_advance_is_cut_and_counted() {
        let plan = FetchPlan {
            subtrees: vec![Oid::lit("1.3.6.1.2.1.43.11.1.1.9")],
            ..Default::default()
        };
        let mut out = Snapshot::default();
        let st = block_on(fetch(&Stuck, &plan, &SnmpOptions::default(), &mut out)).expect("fetch");
        assert!(st.requests <= 3, "{st:?}");
        assert_eq!(st.stalled_walks, 1);
    }

    #[test]
    fn what_the_caller_adds_after_the_first_answer_is_fetched_in_the_same_exchange() {
        let rec = Recording::parse(
            "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99\n1.3.6.1.2.1.43.11.1.1.9.1.1|2|5\n1.3.6.1.4.1.99.1.0|2|7\n1.3.6.1.4.1.99.5.1.1|2|8\n1.3.6.1.4.1.99.5.1.2|2|9\n",
        );
        let s = RecordingSession::new(rec, Version::V2c);
        let plan = FetchPlan {
            scalars: vec![Oid::lit("1.3.6.1.2.1.1.2.0")],
            subtrees: vec![Oid::lit("1.3.6.1.2.1.43.11.1.1.9")],
            ..Default::default()
        };
        let mut out = Snapshot::default();
        let st = block_on(fetch_with(
            &s,
            &plan,
            &SnmpOptions::default(),
            &mut out,
            |snap| {
                assert!(snap.at("1.3.6.1.2.1.1.2.0").is_some());
                Some(FetchPlan {
                    scalars: vec![Oid::lit("1.3.6.1.4.1.99.1.0")],
                    subtrees: vec![Oid::lit("1.3.6.1.4.1.99.5")],
                    ..Default::default()
                })
            },
        ))
        .expect("fetch");
        assert_eq!(out.int("1.3.6.1.4.1.99.1.0"), Some(7));
        assert_eq!(out.int("1.3.6.1.4.1.99.5.1.2"), Some(9));
        assert_eq!(st.requests, 2, "{st:?}");
    }
}
