package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/strictjson"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// list flag: repeatable string.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// credFlags reads credentials from flags or, with --credentials-stdin, as
// JSON {"access_token","app_secret","verify_token"} from stdin.
type credFlags struct {
	fromStdin                           bool
	accessToken, appSecret, verifyToken string
	validate                            bool
	graphURL, graphVersion              string
}

func (c *credFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.BoolVar(&c.fromStdin, "credentials-stdin", false, `read {"access_token","app_secret","verify_token"} as JSON from stdin (keeps them out of shell history)`)
	fs.StringVar(&c.accessToken, "access-token", "", "Meta access token (prefer --credentials-stdin)")
	fs.StringVar(&c.appSecret, "app-secret", "", "Meta app secret, for a tenant with its own app (prefer --credentials-stdin)")
	fs.StringVar(&c.verifyToken, "verify-token", "", "webhook verify token, for a tenant with its own app (prefer --credentials-stdin)")
	fs.BoolVar(&c.validate, "validate", false, "check the access token with a Graph API call (GET /{phone-number-id}) before saving")
	base := getenv("GRAPH_API_BASE_URL")
	if base == "" {
		base = graph.DefaultBaseURL
	}
	fs.StringVar(&c.graphURL, "graph-url", base, "Graph API base URL for --validate (env GRAPH_API_BASE_URL)")
	fs.StringVar(&c.graphVersion, "graph-version", graph.DefaultVersion, "Graph API version for --validate")
}

// newCreds are the credentials given to add or rotate, for both secrets.
type newCreds struct {
	AccessToken string `json:"access_token"`
	AppSecret   string `json:"app_secret"`
	VerifyToken string `json:"verify_token"`
}

func (newCreds) String() string { return "credentials{redacted}" }

func (c *credFlags) read(a *app) (newCreds, error) {
	creds := newCreds{AccessToken: c.accessToken, AppSecret: c.appSecret, VerifyToken: c.verifyToken}
	if !c.fromStdin {
		return creds, nil
	}
	b, err := io.ReadAll(io.LimitReader(a.reader(), 64<<10))
	if err != nil {
		return creds, fmt.Errorf("read credentials from stdin: %w", err)
	}
	var in newCreds
	if err := strictjson.Unmarshal(b, &in); err != nil {
		// strictjson names keys and positions only; any other JSON error could quote
		// the input (a secret): leave it out.
		var se *strictjson.Error
		if errors.As(err, &se) {
			return creds, usageErr(`the credentials on stdin: %s; expected {"access_token":"...","app_secret":"...","verify_token":"..."}`, se.Problem)
		}
		return creds, usageErr(`stdin is not a JSON object like {"access_token":"...","app_secret":"...","verify_token":"..."}`)
	}
	setDefault(&creds.AccessToken, in.AccessToken)
	setDefault(&creds.AppSecret, in.AppSecret)
	setDefault(&creds.VerifyToken, in.VerifyToken)
	return creds, nil
}

// check asks the Graph API for the number with the token: the token must be
// valid and see that number.
func (c *credFlags) check(ctx context.Context, a *app, token string, phoneNumberIDs []string) error {
	if !c.validate {
		return nil
	}
	g := &graph.Client{BaseURL: c.graphURL, Version: c.graphVersion}
	for _, id := range phoneNumberIDs {
		var out struct {
			ID                 string `json:"id"`
			DisplayPhoneNumber string `json:"display_phone_number"`
			VerifiedName       string `json:"verified_name"`
		}
		if err := g.DoJSON(ctx, token, "GET", "/"+id+"?fields=id,display_phone_number,verified_name", nil, &out); err != nil {
			return fmt.Errorf("validate the access token on number %s: %w", id, err)
		}
		if out.ID != "" && out.ID != id {
			return fmt.Errorf("validate the access token: Graph answered for number %s, not %s", out.ID, id)
		}
		fmt.Fprintf(a.Stderr, "token valid for %s (%s %s)\n", id, out.DisplayPhoneNumber, out.VerifiedName)
	}
	return nil
}

func tenantAdd(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--id ID --phone-number-id ID --waba-id ID [--own-app] [--credentials-stdin | --access-token ...] [--validate]")
	var (
		id, name, waba, display string
		numbers                 list
		ownApp                  bool
		throughput              int
		creds                   credFlags
	)
	fs.StringVar(&id, "id", "", "tenant id (letters, digits, - _ .)")
	fs.StringVar(&name, "name", "", "company name")
	fs.Var(&numbers, "phone-number-id", "business phone number id (repeat for several numbers of the same WABA)")
	fs.StringVar(&waba, "waba-id", "", "WhatsApp Business Account id")
	fs.StringVar(&display, "display-phone-number", "", "display phone number (informational)")
	fs.BoolVar(&ownApp, "own-app", false, "the tenant uses its own Meta app (webhook route /webhook/{tenant_id}, own app secret and verify token)")
	fs.IntVar(&throughput, "throughput", 0, "messages per second Meta allows the number (default 80)")
	bizApp := fs.Bool("on-biz-app", false, "the numbers are also in use with the WhatsApp Business app (coexistence: Meta fixes them at 20/s)")
	creds.register(fs, a.Getenv)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if !tenant.ValidID(id) {
		return usageErr("--id must be 1 to %d ASCII letters, digits, '-', '_' or '.', starting with a letter or digit", tenant.MaxIDLength)
	}
	if len(numbers) == 0 || waba == "" {
		return usageErr("--phone-number-id and --waba-id are required")
	}
	c, err := creds.read(a)
	if err != nil {
		return err
	}
	if c.AccessToken == "" {
		return usageErr("an access token is required (--credentials-stdin or --access-token)")
	}
	if ownApp && (c.AppSecret == "" || c.VerifyToken == "") {
		return usageErr("a tenant with its own app needs its app_secret and verify_token")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	if err := a.need("tenant secret prefix", a.names.SecretPrefix, "secret-prefix"); err != nil {
		return err
	}
	// A tenant on the platform app needs no webhook-side secret of its own
	// unless it was given app credentials.
	app := tenant.AppCredentials{AppSecret: c.AppSecret, VerifyToken: c.VerifyToken}
	withApp := ownApp || app != (tenant.AppCredentials{})
	if withApp {
		if err := a.need("tenant webhook secret prefix", a.names.WebhookSecretPrefix, "webhook-secret-prefix"); err != nil {
			return err
		}
	}
	if _, err := reg.Tenant(ctx, id); err == nil {
		return fmt.Errorf("tenant %s exists already; use 'tenant rotate' for new credentials", id)
	} else if !errors.Is(err, tenant.ErrNotFound) {
		return err
	}
	for _, n := range numbers {
		if got, err := reg.Number(ctx, n); err == nil {
			return fmt.Errorf("number %s belongs to tenant %s already", n, got.TenantID)
		}
	}
	if err := creds.check(ctx, a, c.AccessToken, numbers); err != nil {
		return err
	}

	// The secrets first: the tenant becomes routable only once the
	// registry points at secrets that exist.
	sm, err := a.secrets(ctx)
	if err != nil {
		return err
	}
	secretID := a.names.SecretPrefix + id
	written := secretID
	if err := putSecret(ctx, sm, secretID, tenant.Credentials{AccessToken: c.AccessToken}, "wacloud tenant "+id+": Meta access token (read by the functions that call the Graph API)"); err != nil {
		return err
	}
	if withApp {
		webhookID := a.names.WebhookSecretPrefix + id
		if err := putSecret(ctx, sm, webhookID, app, "wacloud tenant "+id+": Meta app secret and webhook verify token (read by the webhook)"); err != nil {
			return err
		}
		written += " and " + webhookID
	}
	var ns []tenant.Number
	for _, n := range numbers {
		ns = append(ns, tenant.Number{PhoneNumberID: n, WABAID: waba, DisplayPhoneNumber: display, Throughput: throughput, OnBizApp: *bizApp})
	}
	t := tenant.Tenant{ID: id, Name: name, Status: tenant.StatusActive, SecretID: secretID, OwnApp: ownApp,
		CreatedAt: time.Now().UTC().Format(time.RFC3339)}
	if err := reg.Put(ctx, t, ns); err != nil {
		return fmt.Errorf("register tenant %s (its secrets %s were written): %w", id, written, err)
	}
	fmt.Fprintf(a.Stdout, "tenant %s added: %d number(s), WABA %s, secrets %s\n", id, len(ns), waba, written)
	if ownApp {
		fmt.Fprintf(a.Stdout, "its Meta app's callback URL: <WebhookUrl output>/%s\n", id)
	}
	return nil
}

func tenantList(ctx context.Context, a *app, args []string) error {
	fs := a.flags("[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	ts, err := reg.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.Stdout, ts)
	}
	w := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TENANT\tNAME\tSTATUS\tOWN APP\tNUMBERS\tWABAS\tCREATED")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", t.ID, t.Name, t.Status, t.OwnApp,
			strings.Join(t.PhoneNumbers, ","), strings.Join(t.WABAIDs, ","), t.CreatedAt)
	}
	return w.Flush()
}

func tenantSetStatus(status string) func(ctx context.Context, a *app, args []string) error {
	return func(ctx context.Context, a *app, args []string) error {
		fs := a.flags("--id ID [--yes]")
		id := fs.String("id", "", "tenant id")
		yes := fs.Bool("yes", false, "do not ask for confirmation")
		if err := a.parse(fs, args); err != nil {
			return err
		}
		if err := noArgs(fs); err != nil {
			return err
		}
		if *id == "" {
			return usageErr("--id is required")
		}
		reg, err := a.registry(ctx)
		if err != nil {
			return err
		}
		t, err := reg.Tenant(ctx, *id)
		if err != nil {
			return err
		}
		if t.Status == status {
			fmt.Fprintf(a.Stdout, "tenant %s is %s already\n", *id, status)
			return nil
		}
		if status == tenant.StatusDisabled {
			if err := a.confirm(*yes, "Disable tenant %s (%s)? Its webhooks and outbound jobs will be refused.", t.ID, t.Name); err != nil {
				return err
			}
		}
		if err := reg.SetStatus(ctx, *id, status); err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "tenant %s is %s (running functions notice within a minute: registry cache)\n", *id, status)
		return nil
	}
}

func tenantRotate(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--id ID (--credentials-stdin | --access-token ... | --app-secret ... | --verify-token ...) [--validate] [--yes]")
	id := fs.String("id", "", "tenant id")
	yes := fs.Bool("yes", false, "do not ask for confirmation (required with --credentials-stdin)")
	var creds credFlags
	creds.register(fs, a.Getenv)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *id == "" {
		return usageErr("--id is required")
	}
	if creds.fromStdin && !*yes {
		return usageErr("stdin carries the credentials, so it cannot answer the confirmation: add --yes")
	}
	c, err := creds.read(a)
	if err != nil {
		return err
	}
	if c.AccessToken == "" && c.AppSecret == "" && c.VerifyToken == "" {
		return usageErr("no new credential given")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	t, err := reg.Tenant(ctx, *id)
	if err != nil {
		return err
	}
	if t.SecretID == "" {
		return fmt.Errorf("tenant %s has no secret id in the registry", *id)
	}
	if err := a.need("tenant webhook secret prefix", a.names.WebhookSecretPrefix, "webhook-secret-prefix"); err != nil {
		return err
	}
	sm, err := a.secrets(ctx)
	if err != nil {
		return err
	}
	p := a.tenantPair(t)
	s, err := readPair(ctx, sm, p)
	if err != nil {
		return err
	}
	if !s.sendingFound {
		return fmt.Errorf("tenant %s: its sending secret %s does not exist", t.ID, p.sendingID)
	}
	// A sending secret from before the split is split on the way.
	plan := planSplit(p, s)
	token := s.token
	var changed []string
	if c.AccessToken != "" {
		token.AccessToken, plan.stripSending, changed = c.AccessToken, true, append(changed, "access_token")
		if err := creds.check(ctx, a, c.AccessToken, t.PhoneNumbers); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name       string
		given, dst *string
	}{
		{tenant.KeyAppSecret, &c.AppSecret, &plan.app.AppSecret},
		{tenant.KeyVerifyToken, &c.VerifyToken, &plan.app.VerifyToken},
	} {
		if *f.given == "" {
			continue
		}
		*f.dst, changed = *f.given, append(changed, f.name)
		if s.webhookFound {
			plan.writeWebhook = true
		} else {
			plan.createWebhook = true
		}
	}
	where := []string{}
	if plan.stripSending {
		where = append(where, p.sendingID)
	}
	if plan.createWebhook || plan.writeWebhook {
		where = append(where, p.webhookID)
	}
	if err := a.confirm(*yes, "Replace %s of tenant %s in %s?", strings.Join(changed, ", "), t.ID, strings.Join(where, " and ")); err != nil {
		return err
	}
	if err := applySplit(ctx, sm, p, plan, token); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "tenant %s: %s replaced in %s (values not shown); running functions use them within 5 minutes (secret cache)\n",
		t.ID, strings.Join(changed, ", "), strings.Join(where, " and "))
	if s.hasLegacy {
		fmt.Fprintf(a.Stdout, "tenant %s: its secrets are split now: %s\n", t.ID, planSplit(p, s).describe(p, false))
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
