package circleci

import (
	"context"
	"iter"
	"net/url"
)

// OrgPager reads the pipelines of an organisation's projects page by page,
// newest first (GET /pipeline?org-slug=): CircleCI answers for the 250 most
// recently built projects the token's user follows. orgSlug is vcs/org
// (gh/acme, or circleci/<org id>). maxPages works as for Pager.
func (s *PipelinesService) OrgPager(orgSlug string, maxPages int) *Pager[Pipeline] {
	q := url.Values{}
	q.Set("org-slug", orgSlug)
	return newPager[Pipeline](s.c, "/pipeline", q, maxPages, PageLimit)
}

// OrgPages iterates over pages of an organisation's pipelines, newest first.
func (s *PipelinesService) OrgPages(ctx context.Context, orgSlug string, maxPages int) iter.Seq2[*Page[Pipeline], error] {
	return s.OrgPager(orgSlug, maxPages).All(ctx)
}
