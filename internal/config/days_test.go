package config

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestDays(t *testing.T) {
	const day = 24 * time.Hour
	cases := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30d", 30 * day, ""},
		{"4w", 28 * day, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"5d", 5 * day, ""},
		{" 5d\n", 5 * day, ""},
		{"1w2d", 9 * day, ""},
		{"1.5d", 36 * time.Hour, ""},
		{"72h", 72 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"", 0, ""},
		{"0d", 0, ""},
		{"a month", 0, "not a number of days"},
		{"30", 0, "not a number of days"},
		{"d", 0, "not a number of days"},
		{"3x", 0, "not a number of days"},
		{"-2d", 0, "must not be negative"},
		{"-5h", 0, "must not be negative"},
	}
	for _, c := range cases {
		var d Days
		err := d.EnvDecode(context.Background(), c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want %q", c.in, err, c.err)
		case c.err == "" && d.Duration != c.want:
			t.Errorf("%q = %v, want %v", c.in, d.Duration, c.want)
		}
	}
}

func TestDaysString(t *testing.T) {
	for in, want := range map[string]string{"4w": "28d", "1d12h": "36h0m0s", "30d": "30d"} {
		var d Days
		if err := d.EnvDecode(context.Background(), in); err != nil || d.String() != want {
			t.Errorf("%q: %v %q, want %q", in, err, d.String(), want)
		}
	}
	if !strings.Contains(Days{}.Form(), "30d") {
		t.Errorf("form %q does not show the d unit", Days{}.Form())
	}
}

// A Days setting rejected by Load names its flag, env var and form.
func TestDaysSettingRejected(t *testing.T) {
	var s struct {
		Window Days `env:"WINDOW, default=30d" flag:"window" usage:"how far back"`
	}
	_, _, err := Load(context.Background(), "dora", nil, MapEnv(map[string]string{"PMGUARD_DORA_WINDOW": "a month"}), &s, nil)
	for _, want := range []string{"PMGUARD_DORA_WINDOW", "--window", "30d"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	_, _, err = Load(context.Background(), "dora", nil, MapEnv(nil), &s, nil)
	if err != nil || s.Window.Duration != 30*24*time.Hour {
		t.Errorf("default: %v %v", s.Window, err)
	}
}
