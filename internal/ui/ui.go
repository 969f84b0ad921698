// Package ui is Osprey's web UI: server-rendered HTML pages (html/template)
// under /ui/, embedded in the binary, with charts drawn as SVG on the server
// (internal/ui/chart) and one small hand-written script that polls for
// updates and sends the operator's actions to the JSON API with fetch().
//
// The pages read the store, the metric store, the topology graph, the
// remediation engine and the ingest counters directly, and what only the
// API computes (maintenance window states, noise accounting) from the API
// handler they are mounted in front of, with the page request's
// credentials; every action (ack, resolve, comment, approve, reject,
// silence, maintenance window, feedback, pause) goes through the JSON API,
// so the UI can do nothing the API would not allow.
//
// Authentication: with no tokens configured every page just works. With
// tokens, /ui/login takes a token and keeps it in an HttpOnly, SameSite=Strict
// cookie (auth.SetCookie) that internal/auth accepts as well as the bearer
// header; the script marks its requests with auth.UIHeader, which auth
// requires of state-changing requests authenticated by that cookie. Pages
// need the viewer role. Every response carries a Content-Security-Policy that
// allows only Osprey's own script and stylesheet.
package ui

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/buildinfo"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/topology"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// TopologySource is the learned service call graph (*topology.Graph).
type TopologySource interface {
	Snapshot() topology.Snapshot
}

// Options configure the UI. Store and Auth are required; the rest may be
// nil, and the pages that need them say what is missing.
type Options struct {
	Store store.Store
	// Metrics is the metric store the charts read (the embedded TSDB).
	Metrics storage.Queryable
	// Topology is the learned call graph.
	Topology TopologySource
	// Remediation is the remediate stage: its runbooks and kill switch.
	Remediation *remediate.Engine
	// Stats are the receivers' data-quality counters.
	Stats *ingest.Stats
	// Auth authenticates page requests (and the sign-in form).
	Auth *auth.Authenticator
	// Location is the time zone of every time shown; nil means time.Local.
	Location *time.Location
	// PollInterval is how often live parts of pages refresh; default 5s.
	PollInterval time.Duration
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// UI serves the pages. It is safe for concurrent use.
type UI struct {
	opts  Options
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
	// api is the JSON API handler Mount was given: pages read what only
	// the API computes (maintenance window states, noise accounting)
	// through it, with the page request's credentials. Nil without Mount.
	api http.Handler
	// noiseCache keeps the incidents page's noise accounting briefly.
	noiseCache noiseCache
}

// Page templates, each parsed together with layout.html.
var pageNames = []string{
	"incidents.html", "incident.html", "anomalies.html", "topology.html", "templates.html",
	"silences.html", "runbooks.html", "ingest.html", "login.html", "error.html",
}

// New builds the UI and parses its templates.
func New(opts Options) (*UI, error) {
	if opts.Store == nil || opts.Auth == nil {
		return nil, errors.New("ui: store and authenticator are required")
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.Stats == nil {
		opts.Stats = ingest.NewStats()
	}
	u := &UI{opts: opts, log: opts.Logger, pages: make(map[string]*template.Template), mux: http.NewServeMux()}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	funcs := u.funcs()
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("ui: parse %s: %w", name, err)
		}
		u.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	files := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	u.mux.Handle("GET /ui/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	}))
	u.mux.HandleFunc("GET /{$}", redirectTo("/ui/incidents"))
	u.mux.HandleFunc("GET /ui/{$}", redirectTo("/ui/incidents"))
	u.mux.HandleFunc("GET /ui", redirectTo("/ui/incidents"))
	u.mux.HandleFunc("GET /ui/login", u.loginPage)
	u.mux.HandleFunc("POST /ui/login", u.login)
	u.mux.HandleFunc("POST /ui/logout", u.logout)
	u.mux.Handle("GET /ui/incidents", u.page(u.incidents))
	u.mux.Handle("GET /ui/incidents/{id}", u.page(u.incident))
	u.mux.Handle("GET /ui/anomalies", u.page(u.anomalies))
	u.mux.Handle("GET /ui/topology", u.page(u.topology))
	u.mux.Handle("GET /ui/log-templates", u.page(u.templates))
	u.mux.Handle("GET /ui/silences", u.page(u.silences))
	u.mux.Handle("GET /ui/runbooks", u.page(u.runbooks))
	u.mux.Handle("GET /ui/ingest", u.page(u.ingest))
	u.mux.Handle("/ui/", u.page(func(w http.ResponseWriter, r *http.Request, v *view) {
		u.fail(w, r, v, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	}))
	return u, nil
}

// Mount returns a handler that serves the UI at / (a redirect to the
// incidents) and under /ui/, and passes every other request to next (the
// API).
func (u *UI) Mount(next http.Handler) http.Handler {
	u.api = next
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/") {
			u.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP serves the UI's own paths, with its security headers.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	u.mux.ServeHTTP(w, r)
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, path, http.StatusFound)
	}
}

// view is what every page template gets: the layout's data and the page's.
type view struct {
	Title  string
	Nav    string
	User   auth.Principal
	AuthOn bool
	// CanAct says whether the user may act (operator role); the pages
	// disable their buttons otherwise.
	CanAct  bool
	Zone    string
	Version string
	Poll    int // milliseconds
	Data    any
}

// page authenticates a page request (viewer role) and calls h. A request
// without valid credentials is sent to the sign-in page; a live fragment's
// gets 401, which the script turns into the same.
func (u *UI) page(h func(http.ResponseWriter, *http.Request, *view)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var p auth.Principal
		var err error
		if u.opts.Auth.Enabled() && r.Header.Get("Authorization") == "" && !hasCookie(r) {
			// Not signed in: no credentials to check (nor to count as a
			// failure).
			err = auth.ErrMissingCredentials
		} else {
			p, err = u.opts.Auth.Authenticate(r)
		}
		if err != nil {
			if r.URL.Query().Get("fragment") != "" {
				http.Error(w, "sign in needed", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		zone, _ := u.opts.Now().In(u.opts.Location).Zone()
		v := &view{User: p, AuthOn: u.opts.Auth.Enabled(), CanAct: p.Role.Includes(auth.RoleOperator),
			Zone: zone, Version: buildinfo.Version, Poll: int(u.opts.PollInterval / time.Millisecond)}
		if !p.Role.Includes(auth.RoleViewer) {
			u.fail(w, r, v, http.StatusForbidden, fmt.Sprintf("Token %q has no role that may view Osprey.", p.Name))
			return
		}
		h(w, r, v)
	})
}

func hasCookie(r *http.Request) bool {
	c, err := r.Cookie(auth.CookieName)
	return err == nil && c.Value != ""
}

// render writes page name with v, or a 500 if the template fails. Rendering
// goes to a buffer first, so a failure never leaves half a page.
func (u *UI) render(w http.ResponseWriter, code int, name string, v *view) {
	u.renderTemplate(w, code, name, "layout", v)
}

func (u *UI) renderTemplate(w http.ResponseWriter, code int, name, tmpl string, data any) {
	var b strings.Builder
	if err := u.pages[name].ExecuteTemplate(&b, tmpl, data); err != nil {
		u.log.Error("render page", "page", name, "template", tmpl, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(b.String()))
}

// fail renders the error page.
func (u *UI) fail(w http.ResponseWriter, _ *http.Request, v *view, code int, msg string) {
	v.Title = http.StatusText(code)
	v.Data = msg
	u.render(w, code, "error.html", v)
}

// storeFailed renders a 503 for a store error (or 404 for ErrNotFound) and
// reports whether there was one.
func (u *UI) storeFailed(w http.ResponseWriter, r *http.Request, v *view, what string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, osprey.ErrNotFound):
		u.fail(w, r, v, http.StatusNotFound, "No "+what+" with that id.")
	default:
		u.log.Error("ui store read", "what", what, "err", err)
		u.fail(w, r, v, http.StatusServiceUnavailable, "Reading "+what+" from the store failed; try again.")
	}
	return true
}

// loginData is the sign-in page's data.
type loginData struct {
	Next  string
	Error string
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	v := &view{Title: "Sign in", AuthOn: u.opts.Auth.Enabled(), Version: buildinfo.Version,
		Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}}
	u.render(w, http.StatusOK, "login.html", v)
}

// login takes the token of the sign-in form and, if it is a configured one,
// keeps it in the session cookie.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := auth.CheckSameSite(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	v := &view{Title: "Sign in", AuthOn: u.opts.Auth.Enabled(), Version: buildinfo.Version}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if !u.opts.Auth.Enabled() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if token == "" || strings.ContainsAny(token, " \t\r\n;") {
		v.Data = loginData{Next: next, Error: "Paste one API token (no spaces)."}
		u.render(w, http.StatusBadRequest, "login.html", v)
		return
	}
	if _, err := u.opts.Auth.Check(token); err != nil {
		v.Data = loginData{Next: next, Error: "That token is not one Osprey knows."}
		u.render(w, http.StatusUnauthorized, "login.html", v)
		return
	}
	auth.SetCookie(w, r, token)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if err := auth.CheckSameSite(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	auth.ClearCookie(w, r)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// safeNext keeps a post-sign-in destination only if it is a UI path of this
// site (no open redirect).
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.HasPrefix(next, "/ui/login") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/ui/incidents"
}
