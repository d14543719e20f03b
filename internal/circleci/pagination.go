package circleci

import (
	"context"
	"iter"
)

// Page is one page of a list answer. NextPageToken is empty on the last page
// (CircleCI sends null).
type Page[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token"`
}

// Pages iterates over pages, following next_page_token until the last page,
// an error (yielded once, then the iteration stops) or the caller breaks out.
// maxPages bounds the walk; 0 means no bound.
func Pages[T any](ctx context.Context, fetch func(ctx context.Context, token string) (*Page[T], error), maxPages int) iter.Seq2[*Page[T], error] {
	return func(yield func(*Page[T], error) bool) {
		token := ""
		for n := 0; maxPages == 0 || n < maxPages; n++ {
			p, err := fetch(ctx, token)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(p, nil) || p.NextPageToken == "" {
				return
			}
			token = p.NextPageToken
		}
	}
}

// Items iterates over the items of every page, in order.
func Items[T any](ctx context.Context, fetch func(ctx context.Context, token string) (*Page[T], error), maxPages int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for p, err := range Pages(ctx, fetch, maxPages) {
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
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

func pageQuery(token string) map[string][]string {
	if token == "" {
		return map[string][]string{}
	}
	return map[string][]string{"page-token": {token}}
}
