// Package auth authenticates API requests by bearer token and authorises them
// by role.
//
// Each configured token has a name (recorded as the actor in the audit log) and
// one of three roles, each including the ones below it:
//
//	viewer < operator < admin
//
// Only the SHA-256 of a token is held; a presented token is hashed and compared
// against every configured hash in constant time, so neither the tokens nor
// which of them was close to matching leak through timing.
//
// With no tokens configured, authentication is disabled and every request acts
// as the principal {Name: "local", Role: admin}. The application only allows
// that on a loopback listener; this package does not know about listeners.
//
// The web UI signs a person in by keeping their token in an HttpOnly,
// SameSite=Strict cookie (CookieName); Authenticate accepts it where there is
// no Authorization header. A state-changing request authenticated by the
// cookie must show that Osprey's own pages sent it (the UIHeader header or a
// same-origin Origin), and any state-changing request a browser marks as
// cross-site is refused, with or without authentication (CheckSameSite).
//
// The authenticated Principal travels in the request's context: request-scoped
// identity is the one use of context values this project accepts.
package auth
