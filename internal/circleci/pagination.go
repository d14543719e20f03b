package circleci

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"net/url"
)

// PageLimit is the most pages a list walk follows when its caller sets no
// bound of its own. CircleCI lists 20 items a page, so the limit allows
// 20,000 pipelines (months of a busy project's history); a server that never
// stops paging is stopped there with a *PaginationError rather than followed
// for ever.
const PageLimit = 1000

// shortListPages bounds the lists that are short by nature (a pipeline's
// workflows, a workflow's jobs), which are collected into memory whole.
const shortListPages = 50

// Page is one page of a list answer. NextPageToken is empty on the last page
// (CircleCI sends null).
type Page[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token"`
}

// missing names the first required field the page lacks: the items array
// itself, or a required field of one item.
func (p *Page[T]) missing() string {
	if p.Items == nil {
		return "items"
	}
	for i := range p.Items {
		if s, ok := any(&p.Items[i]).(shaped); ok {
			if f := s.missing(); f != "" {
				return fmt.Sprintf("items[%d].%s", i, f)
			}
		}
	}
	return ""
}

// PaginationError is a list whose pages do not end: a next_page_token that
// names a page already read, or more pages than the walk's limit. The walk
// stops there; pmguard could not run.
type PaginationError struct {
	Method, Path string
	Pages        int // pages read before stopping
	Reason       string
}

func (e *PaginationError) Error() string {
	return fmt.Sprintf("CircleCI API %s %s: %s; stopped after %d page(s)", e.Method, e.Path, e.Reason, e.Pages)
}

// Pager reads a list answer one page at a time, following next_page_token.
// It remembers the tokens it has followed (at most its limit of them), so a
// server repeating a token or paging without end costs a bounded number of
// requests and bounded memory. It is not safe for concurrent use.
type Pager[T any] struct {
	c     *Client
	path  string
	query url.Values
	max   int // stop quietly after this many pages (0: no such bound)
	limit int // stop with an error past this many pages
	token string
	seen  map[string]bool
	// items are the IDs of the items already returned: a list that shifts
	// while it is read (new pipelines push older ones a page down) repeats
	// some on the next page, and each is returned once.
	items map[string]bool
	pages int
	done  bool
	err   error // found while reading the last page, returned by the next call
}

// newPager lists path. maxPages > 0 ends the walk quietly after that many
// pages (a search that looks no further back); otherwise limit pages is the
// most it follows, and the next is an error.
func newPager[T any](c *Client, path string, query url.Values, maxPages, limit int) *Pager[T] {
	if maxPages > 0 {
		limit = maxPages
	}
	return &Pager[T]{c: c, path: path, query: query, max: maxPages, limit: limit, seen: map[string]bool{}, items: map[string]bool{}}
}

// Pages is how many pages the pager has read.
func (p *Pager[T]) Pages() int { return p.pages }

// Next reads the next page. It returns nil and no error after the last page.
func (p *Pager[T]) Next(ctx context.Context) (*Page[T], error) {
	if p.err != nil || p.done {
		err := p.err
		p.err, p.done = nil, true
		return nil, err
	}
	if p.pages >= p.limit {
		p.done = true
		if p.max > 0 {
			return nil, nil
		}
		return nil, p.fail(fmt.Sprintf("more than %d pages (next_page_token never ends)", p.limit))
	}
	q := maps.Clone(p.query)
	if q == nil {
		q = url.Values{}
	}
	if p.token != "" {
		q.Set("page-token", p.token)
	}
	var page Page[T]
	if err := p.c.do(ctx, http.MethodGet, p.path, q, nil, &page); err != nil {
		p.done = true
		return nil, err
	}
	p.pages++
	page.Items = p.unseen(page.Items)
	next := page.NextPageToken
	switch {
	case next == "":
		p.done = true
	case p.seen[next]:
		p.err = p.fail(fmt.Sprintf("next_page_token %q names a page already read", next))
	default:
		p.seen[next] = true
		p.token = next
	}
	return &page, nil
}

// identified is an item with an ID (pipelines, workflows).
type identified interface{ id() string }

// unseen is items without those an earlier page returned.
func (p *Pager[T]) unseen(items []T) []T {
	out := items[:0]
	for i := range items {
		if it, ok := any(&items[i]).(identified); ok {
			if id := it.id(); id != "" {
				if p.items[id] {
					continue
				}
				p.items[id] = true
			}
		}
		out = append(out, items[i])
	}
	return out
}

func (p *Pager[T]) fail(reason string) error {
	// The reason may quote a server's page token.
	return &PaginationError{Method: http.MethodGet, Path: p.c.http.Redactor().URL(p.path), Pages: p.pages, Reason: p.c.http.Redactor().Redact(reason)}
}

// All iterates over the pages: each page, then at most one error (the walk
// stops there), until the last page or the caller breaks out.
func (p *Pager[T]) All(ctx context.Context) iter.Seq2[*Page[T], error] {
	return func(yield func(*Page[T], error) bool) {
		for {
			page, err := p.Next(ctx)
			if err != nil {
				yield(nil, err)
				return
			}
			if page == nil || !yield(page, nil) {
				return
			}
		}
	}
}

// Items iterates over the items of every page, in order.
func (p *Pager[T]) Items(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for page, err := range p.All(ctx) {
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range page.Items {
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

// Collect gathers every item of an iterator, stopping at the first error.
func Collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for it, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, it)
	}
	return out, nil
}
