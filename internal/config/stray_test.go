package config

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

type strictSettings struct {
	Shared
	Endpoints Lines    `env:"ENDPOINTS, required" flag:"endpoint" usage:"endpoints"`
	Timeout   Duration `env:"TIMEOUT, default=5s" flag:"timeout" usage:"per request"`
	Host      BaseURL  `env:"PMGUARD_CIRCLECI_HOST, default=https://circleci.com" flag:"circleci-host" usage:"host"`
}

// A missing required setting names the env var set in its stead; other
// strays with the verb's prefix are warnings, shared and other verbs'
// variables are none.
func TestStrayEnvVars(t *testing.T) {
	env := MapEnv(map[string]string{
		"PMGUARD_HEALTH_ENDPIONTS": "https://a.example/h",
		"PMGUARD_HEALTH_TIMOUT":    "3s",
		"PMGUARD_HEALTH_ZZZ":       "1",
		"PMGUARD_HEALTH_EMPTY":     "",          // empty means the default: changes nothing
		"PMGUARD_EVENTS_FILE":      "",          // shared
		"PMGUARD_CIRCLECI_HOST":    "https://c", // shared, PMGUARD_ spelled in the tag
		"PMGUARD_CANARY_URL":       "https://c", // another verb's
		"PMGUARD_JOB_STATUS":       "fail",      // the orb's
	})
	var s strictSettings
	set, _, err := Load(context.Background(), "health", nil, env, &s, &bytes.Buffer{})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Env != "PMGUARD_HEALTH_ENDPOINTS" {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"--endpoint", "a value is required", "accepted:",
		"PMGUARD_HEALTH_ENDPIONTS is set but is not a setting; did you mean PMGUARD_HEALTH_ENDPOINTS?"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	var w bytes.Buffer
	set.Warn(&w)
	lines := strings.Split(strings.TrimSpace(w.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "PMGUARD_HEALTH_TIMOUT is set but is not a setting of pmguard health") ||
		!strings.Contains(lines[0], "did you mean PMGUARD_HEALTH_TIMEOUT?") ||
		!strings.Contains(lines[1], "PMGUARD_HEALTH_ZZZ") || strings.Contains(lines[1], "did you mean") {
		t.Errorf("warnings (the near miss already named in the error is not repeated):\n%s", w.String())
	}

	// Given properly, the near miss is a warning, not an error.
	env = MapEnv(map[string]string{"PMGUARD_HEALTH_ENDPOINTS": "https://a.example/h", "PMGUARD_HEALTH_ENDPIONTS": "x"})
	set, _, err = Load(context.Background(), "health", nil, env, &s, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	w.Reset()
	set.Warn(&w)
	if !strings.Contains(w.String(), "PMGUARD_HEALTH_ENDPIONTS is set but is not a setting of pmguard health, so it is ignored; did you mean PMGUARD_HEALTH_ENDPOINTS?") {
		t.Errorf("warning: %q", w.String())
	}
}

// Required is the verb's own "needs" rule, named like a decoding error and
// with the near miss.
func TestRequired(t *testing.T) {
	env := MapEnv(map[string]string{"PMGUARD_HEALTH_ENDPOINTS": "https://a.example/h", "PMGUARD_HEALTH_TIMEOTU": "1s"})
	var s strictSettings
	set, _, err := Load(context.Background(), "health", nil, env, &s, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	err = set.Required(&s.Timeout, "the probe needs a timeout", "a Go duration")
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("%T %v", err, err)
	}
	want := "pmguard health: invalid timeout (flag --timeout, env PMGUARD_HEALTH_TIMEOUT): the probe needs a timeout; accepted: a Go duration; PMGUARD_HEALTH_TIMEOTU is set but is not a setting; did you mean PMGUARD_HEALTH_TIMEOUT?"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	var w bytes.Buffer
	set.Warn(&w)
	if w.Len() != 0 {
		t.Errorf("named in the error, warned again: %s", w.String())
	}
}
