// Authentication of a replayed connection with the credentials the user gave (never captured ones):
// binary SASL PLAIN on binary connections, memcached's ascii auth (a `set` carrying "user pass")
// on text/meta connections. The answer is consumed before the connection replays anything.
// memcached -S speaks only the binary protocol, memcached -Y only text: which one a target wants is
// found out by the coordinator's probe (probeTargetAuth, probe.ts), which uses the pieces exported here.
// The wire parts live in the protocol layer (src/protocol/auth.ts), where the stats poller uses
// them too; they are re-exported here for the replay modules.
export {
  OP_VERSION,
  SASL_OP,
  SASL_STATUS,
  binaryFrame,
  readBinaryResponse,
  saslRefusal,
  authRequest,
  type AuthState,
  type AuthMech,
  type AuthCred,
} from '../protocol/auth.js';
