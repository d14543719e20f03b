package canary

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// CircleCI ends a step that prints nothing for its no_output_timeout (10
// minutes by default). A wait of pmguard's longer than keepAliveEvery — a
// pause between steps, a metric interval, a set_weight that takes its time
// — prints a line every keepAliveEvery saying what it waits for.
const keepAliveEvery = time.Minute

func (o *Options) keepAlive() time.Duration {
	if o.KeepAliveEvery <= 0 {
		return keepAliveEvery
	}
	return o.KeepAliveEvery
}

// keepAliveClock is a Clock whose long sleeps are cut into pieces of at
// most every, with say(time left) called between them.
type keepAliveClock struct {
	Clock
	every time.Duration
	say   func(left time.Duration)
}

func (c keepAliveClock) Sleep(ctx context.Context, d time.Duration) error {
	for d > c.every {
		if err := c.Clock.Sleep(ctx, c.every); err != nil {
			return err
		}
		d -= c.every
		c.say(d)
	}
	return c.Clock.Sleep(ctx, d)
}

// aliveClock is clk with the keep-alive lines "canary: <what>: 4m0s left".
func (o *Options) aliveClock(clk Clock, out io.Writer, what string) Clock {
	return keepAliveClock{Clock: clk, every: o.keepAlive(), say: func(left time.Duration) {
		fmt.Fprintf(out, "canary: %s: %s left\n", what, left.Round(time.Second))
	}}
}

// stillRunning prints "canary: <what> still running after 2m0s" every
// keepAlive on the wall clock until the returned stop is called; stop
// returns once nothing more will be printed.
func (o *Options) stillRunning(out io.Writer, what string) (stop func()) {
	every := o.keepAlive()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(out, "canary: %s still running after %s\n", what, time.Since(start).Round(every))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
