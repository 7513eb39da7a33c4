package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// Each Meta app has two secrets: the sending secret (access token), read by
// the functions that call the Graph API, and the webhook-side secret (app
// secret and verify token), read by the webhook only. Releases before the
// split kept all three in the sending secret; appPair reads either form and
// writes the split one.

// appPair names one Meta app's two secrets: a tenant's, or the platform's.
type appPair struct {
	label     string // "tenant acme", "platform"
	sendingID string
	webhookID string
	// needsWebhook is true when the webhook serves this app's route: a
	// tenant with its own app, or the platform.
	needsWebhook bool
}

// pairState is what a pair's secrets hold now.
type pairState struct {
	sendingFound bool
	token        tenant.Credentials
	// legacy holds the webhook-side fields a sending secret from before
	// the split still carries; hasLegacy tells whether it carries any key.
	legacy       tenant.AppCredentials
	hasLegacy    bool
	webhookFound bool
	app          tenant.AppCredentials
}

// splitPlan is what splitting a pair writes.
type splitPlan struct {
	createWebhook bool
	writeWebhook  bool // an existing webhook-side secret gets a new value
	app           tenant.AppCredentials
	stripSending  bool // rewrite the sending secret with the access token only
	moved         []string
	// dropped are webhook fields of the sending secret that differed from
	// the configured webhook-side secret, which the deployed webhook uses
	// and which is kept.
	dropped []string
}

func (p splitPlan) writes() bool { return p.createWebhook || p.writeWebhook || p.stripSending }

// readPair reads both secrets of p. A missing secret is not an error;
// a value that is not the expected JSON is.
func readPair(ctx context.Context, sm *secretsmanager.Client, p appPair) (pairState, error) {
	var s pairState
	v, found, err := readSecret(ctx, sm, p.sendingID)
	if err != nil {
		return s, err
	}
	if found {
		s.sendingFound = true
		if s.token, s.legacy, s.hasLegacy, err = tenant.SplitCombined(v); err != nil {
			return s, fmt.Errorf("secret %s: %w", p.sendingID, err)
		}
	}
	if p.webhookID == "" {
		return s, nil
	}
	v, found, err = readSecret(ctx, sm, p.webhookID)
	if err != nil {
		return s, err
	}
	if found {
		s.webhookFound = true
		if s.app, err = tenant.ParseAppCredentials(v); err != nil {
			return s, fmt.Errorf("secret %s: %w", p.webhookID, err)
		}
	}
	return s, nil
}

// planSplit decides how to split a pair. The webhook-side secret gets the
// sending secret's webhook fields when it does not exist yet, or when it
// has no app secret (the empty one a new stack generates, not yet in use);
// once it has an app secret it is what the webhook verifies with, and it
// is kept.
func planSplit(p appPair, s pairState) splitPlan {
	plan := splitPlan{app: s.app}
	if !s.hasLegacy {
		return plan
	}
	plan.stripSending = true
	fields := []struct {
		name          string
		legacy, value *string
	}{
		{tenant.KeyAppSecret, &s.legacy.AppSecret, &plan.app.AppSecret},
		{tenant.KeyVerifyToken, &s.legacy.VerifyToken, &plan.app.VerifyToken},
	}
	switch {
	case !s.webhookFound:
		if !p.needsWebhook && s.legacy == (tenant.AppCredentials{}) {
			// Nothing the webhook would use, nothing to keep.
			return plan
		}
		plan.createWebhook, plan.app = true, s.legacy
		for _, f := range fields {
			if *f.legacy != "" {
				plan.moved = append(plan.moved, f.name)
			}
		}
	case s.app.AppSecret == "":
		for _, f := range fields {
			if *f.legacy != "" && *f.legacy != *f.value {
				*f.value = *f.legacy
				plan.writeWebhook, plan.moved = true, append(plan.moved, f.name)
			}
		}
	default:
		for _, f := range fields {
			if *f.legacy != "" && *f.legacy != *f.value {
				plan.dropped = append(plan.dropped, f.name)
			}
		}
	}
	return plan
}

// applySplit writes plan with the access token: the webhook-side secret
// first, so no value exists nowhere if the second write fails.
func applySplit(ctx context.Context, sm *secretsmanager.Client, p appPair, plan splitPlan, token tenant.Credentials) error {
	switch {
	case plan.createWebhook:
		if err := createSecret(ctx, sm, p.webhookID, plan.app, "wacloud "+p.label+": Meta app secret and webhook verify token (read by the webhook)"); err != nil {
			return err
		}
	case plan.writeWebhook:
		if err := putSecretValue(ctx, sm, p.webhookID, plan.app); err != nil {
			return err
		}
	}
	if plan.stripSending {
		return putSecretValue(ctx, sm, p.sendingID, token)
	}
	return nil
}

// describe says what plan does (or would do), naming secrets and keys,
// never values.
func (plan splitPlan) describe(p appPair, dryRun bool) string {
	would := ""
	if dryRun {
		would = "would "
	}
	var parts []string
	switch {
	case plan.createWebhook:
		parts = append(parts, fmt.Sprintf("%screate %s%s", would, p.webhookID, keyList(plan.moved)))
	case plan.writeWebhook:
		parts = append(parts, fmt.Sprintf("%sset %s in %s", would, strings.Join(plan.moved, ", "), p.webhookID))
	}
	if plan.stripSending {
		parts = append(parts, fmt.Sprintf("%sremove app_secret and verify_token from %s", would, p.sendingID))
	}
	if len(plan.dropped) > 0 {
		parts = append(parts, fmt.Sprintf("%skeep the %s of %s (the copy in %s differs and is dropped)",
			would, strings.Join(plan.dropped, " and "), p.webhookID, p.sendingID))
	}
	return strings.Join(parts, "; ")
}

func keyList(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return " (" + strings.Join(keys, ", ") + ")"
}

// readSecret returns a secret's value, or found false when it does not exist.
func readSecret(ctx context.Context, sm *secretsmanager.Client, id string) (string, bool, error) {
	return tenant.ReadSecret(ctx, sm, id)
}

// putSecret creates the secret, or writes a new value when it exists (an
// earlier add that stopped before the registry write).
func putSecret(ctx context.Context, sm *secretsmanager.Client, name string, v any, description string) error {
	return tenant.PutSecret(ctx, sm, name, v, description)
}

func createSecret(ctx context.Context, sm *secretsmanager.Client, name string, v any, description string) error {
	value, err := secretValue(v)
	if err != nil {
		return err
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value), Description: aws.String(description),
	}); err != nil {
		return fmt.Errorf("create secret %s: %w", name, err)
	}
	return nil
}

// putSecretValue writes a new version of an existing secret.
func putSecretValue(ctx context.Context, sm *secretsmanager.Client, name string, v any) error {
	value, err := secretValue(v)
	if err != nil {
		return err
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)}); err != nil {
		return fmt.Errorf("write secret %s: %w", name, err)
	}
	return nil
}

// secretValue is the secret's JSON (tenant.Credentials and AppCredentials
// hide their fields from fmt, not from encoding/json; the tags are the
// contract).
func secretValue(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode credentials: %w", err)
	}
	return string(b), nil
}

// tenantPair names a tenant's two secrets: the sending one the registry
// points at, the webhook-side one under the webhook's prefix.
func (a *app) tenantPair(t tenant.Tenant) appPair {
	sending := t.SecretID
	if sending == "" {
		sending = a.names.SecretPrefix + t.ID
	}
	return appPair{label: "tenant " + t.ID, sendingID: sending, webhookID: a.names.WebhookSecretPrefix + t.ID, needsWebhook: t.OwnApp}
}

func secretsMigrate(ctx context.Context, a *app, args []string) error {
	fs := a.flags("[--dry-run]")
	dryRun := fs.Bool("dry-run", false, "only say what would be written")
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
	for _, n := range []struct{ what, v, flag string }{
		{"tenant secret prefix", a.names.SecretPrefix, "secret-prefix"},
		{"tenant webhook secret prefix", a.names.WebhookSecretPrefix, "webhook-secret-prefix"},
		{"platform secret", a.names.PlatformSecretID, "platform-secret"},
		{"platform webhook secret", a.names.PlatformWebhookSecretID, "platform-webhook-secret"},
	} {
		if err := a.need(n.what, n.v, n.flag); err != nil {
			return err
		}
	}
	sm, err := a.secrets(ctx)
	if err != nil {
		return err
	}
	ts, err := reg.List(ctx)
	if err != nil {
		return err
	}
	pairs := []appPair{{label: "platform", sendingID: a.names.PlatformSecretID, webhookID: a.names.PlatformWebhookSecretID, needsWebhook: true}}
	for _, t := range ts {
		pairs = append(pairs, a.tenantPair(t))
	}
	var split, done, problems int
	for _, p := range pairs {
		s, err := readPair(ctx, sm, p)
		switch {
		case err != nil:
			problems++
			fmt.Fprintf(a.Stdout, "%s: problem: %v\n", p.label, err)
			continue
		case !s.sendingFound:
			problems++
			fmt.Fprintf(a.Stdout, "%s: problem: sending secret %s does not exist\n", p.label, p.sendingID)
			continue
		}
		plan := planSplit(p, s)
		if !plan.writes() {
			if p.needsWebhook && !s.webhookFound {
				problems++
				fmt.Fprintf(a.Stdout, "%s: problem: webhook-side secret %s does not exist (write it with 'wacloudctl tenant rotate --app-secret … --verify-token …')\n", p.label, p.webhookID)
				continue
			}
			done++
			msg := "already split"
			if len(plan.dropped) > 0 {
				msg += "; " + plan.describe(p, *dryRun)
			}
			fmt.Fprintf(a.Stdout, "%s: %s\n", p.label, msg)
			continue
		}
		if !*dryRun {
			if err := applySplit(ctx, sm, p, plan, s.token); err != nil {
				problems++
				fmt.Fprintf(a.Stdout, "%s: problem: %v\n", p.label, err)
				continue
			}
		}
		split++
		fmt.Fprintf(a.Stdout, "%s: %s\n", p.label, plan.describe(p, *dryRun))
	}
	verb := "split"
	if *dryRun {
		verb = "to split (dry run: nothing written)"
	}
	fmt.Fprintf(a.Stdout, "%d %s, %d already split, %d problem(s)\n", split, verb, done, problems)
	if problems > 0 {
		return fmt.Errorf("%d secret pair(s) not migrated; fix them and run it again (it is safe to repeat)", problems)
	}
	if split > 0 && !*dryRun {
		fmt.Fprintln(a.Stdout, "running functions read the new values within 5 minutes (secret cache)")
	}
	return nil
}
