package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/verdict"
)

// health deploys the sample service (it warms up for a second and a half)
// and runs the check a pmguard/health_check step would.
func (d *Demo) health(ctx context.Context) error {
	svc, err := startService(1500 * time.Millisecond)
	if err != nil {
		return err
	}
	defer svc.Close()
	fmt.Fprintf(d.Out, "A sample service was just deployed at %s; it answers 503 while it warms up.\n", svc.URL)
	fmt.Fprintf(d.Out, "The job's step:  pmguard/health_check: {endpoints: %s/health 200, %s/db/health, json_path: status=ok ...}\n\n", svc.URL, svc.URL)

	settings := map[string]string{
		"PMGUARD_HEALTH_ENDPOINTS": svc.URL + "/health 200\n" + svc.URL + "/db/health",
		"PMGUARD_HEALTH_INTERVAL":  "500ms",
		"PMGUARD_HEALTH_RETRIES":   "6",
		"PMGUARD_HEALTH_TIMEOUT":   "2s",
		"PMGUARD_HEALTH_DEADLINE":  "10s",
		"PMGUARD_HEALTH_JSON_PATH": "status=ok",
		"PMGUARD_HEALTH_JUNIT":     d.Dir + "/health-junit.xml",
		"PMGUARD_HEALTH_JSON":      d.Dir + "/health.json",
		"PMGUARD_EVENTS_FILE":      d.EventsFile,
	}
	o, err := health.New(ctx, d.deps(settings, io.Discard), nil)
	if err != nil {
		return err
	}
	err = health.Run(ctx, o)
	var fail *verdict.Fail
	if errors.As(err, &fail) {
		return fmt.Errorf("the sample service should have turned healthy: %w", err)
	}
	return err
}
