//! The loopback HTTP API: the one door into the running collector, for the
//! web UI, a browser on the same computer and local scripts.
//!
//! Invariants (see `../shared/docs/SECURITY.md` §1 and `docs/api.md`):
//! - it listens on 127.0.0.1 and ::1 only; the address is not configurable and
//!   every connection's peer is checked to be loopback;
//! - every request except the static UI and `/api/v1/health` carries the
//!   per-install token, compared in constant time;
//! - Host must name the loopback interface and our port (DNS rebinding), Origin
//!   must be one of ours, no CORS wildcard is ever sent;
//! - GET never changes state; state changes only on POST/PUT/PATCH/DELETE with
//!   `application/json`;
//! - no secret is ever returned: credential fields are write-only and reads say
//!   only whether each is set.

pub mod error;
pub mod host;
pub mod routes;
pub mod security;
pub mod server;
pub mod state;
pub mod token;
