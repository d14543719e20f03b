package promtest

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Track is how one track of the service behaves. Errors and slow requests
// are spread evenly and deterministically: after n requests exactly
// floor(n*ErrorRate) have failed, so counts are known in advance.
type Track struct {
	ErrorRate   float64       // fraction answered 500
	Latency     time.Duration // recorded duration of an ordinary request
	SlowRate    float64       // fraction recorded with SlowLatency instead
	SlowLatency time.Duration
	// Sleep makes requests that arrive over the network really wait their
	// latency, for probes that time the service. Drive never sleeps.
	Sleep bool
}

// ServiceOptions configures a Service.
type ServiceOptions struct {
	App    string           // the app label on every metric; default "api"
	Tracks map[string]Track // by track label, e.g. "stable" and "canary"
}

// Service is an HTTP service instrumented with client_golang the
// conventional way: http_requests_total{app,track,method,code} and the
// http_request_duration_seconds{app,track} histogram (default buckets).
// Requests to /<track>/... are served by that track; /metrics is scraped.
type Service struct {
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port, a scrape target
	App  string

	mu       sync.Mutex
	tracks   map[string]*trackState
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	metrics  http.Handler
}

type trackState struct {
	Track
	n            int // requests since the track was last Set
	served, errs int // all time
}

// NewService starts the service on loopback and closes it in t.Cleanup.
func NewService(t testing.TB, o ServiceOptions) *Service {
	t.Helper()
	if o.App == "" {
		o.App = "api"
	}
	reg := prometheus.NewRegistry()
	s := &Service{
		App:    o.App,
		tracks: map[string]*trackState{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests by track, method and status code.",
			ConstLabels: prometheus.Labels{"app": o.App},
		}, []string{"track", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency.",
			ConstLabels: prometheus.Labels{"app": o.App}, Buckets: prometheus.DefBuckets,
		}, []string{"track"}),
	}
	reg.MustRegister(s.requests, s.duration)
	s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	for name, tr := range o.Tracks {
		s.Set(name, tr)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	s.Addr = strings.TrimPrefix(srv.URL, "http://")
	return s
}

// Set adds or changes a track; its even spreading restarts, so the next n
// requests have exactly floor(n*ErrorRate) errors. Its series are created at
// zero, as a real service does at start, so increase() sees the first
// requests.
func (s *Service) Set(name string, tr Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.tracks[name]
	if !ok {
		st = &trackState{}
		s.tracks[name] = st
		s.requests.WithLabelValues(name, "GET", "200")
		s.requests.WithLabelValues(name, "GET", "500")
		s.duration.WithLabelValues(name)
	}
	st.Track, st.n = tr, 0
}

// ServeHTTP serves /metrics and /<track>/...
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" {
		s.metrics.ServeHTTP(w, r)
		return
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	code, latency, ok := s.next(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	sleep := s.tracks[name].Sleep
	s.mu.Unlock()
	if sleep && latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
		}
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "%s %d\n", name, code)
}

// next decides the outcome of the track's next request and records it.
func (s *Service) next(name string) (int, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.tracks[name]
	if !ok {
		return 0, 0, false
	}
	i := st.n
	st.n++
	code, latency := 200, st.Latency
	if step(i, st.ErrorRate) {
		code = 500
		st.errs++
	}
	if step(i, st.SlowRate) {
		latency = st.SlowLatency
	}
	st.served++
	s.requests.WithLabelValues(name, "GET", strconv.Itoa(code)).Inc()
	s.duration.WithLabelValues(name).Observe(latency.Seconds())
	return code, latency, true
}

// step reports whether request i is one of the evenly spread rate fraction.
func step(i int, rate float64) bool {
	at := func(n int) int { return int(math.Floor(float64(n)*rate + 1e-9)) }
	return at(i+1) > at(i)
}

// Drive sends n requests to the track in-process, synchronously, so the
// counters have moved when it returns.
func (s *Service) Drive(track string, n int) {
	for range n {
		if _, _, ok := s.next(track); !ok {
			panic("promtest: no track " + track)
		}
	}
}

// Served returns the track's requests and errors so far.
func (s *Service) Served(track string) (total, errors int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.tracks[track]; ok {
		return st.served, st.errs
	}
	return 0, 0
}

// Tracks lists the track names, sorted.
func (s *Service) Tracks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.tracks {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Stack is a Service scraped by a Prometheus server.
type Stack struct {
	Prometheus *Server
	Service    *Service
}

// StartStack starts the service and Prometheus and waits until Prometheus
// holds the zero samples of every track's series, so that increase() and
// rate() count every later request.
func StartStack(t testing.TB, so ServiceOptions, po Options) *Stack {
	t.Helper()
	Binary(t)
	svc := NewService(t, so)
	po.Targets = append(po.Targets, svc.Addr)
	prom := Start(t, po)
	want := 2 * len(svc.Tracks())
	prom.Await(t, "the first scrape", fmt.Sprintf(`count(http_requests_total{app=%q})`, svc.App), func(r []Sample) bool {
		return len(r) == 1 && int(r[0].Value) >= want
	})
	return &Stack{Prometheus: prom, Service: svc}
}

// Drive sends n requests per track in-process, waits until Prometheus has
// scraped every track's final totals, and returns that scrape's time: an
// instant query evaluated then sees exactly the driven requests.
func (st *Stack) Drive(t testing.TB, requests map[string]int) time.Time {
	t.Helper()
	for track, n := range requests {
		st.Service.Drive(track, n)
	}
	return st.Sync(t)
}

// Sync waits until Prometheus has scraped the service's current totals for
// every track and returns the time of the newest scrape.
func (st *Stack) Sync(t testing.TB) time.Time {
	t.Helper()
	want := map[string]float64{}
	for _, tr := range st.Service.Tracks() {
		n, _ := st.Service.Served(tr)
		want[tr] = float64(n)
	}
	sel := fmt.Sprintf(`http_requests_total{app=%q}`, st.Service.App)
	st.Prometheus.Await(t, "the driven requests", "sum by (track) ("+sel+")", func(r []Sample) bool {
		if len(r) != len(want) {
			return false
		}
		for _, s := range r {
			if w, ok := want[s.Labels["track"]]; !ok || s.Value != w {
				return false
			}
		}
		return true
	})
	return st.Prometheus.LastScrape(t, sel)
}
