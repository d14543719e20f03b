package demo

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// service is the sample application the demo deploys: its /health answers 503
// while it warms up, then 200, as a freshly deployed service would.
type service struct {
	URL     string
	srv     *http.Server
	readyAt atomic.Int64 // unix nanos
}

func startService(warmUp time.Duration) (*service, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &service{URL: "http://" + ln.Addr().String()}
	s.readyAt.Store(time.Now().Add(warmUp).UnixNano())
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if time.Now().UnixNano() < s.readyAt.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"starting"}`))
			return
		}
		w.Write([]byte(`{"status":"ok","version":"1.4.2"}`))
	})
	mux.HandleFunc("/db/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok","checks":{"db":{"status":"up","latency_ms":3}}}`))
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // Serve returns when closed
	return s, nil
}

func (s *service) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.srv.Shutdown(ctx) //nolint:errcheck // best effort at the end of the demo
}
