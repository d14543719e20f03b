package metricsource

import (
	"errors"
	"math"
	"testing"
)

func TestSlowFromBuckets(t *testing.T) {
	b := func(le string, n float64) Sample { return Sample{Metric: map[string]string{"le": le}, Value: n} }
	hist := []Sample{b("0.1", 800), b("0.25", 900), b("0.5", 950), b("+Inf", 1000)}
	for _, tc := range []struct {
		t              float64
		lo, hi         float64
		below, aboveLE float64
	}{
		{0.25, 100, 100, 0.25, 0.25}, // a bound at the threshold: exact
		{0.3, 50, 100, 0.25, 0.5},    // between bounds: bracketed
		{0.05, 200, 1000, 0, 0.1},    // below every bound
		{2, 0, 50, 0.5, math.Inf(1)}, // above every finite bound
	} {
		s, err := slowFromBuckets(hist, tc.t, "q")
		if err != nil {
			t.Fatal(err)
		}
		if s.Lo != tc.lo || s.Hi != tc.hi || s.Total != 1000 || s.Below != tc.below || s.Above != tc.aboveLE {
			t.Errorf("threshold %vs: %+v, want lo %v hi %v below %v above %v", tc.t, s, tc.lo, tc.hi, tc.below, tc.aboveLE)
		}
	}
	// increase() may make cumulative counts dip; they are kept monotone.
	s, _ := slowFromBuckets([]Sample{b("0.1", 510), b("0.2", 500), b("+Inf", 600)}, 0.2, "q")
	if s.Lo != 90 {
		t.Errorf("dipping buckets: %+v", s)
	}
	if _, err := slowFromBuckets([]Sample{b("0.1", 5)}, 0.2, "q"); !errors.Is(err, ErrNoData) {
		t.Errorf("no +Inf bucket: %v", err)
	}
	if _, err := slowFromBuckets([]Sample{{Metric: map[string]string{}, Value: 1}}, 0.2, "q"); err == nil {
		t.Error("a series without le was accepted")
	}
}
