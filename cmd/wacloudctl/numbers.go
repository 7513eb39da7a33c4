package main

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// numbersList prints a tenant's business numbers as GET
// /v1/tenants/{tenant_id}/phone-numbers answers them: the registry's
// numbers joined with what Meta says of each, read with the tenant's
// own token.
func numbersList(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--tenant ID [--graph-url URL] [--json]")
	tid := fs.String("tenant", "", "tenant id")
	base := a.Getenv("GRAPH_API_BASE_URL")
	if base == "" {
		base = graph.DefaultBaseURL
	}
	graphURL := fs.String("graph-url", base, "Graph API base URL (env GRAPH_API_BASE_URL)")
	graphVersion := fs.String("graph-version", graph.DefaultVersion, "Graph API version")
	asJSON := fs.Bool("json", false, "print the API's JSON")
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
	sm, err := a.secrets(ctx)
	if err != nil {
		return err
	}
	h := &manage.Handler{Tenants: reg, Secrets: &tenant.Vault{API: sm},
		Meta: &graph.Client{BaseURL: *graphURL, Version: *graphVersion}, Log: slog.New(slog.DiscardHandler)}
	numbers, apiErr := h.Numbers(ctx, *tid, nil)
	if apiErr != nil {
		msg := apiErr.Message
		for _, d := range apiErr.Details {
			msg += "; " + d
		}
		return fmt.Errorf("numbers of tenant %s: %s (%s)", *tid, msg, apiErr.Code)
	}
	if *asJSON {
		return printJSON(a.Stdout, map[string]any{"data": numbers})
	}
	w := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PHONE_NUMBER_ID\tDISPLAY\tVERIFIED_NAME\tNAME_STATUS\tQUALITY\tTIER\tTHROUGHPUT\tLAST_ONBOARDED")
	for _, n := range numbers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s %d/s\t%s\n", n.PhoneNumberID, n.DisplayPhoneNumber, n.VerifiedName, n.NameStatus,
			n.QualityRating, n.MessagingLimitTier, n.Throughput.Level, n.Throughput.PerSecond, n.LastOnboardedTime)
	}
	return w.Flush()
}
