package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/migrations"
)

func (a *app) migrations(ctx context.Context, args []string) error {
	o, err := migrations.New(ctx, a.deps(), args)
	if err != nil {
		return err
	}
	return migrations.Run(ctx, o)
}
