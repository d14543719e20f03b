package canary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/deploymarker"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/human"
	"github.com/pmguard/pmguard/internal/report"
)

// Steps are the traffic weights of a progressive rollout, in percent:
// "10,50,100" (a % sign is allowed). Each is above the one before, from 1
// to 100.
type Steps []int

func (s *Steps) EnvDecode(_ context.Context, v string) error {
	*s = nil
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var fields []string
	for _, part := range strings.Split(v, ",") {
		// Weights may also be separated by spaces or newlines; an empty
		// item between commas ("10,,50") is a typo, not nothing.
		fs := strings.Fields(part)
		if len(fs) == 0 {
			return &config.ValueError{Msg: "an empty weight between commas"}
		}
		fields = append(fields, fs...)
	}
	prev := 0
	for _, f := range fields {
		n, err := strconv.Atoi(strings.TrimSuffix(f, "%"))
		switch {
		case err != nil:
			return &config.ValueError{Msg: fmt.Sprintf("%q is not a whole percentage", f)}
		case n < 1 || n > 100:
			return &config.ValueError{Msg: fmt.Sprintf("weight %d is not from 1 to 100", n)}
		case n <= prev:
			return &config.ValueError{Msg: fmt.Sprintf("weight %d does not rise above %d", n, prev)}
		}
		prev = n
		*s = append(*s, n)
	}
	return nil
}

func (Steps) Form() string {
	return "rising weights in percent, comma-separated, from 1 to 100, such as 10,50,100"
}

func (s Steps) String() string {
	parts := make([]string, len(s))
	for i, w := range s {
		parts[i] = strconv.Itoa(w) + "%"
	}
	return strings.Join(parts, " → ")
}

func (o *Options) validateSteps(set *config.Set) error {
	s := &o.Settings
	s.Mode = strings.ToLower(strings.TrimSpace(s.Mode))
	s.SetWeight = strings.TrimSpace(s.SetWeight)
	switch {
	case s.Mode != "enforce" && s.Mode != "shadow":
		return set.Invalid(&s.Mode, s.Mode, "unknown choice", "")
	case len(s.Steps) > 0 && s.SetWeight == "":
		return set.Invalid(&s.SetWeight, "", "steps need the command that sets the canary's weight, e.g. ./shift.sh $PMGUARD_WEIGHT", "")
	case len(s.Steps) == 0 && s.SetWeight != "":
		return set.Invalid(&s.Steps, "", "set_weight is run before each step: give the weights, e.g. 10,50,100", "")
	case len(s.Steps) == 0 && s.Pause.Duration > 0:
		return set.Invalid(&s.Pause, s.Pause.String(), "pause is the wait between steps: give the weights, e.g. 10,50,100", "")
	case len(s.Steps) > 0 && s.Percentage > 0:
		return set.Invalid(&s.Percentage, fmt.Sprint(s.Percentage), "with steps each step's weight is its share; leave percentage at 0", "")
	case len(s.Steps) > 0 && s.SetWeightTimeout.Duration <= 0:
		return set.Invalid(&s.SetWeightTimeout, s.SetWeightTimeout.String(), "must be more than 0", "")
	}
	if s.Mode == "shadow" && set.Given(&s.OnInconclusive) {
		set.Ignored(o.d.Stderr, &s.OnInconclusive, "mode is shadow, which never fails the job, holds or stops the rollout: an undecided analysis is reported like any verdict")
	}
	if s.SetWeight != "" {
		// A quote left open is found now, not after the canary is deployed.
		if out, err := exec.Command("sh", "-n", "-c", s.SetWeight).CombinedOutput(); err != nil {
			return set.Invalid(&s.SetWeight, s.SetWeight, "sh cannot parse it: "+httpx.RedactText(strings.TrimSpace(string(out))), "")
		}
	}
	return s.Settings.Validate(set)
}

// PerStep returns the criteria of one step of a rollout of n steps: the
// false-rollback rate alpha is split evenly among them (Bonferroni), so the
// chance that a healthy canary is rolled back at any step stays at most
// alpha, whatever the dependence between steps.
func (c Criteria) PerStep(n int) Criteria {
	if n > 1 {
		c.Alpha /= float64(n)
	}
	return c
}

// StepResult is one step's verdict, as written to --json.
type StepResult struct {
	Step     int       `json:"step"`
	Weight   int       `json:"weight"`
	Started  time.Time `json:"started"`
	ElapsedS float64   `json:"elapsed_s"` // the step's analysis
	// SetWeightS is how long set_weight took before the analysis.
	SetWeightS float64 `json:"set_weight_s"`
	Alpha      float64 `json:"alpha"`
	Evidence
}

func (s *StepResult) name() string { return fmt.Sprintf("step %d (%d%%)", s.Step, s.Weight) }

// summary is the step's figures, or what stopped it before it was judged.
func (s *StepResult) summary() string {
	if s.Check == checkSetWeight {
		return s.Reason
	}
	return s.Summary()
}

// runSteps sets each weight and judges it with fresh evidence. The
// false-rollback rate alpha is split evenly among the steps, so a healthy
// canary is rolled back anywhere in the rollout with probability at most
// alpha (the pass boundary hardly moves: it depends on beta).
func (o *Options) runSteps(ctx context.Context, clk Clock, res *Result, out io.Writer, m *deploymarker.Writer) error {
	c := o.Criteria.PerStep(len(o.Steps))
	fmt.Fprintf(out, "canary: %s, %s; alpha %s per step (%s over the rollout)\n", human.Count(len(o.Steps), "step"), o.Steps, human.Percent(c.Alpha), human.Percent(o.Criteria.Alpha))
	for i, w := range o.Steps {
		if i > 0 && o.Pause.Duration > 0 {
			fmt.Fprintf(out, "canary: pausing %s before the next step\n", o.Pause)
			pause := o.aliveClock(clk, out, fmt.Sprintf("pausing before step %d", i+1))
			if err := pause.Sleep(ctx, o.Pause.Duration); err != nil {
				o.rollback(ctx, res, out)
				return fmt.Errorf("interrupted during the pause after step %d: %w", i, err)
			}
		}
		sr := StepResult{Step: i + 1, Weight: w, Started: clk.Now().UTC(), Alpha: c.Alpha}
		t0 := clk.Now()
		if err := o.setWeight(ctx, out, i+1, w); err != nil {
			// The step failed before it could be judged: it is reported as
			// a step that failed, decided by set_weight, with what it said.
			sr.SetWeightS = round3(clk.Now().Sub(t0).Seconds())
			sr.Evidence = Evidence{State: Failed, Check: checkSetWeight, Reason: o.d.Redactor.Redact(err.Error()),
				Threshold: o.Criteria.ErrorThreshold, Healthy: o.Criteria.healthy()}
			res.Steps = append(res.Steps, sr)
			o.stepEvent(&sr)
			res.Evidence = sr.Evidence
			res.Step, res.Weight = sr.Step, sr.Weight
			res.Reason = sr.name() + ": " + sr.Reason
			fmt.Fprintf(out, "canary: %s: %s\n", sr.name(), sr.Reason)
			o.rollback(ctx, res, out)
			return fmt.Errorf("%s: %w", sr.name(), err)
		}
		t1 := clk.Now()
		sr.SetWeightS = round3(t1.Sub(t0).Seconds())
		if i == 0 {
			m.Running(ctx)
		}
		fmt.Fprintf(out, "\ncanary: step %d of %d: %d%% of traffic\n", i+1, len(o.Steps), w)
		ev, err := o.analyse(ctx, clk, c, out)
		sr.Evidence = ev
		sr.ElapsedS = round3(clk.Now().Sub(t1).Seconds()) // the analysis; set_weight_s before it
		res.Steps = append(res.Steps, sr)
		o.stepEvent(&sr)
		if err != nil && o.Mode == "shadow" {
			// Shadow mode stays out of the rollout's way: a step that could
			// not be judged is recorded as such, and the rollout goes on.
			fmt.Fprintf(out, "canary: %s could not be judged: %s\n", sr.name(), ev.Reason)
			continue
		}
		if err != nil {
			res.Evidence = ev
			res.Step, res.Weight = sr.Step, sr.Weight
			res.Reason = fmt.Sprintf("%s: could not run: %s", sr.name(), ev.Reason)
			o.rollback(ctx, res, out)
			return err
		}
		fmt.Fprintf(out, "canary: %s %s: %s\n", sr.name(), strings.ToUpper(string(ev.State)), ev.Reason)
		if o.stops(ev.State) {
			if o.rollsBack(ev.State) {
				o.rollback(ctx, res, out)
			}
			break
		}
	}
	o.summariseSteps(res)
	return nil
}

// checkSetWeight is what decided a step whose set_weight failed
// (decided_by): the step was never judged.
const checkSetWeight = "set_weight"

// stops says whether the rollout ends at a step with this verdict.
func (o *Options) stops(s State) bool {
	if o.Mode == "shadow" {
		return false // the rollout goes on whatever the analysis says
	}
	return s == Failed || s == Inconclusive && o.OnInconclusive != "pass"
}

func (o *Options) rollsBack(s State) bool {
	return o.Mode != "shadow" && (s == Failed || s == Inconclusive && o.OnInconclusive == "fail")
}

// summariseSteps gives the run the verdict of its worst step, and that
// step's evidence.
func (o *Options) summariseSteps(res *Result) {
	rank := map[State]int{Passed: 0, Inconclusive: 1, Failed: 2}
	worst := 0
	for i, s := range res.Steps {
		if rank[s.State] > rank[res.Steps[worst].State] {
			worst = i
		}
	}
	if len(res.Steps) == 0 {
		return
	}
	w := res.Steps[worst]
	if w.State == Passed {
		w = res.Steps[len(res.Steps)-1]
	}
	res.Evidence = w.Evidence
	res.Step, res.Weight = w.Step, w.Weight
	if w.State == Passed {
		res.Reason = fmt.Sprintf("%s passed (%s); the last: %s", allSteps(len(res.Steps)), o.Steps, w.Reason)
	} else {
		res.Reason = w.name() + ": " + w.Reason
	}
}

// allSteps names every step of a rollout: "the only step" of one.
func allSteps(n int) string {
	if n == 1 {
		return "the only step"
	}
	return fmt.Sprintf("all %d steps", n)
}

// rollback sets the weight back to 0 through set_weight. A failure here is
// reported, and the job fails anyway, so the orb's rollback steps run.
func (o *Options) rollback(ctx context.Context, res *Result, out io.Writer) {
	if len(o.Steps) == 0 || o.Mode == "shadow" {
		return
	}
	// The analysis may have used up the context; rolling back must not
	// depend on it.
	ctx = context.WithoutCancel(ctx)
	fmt.Fprintf(out, "canary: rolling back: setting the weight to 0\n")
	if err := o.setWeight(ctx, out, 0, 0); err != nil {
		res.RollbackError = o.d.Redactor.Redact(err.Error())
		fmt.Fprintf(out, "canary: rollback through set_weight failed: %s\n", res.RollbackError)
		return
	}
	res.RolledBack = true
}

// setWeight runs set_weight with PMGUARD_WEIGHT (and PMGUARD_STEP: 0 for the
// rollback) in the run's environment (verb.Deps.Env), its output on ours.
func (o *Options) setWeight(ctx context.Context, out io.Writer, step, weight int) error {
	if o.SetWeightFunc != nil {
		if err := o.SetWeightFunc(ctx, step, weight); err != nil {
			return fmt.Errorf("set_weight %d%% failed: %w", weight, err)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.SetWeightTimeout.Duration)
	defer cancel()
	// The command and its output are text pmguard did not write: besides
	// the run's secrets, whatever has a credential's shape is removed.
	fmt.Fprintf(out, "canary: set_weight %d%%: %s\n", weight, o.d.Redactor.Text(o.SetWeight))
	env := append(config.Environ(o.d.Env), fmt.Sprintf("PMGUARD_WEIGHT=%d", weight), fmt.Sprintf("PMGUARD_STEP=%d", step))
	// set_weight runs in a process group of its own, killed whole on a
	// timeout or an interruption, and nothing of it is left when runShell
	// returns: a child still at work could otherwise apply its weight after
	// the rollback set 0.
	tw := o.d.Redactor.TextWriter(out)
	// The keep-alive lines go through tw too: it serialises them with the
	// command's output, which os/exec copies from another goroutine.
	stop := o.stillRunning(tw, fmt.Sprintf("set_weight %d%%", weight))
	err := runShell(ctx, o.SetWeight, env, tw)
	stop()
	tw.Flush()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("set_weight did not finish within set_weight_timeout %s", o.SetWeightTimeout)
	case ctx.Err() != nil:
		return fmt.Errorf("set_weight %d%% was interrupted: %w", weight, ctx.Err())
	case err != nil:
		return fmt.Errorf("set_weight %d%% failed: %v", weight, err)
	}
	o.appendEvent(events.CanaryWeightSet, events.CanaryWeight{Step: step, Weight: float64(weight)}, nil, fmt.Sprintf("canary weight set to %d%%", weight))
	return nil
}

// stepEvent records one step's verdict (canary_step).
func (o *Options) stepEvent(s *StepResult) {
	f, extra := o.figures(&s.Evidence)
	f.Verdict, f.Step, f.Weight, f.ElapsedS, f.Alpha = string(s.State), s.Step, float64(s.Weight), s.ElapsedS, s.Alpha
	f.Mode = o.Mode
	o.event(events.CanaryStep, f, extra, fmt.Sprintf("canary %s %s: %s", s.name(), strings.ToUpper(string(s.State)), s.Reason))
}

// stepSuite is the JUnit report of a rollout: one case per step, judged or
// not reached.
func stepSuite(res *Result) report.Suite {
	suite := report.Suite{Name: "pmguard canary " + res.Target, Duration: time.Duration(res.ElapsedS * float64(time.Second))}
	judged := map[int]bool{}
	for _, s := range res.Steps {
		judged[s.Step] = true
		c := report.Case{Name: s.name(), ClassName: "canary." + res.Source, Duration: time.Duration(s.ElapsedS * float64(time.Second)), Output: s.summary()}
		word := strings.ToUpper(string(s.State))
		msg := fmt.Sprintf("%s %s: %s", s.name(), word, s.Reason)
		switch {
		case s.State == Passed:
		case s.Check == checkSetWeight:
			// Not a verdict: the rollout could not go on, in any mode.
			c.Failure = msg
		case res.Mode == "shadow":
			c.Skipped = msg + " [shadow mode: not enforced]"
		case s.State == Inconclusive && res.OnInconcl != "fail":
			c.Skipped = msg + " (on_inconclusive: " + res.OnInconcl + ")"
		default:
			c.Failure = msg
		}
		suite.Cases = append(suite.Cases, c)
	}
	for i, w := range res.StepsPlanned {
		if !judged[i+1] {
			s := StepResult{Step: i + 1, Weight: w}
			suite.Cases = append(suite.Cases, report.Case{Name: s.name(), ClassName: "canary." + res.Source,
				Skipped: fmt.Sprintf("not reached: the rollout stopped at step %d", len(res.Steps))})
		}
	}
	return suite
}
