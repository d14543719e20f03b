package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/postmortem"
)

func (a *app) postmortem(ctx context.Context, args []string) error {
	o, err := postmortem.New(ctx, a.deps(), args)
	if err != nil {
		return err
	}
	return postmortem.Run(ctx, o)
}
