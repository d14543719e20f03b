package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/health"
)

func (a *app) health(ctx context.Context, args []string) error {
	o, err := health.New(ctx, a.deps(), args)
	if err != nil {
		return err
	}
	return health.Run(ctx, o)
}
