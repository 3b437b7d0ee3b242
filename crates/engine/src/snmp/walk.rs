//! Fetching many scalars and subtrees from one agent in as few requests as it
//! allows: every subtree being walked is one column of a single GETBULK (so one
//! request advances them all), scalars ending in `.0` ride along as
//! non-repeaters (GETNEXT of the parent returns exactly `parent.0` when it
//! exists), and other scalars go in one GET. SNMPv1 uses multi-varbind GETNEXT.
//!
//! Invariants: a walk stops at the end of its subtree, at `endOfMibView`, when
//! the agent returns an OID that does not advance (counted in
//! [`FetchStats::stalled_walks`]), or after [`MAX_ROWS`] rows. tooBig halves
//! max-repetitions, then the number of varbinds per request. The number of
//! requests is bounded, so no agent can keep a read going forever.

use std::collections::BTreeMap;

use super::{Oid, SnmpError, SnmpOptions, SnmpSession, Value, Version};

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

/// A non-repeater: GETNEXT of `ask`, accepted when the answer is `want` (a
/// scalar's `.0`) or lies inside `ask` (the first row of a column).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct NonRepeater {
    ask: Oid,
    exact: bool,
}

impl NonRepeater {
    fn accepts(&self, oid: &Oid) -> bool {
        if self.exact {
            oid.len() == self.ask.len() + 1 && oid.starts_with(&self.ask) && oid.last() == Some(0)
        } else {
            oid.len() > self.ask.len() && oid.starts_with(&self.ask)
        }
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

struct Column {
    root: Oid,
    cursor: Oid,
    rows: u32,
    done: bool,
}

/// Fetches `plan` into `out`. Values gathered before an error stay in `out`;
/// the error is returned so the caller can tell "partly read" from "read".
pub async fn fetch<S: SnmpSession>(
    session: &S,
    plan: &FetchPlan,
    options: &SnmpOptions,
    out: &mut BTreeMap<Oid, Value>,
) -> Result<FetchStats, SnmpError> {
    let mut stats = FetchStats::default();
    let v1 = session.version() == Version::V1;
    let mut pending_nr: Vec<NonRepeater> = plan
        .first_rows
        .iter()
        .map(|o| NonRepeater { ask: o.clone(), exact: false })
        .collect();
    let mut exact: Vec<Oid> = Vec::new();
    for s in &plan.scalars {
        if s.last() == Some(0) && s.len() > 1 {
            pending_nr.push(NonRepeater { ask: s.parent(), exact: true });
        } else {
            exact.push(s.clone());
        }
    }
    pending_nr.sort();
    pending_nr.dedup();
    let mut roots = plan.subtrees.clone();
    roots.sort();
    roots.dedup();
    let mut cols: Vec<Column> = roots
        .into_iter()
        .map(|r| Column {
            cursor: r.clone(),
            root: r,
            rows: 0,
            done: false,
        })
        .collect();

    let get_exact = async {
        if exact.is_empty() {
            Ok((BTreeMap::new(), 0))
        } else {
            get_scalars(session, exact.clone(), options.max_varbinds).await
        }
    };
    let walk = walk_columns(session, &mut pending_nr, &mut cols, options, v1, &mut stats, out);
    let (exact_res, walk_res) = futures::join!(get_exact, walk);
    let (got, n) = exact_res?;
    stats.requests += n;
    out.extend(got);
    walk_res?;
    Ok(stats)
}

async fn walk_columns<S: SnmpSession>(
    session: &S,
    pending_nr: &mut Vec<NonRepeater>,
    cols: &mut [Column],
    options: &SnmpOptions,
    v1: bool,
    stats: &mut FetchStats,
    out: &mut BTreeMap<Oid, Value>,
) -> Result<(), SnmpError> {
    let mut reps = options.max_repetitions.max(1);
    let mut chunk = options.max_varbinds.max(1);
    loop {
        let active: Vec<usize> = (0..cols.len()).filter(|&i| !cols[i].done).collect();
        if active.is_empty() && pending_nr.is_empty() {
            return Ok(());
        }
        if stats.requests >= MAX_REQUESTS {
            for c in cols.iter_mut().filter(|c| !c.done) {
                c.done = true;
                stats.truncated_walks += 1;
            }
            return Ok(());
        }
        let nr_take = pending_nr.len().min(chunk);
        let col_take = active.len().min(chunk - nr_take);
        let taken: Vec<usize> = active[..col_take].to_vec();
        let mut oids: Vec<Oid> = pending_nr[..nr_take].iter().map(|n| n.ask.clone()).collect();
        oids.extend(taken.iter().map(|&i| cols[i].cursor.clone()));
        let eff_reps = if col_take == 0 {
            1
        } else {
            reps.min((MAX_RESPONSE_VARBINDS / col_take as u32).max(1))
        };
        stats.requests += 1;
        let res = if v1 {
            session.get_next(&oids).await
        } else {
            session.get_bulk(nr_take as u32, eff_reps, &oids).await
        };
        let vbs = match res {
            Ok(v) => v,
            Err(SnmpError::TooBig) => {
                if !v1 && reps > 1 {
                    reps = (eff_reps / 2).max(1);
                } else if chunk > 1 {
                    chunk /= 2;
                } else {
                    // Not even one varbind fits: give up on it.
                    if nr_take > 0 {
                        pending_nr.remove(0);
                    } else if let Some(&i) = taken.first() {
                        cols[i].done = true;
                        stats.truncated_walks += 1;
                    }
                }
                continue;
            }
            Err(SnmpError::NoSuchName(i)) if v1 => {
                // SNMPv1 end of MIB for that varbind.
                if i < nr_take {
                    pending_nr.remove(i);
                } else if let Some(&c) = taken.get(i - nr_take) {
                    cols[c].done = true;
                } else {
                    return Err(SnmpError::Malformed("error index out of range".into()));
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        // Non-repeaters: GETNEXT(parent) is parent.0 exactly when it exists.
        for (nr, (oid, v)) in pending_nr.iter().zip(vbs.iter()).take(nr_take) {
            if !v.is_exception() && nr.accepts(oid) {
                out.insert(oid.clone(), v.clone());
            }
        }
        pending_nr.drain(..nr_take);
        let mut advanced = false;
        if col_take > 0 && vbs.len() <= nr_take && (chunk > 1 || reps > 1) {
            // A truncated answer with no room for the walks: ask for less.
            if reps > 1 {
                reps = (eff_reps / 2).max(1);
            } else {
                chunk /= 2;
            }
            continue;
        }
        if col_take > 0 {
            for (p, (oid, v)) in vbs.iter().skip(nr_take).enumerate() {
                let Some(&ci) = taken.get(p % col_take) else { break };
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
                    out.insert(oid.clone(), v.clone());
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
                for &ci in &taken {
                    if !cols[ci].done {
                        cols[ci].done = true;
                        stats.stalled_walks += 1;
                    }
                }
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
            subtrees: vec![Oid::lit("1.3.6.1.2.1.43.11.1.1.6"), Oid::lit("1.3.6.1.2.1.43.11.1.1.9")],
            first_rows: vec![],
        }
    }

    fn run(version: Version, max_resp: usize) -> (BTreeMap<Oid, Value>, FetchStats) {
        let mut s = RecordingSession::new(rec(), version);
        s.max_response_varbinds = max_resp;
        let mut out = BTreeMap::new();
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let st = rt
            .block_on(fetch(&s, &plan(), &SnmpOptions::default(), &mut out))
            .expect("fetch");
        (out, st)
    }

    #[test]
    fn a_bulk_fetch_walks_every_column_and_finds_scalars_in_few_requests() {
        let (out, st) = run(Version::V2c, usize::MAX);
        assert_eq!(out.len(), 2 + 60 + 1);
        assert!(!out.contains_key(&Oid::lit("1.3.6.1.2.1.1.4.0")));
        assert!(st.requests <= 6, "{st:?}");
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
}
