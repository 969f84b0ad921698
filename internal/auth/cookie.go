package auth

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// CookieName is the cookie in which the web UI keeps the token a person
// signed in with. It is HttpOnly (no script can read it) and SameSite=Strict
// (a browser sends it only with requests from Osprey's own pages).
const CookieName = "osprey_token"

// UIHeader is the header the web UI's scripts set on every request they make.
// A page of another site cannot set a custom header on a request to Osprey
// without a CORS preflight, which Osprey never grants, so a state-changing
// request authenticated by the cookie must carry it (or a same-origin Origin
// header).
const UIHeader = "X-Osprey-UI"

// CookieMaxAge is how long the UI's sign-in lasts.
const CookieMaxAge = 12 * time.Hour

// SetCookie signs the browser in with token: an HttpOnly, SameSite=Strict
// cookie for the whole site, Secure when the request came over TLS.
func SetCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		MaxAge:   int(CookieMaxAge / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// ClearCookie signs the browser out.
func ClearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// CheckSameSite returns ErrCrossSite for a state-changing request (any method
// but GET, HEAD and OPTIONS) that a browser marked as coming from another
// site: Sec-Fetch-Site cross-site or same-site, or an Origin header naming
// another host (or "null"). Requests without these headers — curl,
// Alertmanager, Prometheus, every non-browser client — pass. This holds with
// authentication disabled too, so that a web page cannot make the browser of
// a person on the Osprey host post to the loopback API.
func CheckSameSite(r *http.Request) error {
	if safeMethod(r.Method) {
		return nil
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return ErrCrossSite
	}
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r) {
		return ErrCrossSite
	}
	return nil
}

// fromUI reports whether a request shows that Osprey's own pages sent it:
// the UI header, or a same-origin Origin or Sec-Fetch-Site (CheckSameSite has
// already refused a cross-site one).
func fromUI(r *http.Request) bool {
	return r.Header.Get(UIHeader) != "" || r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

// sameOrigin reports whether origin (scheme://host[:port]) names the host the
// request was sent to (its Host header, or X-Forwarded-Host behind a proxy;
// a browser cannot set either on a cross-site request).
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	fwd := r.Header.Get("X-Forwarded-Host")
	return fwd != "" && strings.EqualFold(u.Host, strings.TrimSpace(strings.Split(fwd, ",")[0]))
}

// safeMethod reports whether m is one that must not change state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
