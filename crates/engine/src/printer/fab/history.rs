//! Job history synthesised from state changes between polls, for printers
//! that keep none (PrusaLink, Bambu): the collector hands over the last job it
//! recorded for the printer and the state it sees now; [`synthesise`] says
//! which job records that implies.
//!
//! Invariants:
//! - a job is identified by the printer's job id where it has one, else by its
//!   name; its key is `syn:<identity>:<start>` and the start is fixed when the
//!   job is first seen, so the same job always gets the same key (the store
//!   upserts by key: a running job's record is completed in place);
//! - a job that started and ended between two polls is recorded when the
//!   printer's data reveals it (a finished job that is not the last one
//!   recorded), with its start estimated from its printing time;
//! - a printer sitting on "finished" for hours records its job once;
//! - results: finished → `completed`, error → `failed`, offline while printing
//!   → `interrupted`; a job that vanishes at under 99.5 % → `cancelled`; a
//!   different job replacing a running one without a finish seen → `unknown`.

use super::{CurrentJob, FabState, FabStatus, JobRecord};

/// The identity part of a synthesised job's key: the printer's job id, else the name.
fn identity_of(job: &CurrentJob) -> Option<String> {
    job.id
        .clone()
        .or_else(|| job.name.clone())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The identity a record was keyed with (`syn:<identity>:<start>`).
fn identity_of_record(r: &JobRecord) -> Option<&str> {
    let rest = r.key.strip_prefix("syn:")?;
    rest.rsplit_once(':').map(|(ident, _)| ident)
}

fn key(identity: &str, start: i64) -> String {
    format!("syn:{identity}:{start}")
}

/// A new running record for `job`, first seen at `now` (unix seconds).
fn started(job: &CurrentJob, identity: &str, now: i64) -> JobRecord {
    let start = job.started_at.unwrap_or_else(|| {
        now - job
            .elapsed_s
            .and_then(|e| i64::try_from(e).ok())
            .unwrap_or(0)
    });
    JobRecord {
        key: key(identity, start),
        name: job.name.clone().or_else(|| job.id.clone()),
        started_at: Some(start),
        ended_at: None,
        duration_s: job.elapsed_s,
        result: "in_progress".into(),
        material: job.material.clone(),
        synthesised: true,
    }
}

/// `open` ended by `now`, with `result`; the latest job data refines it.
fn ended(open: &JobRecord, latest: Option<&CurrentJob>, result: &str, now: i64) -> JobRecord {
    let mut r = open.clone();
    if let Some(j) = latest {
        if j.elapsed_s.is_some() {
            r.duration_s = j.elapsed_s;
        }
        if j.material.is_some() {
            r.material = j.material.clone();
        }
    }
    // The end lies between the last poll and now; the printing time, when the
    // printer says, places it better than "now".
    let end = match (r.started_at, r.duration_s) {
        (Some(s), Some(d)) => (s + i64::try_from(d).unwrap_or(0)).min(now).max(s),
        _ => now,
    };
    r.ended_at = Some(end);
    r.result = result.to_owned();
    r
}

/// The records the change from `last` (the most recent synthesised record for
/// this printer, running or not) to `current` (seen at `now`, unix seconds)
/// implies: zero, one or two (a job ended and another began).
pub fn synthesise(last: Option<&JobRecord>, current: &FabStatus, now: i64) -> Vec<JobRecord> {
    let open = last.filter(|r| r.ended_at.is_none());
    let job = current.job.as_ref();
    let ident = job.and_then(identity_of);
    let mut out = Vec::new();
    if current.state.in_job() {
        let Some(ident) = ident else {
            // Printing, but the printer names no job: nothing to key it by.
            return out;
        };
        if let Some(o) = open {
            if identity_of_record(o) == Some(ident.as_str()) {
                // Still the same job: refresh what it has used so far.
                let mut r = o.clone();
                let mut changed = false;
                if let Some(j) = job {
                    if j.elapsed_s.is_some() && j.elapsed_s != r.duration_s {
                        r.duration_s = j.elapsed_s;
                        changed = true;
                    }
                    if j.material.is_some() && j.material != r.material {
                        r.material = j.material.clone();
                        changed = true;
                    }
                }
                if changed {
                    out.push(r);
                }
                return out;
            }
            // Another job runs now: the one we knew ended unseen.
            out.push(ended(o, None, "unknown", now));
        }
        if let Some(j) = job {
            out.push(started(j, &ident, now));
        }
        return out;
    }
    if let Some(o) = open {
        let same = ident.as_deref() == identity_of_record(o);
        let latest = if same { job } else { None };
        let result = match current.state {
            FabState::Finished => "completed",
            FabState::Error => "failed",
            FabState::Offline => "interrupted",
            _ => {
                let progress = latest.and_then(|j| j.progress_percent).unwrap_or(0.0);
                if progress >= 99.5 {
                    "completed"
                } else {
                    "cancelled"
                }
            }
        };
        out.push(ended(o, latest, result, now));
        return out;
    }
    // Nothing running on our side: a finished job we have not recorded yet
    // started and ended between two polls.
    let finished = current.state == FabState::Finished
        || job
            .and_then(|j| j.progress_percent)
            .is_some_and(|p| p >= 100.0);
    if let (true, Some(j), Some(ident)) = (finished, job, ident) {
        let already = last.and_then(identity_of_record) == Some(ident.as_str());
        if !already {
            let r = started(j, &ident, now);
            let result = if current.state == FabState::Error {
                "failed"
            } else {
                "completed"
            };
            out.push(ended(&r, Some(j), result, now));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: FabState, job: Option<(&str, f64, u64)>) -> FabStatus {
        FabStatus {
            state,
            state_text: format!("{state:?}").to_uppercase(),
            job: job.map(|(name, progress, elapsed)| CurrentJob {
                id: None,
                name: Some(name.into()),
                progress_percent: Some(progress),
                elapsed_s: Some(elapsed),
                remaining_s: None,
                started_at: None,
                material: None,
            }),
            temperatures: vec![],
            errors: vec![],
        }
    }

    /// Runs a series of polls, applying each poll's records like the store
    /// does (upsert by key), and returns every distinct job in order.
    fn run(polls: &[(i64, FabStatus)]) -> Vec<JobRecord> {
        let mut jobs: Vec<JobRecord> = Vec::new();
        for (at, s) in polls {
            for r in synthesise(jobs.last(), s, *at) {
                match jobs.iter_mut().find(|j| j.key == r.key) {
                    Some(j) => *j = r,
                    None => jobs.push(r),
                }
            }
        }
        jobs
    }

    #[test]
    fn a_job_seen_printing_then_finished_is_one_completed_record_with_a_stable_key() {
        let jobs = run(&[
            (1000, status(FabState::Idle, None)),
            (
                1300,
                status(FabState::Printing, Some(("benchy.gcode", 10.0, 100))),
            ),
            (
                1600,
                status(FabState::Printing, Some(("benchy.gcode", 60.0, 400))),
            ),
            (
                1900,
                status(FabState::Finished, Some(("benchy.gcode", 100.0, 650))),
            ),
            (
                2200,
                status(FabState::Finished, Some(("benchy.gcode", 100.0, 650))),
            ),
            (2500, status(FabState::Idle, None)),
        ]);
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        let j = &jobs[0];
        assert_eq!(j.key, "syn:benchy.gcode:1200");
        assert_eq!((j.started_at, j.ended_at), (Some(1200), Some(1850)));
        assert_eq!((j.duration_s, j.result.as_str()), (Some(650), "completed"));
        assert!(j.synthesised);
    }

    #[test]
    fn a_job_that_started_and_ended_between_two_polls_is_recorded_once_from_the_finished_state() {
        let jobs = run(&[
            (1000, status(FabState::Idle, None)),
            (
                1300,
                status(FabState::Finished, Some(("short.gcode", 100.0, 120))),
            ),
            (
                1600,
                status(FabState::Finished, Some(("short.gcode", 100.0, 120))),
            ),
            (
                1900,
                status(FabState::Finished, Some(("short.gcode", 100.0, 120))),
            ),
        ]);
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_eq!(jobs[0].result, "completed");
        assert_eq!(jobs[0].started_at, Some(1180));
        assert_eq!(jobs[0].ended_at, Some(1300));
    }

    #[test]
    fn a_job_that_vanishes_half_done_is_cancelled_and_an_error_is_failed() {
        let jobs = run(&[
            (0, status(FabState::Printing, Some(("a", 40.0, 100)))),
            (300, status(FabState::Idle, None)),
            (600, status(FabState::Printing, Some(("b", 5.0, 10)))),
            (900, status(FabState::Error, Some(("b", 30.0, 310)))),
        ]);
        let results: Vec<&str> = jobs.iter().map(|j| j.result.as_str()).collect();
        assert_eq!(results, ["cancelled", "failed"]);
    }

    #[test]
    fn a_new_job_replacing_a_running_one_closes_it_as_unknown_and_opens_the_next() {
        let jobs = run(&[
            (0, status(FabState::Printing, Some(("a", 40.0, 100)))),
            (300, status(FabState::Printing, Some(("b", 5.0, 30)))),
        ]);
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].result, "unknown");
        assert_eq!(jobs[1].result, "in_progress");
        assert_eq!(jobs[1].started_at, Some(270));
    }

    #[test]
    fn the_printers_job_id_keys_a_job_even_when_two_jobs_share_a_name() {
        let mut first = status(FabState::Printing, Some(("part.gcode", 50.0, 60)));
        first.job.as_mut().expect("job").id = Some("41".into());
        let mut second = status(FabState::Printing, Some(("part.gcode", 5.0, 10)));
        second.job.as_mut().expect("job").id = Some("42".into());
        let jobs = run(&[(100, first), (400, second)]);
        assert_eq!(jobs.len(), 2);
        assert!(jobs[0].key.starts_with("syn:41:"));
        assert!(jobs[1].key.starts_with("syn:42:"));
    }

    #[test]
    fn a_printer_going_offline_mid_job_interrupts_it() {
        let jobs = run(&[
            (0, status(FabState::Printing, Some(("a", 40.0, 100)))),
            (300, status(FabState::Offline, None)),
        ]);
        assert_eq!(jobs[0].result, "interrupted");
    }

    #[test]
    fn printing_without_a_job_name_records_nothing() {
        assert!(synthesise(None, &status(FabState::Printing, None), 10).is_empty());
    }
}
