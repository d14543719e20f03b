package exitcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestOf(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, Pass},
		{Failf("2 of 3 endpoints failed"), Fail},
		{fmt.Errorf("canary: %w", Failf("error rate")), Fail},
		{Invalidf("--interval: bad"), BadInput},
		{fmt.Errorf("load: %w", Invalid(errors.New("x"))), BadInput},
		{errors.New("connection refused"), CouldNotRun},
	}
	for _, c := range cases {
		if got := Of(c.err); got != c.want {
			t.Errorf("Of(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if Invalid(nil) != nil {
		t.Error("Invalid(nil) must be nil")
	}
}
