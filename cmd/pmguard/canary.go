package main

import (
	"context"
	"errors"
)

func (a *app) canary(_ context.Context, _ []string) error {
	return errors.New("not available in this build")
}
