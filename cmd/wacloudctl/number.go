package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// numberRemove takes a business number away from its tenant. Jobs still
// queued for it fail (tenant_mismatch, not retryable) instead of being
// sent; webhooks for it are parked as unknown_phone_number.
func numberRemove(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--phone-number-id ID [--tenant ID] [--yes]")
	id := fs.String("phone-number-id", "", "business phone number id")
	owner := fs.String("tenant", "", "the tenant it must belong to (default: whichever it belongs to)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *id == "" {
		return usageErr("--phone-number-id is required")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	n, err := reg.Number(ctx, *id)
	if err != nil {
		return err
	}
	if *owner != "" && n.TenantID != *owner {
		return fmt.Errorf("number %s belongs to tenant %s, not %s; nothing changed", *id, n.TenantID, *owner)
	}
	if err := a.confirm(*yes, "Remove number %s (%s) from tenant %s? Its queued jobs will fail and its webhooks will be parked.", n.PhoneNumberID, n.DisplayPhoneNumber, n.TenantID); err != nil {
		return err
	}
	if _, err := reg.RemoveNumber(ctx, n.TenantID, n.PhoneNumberID); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "number %s removed from tenant %s (running functions notice within a minute: registry cache)\n", n.PhoneNumberID, n.TenantID)
	return nil
}

// numberMove gives business numbers to another registered tenant, with
// their WABA. Jobs the old tenant queued for them fail (tenant_mismatch)
// instead of being sent with either tenant's token.
func numberMove(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--phone-number-id ID [--phone-number-id ID ...] --to TENANT [--yes]")
	var ids list
	fs.Var(&ids, "phone-number-id", "business phone number id (repeat for every number of the same WABA)")
	to := fs.String("to", "", "the tenant that receives the numbers (registered already, with credentials that can send from them)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if len(ids) == 0 || *to == "" {
		return usageErr("--phone-number-id and --to are required")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	n, err := reg.Number(ctx, ids[0])
	if err != nil {
		return err
	}
	if _, err := reg.Tenant(ctx, *to); err != nil {
		return err
	}
	if err := a.confirm(*yes, "Move number(s) %s from tenant %s to tenant %s? Jobs %s queued for them will fail.", strings.Join(ids, ", "), n.TenantID, *to, n.TenantID); err != nil {
		return err
	}
	from, err := reg.MoveNumbers(ctx, *to, ids...)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "number(s) %s moved from tenant %s to tenant %s (running functions notice within a minute: registry cache)\n", strings.Join(ids, ","), from, *to)
	return nil
}

// numberSet records a number's throughput (up or down) or whether it is
// shared with the WhatsApp Business app, as the operator knows them.
func numberSet(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--phone-number-id ID [--throughput N] [--on-biz-app true|false]")
	id := fs.String("phone-number-id", "", "business phone number id")
	throughput := fs.Int("throughput", 0, "messages per second Meta allows the number (80 standard, 1000 high)")
	bizApp := fs.String("on-biz-app", "", "true when the number is also in use with the WhatsApp Business app (coexistence: paced at 20/s)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *id == "" || *throughput == 0 && *bizApp == "" {
		return usageErr("--phone-number-id and --throughput or --on-biz-app are required")
	}
	if *throughput < 0 || *throughput > tenant.HighThroughput {
		return usageErr("--throughput must be 1-%d", tenant.HighThroughput)
	}
	on, err := parseBool(*bizApp)
	if err != nil {
		return err
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	n, err := reg.Number(ctx, *id)
	if err != nil {
		return err
	}
	return applyNumber(ctx, a, reg, n, *throughput, on, "")
}

// numberSync reads what Meta says of numbers (Graph's throughput level and
// is_on_biz_app, with their tenant's token) and records it: Meta sends a
// webhook when it raises a number's throughput, none when it lowers it or
// when the number joins the WhatsApp Business app.
func numberSync(ctx context.Context, a *app, args []string) error {
	fs := a.flags("(--phone-number-id ID ... | --tenant ID) [--graph-url URL]")
	var ids list
	fs.Var(&ids, "phone-number-id", "business phone number id (repeat)")
	tid := fs.String("tenant", "", "every number of this tenant")
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
	if len(ids) == 0 && *tid == "" {
		return usageErr("--phone-number-id or --tenant is required")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	if *tid != "" {
		t, err := reg.Tenant(ctx, *tid)
		if err != nil {
			return err
		}
		ids = append(ids, t.PhoneNumbers...)
	}
	sm, err := a.secrets(ctx)
	if err != nil {
		return err
	}
	vault := &tenant.Vault{API: sm}
	g := &graph.Client{BaseURL: *graphURL, Version: *graphVersion}
	for _, id := range ids {
		n, err := reg.Number(ctx, id)
		if err != nil {
			return err
		}
		t, err := reg.Tenant(ctx, n.TenantID)
		if err != nil {
			return err
		}
		c, err := vault.Credentials(ctx, t.SecretID)
		if err != nil {
			return fmt.Errorf("number %s: read the credentials of tenant %s: %w", id, t.ID, err)
		}
		var meta struct {
			ID         string `json:"id"`
			Throughput *struct {
				Level string `json:"level"`
			} `json:"throughput"`
			IsOnBizApp   *bool  `json:"is_on_biz_app"`
			PlatformType string `json:"platform_type"`
		}
		if err := g.DoJSON(ctx, c.AccessToken, "GET", "/"+id+"?fields=id,throughput,is_on_biz_app,platform_type", nil, &meta); err != nil {
			return fmt.Errorf("number %s: ask Meta: %w", id, err)
		}
		throughput := 0
		level := ""
		if meta.Throughput != nil {
			level = meta.Throughput.Level
			switch level {
			case "HIGH":
				throughput = tenant.HighThroughput
			case "STANDARD":
				throughput = tenant.DefaultThroughput
			}
		}
		if err := applyNumber(ctx, a, reg, n, throughput, meta.IsOnBizApp, fmt.Sprintf(" (Meta: throughput level %q, platform %q)", level, meta.PlatformType)); err != nil {
			return err
		}
	}
	return nil
}

// applyNumber records throughput (0: leave) and on (nil: leave) on n.
func applyNumber(ctx context.Context, a *app, reg *tenant.Registry, n tenant.Number, throughput int, on *bool, why string) error {
	var changes []string
	if throughput > 0 && throughput != n.Throughput {
		if err := reg.SetThroughput(ctx, n.PhoneNumberID, throughput); err != nil {
			return err
		}
		changes = append(changes, fmt.Sprintf("throughput %d → %d", n.Throughput, throughput))
		n.Throughput = throughput
	}
	if on != nil && *on != n.OnBizApp {
		if err := reg.SetOnBizApp(ctx, n.PhoneNumberID, *on); err != nil {
			return err
		}
		changes = append(changes, fmt.Sprintf("on the WhatsApp Business app %v → %v", n.OnBizApp, *on))
		n.OnBizApp = *on
	}
	if len(changes) == 0 {
		fmt.Fprintf(a.Stdout, "number %s unchanged: paced at %d/s%s\n", n.PhoneNumberID, n.Limit(), why)
		return nil
	}
	fmt.Fprintf(a.Stdout, "number %s: %s; paced at %d/s%s (running functions notice within a minute: registry cache)\n",
		n.PhoneNumberID, strings.Join(changes, ", "), n.Limit(), why)
	return nil
}

func parseBool(v string) (*bool, error) {
	switch v {
	case "":
		return nil, nil
	case "true":
		t := true
		return &t, nil
	case "false":
		f := false
		return &f, nil
	}
	return nil, usageErr("--on-biz-app must be true or false")
}
