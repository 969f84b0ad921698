package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// principalKey is the context key of the request's Principal.
type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the Principal that Require stored in ctx, and whether
// there was one.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Require returns a handler that serves next only to principals holding at
// least role min, with the Principal in the request context (PrincipalFrom).
// It answers 401 with a WWW-Authenticate: Bearer challenge when the token is
// missing, malformed or unknown, and 403 naming the role needed when the
// principal's role is too low or the request is cross-site (ErrCrossSite).
// Error bodies are JSON {"error": "reason"}.
func (a *Authenticator) Require(min Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if errors.Is(err, ErrCrossSite) {
			writeError(w, http.StatusForbidden, err.Error())
			return
		}
		if err != nil {
			challenge := `Bearer realm="osprey"`
			if !errors.Is(err, ErrMissingCredentials) {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if !p.Role.Includes(min) {
			a.failures.WithLabelValues(reasonForbidden).Inc()
			writeError(w, http.StatusForbidden, fmt.Sprintf("role %s required, token %q has role %s", min, p.Name, p.Role))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// writeError writes the API's JSON error shape. The API package has its own
// copy; auth does not import it, to keep the dependency pointing one way.
func writeError(w http.ResponseWriter, code int, reason string) {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{reason}) // marshalling a string field cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
