package demo

import (
	"context"
	"fmt"
)

func (d *Demo) canary(_ context.Context) error {
	fmt.Fprintln(d.Out, "(not in this build yet)")
	return nil
}
