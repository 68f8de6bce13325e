package hubdb

// migration is one step of the schema. Steps are append-only: a released
// step is never edited, a change is a new step with the next version.
//
// The steps reproduce the reference hub's migrations 1..11 operation for
// operation (the same CREATE, ALTER ... ADD/DROP COLUMN and RENAME), not
// just the final shape: SQLite stores each table's CREATE text as those
// operations leave it, and keeping that text identical is what lets either
// hub open the other's file and lets tests compare sqlite_master directly.
type migration struct {
	version int
	sql     string
}

// LatestVersion is the schema version Open brings a hub.db to.
const LatestVersion = 11

var migrations = []migration{
	// 1: the RS256 keys tokens are signed with. Retired keys stay for a
	// grace period so tokens they signed keep verifying.
	{1, `
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  public_key_pem TEXT NOT NULL,
  private_key_pem TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  created_at TEXT NOT NULL,
  retired_at TEXT
);
CREATE INDEX signing_keys_active ON signing_keys (retired_at) WHERE retired_at IS NULL;
`},
	// 2: accounts, and the registry of refresh tokens.
	{2, `
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT UNIQUE NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE tokens (
  jti TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  client_id TEXT NOT NULL,
  scopes TEXT NOT NULL,
  refresh_token_hash TEXT,
  expires_at TEXT NOT NULL,
  revoked_at TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_active_refresh ON tokens (refresh_token_hash) WHERE refresh_token_hash IS NOT NULL AND revoked_at IS NULL;
`},
	// 3: the OAuth issuer's clients, codes, consent grants and browser
	// sessions.
	{3, `
CREATE TABLE clients (
  client_id TEXT PRIMARY KEY,
  client_secret_hash TEXT,
  redirect_uris TEXT NOT NULL,
  scopes TEXT NOT NULL,
  client_name TEXT,
  registered_at TEXT NOT NULL
);
CREATE TABLE auth_codes (
  code TEXT PRIMARY KEY,
  client_id TEXT NOT NULL REFERENCES clients(client_id),
  user_id TEXT NOT NULL REFERENCES users(id),
  redirect_uri TEXT NOT NULL,
  scopes TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  code_challenge_method TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT,
  created_at TEXT NOT NULL
);
CREATE TABLE grants (
  user_id TEXT NOT NULL REFERENCES users(id),
  client_id TEXT NOT NULL REFERENCES clients(client_id),
  scopes TEXT NOT NULL,
  granted_at TEXT NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  expires_at TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
`},
	// 4: registered clients wait for approval; clients that existed
	// before the gate stay approved.
	{4, `
ALTER TABLE clients ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
UPDATE clients SET status = 'approved';
CREATE INDEX clients_status ON clients (status);
`},
	// 5: refresh-token families for rotation and replay detection;
	// existing rows become families of one.
	{5, `
ALTER TABLE tokens ADD COLUMN family_id TEXT;
UPDATE tokens SET family_id = jti WHERE family_id IS NULL;
CREATE INDEX tokens_family ON tokens (family_id) WHERE family_id IS NOT NULL;
`},
	// 6: tokens becomes the registry of every token the hub mints, so
	// user_id turns nullable (operator and CLI mints name a subject
	// instead). SQLite cannot drop a NOT NULL in place: rebuild, copy,
	// rename, and recreate the indexes the drop took along.
	{6, `
CREATE TABLE tokens_new (
  jti TEXT PRIMARY KEY,
  user_id TEXT REFERENCES users(id),
  client_id TEXT NOT NULL,
  scopes TEXT NOT NULL,
  refresh_token_hash TEXT,
  family_id TEXT,
  expires_at TEXT NOT NULL,
  revoked_at TEXT,
  created_at TEXT NOT NULL,
  permissions TEXT,
  created_via TEXT NOT NULL DEFAULT 'oauth_refresh',
  subject TEXT
);
INSERT INTO tokens_new (jti, user_id, client_id, scopes, refresh_token_hash, family_id,
  expires_at, revoked_at, created_at, permissions, created_via, subject)
SELECT jti, user_id, client_id, scopes, refresh_token_hash, family_id,
  expires_at, revoked_at, created_at, NULL, 'oauth_refresh', NULL FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE INDEX tokens_user ON tokens (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX tokens_active_refresh ON tokens (refresh_token_hash) WHERE refresh_token_hash IS NOT NULL AND revoked_at IS NULL;
CREATE INDEX tokens_family ON tokens (family_id) WHERE family_id IS NOT NULL;
CREATE INDEX tokens_revoked ON tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX tokens_subject ON tokens (subject) WHERE subject IS NOT NULL;
`},
	// 7: hub-wide key/value settings (expose mode, the wizard's
	// first-client approval window).
	{7, `
CREATE TABLE hub_settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
`},
	// 8: whether a user has chosen their own password (admin-created
	// accounts must change theirs), and a single pinned vault (replaced by
	// user_vaults in 10). Accounts that predate it chose their password.
	{8, `
ALTER TABLE users ADD COLUMN password_changed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN assigned_vault TEXT;
UPDATE users SET password_changed = 1;
`},
	// 9: clients the operator registered (same_hub) skip consent for
	// non-admin scopes; earlier clients keep asking.
	{9, `
ALTER TABLE clients ADD COLUMN same_hub INTEGER NOT NULL DEFAULT 0;
UPDATE clients SET same_hub = 0;
`},
	// 10: a user may hold several vaults, each with a role; the pinned
	// vault of 8 moves there and its column goes.
	{10, `
CREATE TABLE user_vaults (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  vault_name TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'write',
  created_at TEXT NOT NULL,
  PRIMARY KEY (user_id, vault_name)
);
CREATE INDEX user_vaults_vault ON user_vaults (vault_name);
INSERT INTO user_vaults (user_id, vault_name, role, created_at)
SELECT id, assigned_vault, 'write', created_at FROM users WHERE assigned_vault IS NOT NULL;
ALTER TABLE users DROP COLUMN assigned_vault;
`},
	// 11: TOTP enrolment on the user row; NULL secret means no 2FA.
	{11, `
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_backup_codes TEXT;
ALTER TABLE users ADD COLUMN totp_enrolled_at TEXT;
`},
}
