package exitcode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/verdict"
)

func TestOf(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, Pass},
		{verdict.Failf("2 of 3 endpoints failed"), Fail},
		{fmt.Errorf("canary: %w", verdict.Failf("error rate")), Fail},
		{config.Invalidf("--interval: bad"), BadInput},
		{fmt.Errorf("load: %w", config.Invalid(errors.New("x"))), BadInput},
		{&config.InputError{Verb: "health", Param: "interval"}, BadInput},
		{errors.New("connection refused"), CouldNotRun},
	}
	for _, c := range cases {
		if got := Of(c.err); got != c.want {
			t.Errorf("Of(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if config.Invalid(nil) != nil {
		t.Error("Invalid(nil) must be nil")
	}
}
