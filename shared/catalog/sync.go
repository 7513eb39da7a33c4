package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/graph"
)

// Meta lists a WABA's templates (graph.Client). Errors are *graph.Error.
type Meta interface {
	MessageTemplates(ctx context.Context, token, wabaID, after string) (graph.TemplatePage, error)
}

// Templates is the catalog store (Store).
type Templates interface {
	List(ctx context.Context, tenantID string) ([]Template, error)
	Put(ctx context.Context, t Template) error
	Delete(ctx context.Context, tenantID string, k Key) error
}

// maxPages bounds one WABA's listing (100 templates a page; Meta allows
// a WABA a few thousand templates at most).
const maxPages = 200

// Syncer makes the catalog match what Meta lists. It is safe for
// concurrent use.
type Syncer struct {
	Meta      Meta
	Templates Templates
	Now       func() time.Time
	// Progress, when set, hears how far a sync is: ("listed", templates
	// so far, 0) after each page, ("stored", i, n) after each write.
	Progress func(stage string, done, total int)
}

// Result counts what a sync did.
type Result struct {
	Listed  int // templates Meta listed
	Removed int // templates Meta no longer lists, removed from the catalog
}

// SyncWABA reads every template of the WABA from Meta with the tenant's
// token and writes them to the tenant's catalog with synced_at now; the
// catalog's templates of that WABA that Meta no longer lists are removed.
// Nothing is removed unless the listing was complete, so a failed page
// never empties a catalog.
func (s *Syncer) SyncWABA(ctx context.Context, tenantID, wabaID, token string) (Result, error) {
	var listed []graph.MessageTemplate
	after := ""
	for page := 0; ; page++ {
		if page == maxPages {
			return Result{}, fault.PermanentErr(fmt.Errorf("sync templates of WABA %s: more than %d pages", wabaID, maxPages))
		}
		p, err := s.Meta.MessageTemplates(ctx, token, wabaID, after)
		if err != nil {
			return Result{}, fmt.Errorf("sync templates of WABA %s for tenant %s: %w", wabaID, tenantID, err)
		}
		listed = append(listed, p.Templates...)
		s.progress("listed", len(listed), 0)
		if p.After == "" || p.After == after {
			break
		}
		after = p.After
	}
	now := s.now().UTC().Format(time.RFC3339)
	keep := map[Key]bool{}
	var ts []Template
	for _, m := range listed {
		if m.Name == "" || m.Language == "" {
			continue
		}
		t := Template{TenantID: tenantID, WABAID: wabaID, ID: m.ID, Name: m.Name, Language: m.Language,
			Status: m.Status, Category: m.Category, ParameterFormat: m.ParameterFormat, Components: m.Components,
			SyncedAt: now, ChangedAt: now}
		if t.ParameterFormat == "" {
			t.ParameterFormat = FormatPositional
		}
		if m.QualityScore != nil {
			t.Quality = m.QualityScore.Score
		}
		ts = append(ts, t)
		keep[Key{WABAID: wabaID, Name: m.Name, Language: m.Language}] = true
	}
	if err := s.putAll(ctx, ts); err != nil {
		return Result{}, fmt.Errorf("sync templates of WABA %s: %w", wabaID, err)
	}
	res := Result{Listed: len(keep)}
	held, err := s.Templates.List(ctx, tenantID)
	if err != nil {
		return res, fmt.Errorf("sync templates of WABA %s: %w", wabaID, err)
	}
	for _, t := range held {
		k := Key{WABAID: t.WABAID, Name: t.Name, Language: t.Language}
		if t.WABAID != wabaID || keep[k] {
			continue
		}
		if err := s.Templates.Delete(ctx, tenantID, k); err != nil {
			return res, fmt.Errorf("sync templates of WABA %s: %w", wabaID, err)
		}
		res.Removed++
	}
	return res, nil
}

// putWrites is how many template writes of one sync are in flight.
const putWrites = 8

// putAll writes ts, putWrites at a time, and stops starting writes at the
// first failure, which it returns. Each write is one template's item, so
// their order does not matter.
func (s *Syncer) putAll(ctx context.Context, ts []Template) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, putWrites)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	done := 0
	for _, t := range ts {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := s.Templates.Put(ctx, t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
					cancel()
				}
				return
			}
			done++
			s.progress("stored", done, len(ts))
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	s.progress("stored", done, len(ts))
	return first
}

// SyncTenant syncs every WABA of the tenant (onboarding calls it once the
// tenant's credentials and registry entries are stored). It goes on past
// a failing WABA and returns the errors joined.
func (s *Syncer) SyncTenant(ctx context.Context, tenantID string, wabaIDs []string, token string) (Result, error) {
	var total Result
	var errs []error
	for _, w := range wabaIDs {
		r, err := s.SyncWABA(ctx, tenantID, w, token)
		total.Listed += r.Listed
		total.Removed += r.Removed
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Syncer) progress(stage string, done, total int) {
	if s.Progress != nil {
		s.Progress(stage, done, total)
	}
}
