package health_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// BenchmarkRun checks n healthy loopback endpoints (paths of one server) in
// one Run, as pmguard health would; see scripts/bench/health for the
// whole-process figures.
func BenchmarkRun(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok"}`)
	}))
	b.Cleanup(srv.Close)
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var list []string
			for i := 0; i < n; i++ {
				list = append(list, fmt.Sprintf("%s/svc/%d/health", srv.URL, i))
			}
			env := map[string]string{"PMGUARD_HEALTH_ENDPOINTS": strings.Join(list, "\n"), "PMGUARD_HEALTH_RETRIES": "0"}
			o, err := health.New(context.Background(), verbtest.Deps(env, nil, nil), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := health.Run(context.Background(), o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
