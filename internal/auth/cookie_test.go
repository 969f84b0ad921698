package auth

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCookieAuthentication(t *testing.T) {
	tests := []struct {
		name     string
		tokens   []Token
		method   string
		cookie   string            // session cookie value; "" sends none
		header   map[string]string // further request headers
		min      Role
		wantCode int
		wantName string
	}{
		{name: "viewer reads with cookie", tokens: testTokens, method: "GET", cookie: "v-secret", min: RoleViewer,
			wantCode: 200, wantName: "grafana"},
		{name: "unknown cookie", tokens: testTokens, method: "GET", cookie: "nope", min: RoleViewer, wantCode: 401},
		{name: "cookie post without proof", tokens: testTokens, method: "POST", cookie: "o-secret", min: RoleOperator,
			wantCode: 403},
		{name: "cookie post with UI header", tokens: testTokens, method: "POST", cookie: "o-secret", min: RoleOperator,
			header: map[string]string{UIHeader: "1"}, wantCode: 200, wantName: "alertmanager"},
		{name: "cookie post with same origin", tokens: testTokens, method: "DELETE", cookie: "o-secret", min: RoleOperator,
			header: map[string]string{"Origin": "http://osprey.example:9464"}, wantCode: 200, wantName: "alertmanager"},
		{name: "cookie post from another origin", tokens: testTokens, method: "POST", cookie: "o-secret", min: RoleOperator,
			header: map[string]string{"Origin": "https://evil.example", UIHeader: "1"}, wantCode: 403},
		{name: "viewer cookie cannot write", tokens: testTokens, method: "POST", cookie: "v-secret", min: RoleOperator,
			header: map[string]string{UIHeader: "1"}, wantCode: 403},
		{name: "bearer wins over cookie", tokens: testTokens, method: "POST", cookie: "v-secret", min: RoleOperator,
			header: map[string]string{"Authorization": "Bearer o-secret"}, wantCode: 200, wantName: "alertmanager"},
		{name: "bearer post from another site", tokens: testTokens, method: "POST", min: RoleOperator,
			header: map[string]string{"Authorization": "Bearer o-secret", "Sec-Fetch-Site": "cross-site"}, wantCode: 403},
		{name: "cross-site form post, auth disabled", method: "POST", min: RoleOperator,
			header: map[string]string{"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}, wantCode: 403},
		{name: "null origin, auth disabled", method: "POST", min: RoleOperator,
			header: map[string]string{"Origin": "null"}, wantCode: 403},
		{name: "cross-site read, auth disabled", method: "GET", min: RoleViewer,
			header: map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, wantCode: 200, wantName: LocalName},
		{name: "non-browser post, auth disabled", method: "POST", min: RoleOperator, wantCode: 200, wantName: LocalName},
		{name: "proxied same origin", tokens: testTokens, method: "POST", cookie: "o-secret", min: RoleOperator,
			header: map[string]string{"Origin": "https://osprey.corp", "X-Forwarded-Host": "osprey.corp"}, wantCode: 200, wantName: "alertmanager"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(tt.tokens)
			var got Principal
			h := a.Require(tt.min, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = PrincipalFrom(r.Context())
			}))
			req := httptest.NewRequest(tt.method, "http://osprey.example:9464/api/v1/silences", nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: CookieName, Value: tt.cookie})
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d (body %s)", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode == 200 && got.Name != tt.wantName {
				t.Errorf("principal %q, want %q", got.Name, tt.wantName)
			}
		})
	}
}

func TestSetCookie(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		req := httptest.NewRequest("POST", "/ui/login", nil)
		if useTLS {
			req.TLS = &tls.ConnectionState{}
		}
		rec := httptest.NewRecorder()
		SetCookie(rec, req, "o-secret")
		c := rec.Header().Get("Set-Cookie")
		for _, want := range []string{CookieName + "=o-secret", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="} {
			if !strings.Contains(c, want) {
				t.Errorf("Set-Cookie %q lacks %q", c, want)
			}
		}
		if strings.Contains(c, "Secure") != useTLS {
			t.Errorf("TLS %v: Set-Cookie %q", useTLS, c)
		}
		rec = httptest.NewRecorder()
		ClearCookie(rec, req)
		if c := rec.Header().Get("Set-Cookie"); !strings.Contains(c, "Max-Age=0") {
			t.Errorf("ClearCookie: Set-Cookie %q", c)
		}
	}
}
