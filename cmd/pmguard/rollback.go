package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/rollback"
)

func (a *app) rollback(ctx context.Context, args []string) error {
	o, err := rollback.New(ctx, a.deps(), args)
	if err != nil {
		return err
	}
	return rollback.Run(ctx, o)
}
