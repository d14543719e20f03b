package postmortem

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"
)

//go:embed postmortem.html.tmpl
var htmlTemplate string

// HTML renders the draft as one self-contained page: inline CSS, an inline
// SVG timeline drawn here (no script, no network), and the Mermaid source
// for pasting into GitHub. A Content-Security-Policy forbids every fetch.
func (d *Document) HTML() ([]byte, error) {
	t, err := template.New("pm").Funcs(template.FuncMap{
		"clock":    d.clock,
		"optClock": d.optClock,
		"dur":      fmtDur,
		"measure":  measure,
		"pct":      fmtPct,
		"span":     span,
		"status":   statusOr,
		"dash":     orDash,
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
	}).Parse(htmlTemplate)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, struct {
		*Document
		SVG     template.HTML
		Mermaid string
	}{d, template.HTML(d.SVG()), d.Mermaid()})
	return buf.Bytes(), err
}

// SVG draws the timeline: the response phases as bands on a time axis, then
// one row per entry with a dot at its time. Every text is escaped here and
// every attribute is a number or a constant.
func (d *Document) SVG() string {
	if len(d.Timeline) == 0 {
		return ""
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
	start, end := d.Timeline[0].Time, d.Timeline[len(d.Timeline)-1].Time
	for _, p := range d.Phases {
		if p.Measured {
			if p.From.Before(start) {
				start = p.From
			}
			if p.To.After(end) {
				end = p.To
			}
		}
	}
	total := end.Sub(start)
	if total <= 0 {
		total = time.Minute
	}
	plotW := width - left - right
	x := func(t time.Time) float64 { return left + plotW*float64(t.Sub(start))/float64(total) }
	height := top + phaseH + 14 + rowH*float64(len(d.Timeline)) + 20

	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="timeline-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-labelledby="svg-title">`, width, height)
	fmt.Fprintf(&b, `<title id="svg-title">Incident timeline from %s to %s</title>`, html.EscapeString(d.clock(start)), html.EscapeString(d.clock(end)))
	// Axis with a tick every step.
	step := tickStep(total)
	axisY := top - 20
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="axis"/>`, left, axisY, left+plotW, axisY)
	for t := start.Truncate(step); !t.After(end); t = t.Add(step) {
		if t.Before(start) {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>`, x(t), axisY, x(t), height-10)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick">%s</text>`, x(t), axisY-6, html.EscapeString(d.clock(t)))
	}
	colors := map[string]string{"Detection": "det", "Triage": "tri", "Mitigation": "mit", "Resolution": "res"}
	for _, p := range d.Phases {
		if !p.Measured {
			continue
		}
		w := x(p.To) - x(p.From)
		if w < 1 {
			w = 1
		}
		fmt.Fprintf(&b, `<g class="phase %s"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="3"/><text x="%.1f" y="%.1f">%s</text></g>`,
			colors[p.Name], x(p.From), top, w, phaseH, x(p.From)+3, top+13, html.EscapeString(phaseText(p, w)))
	}
	y0 := top + phaseH + 14
	for i, e := range d.Timeline {
		y := y0 + rowH*float64(i)
		cls := "dot"
		if e.Mark != "" {
			cls += " marked"
		}
		// The label column holds about 72 characters: the event gives way
		// to its source.
		label := e.Event
		if r, room := []rune(label), 72-len([]rune(e.Source))-3; len(r) > room {
			label = string(r[:max(room-3, 10)]) + "..."
		}
		// Labels sit in a column right of the plot, joined to their dot, so
		// none runs off the picture or over another.
		fmt.Fprintf(&b, `<g class="entry"><text x="4" y="%.1f" class="time">%s</text><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="lead"/><circle cx="%.1f" cy="%.1f" r="5" class="%s"/><text x="%.1f" y="%.1f" class="label">%s <tspan class="src">(%s)</tspan></text></g>`,
			y+4, html.EscapeString(d.clock(e.Time)), x(e.Time), y, labelX-4, y, x(e.Time), y, cls, labelX, y+4, html.EscapeString(label), html.EscapeString(e.Source))
	}
	b.WriteString(`</svg>`)
	return b.String()
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
	full := p.Name + " " + fmtDur(p.Duration)
	if float64(len(full))*7 <= width {
		return full
	}
	return fmtDur(p.Duration)
}
