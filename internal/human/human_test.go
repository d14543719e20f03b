package human

import (
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0%", 1: "100%", 0.5: "50%", 0.125: "12.5%", 0.1234: "12.3%", 0.02: "2%",
		0.0199: "1.99%", 0.02134: "2.13%", 0.0045: "0.45%", 0.00123: "0.12%",
		0.000123: "0.0123%", -0.05: "-5%",
	} {
		if got := Percent(f); got != want {
			t.Errorf("Percent(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestMillis(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0 ms", 1234.4: "1234 ms", 100: "100 ms", 45.67: "45.7 ms", 45: "45 ms",
		4.567: "4.57 ms", 0.5: "0.5 ms",
	} {
		if got := Millis(v); got != want {
			t.Errorf("Millis(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0 s",
		40 * time.Second:                      "40 s",
		59*time.Second + 600*time.Millisecond: "1 min",
		18 * time.Minute:                      "18 min",
		18*time.Minute + 20*time.Second:       "18 min 20 s",
		-5 * time.Minute:                      "5 min",
		time.Hour:                             "1 h",
		time.Hour + 5*time.Minute + 20*time.Second: "1 h 5 min",
		47*time.Hour + 59*time.Minute:              "47 h 59 min",
		52 * time.Hour:                             "2 d 4 h",
		72 * time.Hour:                             "3 d",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 steps", 1: "1 step", 2: "2 steps", 11: "11 steps"} {
		if got := Count(n, "step"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"short", 10, "short"}, {"exactly10!", 10, "exactly10!"}, {"eleven char", 10, "eleven ch…"}, {"ééééé", 4, "ééé…"}} {
		if got := Clip(c.in, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
