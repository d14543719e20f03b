package demo

import (
	"context"
	"net"
	"net/http"
	"time"
)

// loopback is one of the demo's sample services, serving on 127.0.0.1.
type loopback struct {
	URL string
	srv *http.Server
}

func serve(h http.Handler) (*loopback, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // Serve returns when closed
	return &loopback{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

func (l *loopback) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.srv.Shutdown(ctx) //nolint:errcheck // best effort at the end of the demo
}

// startService serves the sample application the demo deploys: its /health
// answers 503 while it warms up, then 200, as a freshly deployed service
// would.
func startService(warmUp time.Duration) (*loopback, error) {
	readyAt := time.Now().Add(warmUp)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if time.Now().Before(readyAt) {
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
	return serve(mux)
}
