package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{in: "viewer", want: RoleViewer},
		{in: "operator", want: RoleOperator},
		{in: "Admin", want: RoleAdmin},
		{in: " admin ", want: RoleAdmin},
		{in: "", wantErr: true},
		{in: "root", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRole(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRole(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseRole(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if err == nil && got.String() != strings.ToLower(strings.TrimSpace(tt.in)) {
				t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
			}
		})
	}
}

func TestRoleIncludes(t *testing.T) {
	tests := []struct {
		have, min Role
		want      bool
	}{
		{RoleViewer, RoleViewer, true},
		{RoleViewer, RoleOperator, false},
		{RoleOperator, RoleViewer, true},
		{RoleOperator, RoleAdmin, false},
		{RoleAdmin, RoleOperator, true},
		{0, RoleViewer, false},
		{RoleAdmin, 0, false}, // the zero role is not a requirement anyone meets
		{Role(9), RoleViewer, false},
	}
	for _, tt := range tests {
		if got := tt.have.Includes(tt.min); got != tt.want {
			t.Errorf("%v.Includes(%v) = %v, want %v", tt.have, tt.min, got, tt.want)
		}
	}
}

// testTokens are the tokens of the Require tests, one per role.
var testTokens = []Token{
	{Name: "grafana", Role: RoleViewer, Hash: HashToken("v-secret")},
	{Name: "alertmanager", Role: RoleOperator, Hash: HashToken("o-secret")},
	{Name: "alice", Role: RoleAdmin, Hash: HashToken("a-secret")},
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name          string
		tokens        []Token
		header        string // Authorization; "" sends none
		min           Role
		wantCode      int
		wantPrincipal Principal
		wantErr       string // substring of the JSON error
		wantChallenge string // substring of WWW-Authenticate
		wantReason    string // failure counted under this reason
	}{
		{name: "missing", tokens: testTokens, min: RoleViewer, wantCode: 401,
			wantErr: "missing bearer token", wantChallenge: `Bearer realm="osprey"`, wantReason: reasonMissing},
		{name: "basic scheme", tokens: testTokens, header: "Basic dXNlcjpwYXNz", min: RoleViewer, wantCode: 401,
			wantErr: "malformed", wantChallenge: `error="invalid_token"`, wantReason: reasonMalformed},
		{name: "scheme only", tokens: testTokens, header: "Bearer", min: RoleViewer, wantCode: 401,
			wantErr: "malformed", wantChallenge: "Bearer", wantReason: reasonMalformed},
		{name: "empty token", tokens: testTokens, header: "Bearer   ", min: RoleViewer, wantCode: 401,
			wantErr: "malformed", wantChallenge: "Bearer", wantReason: reasonMalformed},
		{name: "two tokens", tokens: testTokens, header: "Bearer o-secret a-secret", min: RoleViewer, wantCode: 401,
			wantErr: "malformed", wantChallenge: "Bearer", wantReason: reasonMalformed},
		{name: "unknown token", tokens: testTokens, header: "Bearer nope", min: RoleViewer, wantCode: 401,
			wantErr: "unknown token", wantChallenge: `error="invalid_token"`, wantReason: reasonUnknown},
		{name: "prefix of a token", tokens: testTokens, header: "Bearer o-secre", min: RoleViewer, wantCode: 401,
			wantErr: "unknown token", wantChallenge: "Bearer", wantReason: reasonUnknown},
		{name: "viewer reads", tokens: testTokens, header: "Bearer v-secret", min: RoleViewer, wantCode: 200,
			wantPrincipal: Principal{Name: "grafana", Role: RoleViewer}},
		{name: "viewer writes", tokens: testTokens, header: "Bearer v-secret", min: RoleOperator, wantCode: 403,
			wantErr: "role operator required", wantReason: reasonForbidden},
		{name: "operator writes", tokens: testTokens, header: "Bearer o-secret", min: RoleOperator, wantCode: 200,
			wantPrincipal: Principal{Name: "alertmanager", Role: RoleOperator}},
		{name: "lower-case scheme", tokens: testTokens, header: "bearer o-secret", min: RoleOperator, wantCode: 200,
			wantPrincipal: Principal{Name: "alertmanager", Role: RoleOperator}},
		{name: "operator administers", tokens: testTokens, header: "Bearer o-secret", min: RoleAdmin, wantCode: 403,
			wantErr: "role admin required", wantReason: reasonForbidden},
		{name: "admin writes", tokens: testTokens, header: "Bearer a-secret", min: RoleOperator, wantCode: 200,
			wantPrincipal: Principal{Name: "alice", Role: RoleAdmin}},
		{name: "token with invalid role", tokens: []Token{{Name: "x", Hash: HashToken("x")}}, header: "Bearer x",
			min: RoleViewer, wantCode: 403, wantErr: "role viewer required", wantReason: reasonForbidden},
		{name: "disabled, no header", min: RoleAdmin, wantCode: 200,
			wantPrincipal: Principal{Name: LocalName, Role: RoleAdmin}},
		{name: "disabled, any header", header: "Bearer whatever", min: RoleAdmin, wantCode: 200,
			wantPrincipal: Principal{Name: LocalName, Role: RoleAdmin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(tt.tokens)
			if a.Enabled() != (len(tt.tokens) > 0) {
				t.Fatalf("Enabled() = %v with %d tokens", a.Enabled(), len(tt.tokens))
			}
			var got Principal
			var served bool
			h := a.Require(tt.min, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served = true
				var ok bool
				if got, ok = PrincipalFrom(r.Context()); !ok {
					t.Error("no principal in the request context")
				}
			}))
			req := httptest.NewRequest(http.MethodGet, "/api/v1/events", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d (body %s)", rec.Code, tt.wantCode, rec.Body)
			}
			if served != (tt.wantCode == 200) {
				t.Fatalf("next served = %v with code %d", served, rec.Code)
			}
			if served {
				if got != tt.wantPrincipal {
					t.Errorf("principal = %+v, want %+v", got, tt.wantPrincipal)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var body struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("error body %q is not JSON: %v", rec.Body, err)
			}
			if !strings.Contains(body.Error, tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", body.Error, tt.wantErr)
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if tt.wantCode == 401 && !strings.Contains(challenge, tt.wantChallenge) {
				t.Errorf("WWW-Authenticate = %q, want it to contain %q", challenge, tt.wantChallenge)
			}
			if tt.wantCode == 403 && challenge != "" {
				t.Errorf("403 carries WWW-Authenticate %q", challenge)
			}
			if n := testutil.ToFloat64(a.failures.WithLabelValues(tt.wantReason)); n != 1 {
				t.Errorf("failures{reason=%q} = %v, want 1", tt.wantReason, n)
			}
		})
	}
}

func TestAuthenticatorCollector(t *testing.T) {
	a := New(testTokens)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(a); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, err := a.Authenticate(req); !errors.Is(err, ErrMissingCredentials) {
		t.Fatalf("Authenticate() error = %v, want ErrMissingCredentials", err)
	}
	want := `
# HELP osprey_auth_failures_total API requests refused by authentication or authorisation, by reason.
# TYPE osprey_auth_failures_total counter
osprey_auth_failures_total{reason="cross_site"} 0
osprey_auth_failures_total{reason="forbidden"} 0
osprey_auth_failures_total{reason="malformed"} 0
osprey_auth_failures_total{reason="missing"} 1
osprey_auth_failures_total{reason="unknown_token"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "osprey_auth_failures_total"); err != nil {
		t.Error(err)
	}
}

func TestPrincipalFromEmptyContext(t *testing.T) {
	if p, ok := PrincipalFrom(t.Context()); ok {
		t.Errorf("PrincipalFrom(empty) = %+v, true", p)
	}
}

// BenchmarkAuthenticate measures the cost of a successful check against ten
// configured tokens (every request pays it).
func BenchmarkAuthenticate(b *testing.B) {
	tokens := make([]Token, 10)
	for i := range tokens {
		tokens[i] = Token{Name: "t", Role: RoleOperator, Hash: HashToken(strings.Repeat("x", i+1))}
	}
	a := New(tokens)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer xxxxx")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(req); err != nil {
			b.Fatal(err)
		}
	}
}
