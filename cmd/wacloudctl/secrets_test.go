package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// TestSecretsMigrate splits combined secrets of every kind against the
// emulator, then runs the migration again to show it writes nothing twice.
func TestSecretsMigrate(t *testing.T) {
	emu := awsemu.StartTest(t)
	e := &env{t: t, emu: emu, st: stack.Fresh(t, emu.Config(), stack.Options{}), ctx: t.Context()}
	sm := secretsmanager.NewFromConfig(emu.Config())
	write := func(name, value string) {
		t.Helper()
		if _, err := sm.PutSecretValue(e.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)}); err == nil {
			return
		}
		if _, err := sm.CreateSecret(e.ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	const (
		sendingPrefix = "wacloud/tenants/"
		webhookPrefix = "wacloud/webhook/tenants/"
	)
	run := uniq("m")
	cases := []struct {
		name string
		// platform is the platform app's pair, not a tenant.
		platform bool
		ownApp   bool
		// Values before the migration; "" is no secret.
		sending, webhook string
		// What the secrets hold after it; nil is no secret.
		wantSending, wantWebhook map[string]string
		// wantLine is in the migration's line about the case.
		wantLine string
		problem  bool
	}{
		{name: "platform on a stack from before the split", platform: true,
			sending:     `{"access_token":"","app_secret":"plat-app-secret","verify_token":"plat-verify"}`,
			webhook:     `{"app_secret":"","verify_token":"generated-verify"}`,
			wantSending: map[string]string{"access_token": ""}, wantWebhook: map[string]string{"app_secret": "plat-app-secret", "verify_token": "plat-verify"},
			wantLine: "set app_secret, verify_token in wacloud/webhook/platform; remove app_secret and verify_token from wacloud/platform"},
		{name: "own app", ownApp: true,
			sending:     `{"access_token":"own-token","app_secret":"own-app-secret","verify_token":"own-verify"}`,
			wantSending: map[string]string{"access_token": "own-token"}, wantWebhook: map[string]string{"app_secret": "own-app-secret", "verify_token": "own-verify"},
			wantLine: "create " + webhookPrefix},
		{name: "platform app, empty webhook fields",
			sending:     `{"access_token":"pa-token","app_secret":"","verify_token":""}`,
			wantSending: map[string]string{"access_token": "pa-token"},
			wantLine:    "remove app_secret and verify_token"},
		{name: "platform app with values of its own",
			sending:     `{"access_token":"pv-token","app_secret":"pv-app-secret","verify_token":""}`,
			wantSending: map[string]string{"access_token": "pv-token"}, wantWebhook: map[string]string{"app_secret": "pv-app-secret", "verify_token": ""},
			wantLine: "(app_secret)"},
		{name: "already split", ownApp: true,
			sending: `{"access_token":"split-token"}`, webhook: `{"app_secret":"split-app-secret","verify_token":"split-verify"}`,
			wantSending: map[string]string{"access_token": "split-token"}, wantWebhook: map[string]string{"app_secret": "split-app-secret", "verify_token": "split-verify"},
			wantLine: "already split"},
		{name: "webhook side set already and differing", ownApp: true,
			sending:     `{"access_token":"kept-token","app_secret":"stale-app-secret","verify_token":"kept-verify"}`,
			webhook:     `{"app_secret":"kept-app-secret","verify_token":"kept-verify"}`,
			wantSending: map[string]string{"access_token": "kept-token"}, wantWebhook: map[string]string{"app_secret": "kept-app-secret", "verify_token": "kept-verify"},
			wantLine: "keep the app_secret of " + webhookPrefix},
		{name: "sending secret missing", ownApp: true, problem: true,
			wantLine: "problem: sending secret " + sendingPrefix},
		{name: "own app without webhook-side secret", ownApp: true, problem: true,
			sending: `{"access_token":"nohook-token"}`, wantSending: map[string]string{"access_token": "nohook-token"},
			wantLine: "problem: webhook-side secret " + webhookPrefix},
	}
	ids := make([]string, len(cases))
	pairs := make([]appPair, len(cases))
	var values []string
	reg := e.registry()
	for i, c := range cases {
		ids[i] = fmt.Sprintf("%s-%d", run, i)
		pairs[i] = appPair{label: "tenant " + ids[i], sendingID: sendingPrefix + ids[i], webhookID: webhookPrefix + ids[i]}
		if c.platform {
			pairs[i] = appPair{label: "platform", sendingID: e.st.Names.Att["PlatformSecret.Name"], webhookID: e.st.Names.Att["PlatformWebhookSecret.Name"]}
		} else if err := reg.Put(e.ctx, tenant.Tenant{ID: ids[i], SecretID: pairs[i].sendingID, OwnApp: c.ownApp}, nil); err != nil {
			t.Fatal(err)
		}
		if c.sending != "" {
			write(pairs[i].sendingID, c.sending)
		}
		if c.webhook != "" {
			write(pairs[i].webhookID, c.webhook)
		}
		for _, v := range append(valuesOf(c.wantSending), valuesOf(c.wantWebhook)...) {
			if v != "" {
				values = append(values, v)
			}
		}
	}
	values = append(values, "stale-app-secret", "generated-verify")
	// versions returns each case's secrets' current version ids.
	versions := func() map[string]string {
		out := map[string]string{}
		for _, p := range pairs {
			for _, id := range []string{p.sendingID, p.webhookID} {
				if v, err := sm.GetSecretValue(e.ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)}); err == nil {
					out[id] = aws.ToString(v.VersionId)
				}
			}
		}
		return out
	}
	line := func(out string, p appPair) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, p.label+": ") {
				return l
			}
		}
		return ""
	}
	sameVersions := func(t *testing.T, before, after map[string]string) {
		t.Helper()
		for id, v := range before {
			if after[id] != v {
				t.Errorf("secret %s was written", id)
			}
		}
		if len(after) != len(before) {
			t.Errorf("secrets %d, were %d: one was created", len(after), len(before))
		}
	}

	t.Run("dry run writes nothing", func(t *testing.T) {
		before := versions()
		code, out, errb := e.run("", "secrets", "migrate", "--dry-run")
		noSecrets(t, []string{out, errb}, values...)
		if code != 1 {
			t.Errorf("exit %d, want 1 (two pairs cannot be migrated)\n%s%s", code, out, errb)
		}
		if !strings.Contains(line(out, pairs[1]), "would create") || !strings.Contains(out, "dry run") {
			t.Errorf("dry run output does not say what it would do:\n%s", out)
		}
		sameVersions(t, before, versions())
	})

	code, out, errb := e.run("", "secrets", "migrate")
	noSecrets(t, []string{out, errb}, values...)
	if code != 1 || !strings.Contains(errb, "2 secret pair(s) not migrated") {
		t.Errorf("exit %d, want 1 with two pairs not migrated\n%s%s", code, out, errb)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if l := line(out, pairs[i]); !strings.Contains(l, c.wantLine) || strings.Contains(l, "problem") != c.problem {
				t.Errorf("line = %q, want it to contain %q", l, c.wantLine)
			}
			if got := e.secret(pairs[i].sendingID); !sameKeys(got, c.wantSending) {
				t.Errorf("sending secret holds keys %v or other values, want %v", keys(got), keys(c.wantSending))
			}
			if got := e.secret(pairs[i].webhookID); !sameKeys(got, c.wantWebhook) {
				t.Errorf("webhook-side secret holds keys %v or other values, want %v", keys(got), keys(c.wantWebhook))
			}
		})
	}

	t.Run("running it again changes nothing", func(t *testing.T) {
		// Fix the two problems the first run reported.
		write(pairs[6].sendingID, `{"access_token":"fixed-token"}`)
		write(pairs[6].webhookID, `{"app_secret":"fixed-app-secret","verify_token":"fixed-verify"}`)
		write(pairs[7].webhookID, `{"app_secret":"fixed-app-secret","verify_token":"fixed-verify"}`)
		before := versions()
		code, out, errb := e.run("", "secrets", "migrate")
		noSecrets(t, []string{out, errb}, values...)
		if code != 0 {
			t.Fatalf("exit %d, want 0\n%s%s", code, out, errb)
		}
		for _, p := range pairs {
			if l := line(out, p); !strings.HasPrefix(l, p.label+": already split") {
				t.Errorf("line = %q, want already split", l)
			}
		}
		sameVersions(t, before, versions())
	})
}

func valuesOf(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

// TestSecretPolicies resolves template.yaml's IAM statements and checks
// them against the ARNs of the secrets wacloudctl writes: the webhook, which
// faces the internet, reaches the webhook-side secrets and no access token;
// the functions that call the Graph API reach the sending secrets and no
// webhook-side secret; the functions that push to the core (the bridge,
// the inbound function for messages, the status function for statuses
// and the sender for its results) reach the core's; no other function
// reaches any.
func TestSecretPolicies(t *testing.T) {
	tmpl, err := stack.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	// Tenant ids that look like the prefixes' own words, to catch nesting.
	tenantIDs := []string{"acme", "webhook", "tenants", "platform", "core", "a.b_c-D"}
	for _, prefix := range []string{"", "acme-prod/wacloud"} {
		t.Run("SecretPrefix="+prefix, func(t *testing.T) {
			n := &stack.Names{Region: "eu-west-1", AccountID: "123456789012", StackName: "wacloud",
				Params: map[string]string{}, Ref: map[string]string{}, Att: map[string]string{}}
			for name, p := range tmpl.Parameters {
				n.Params[name] = fmt.Sprint(p["Default"])
			}
			if prefix != "" {
				n.Params["SecretPrefix"] = prefix
			}
			arn := func(name string) string {
				// Secrets Manager appends six random characters to a name.
				return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbC123", n.Region, n.AccountID, name)
			}
			for _, id := range tmpl.OfType("AWS::SecretsManager::Secret") {
				name, err := n.Resolve(tmpl.Resources[id].Properties["Name"])
				if err != nil {
					t.Fatal(err)
				}
				n.Ref[id], n.Att[id+".Name"] = arn(name), name
			}
			env := func(fn, key string) string {
				t.Helper()
				v := envVar(tmpl.Resources[fn].Properties, key)
				if v == nil {
					v = envVar(tmpl.Globals["Function"], key)
				}
				s, err := n.Resolve(v)
				if err != nil || s == "" {
					t.Fatalf("%s's %s = %q, %v", fn, key, s, err)
				}
				return s
			}
			sendingPrefix, webhookPrefix := env("SenderFunction", "TENANT_SECRET_PREFIX"), env("WebhookFunction", "TENANT_WEBHOOK_SECRET_PREFIX")
			if prefix == "" {
				// wacloudctl's names for make local are the template's.
				var local Names
				localSecretNames(&local)
				for _, c := range [][2]string{
					{local.SecretPrefix, sendingPrefix}, {local.WebhookSecretPrefix, webhookPrefix},
					{local.PlatformSecretID, n.Att["PlatformSecret.Name"]}, {local.PlatformWebhookSecretID, n.Att["PlatformWebhookSecret.Name"]},
				} {
					if c[0] != c[1] {
						t.Errorf("wacloudctl's local name %q, template's %q", c[0], c[1])
					}
				}
			}
			kinds := map[string][]string{
				"platform sending":      {n.Ref["PlatformSecret"]},
				"platform webhook-side": {n.Ref["PlatformWebhookSecret"]},
				"core":                  {n.Ref["CoreSecret"]},
			}
			for _, id := range tenantIDs {
				kinds["tenant sending"] = append(kinds["tenant sending"], arn(sendingPrefix+id))
				kinds["tenant webhook-side"] = append(kinds["tenant webhook-side"], arn(webhookPrefix+id))
			}
			// What each function must read; it must read nothing else.
			reach := map[string][]string{
				"WebhookFunction": {"platform webhook-side", "tenant webhook-side"},
				// It pushes its results to the core itself.
				"SenderFunction": {"tenant sending", "core"},
				"MediaFunction":  {"tenant sending"},
				"BridgeFunction": {"core"},
				// It pushes a contact's messages to the core itself.
				"InboundFunction": {"core"},
				// It pushes statuses and account changes to the core itself.
				"StatusFunction": {"core"},
				// The scheduled template sync calls Graph with each tenant's token.
				"TemplatesFunction": {"tenant sending"},
				// The management API calls Graph for a tenant's numbers
				// (profile, blocked users) with the tenant's own token.
				"ApiFunction": {"tenant sending"},
			}
			for _, fn := range tmpl.OfType("AWS::Serverless::Function") {
				patterns := secretPatterns(t, n, tmpl.Resources[fn].Properties["Policies"])
				for kind, arns := range kinds {
					want := slices.Contains(reach[fn], kind)
					for _, a := range arns {
						if got := matchAny(patterns, a); got != want {
							t.Errorf("%s can read the %s secret %s: %v, want %v (its secret statements: %v)", fn, kind, a, got, want, patterns)
						}
					}
				}
			}
		})
	}
}

// templatePath is the template TestSecretPolicies checks.
var templatePath = "../../template.yaml"

// envVar returns Environment.Variables[key] of a function's properties
// (or of Globals.Function).
func envVar(props any, key string) any {
	p, _ := props.(map[string]any)
	e, _ := p["Environment"].(map[string]any)
	v, _ := e["Variables"].(map[string]any)
	return v[key]
}

// secretPatterns resolves the resources of the Allow statements in
// policies that grant reading a secret, taking both branches of an Fn::If.
func secretPatterns(t *testing.T, n *stack.Names, policies any) []string {
	t.Helper()
	var out []string
	resolve := func(v any) {
		var items []any
		if l, ok := v.([]any); ok {
			items = l
		} else {
			items = []any{v}
		}
		for _, it := range items {
			s, err := n.Resolve(it)
			if err != nil {
				t.Fatalf("resolve %v: %v", it, err)
			}
			out = append(out, s)
		}
	}
	var statement func(v any)
	statement = func(v any) {
		m, _ := v.(map[string]any)
		if branches, ok := m["Fn::If"].([]any); ok && len(branches) == 3 {
			statement(branches[1])
			statement(branches[2])
			return
		}
		if m["Effect"] != "Allow" {
			return
		}
		actions, ok := m["Action"].([]any)
		if !ok {
			actions = []any{m["Action"]}
		}
		for _, a := range actions {
			if s, _ := a.(string); s == "*" || s == "secretsmanager:*" || strings.EqualFold(s, "secretsmanager:GetSecretValue") {
				resolve(m["Resource"])
				return
			}
		}
	}
	list, _ := policies.([]any)
	for _, p := range list {
		m, _ := p.(map[string]any)
		if g, ok := m["AWSSecretsManagerGetSecretValuePolicy"].(map[string]any); ok {
			resolve(g["SecretArn"])
		}
		sts, _ := m["Statement"].([]any)
		for _, st := range sts {
			statement(st)
		}
	}
	return out
}

// matchAny reports whether arn matches one of IAM's resource patterns,
// where * is any run of characters (slashes included) and ? one character.
func matchAny(patterns []string, arn string) bool {
	for _, p := range patterns {
		re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(p)) + "$"
		if regexp.MustCompile(re).MatchString(arn) {
			return true
		}
	}
	return false
}
