package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/notify"
)

func (a *app) notify(ctx context.Context, args []string) error {
	o, err := notify.New(ctx, a.deps(), args)
	if err != nil {
		return err
	}
	return notify.Run(ctx, o)
}
