package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/demo"
)

type demoSettings struct {
	Dir string `env:"DIR" flag:"dir" usage:"keep the event log and reports in this directory (default: a new temp dir)"`
}

func (a *app) demo(ctx context.Context, args []string) error {
	var s demoSettings
	if _, err := a.deps().Load(ctx, "demo", args, &s); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{Out: a.stdout, Env: a.env, Version: a.version, Dir: s.Dir})
}
