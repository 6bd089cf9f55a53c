package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eventfold/eventfold/command"
	"github.com/eventfold/eventfold/eventstore"
	"github.com/eventfold/eventfold/readmodel"
)

// StreamInfo is one stream in a listing.
type StreamInfo struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
}

// Events is what the console reads from the event store. pgstore.Store
// provides every method but ListStreams's prefix form; the eventfold
// command adapts it.
type Events interface {
	// Head returns the position of the last event in the log.
	Head(ctx context.Context) (eventstore.Position, error)
	// ReadAll is eventstore.Store's: the console reads one event past a
	// checkpoint to tell how old the oldest unapplied event is.
	ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error)
	// ReadStream is eventstore.Store's.
	ReadStream(ctx context.Context, streamID string, from int64, dir eventstore.Direction, limit int) ([]eventstore.Record, error)
	// ListStreams returns up to limit streams whose IDs start with prefix
	// and sort after after, in ID order.
	ListStreams(ctx context.Context, prefix, after string, limit int) ([]StreamInfo, error)
	// EventsByCorrelation returns up to limit events of every stream whose
	// metadata carries correlationID, in log order.
	EventsByCorrelation(ctx context.Context, correlationID string, limit int) ([]eventstore.Record, error)
}

// TenantEvents is Events of a store that holds several tenants, as
// pgstore and memstore do. The console reaches tenants only through these
// views: it never filters by tenant itself. Without it, the console shows
// the default tenant only.
type TenantEvents interface {
	Events
	// ForTenant returns the Events confined to tenant, as the store's
	// ForTenant view.
	ForTenant(tenant string) (Events, error)
	// AllTenants returns the Events of every tenant, as the store's
	// AllTenants view: its ReadAll, Head and EventsByCorrelation cover every
	// tenant and each Record names its tenant.
	AllTenants() Events
}

// Config configures a Server. Events and ReadModels are required.
type Config struct {
	// Events is the default tenant's view of the event store. When it
	// implements TenantEvents, the console also browses named tenants
	// (?tenant=) and searches every tenant (?all_tenants=true).
	Events Events
	// ReadModels is the read-model store the projections write to; the
	// console only reads it.
	ReadModels readmodel.Reader
	// Token, when set, must come with every API request.
	Token string
	// Tenant, when set, confines the console to one tenant: its streams,
	// its events and its projections; requests for any other tenant, or
	// for every tenant, are refused. Events must then implement
	// TenantEvents.
	Tenant string
	// SampleEvery is how often the lag of every projection is sampled
	// for the chart. Default 5s.
	SampleEvery time.Duration
	// HistorySize is how many samples are kept per projection. Default
	// 360 (half an hour at the default interval).
	HistorySize int
	// Registry, when set, shows events as deciders and projections read
	// them: brought to the current schema version by its upcasters, still
	// encoded, so sealed personal data stays sealed.
	Registry *command.Registry
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// Server serves the console.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	history *history
	token   [32]byte // SHA-256 of Config.Token, so comparisons take equal time whatever the lengths
}

//go:embed static
var static embed.FS

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.Events == nil {
		errs = append(errs, errors.New("console: Config.Events is required"))
	}
	if cfg.ReadModels == nil {
		errs = append(errs, errors.New("console: Config.ReadModels is required"))
	}
	if cfg.Tenant != "" {
		if err := eventstore.ValidateTenant(cfg.Tenant); err != nil {
			errs = append(errs, fmt.Errorf("console: Config.Tenant: %w", err))
		}
		if _, ok := cfg.Events.(TenantEvents); cfg.Events != nil && !ok {
			errs = append(errs, errors.New("console: Config.Tenant needs Config.Events to implement TenantEvents"))
		}
	}
	if cfg.SampleEvery < 0 || cfg.HistorySize < 0 {
		errs = append(errs, errors.New("console: SampleEvery and HistorySize must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.SampleEvery == 0 {
		cfg.SampleEvery = 5 * time.Second
	}
	if cfg.HistorySize == 0 {
		cfg.HistorySize = 360
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.ReadModels = readmodel.ReadOnly(cfg.ReadModels)
	s := &Server{cfg: cfg, log: log, mux: http.NewServeMux(), history: newHistory(cfg.HistorySize)}
	s.token = sha256.Sum256([]byte(cfg.Token))

	files, _ := fs.Sub(static, "static")
	s.mux.Handle("GET /", http.FileServerFS(files))
	s.mux.HandleFunc("GET /api/tenants", s.api(s.getTenants))
	s.mux.HandleFunc("GET /api/projections", s.api(s.getProjections))
	s.mux.HandleFunc("GET /api/projections/lag-history", s.api(s.getLagHistory))
	s.mux.HandleFunc("GET /api/log/held-back", s.api(s.getHeldBack))
	s.mux.HandleFunc("GET /api/streams", s.api(s.getStreams))
	s.mux.HandleFunc("GET /api/streams/{id}", s.api(s.getStream))
	s.mux.HandleFunc("GET /api/correlation/{id}", s.api(s.getCorrelation))
	s.mux.HandleFunc("GET /api/", s.api(func(*http.Request) (any, error) { return nil, errNotFound }))
	return s, nil
}

// Handler returns the console's HTTP handler. Only GET and HEAD are
// served; anything else is refused with 405.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // a ?token= must not leak to other sites
		h.Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "the console is read-only")
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// Serve samples projections' lag and serves the console on ln until ctx
// ends; it then shuts the HTTP server down (waiting up to five seconds for
// requests in flight) and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s.RunSampler(ctx)
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		<-sampled
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	<-served
	<-sampled
	return err
}

// RunSampler samples every projection's lag each Config.SampleEvery until
// ctx ends. Serve runs it; run it yourself when serving Handler elsewhere.
func (s *Server) RunSampler(ctx context.Context) {
	t := time.NewTicker(s.cfg.SampleEvery)
	defer t.Stop()
	for {
		if err := s.Sample(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("could not sample projections' lag", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample records one lag sample of every catalogued projection.
func (s *Server) Sample(ctx context.Context) error {
	ps, err := s.projections(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, p := range ps {
		if p.State == stateNotBuilt {
			continue
		}
		s.history.add(p.key(), sample{At: now, LagEvents: p.LagEvents, LagSeconds: p.LagSeconds})
	}
	return nil
}

var (
	errNotFound     = errors.New("not found")
	errUnauthorized = errors.New("a valid token is required")
)

// badRequest is a client error whose message is safe to show.
type badRequest string

func (e badRequest) Error() string { return string(e) }

// api wraps a JSON endpoint: it checks the token and writes the result or
// the error as JSON.
func (s *Server) api(f func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="eventfold console"`)
			writeError(w, http.StatusUnauthorized, errUnauthorized.Error())
			return
		}
		v, err := f(r)
		var bad badRequest
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, v)
		case errors.Is(err, errNotFound), errors.Is(err, eventstore.ErrStreamNotFound):
			writeError(w, http.StatusNotFound, "not found")
		case errors.As(err, &bad), errors.Is(err, eventstore.ErrInvalidInput):
			writeError(w, http.StatusBadRequest, err.Error())
		case r.Context().Err() != nil:
			// The client went away; nobody reads the answer.
		default:
			s.log.Error("console request failed", "path", r.URL.Path, "err", err)
			writeError(w, http.StatusInternalServerError, "internal error; see the server's log")
		}
	}
}

// authorized reports whether r carries the token, when one is configured.
// The query form is there for the first page load; the page then sends
// the header.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		got = r.URL.Query().Get("token")
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], s.token[:]) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	data, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// intParam reads a non-negative integer query parameter, def when absent,
// at most max.
func intParam(r *http.Request, name string, def, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest(name + " must be a non-negative integer")
	}
	return min(n, max), nil
}
