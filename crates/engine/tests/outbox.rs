//! The outbox on disk: its bound and policy, the batch life cycle
//! (formed once, resent as is, acknowledged, split), and a model-based
//! property test of insert / form / ack / split / fail / restart against an
//! in-memory model (SECURITY.md test 20).

use printscout_engine::store::Store;
use proptest::prelude::*;

fn open(dir: &std::path::Path) -> Store {
    Store::open_in(dir).expect("open store")
}

fn rows(s: &Store) -> Vec<(i64, String)> {
    let mut st = s
        .connection()
        .prepare("SELECT id, kind FROM outbox ORDER BY id")
        .expect("prepare");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn a_full_outbox_drops_status_first_then_meters_and_keeps_events() {
    let d = tempfile::tempdir().expect("dir");
    let mut s = open(d.path());
    for (i, kind) in ["event", "meters", "status", "meters", "status", "event"]
        .iter()
        .enumerate()
    {
        s.enqueue(kind, i as i64, "{}", 100).expect("enqueue");
    }
    // Three over a bound of 3: both status items, then the oldest meters.
    s.enqueue("event", 9, "{}", 4).expect("enqueue");
    let kinds: Vec<String> = rows(&s).into_iter().map(|(_, k)| k).collect();
    assert_eq!(kinds, ["event", "meters", "event", "event"]);
    let sum = s.outbox_summary().expect("summary");
    assert_eq!((sum.queued, sum.dropped), (4, 3));
}

#[test]
fn a_batch_is_formed_once_and_comes_back_identical_until_acknowledged() {
    let d = tempfile::tempdir().expect("dir");
    let mut s = open(d.path());
    for i in 0..5 {
        s.enqueue("meters", i, &format!(r#"{{"n":{i}}}"#), 100)
            .expect("enqueue");
    }
    let a = s.pending_batch(3, 1 << 20).expect("form").expect("a batch");
    assert_eq!(a.items, 3);
    s.batch_attempted(&a.batch_id).expect("attempt");
    drop(s);
    // A restart: the same key and the same bytes.
    let mut s = open(d.path());
    let b = s
        .pending_batch(500, 1 << 20)
        .expect("form")
        .expect("a batch");
    assert_eq!(
        (b.batch_id.as_str(), &b.body),
        (a.batch_id.as_str(), &a.body)
    );
    assert_eq!(b.attempts, 1);
    let batch = printscout_engine::uplink::protocol::decode(&b.body).expect("decode");
    assert_eq!(
        batch.items.iter().map(|i| i.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(batch.site_id, s.site_id().expect("site id"));
    assert_eq!(s.ack_batch(&b.batch_id, 0, 42).expect("ack"), 3);
    assert_eq!(s.ack_batch(&b.batch_id, 0, 43).expect("ack again"), 0);
    assert_eq!(rows(&s).len(), 2);
    assert_eq!(s.meta("last_upload").expect("meta").as_deref(), Some("42"));
}

#[test]
fn a_split_forgets_the_batch_and_a_lone_item_too_large_is_set_aside() {
    let d = tempfile::tempdir().expect("dir");
    let mut s = open(d.path());
    for i in 0..4 {
        s.enqueue("meters", i, "{}", 100).expect("enqueue");
    }
    let a = s.pending_batch(4, 1 << 20).expect("form").expect("batch");
    assert!(!s.split_batch(&a.batch_id).expect("split"));
    let b = s.pending_batch(2, 1 << 20).expect("form").expect("batch");
    assert_ne!(a.batch_id, b.batch_id);
    assert_eq!(b.items, 2);
    s.ack_batch(&b.batch_id, 0, 1).expect("ack");
    let c = s.pending_batch(1, 1 << 20).expect("form").expect("batch");
    assert!(s.split_batch(&c.batch_id).expect("split"));
    let sum = s.outbox_summary().expect("summary");
    assert_eq!((sum.queued, sum.rejected, sum.pending), (1, 1, None));
}

#[test]
fn a_payload_that_is_not_json_is_refused_before_it_is_queued() {
    let d = tempfile::tempdir().expect("dir");
    let mut s = open(d.path());
    assert!(s.enqueue("event", 1, "{not json", 10).is_err());
    assert_eq!(rows(&s).len(), 0);
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u8),
    Form(usize),
    Ack(usize),
    Split,
    Fail,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3).prop_map(Op::Insert),
        2 => (1usize..6).prop_map(Op::Form),
        2 => (0usize..3).prop_map(Op::Ack),
        1 => Just(Op::Split),
        1 => Just(Op::Fail),
        1 => Just(Op::Restart),
    ]
}

const KINDS: [&str; 3] = ["status", "meters", "event"];
const MAX: usize = 8;

/// What the outbox should hold.
#[derive(Default)]
struct Model {
    queue: Vec<(i64, &'static str)>,
    pending: Option<Vec<i64>>,
    next: i64,
    dropped: i64,
    rejected: i64,
}

impl Model {
    fn insert(&mut self, kind: &'static str) {
        self.next += 1;
        self.queue.push((self.next, kind));
        let floor = self
            .pending
            .as_ref()
            .and_then(|p| p.last().copied())
            .unwrap_or(0);
        let mut excess = self.queue.len() as i64 - MAX as i64;
        for k in ["status", "meters", ""] {
            while excess > 0 {
                let Some(pos) = self
                    .queue
                    .iter()
                    .position(|(seq, kk)| *seq > floor && (k.is_empty() || *kk == k))
                else {
                    break;
                };
                self.queue.remove(pos);
                self.dropped += 1;
                excess -= 1;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn the_outbox_behaves_like_its_model(ops in proptest::collection::vec(op(), 1..60)) {
        let d = tempfile::tempdir().expect("dir");
        let mut s = open(d.path());
        let mut m = Model::default();
        let mut pending_id: Option<String> = None;
        for o in ops {
            match o {
                Op::Insert(k) => {
                    let kind = KINDS[k as usize];
                    s.enqueue(kind, m.next + 1, "{}", MAX).expect("enqueue");
                    m.insert(kind);
                }
                Op::Form(n) => {
                    let b = s.pending_batch(n, 1 << 20).expect("form");
                    if m.pending.is_none() && !m.queue.is_empty() {
                        m.pending = Some(m.queue.iter().take(n).map(|(q, _)| *q).collect());
                    }
                    match (&b, &m.pending) {
                        (Some(b), Some(p)) => {
                            prop_assert_eq!(b.first_seq, p[0]);
                            prop_assert_eq!(b.items, p.len());
                            if let Some(id) = &pending_id {
                                prop_assert_eq!(id, &b.batch_id);
                            }
                            pending_id = Some(b.batch_id.clone());
                        }
                        (None, None) => {}
                        _ => prop_assert!(false, "store {:?} vs model {:?}", b, m.pending),
                    }
                }
                Op::Ack(rejected) => {
                    if let (Some(id), Some(p)) = (pending_id.take(), m.pending.take()) {
                        let rejected = rejected.min(p.len());
                        let n = s.ack_batch(&id, rejected, 1).expect("ack");
                        prop_assert_eq!(n, p.len());
                        m.queue.retain(|(q, _)| !p.contains(q));
                        m.rejected += rejected as i64;
                    }
                }
                Op::Split => {
                    if let (Some(id), Some(p)) = (pending_id.take(), m.pending.take()) {
                        let aside = s.split_batch(&id).expect("split");
                        prop_assert_eq!(aside, p.len() <= 1);
                        if p.len() <= 1 {
                            m.queue.retain(|(q, _)| !p.contains(q));
                            m.rejected += p.len() as i64;
                        }
                    }
                }
                Op::Fail => {
                    if let Some(id) = &pending_id {
                        s.batch_attempted(id).expect("attempt");
                    }
                }
                Op::Restart => {
                    drop(s);
                    s = open(d.path());
                }
            }
            let got: Vec<(i64, String)> = rows(&s);
            let want: Vec<(i64, String)> =
                m.queue.iter().map(|(q, k)| (*q, k.to_string())).collect();
            prop_assert_eq!(got, want);
            let sum = s.outbox_summary().expect("summary");
            prop_assert_eq!(sum.queued, m.queue.len() as i64);
            prop_assert_eq!(sum.dropped, m.dropped);
            prop_assert_eq!(sum.rejected, m.rejected);
        }
        let check: String = s
            .connection()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity");
        prop_assert_eq!(check, "ok");
    }
}
