// Package htmlpage renders every HTML page pmguard writes (the DORA report,
// the post-mortem draft) through html/template and one layout: a doctype,
// UTF-8, a title, inline CSS and a Content-Security-Policy that forbids
// every fetch, so a page opened from a CircleCI artifact needs no network.
// All text reaches the page through the template's contextual escaping; no
// page builds markup by hand.
package htmlpage

import (
	"bytes"
	_ "embed"
	"html/template"
)

//go:embed layout.html.tmpl
var layout string

// Page is a page's templates inside the shared layout.
type Page struct{ t *template.Template }

// Parse builds a page from text that defines two templates: "style" (the
// page's CSS, added after the shared rules) and "body" (the contents of
// <body>). funcs are available to both.
func Parse(name, text string, funcs template.FuncMap) (*Page, error) {
	t, err := template.New(name).Funcs(funcs).Parse(layout)
	if err != nil {
		return nil, err
	}
	if _, err := t.Parse(text); err != nil {
		return nil, err
	}
	return &Page{t: t}, nil
}

// Render executes the page with title in <title> and data as the dot of
// "style" and "body".
func (p *Page) Render(title string, data any) ([]byte, error) {
	var buf bytes.Buffer
	err := p.t.Execute(&buf, struct {
		Title string
		Data  any
	}{title, data})
	return buf.Bytes(), err
}
