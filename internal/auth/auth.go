package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors returned by Authenticate. Require maps all of them to 401.
var (
	// ErrMissingCredentials means the request carried no Authorization header.
	ErrMissingCredentials = errors.New("missing bearer token")
	// ErrMalformedCredentials means the Authorization header is not
	// "Bearer <token>".
	ErrMalformedCredentials = errors.New("malformed authorization header, want \"Bearer <token>\"")
	// ErrUnknownToken means the token matches no configured token.
	ErrUnknownToken = errors.New("unknown token")
	// ErrCrossSite means a state-changing request came from another site's
	// page (its Origin or Sec-Fetch-Site header says so), or was
	// authenticated by the UI's cookie without proof that the UI sent it.
	// Require answers it with 403.
	ErrCrossSite = errors.New("cross-site request refused: a state-changing request authenticated by cookie must come from Osprey's own pages")
)

// Failure reasons, the values of the reason label of
// osprey_auth_failures_total.
const (
	reasonMissing   = "missing"
	reasonMalformed = "malformed"
	reasonUnknown   = "unknown_token"
	reasonForbidden = "forbidden"
	reasonCrossSite = "cross_site"
)

// Token is one accepted bearer token. Only its hash is held.
type Token struct {
	// Name identifies the holder; it becomes the Principal's Name.
	Name string
	// Role is what the holder may do.
	Role Role
	// Hash is the SHA-256 of the token (see HashToken).
	Hash [32]byte
}

// Principal is the authenticated caller of a request.
type Principal struct {
	// Name is the token's name, or LocalName when authentication is
	// disabled.
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// LocalName is the Principal name of every request when no tokens are
// configured.
const LocalName = "local"

// localPrincipal acts for every request when authentication is disabled.
var localPrincipal = Principal{Name: LocalName, Role: RoleAdmin}

// Authenticator checks bearer tokens against a fixed set of hashes. It is safe
// for concurrent use and immutable after New.
//
// Authenticator is a prometheus.Collector exporting
// osprey_auth_failures_total{reason}; register it on the process' registry
// (the API does that for the Authenticator it is given).
type Authenticator struct {
	tokens   []Token
	failures *prometheus.CounterVec
}

var _ prometheus.Collector = (*Authenticator)(nil)

// New returns an Authenticator accepting tokens. With no tokens,
// authentication is disabled (see Enabled). Tokens with an invalid Role are
// kept but can never pass Require. New copies tokens.
func New(tokens []Token) *Authenticator {
	a := &Authenticator{
		tokens: append([]Token(nil), tokens...),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_auth_failures_total",
			Help: "API requests refused by authentication or authorisation, by reason.",
		}, []string{"reason"}),
	}
	// Create every series up front so rates work from the first failure.
	for _, r := range []string{reasonMissing, reasonMalformed, reasonUnknown, reasonForbidden, reasonCrossSite} {
		a.failures.WithLabelValues(r)
	}
	return a
}

// Enabled reports whether tokens are configured. When it is false every
// request is authenticated as {Name: "local", Role: admin}.
func (a *Authenticator) Enabled() bool { return len(a.tokens) > 0 }

// Authenticate returns the principal of the request: the bearer token in r's
// Authorization header or, when there is none, the token in the UI's session
// cookie (CookieName). It returns one of ErrMissingCredentials,
// ErrMalformedCredentials or ErrUnknownToken when neither identifies a
// configured token, and ErrCrossSite (see CheckSameSite) for a
// state-changing request from another site, or one authenticated by the
// cookie alone. Failures are counted.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	if err := CheckSameSite(r); err != nil {
		a.failures.WithLabelValues(reasonCrossSite).Inc()
		return Principal{}, err
	}
	if !a.Enabled() {
		return localPrincipal, nil
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			if !safeMethod(r.Method) && !fromUI(r) {
				a.failures.WithLabelValues(reasonCrossSite).Inc()
				return Principal{}, ErrCrossSite
			}
			return a.Check(c.Value)
		}
	}
	presented, reason, err := bearerToken(header)
	if err != nil {
		a.failures.WithLabelValues(reason).Inc()
		return Principal{}, err
	}
	return a.Check(presented)
}

// Check returns the principal of a plaintext token, or ErrUnknownToken
// (counted). With authentication disabled every token is the local admin.
func (a *Authenticator) Check(token string) (Principal, error) {
	if !a.Enabled() {
		return localPrincipal, nil
	}
	h := sha256.Sum256([]byte(token))
	// Compare with every hash, without stopping at a match, so the time
	// taken does not tell which token (if any) matched.
	match := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(h[:], a.tokens[i].Hash[:]) == 1 && match < 0 {
			match = i
		}
	}
	if match < 0 {
		a.failures.WithLabelValues(reasonUnknown).Inc()
		return Principal{}, ErrUnknownToken
	}
	return Principal{Name: a.tokens[match].Name, Role: a.tokens[match].Role}, nil
}

// bearerToken extracts the token of an RFC 6750 "Bearer <token>" header value;
// the scheme is case-insensitive. On failure it returns the metric reason.
func bearerToken(header string) (token, reason string, err error) {
	if header == "" {
		return "", reasonMissing, ErrMissingCredentials
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", reasonMalformed, ErrMalformedCredentials
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", reasonMalformed, ErrMalformedCredentials
	}
	return token, "", nil
}

// HashToken returns the SHA-256 of a plaintext token, as held in Token.Hash.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// Describe implements prometheus.Collector.
func (a *Authenticator) Describe(ch chan<- *prometheus.Desc) { a.failures.Describe(ch) }

// Collect implements prometheus.Collector.
func (a *Authenticator) Collect(ch chan<- prometheus.Metric) { a.failures.Collect(ch) }
