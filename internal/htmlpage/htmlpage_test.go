package htmlpage

import (
	"html/template"
	"strings"
	"testing"
)

const sample = `{{define "style"}}.x{color:red}{{end}}{{define "body"}}<h1>{{.Name}}</h1><svg><text x="{{.X}}">{{.Name}}</text></svg><a href="{{.Link}}">{{up .Name}}</a>{{end}}`

func TestRender(t *testing.T) {
	p, err := Parse("sample", sample, template.FuncMap{"up": strings.ToUpper})
	if err != nil {
		t.Fatal(err)
	}
	page, err := p.Render(`a <b> & "c"`, struct {
		Name, Link string
		X          float64
	}{`<script>alert(1)</script>`, "javascript:alert(1)", 12.5})
	if err != nil {
		t.Fatal(err)
	}
	out := string(page)
	for _, want := range []string{
		"<!DOCTYPE html>", `<meta charset="utf-8">`, "Content-Security-Policy", "default-src 'none'",
		"<title>a &lt;b&gt; &amp; &#34;c&#34;</title>", ".x{color:red}", "th{background:#f6f8fa}",
		"<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>", `<text x="12.5">`, `href="#ZgotmplZ"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<script>") || strings.Contains(out, "http://") || strings.Contains(out, "https://") {
		t.Errorf("page carries raw markup or an external reference:\n%s", out)
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse("bad", `{{define "body"}}{{.Name`, nil); err == nil {
		t.Error("a broken template parsed")
	}
	p, err := Parse("nostyle", `{{define "body"}}x{{end}}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if page, err := p.Render("t", nil); err != nil || !strings.Contains(string(page), "<body>\nx\n</body>") {
		t.Errorf("a page without its own style: %v\n%s", err, page)
	}
}
