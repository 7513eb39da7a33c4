package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// catalogStore returns the template catalog.
func (a *app) catalogStore(ctx context.Context) (*catalog.Store, error) {
	if err := a.resolve(ctx); err != nil {
		return nil, err
	}
	if err := a.need("templates table", a.names.TemplatesTable, "templates-table"); err != nil {
		return nil, err
	}
	return &catalog.Store{API: a.dynamo(), Table: a.names.TemplatesTable}, nil
}

// templatesSync syncs a tenant's template catalog from Meta now, as the
// scheduled templates function does for every tenant.
func templatesSync(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--tenant ID [--graph-url URL]")
	tid := fs.String("tenant", "", "tenant id")
	base := a.Getenv("GRAPH_API_BASE_URL")
	if base == "" {
		base = graph.DefaultBaseURL
	}
	graphURL := fs.String("graph-url", base, "Graph API base URL (env GRAPH_API_BASE_URL)")
	graphVersion := fs.String("graph-version", graph.DefaultVersion, "Graph API version")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *tid == "" {
		return usageErr("--tenant is required")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	store, err := a.catalogStore(ctx)
	if err != nil {
		return err
	}
	sm, err := a.secrets(ctx)
	if err != nil {
		return err
	}
	t, err := reg.Tenant(ctx, *tid)
	if err != nil {
		return err
	}
	if len(t.WABAIDs) == 0 {
		return fmt.Errorf("tenant %s has no WABA in the registry", t.ID)
	}
	h := &catalog.Handler{
		Secrets: &tenant.Vault{API: sm},
		Syncer:  &catalog.Syncer{Meta: &graph.Client{BaseURL: *graphURL, Version: *graphVersion}, Templates: store},
	}
	prog := a.progress("templates")
	h.Syncer.Progress = func(stage string, done, total int) {
		prog.what = "templates " + stage
		prog.Update(done, total)
	}
	res, err := h.SyncTenant(ctx, t)
	prog.Done()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "tenant %s: %d template(s) listed by Meta (WABA %s), %d removed from the catalog\n",
		t.ID, res.Listed, strings.Join(t.WABAIDs, ","), res.Removed)
	return nil
}

// templatesList prints a tenant's template catalog.
func templatesList(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--tenant ID [--status S] [--name N] [--language L] [--category C] [--json]")
	tid := fs.String("tenant", "", "tenant id")
	status := fs.String("status", "", "only this status (APPROVED, PAUSED, ...)")
	name := fs.String("name", "", "only this template name")
	language := fs.String("language", "", "only this language (en_US, pt_BR, ...)")
	category := fs.String("category", "", "only this category (MARKETING, UTILITY, AUTHENTICATION)")
	asJSON := fs.Bool("json", false, "print JSON (with components)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *tid == "" {
		return usageErr("--tenant is required")
	}
	store, err := a.catalogStore(ctx)
	if err != nil {
		return err
	}
	all, err := store.List(ctx, *tid)
	if err != nil {
		return err
	}
	ts := []catalog.Template{}
	for _, t := range all {
		if (*status == "" || t.Status == *status) && (*name == "" || t.Name == *name) &&
			(*language == "" || t.Language == *language) && (*category == "" || t.Category == *category) {
			ts = append(ts, t)
		}
	}
	if *asJSON {
		return printJSON(a.Stdout, ts)
	}
	w := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tLANGUAGE\tSTATUS\tCATEGORY\tQUALITY\tPARAMETERS\tWABA\tSYNCED")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Language, t.Status, t.Category, t.Quality, t.ParameterFormat, t.WABAID, t.SyncedAt)
	}
	return w.Flush()
}
