// The shapes the loopback API answers with (from /api/v1/openapi.json).
// Only the fields the UI reads are typed; the API may add more.

export interface ErrorDetail { code: string; message: string }

export interface SupplyBar {
  name: string;
  kind?: string | null;
  color?: string | null;
  percent?: number | null;
  state?: string | null;
}

export interface PrinterSummary {
  id: number;
  display_name: string;
  name?: string | null;
  location?: string | null;
  vendor?: string | null;
  model?: string | null;
  serial?: string | null;
  mac?: string | null;
  address?: string | null;
  added_as?: string | null;
  status: string;
  offline: boolean;
  last_error?: string | null;
  last_seen?: string | null;
  last_read?: string | null;
  credential?: string | null;
  total_pages?: number | null;
  supplies: SupplyBar[];
  open_alerts: number;
  /** `snmp`, `ipp`, `ipps`, or a 3D printer's protocol (`octoprint`, `prusalink`…). */
  protocol?: string;
  /** A 3D printer's state at its latest read. */
  fab?: FabView | null;
}

/** A 3D printer's state: one vocabulary plus the printer's own words. */
export interface FabView {
  state: string;
  state_text?: string | null;
  job?: FabJob | null;
  temperatures: Temperature[];
  errors: string[];
}
export interface FabJob {
  id?: string | null;
  name?: string | null;
  progress_percent?: number | null;
  elapsed_s?: number | null;
  remaining_s?: number | null;
  started_at?: string | null;
  material?: string | null;
}
export interface Temperature { name: string; actual?: number | null; target?: number | null }

export interface JobItem {
  key: string;
  name?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  duration_s?: number | null;
  result?: string | null;
  material?: string | null;
  synthesised: boolean;
  running: boolean;
}
export interface PrinterJobs { id: number; jobs: JobItem[] }

export interface Alert { message: string; severity: string; since?: string | null }

export interface EventItem {
  id: number;
  at?: string | null;
  printer_id?: number | null;
  kind: string;
  severity: string;
  message: string;
  data: Record<string, unknown>;
}

export interface AddressSpan { address: string; first_seen?: string | null; last_seen?: string | null }

export interface PrinterDetail {
  printer: PrinterSummary;
  firmware?: string | null;
  sys_object_id?: string | null;
  first_seen?: string | null;
  counters: Record<string, number>;
  reading?: Reading | null;
  alerts: Alert[];
  events: EventItem[];
  addresses: AddressSpan[];
  /** A 3D printer: whether its key is kept (never the key). */
  key_set?: boolean | null;
}

export interface CounterPoint { at?: string | null; counters: Record<string, number>; regressed: string[] }
export interface SupplyPoint { at?: string | null; supplies: SupplyBar[] }
export interface StatusPoint { at?: string | null; status: string; detail: Record<string, unknown> }
export interface PrinterHistory { id: number; counters: CounterPoint[]; supplies: SupplyPoint[]; status: StatusPoint[] }

/** A reading as `printscout read --json` prints it (docs/reading.md); loosely typed. */
export interface Reading {
  target?: string;
  credential?: string | null;
  snmp_version?: string | null;
  is_printer?: boolean;
  device_kind?: string | null;
  identity?: {
    vendor?: string | null; model?: string | null; serial?: string | null; firmware?: string | null;
    mac?: string | null; hostname?: string | null; location?: string | null; description?: string | null;
  };
  counters?: Record<string, number>;
  supplies?: Array<{
    description?: string | null; kind?: string | null; color?: string | null; percent?: number | null;
    state?: { state: string; value?: number } | string | null;
  }>;
  status?: { overall?: string; errors?: string[]; device?: string; printer?: string };
  notes?: string[];
  protocol?: string | null;
  /** A 3D printer's state (raw: `job.started_at` is in Unix seconds). */
  fab?: {
    state: string; state_text?: string | null; errors?: string[];
    job?: { name?: string | null; progress_percent?: number | null; elapsed_s?: number | null; remaining_s?: number | null; material?: string | null } | null;
    temperatures?: Temperature[];
  } | null;
}

export interface TestResult {
  ok: boolean;
  address?: string | null;
  credential?: string | null;
  elapsed_ms: number;
  reading?: Reading | null;
  error?: ErrorDetail | null;
}

export interface CredentialInput {
  profile?: string;
  version?: string;
  community?: string;
  user?: string;
  auth_protocol?: string;
  auth_passphrase?: string;
  privacy_protocol?: string;
  privacy_passphrase?: string;
  context?: string;
}

export interface Status {
  engine: {
    state: string; polling: number; polls: number; failed_polls: number;
    next: { status?: string | null; meters?: string | null; rediscovery?: string | null; report?: string | null };
  };
  devices: { total: number; ok: number; warning: number; error: number; offline: number; unknown: number };
  sync: {
    upload_configured: boolean; email_configured: boolean; last_error?: string | null; last_report?: string | null;
    last_upload?: string | null; oldest_queued?: string | null; oldest_queued_age_s?: number | null; queued: number; dropped: number;
  };
}

export interface NetworkItem { network: string; source: string; interface?: string | null; hosts_seen: number; selected: boolean }
export interface Networks { networks: NetworkItem[]; gateway?: string | null; gateway_asked?: string | null; notes: string[] }

export interface FoundItem { address: string; is_printer: boolean; model?: string | null; printer_id?: number | null }
export interface ScanView {
  id: number; state: string; networks: string[]; started?: string | null; finished?: string | null;
  probed: number; total: number; responders: number; printers: number; found: FoundItem[]; notes: string[]; error?: string | null;
}

export interface CheckView { path: string; code: string; ok: boolean; message: string; proxy?: string | null; status?: number | null }
export interface SyncView {
  upload_configured: boolean;
  url?: string | null;
  every_s: number;
  running: boolean;
  last_success?: string | null;
  last_sent: { batches: number; items: number; body_bytes: number; json_bytes: number };
  error?: { at?: string | null; code: string; message: string; retry: boolean; failures: number; status?: number | null } | null;
  next_attempt?: string | null;
  path?: string | null;
  checks: CheckView[];
  queue: {
    queued: number; by_kind: Array<{ kind: string; count: number }>; oldest?: string | null; oldest_age_s?: number | null;
    dropped: number; rejected: number; pending_batch?: { batch_id: string; items: number; attempts: number } | null;
  };
}
export interface SyncNowResult { ok: boolean; state: unknown; sync: SyncView }

export interface ProxyReport {
  mode: string;
  target?: string | null;
  in_use: { path: string; reason: string; url?: string | null };
  system: { available: boolean; source: string; detail: string };
  manual: { configured: boolean; url?: string | null; user?: string | null; password_set: boolean; error?: string | null };
}
export interface ProxyPathResult {
  path: string; code: string; ok: boolean; message: string; elapsed_ms: number; status?: number | null;
  proxy?: string | null; note?: string | null; token_sent: boolean;
}
export interface ProxyTestResult { target: string; paths: ProxyPathResult[] }

export interface ReportSendResult { ok: boolean; code: string; message: string; recipients: string[]; sent?: { server: string; subject: string } | null }

export interface CredentialView {
  name: string; version: string; community_set: boolean; user?: string | null; auth_protocol?: string | null;
  auth_passphrase_set: boolean; privacy_protocol?: string | null; privacy_passphrase_set: boolean; context?: string | null;
}
export interface NotificationsView { enabled: boolean; on: string[]; repeat_after: string }
export interface SettingsView {
  config_file: string;
  schedule: { status_every: string; meters_every: string; jobs_every: string; rediscover_every: string; report_every: string; report_at: string };
  thresholds: { supply_low_percent: number; supply_empty_percent: number; offline_after: number };
  snmp: { port: number; timeout: string; retries: number; rate: number; concurrency: number };
  credentials: CredentialView[];
  discovery: { networks: string[]; broadcast: boolean; dns_sd: boolean; local_queues: boolean; allow_public: boolean; rate: number };
  upload: { url: string; ca_file?: string | null; token_set: boolean };
  email: { smtp_url: string; from: string; to: string[]; user: string; password_set: boolean };
  proxy: { mode: string; url: string; user: string; password_set: boolean };
  notifications?: NotificationsView;
  secret_store: string;
  secret_store_error?: ErrorDetail | null;
}
