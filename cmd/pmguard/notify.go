package main

import (
	"context"
	"errors"
)

func (a *app) notify(_ context.Context, _ []string) error {
	return errors.New("not available in this build")
}
