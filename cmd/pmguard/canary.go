package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/canary"
)

func (a *app) canary(ctx context.Context, args []string) error {
	o, err := canary.New(ctx, a.deps(), args)
	if err != nil {
		return err
	}
	return canary.Run(ctx, o)
}
