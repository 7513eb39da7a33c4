package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// templateAPI is the management API's template code over the registry,
// the catalog and Meta, as ApiFunction runs it.
func templateAPI(ctx context.Context, a *app, graphURL, graphVersion string) (*manage.Handler, error) {
	reg, err := a.registry(ctx)
	if err != nil {
		return nil, err
	}
	store, err := a.catalogStore(ctx)
	if err != nil {
		return nil, err
	}
	sm, err := a.secrets(ctx)
	if err != nil {
		return nil, err
	}
	return &manage.Handler{Tenants: reg, Secrets: &tenant.Vault{API: sm}, Templates: store,
		Meta: &graph.Client{BaseURL: graphURL, Version: graphVersion}, Log: slog.New(slog.DiscardHandler)}, nil
}

func graphFlags(a *app, fs *flag.FlagSet) (*string, *string) {
	base := a.Getenv("GRAPH_API_BASE_URL")
	if base == "" {
		base = graph.DefaultBaseURL
	}
	return fs.String("graph-url", base, "Graph API base URL (env GRAPH_API_BASE_URL)"),
		fs.String("graph-version", graph.DefaultVersion, "Graph API version")
}

func apiFailure(what string, e *manage.Error) error {
	msg := e.Message
	for _, d := range e.Details {
		msg += "\n  " + d
	}
	return fmt.Errorf("%s: %s (%s)", what, msg, e.Code)
}

// templatesCreate submits a template to Meta as POST
// /v1/tenants/{tenant_id}/templates does (same checks, same catalog
// record) and prints the template as the catalog now holds it.
func templatesCreate(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--tenant ID --file template.json [--graph-url URL]")
	tid := fs.String("tenant", "", "tenant id")
	file := fs.String("file", "", "the template in the API's create shape (JSON)")
	graphURL, graphVersion := graphFlags(a, fs)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *tid == "" || *file == "" {
		return usageErr("--tenant and --file are required")
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	h, err := templateAPI(ctx, a, *graphURL, *graphVersion)
	if err != nil {
		return err
	}
	v, _, apiErr := h.CreateTemplate(ctx, *tid, body, nil)
	if apiErr != nil {
		return apiFailure("template of tenant "+*tid+" not created", apiErr)
	}
	return printJSON(a.Stdout, v)
}

// templatesDelete deletes a template at Meta and from the catalog as
// DELETE /v1/tenants/{tenant_id}/templates/{name} does.
func templatesDelete(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--tenant ID --name N [--language L | --hsm-id ID] [--graph-url URL]")
	tid := fs.String("tenant", "", "tenant id")
	name := fs.String("name", "", "template name (every language unless --language or --hsm-id)")
	language := fs.String("language", "", "delete only this language")
	hsmID := fs.String("hsm-id", "", "delete only the template with this Meta id")
	graphURL, graphVersion := graphFlags(a, fs)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *tid == "" || *name == "" {
		return usageErr("--tenant and --name are required")
	}
	h, err := templateAPI(ctx, a, *graphURL, *graphVersion)
	if err != nil {
		return err
	}
	gone, apiErr := h.DeleteTemplate(ctx, *tid, *name, *language, *hsmID, nil)
	if apiErr != nil {
		return apiFailure("template "+*name+" of tenant "+*tid+" not deleted", apiErr)
	}
	return printJSON(a.Stdout, map[string]any{"deleted": gone})
}
