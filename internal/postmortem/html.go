package postmortem

import (
	_ "embed"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/htmlpage"
	"github.com/pmguard/pmguard/internal/human"
)

//go:embed postmortem.html.tmpl
var htmlTemplate string

// HTML renders the draft as one self-contained page (htmlpage's layout):
// inline CSS, an inline SVG timeline (no script, no network), and the
// Mermaid source for pasting into GitHub.
func (d *Document) HTML() ([]byte, error) {
	p, err := htmlpage.Parse("postmortem", htmlTemplate, template.FuncMap{
		"clock":    d.clock,
		"optClock": d.optClock,
		"dur":      human.Duration,
		"measure":  measureLine,
		"upper":    upperFirst,
		"phaseAt":  d.phaseTime,
		"meeting":  d.meetingText,
		"complete": d.completionText,
		"ticket":   ticketLabel,
		"pct":      human.Percent,
		"span":     span,
		"status":   statusOr,
		"dash":     orDash,
		"f0":       func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) },
		"f1":       func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"stamp": func(i int) string {
			var prev time.Time
			if i > 0 {
				prev = d.Timeline[i-1].Time
			}
			return d.stamp(d.Timeline[i].Time, prev)
		},
		"markLabel": func(m Mark) string { return strings.TrimSpace(strings.Trim(markNote(m), " *()")) },
		"safeURL": func(u string) template.URL {
			if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
				return template.URL(u)
			}
			return "#"
		},
	})
	if err != nil {
		return nil, err
	}
	return p.Render(d.Title, struct {
		*Document
		SVG     *timelineSVG
		Mermaid string
	}{d, d.svg(), d.Mermaid()})
}

// timelineSVG is the geometry of the timeline drawing: the response phases
// as bands on a time axis, then one row per entry with a dot at its time.
// The template writes it; every text is escaped there.
type timelineSVG struct {
	Width, Height, Left, AxisY, AxisEnd, GridEnd, TickY float64
	PhaseY, PhaseH, PhaseTextY, LeadEnd, LabelX         float64
	Title                                               string
	Ticks                                               []svgTick
	Phases                                              []svgPhase
	Entries                                             []svgEntry
}

type svgTick struct {
	X     float64
	Label string
}

type svgPhase struct {
	Class       string
	X, W, TextX float64
	Text        string
}

type svgEntry struct {
	X, Y, TextY                float64
	Class, Time, Label, Source string
}

func (d *Document) svg() *timelineSVG {
	if len(d.Timeline) == 0 {
		return nil
	}
	const (
		width  = 1000.0
		left   = 70.0
		right  = 470.0 // the label column
		labelX = width - right + 10
		top    = 56.0
		rowH   = 22.0
		phaseH = 18.0
	)
	start, end := d.span()
	total := end.Sub(start)
	if total <= 0 {
		total = time.Minute
	}
	plotW := width - left - right
	x := func(t time.Time) float64 { return left + plotW*float64(t.Sub(start))/float64(total) }
	s := &timelineSVG{Width: width, Height: top + phaseH + 14 + rowH*float64(len(d.Timeline)) + 20, Left: left,
		AxisY: top - 20, AxisEnd: left + plotW, TickY: top - 26, PhaseY: top, PhaseH: phaseH, PhaseTextY: top + 13,
		LeadEnd: labelX - 4, LabelX: labelX,
		Title: fmt.Sprintf("Incident timeline from %s to %s", d.clock(start), d.clock(end))}
	s.GridEnd = s.Height - 10
	step := tickStep(total)
	for t := start.Truncate(step); !t.After(end); t = t.Add(step) {
		if !t.Before(start) {
			s.Ticks = append(s.Ticks, svgTick{X: x(t), Label: d.clock(t)})
		}
	}
	colors := map[string]string{"Detection": "det", "Triage": "tri", "Mitigation": "mit", "Resolution": "res"}
	for _, p := range d.responsePhases() {
		if p.Measured {
			w := max(x(p.To)-x(p.From), 1)
			s.Phases = append(s.Phases, svgPhase{Class: colors[p.Name], X: x(p.From), W: w, TextX: x(p.From) + 3, Text: phaseText(p, w)})
		}
	}
	y0 := top + phaseH + 14
	for i, e := range d.Timeline {
		cls := "dot"
		if e.Mark != "" {
			cls += " marked"
		}
		// The label column holds about 72 characters: the event gives way
		// to its source. Labels sit in a column right of the plot, joined to
		// their dot, so none runs off the picture or over another.
		label := e.Event
		if r, room := []rune(label), 72-len([]rune(e.Sources()))-3; len(r) > room {
			label = string(r[:max(room-3, 10)]) + "..."
		}
		y := y0 + rowH*float64(i)
		s.Entries = append(s.Entries, svgEntry{X: x(e.Time), Y: y, TextY: y + 4, Class: cls, Time: d.clock(e.Time), Label: label, Source: e.Sources()})
	}
	return s
}

// span is the time the drawing covers: the timeline and every measured phase.
func (d *Document) span() (time.Time, time.Time) {
	start, end := d.Timeline[0].Time, d.Timeline[len(d.Timeline)-1].Time
	for _, p := range d.responsePhases() {
		if p.Measured {
			if p.From.Before(start) {
				start = p.From
			}
			if p.To.After(end) {
				end = p.To
			}
		}
	}
	return start, end
}

func tickStep(total time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 24 * time.Hour} {
		if total/s <= 12 {
			return s
		}
	}
	return 7 * 24 * time.Hour
}

// phaseText fits a phase's label into its band (about 7 px a character).
func phaseText(p Phase, width float64) string {
	full := p.Name + " " + human.Duration(p.Duration)
	if float64(len(full))*7 <= width {
		return full
	}
	return human.Duration(p.Duration)
}
